"""What one experiment trains with, gathered in one place: generator, encoder, discriminator, data, losses.

:func:`dualinv.training.build.build_components` is the only code that knows the factories of the
other subpackages; the loop and the steps only talk to this dataclass. Its methods are thin: each
names one operation of the paper's pipeline on top of the modules and callables it holds.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Callable

import torch

from dualinv.config import StudyConfig
from dualinv.distributed import Ranks
from dualinv.models.experiments import Experiment
from dualinv.models.generator import GeneratorIdentity
from dualinv.seeding import StepGenerator
from dualinv.training.baseline_parts import BaselineTraining

Tensor = torch.Tensor


@dataclass
class TrainingComponents:
    config: StudyConfig
    experiment: Experiment
    device: torch.device
    generator: torch.nn.Module
    """Frozen PanoHead generator: ``mapping``, ``synthesize_trigrid``, ``render_trigrid``, ``num_ws``, ``z_dim``."""
    generator_identity: GeneratorIdentity
    encoder: torch.nn.Module
    """The trained encoder (latent stage + optional F stage) as one module, for state dicts."""
    discriminator: torch.nn.Module | None
    """``discriminator(x, occlusion_mask=None) -> logits [B, 1]`` (Table 6), or None (Encoder 1, Table 4 rows)."""
    encoder_optimiser: torch.optim.Optimizer
    discriminator_optimiser: torch.optim.Optimizer | None
    encode: Callable[[Tensor, Tensor, torch.Generator], tuple[Tensor, Tensor]]
    """(encoder-sized images [B,3,r,r], cameras [B,25], rng) -> (ws [B,L,K], trigrid [B,3,D*C,H,W])."""
    real_samples: Callable[[list[int]], tuple[Tensor, Tensor]]
    """Dataset indices -> (images [B,3,H,W] in [-1,1], cameras [B,25]) on the CPU."""
    dataset_size: int
    """Number of real samples (the data order permutes ``range(dataset_size)`` each epoch)."""
    encoder_objective: Callable[..., tuple[Tensor, dict]]
    """Eq. 5/6: (render, target, fake_logits=None) at the loss resolution -> (total, named terms)."""
    discriminator_objective: Callable[..., tuple[Tensor, dict]]
    """Eq. 8 + lazy R1: (real_logits, fake_logits, step=, real_inputs=) -> (total, named terms)."""
    zplus_ws: Callable[[int, torch.Generator], Tensor]
    """(batch, rng) -> ws [B,L,K] of Z+ samples: z+ ~ N(0, I_14) mapped at the front camera (Eq. 8)."""
    occlusion_mask: Callable[[Tensor, Tensor, Tensor], Tensor] | None
    """(depth [B,1,R,R], cameras [B,25], opacity [B,1,R,R]) -> compact occluded mask [B,3,D,H,W] (Eq. 3)."""
    novel_cameras: Callable[[int, torch.Generator], Tensor] | None = None
    """Random cameras for the image-domain discriminator (ablation d_image)."""
    mirror_cameras: Callable[[Tensor], Tensor] | None = None
    """Cameras of x-flipped images (paper §4.1 mirroring)."""
    baseline: BaselineTraining | None = None
    """A baseline encoder's recipe and extra state (``dualinv.training.baseline_parts``); None for ours."""
    encoder_input_side: int | None = None
    """Side of the images the encoder takes; None = ``config.encoder.input_resolution`` (GOAE: the generator's)."""
    ranks: Ranks | None = None
    """The processes sharing each step's batch (multi-GPU training, :mod:`dualinv.distributed`); None = one."""

    @property
    def input_side(self) -> int:
        return self.config.encoder.input_resolution if self.encoder_input_side is None else self.encoder_input_side

    def before_step(self, step: int) -> None:
        """A baseline's progressive stage at ``step`` (e4e deltas, GOAE groups); nothing for our encoders."""
        if self.baseline is not None:
            self.baseline.before_step(step)

    def optimisers(self) -> list[torch.optim.Optimizer]:
        """Every optimiser of the run: encoder, discriminator and a baseline's own (e4e latent D, TriPlaneNet v2 F)."""
        parts = [self.encoder_optimiser, self.discriminator_optimiser]
        if self.baseline is not None:
            parts += [self.baseline.latent_discriminator_optimiser, self.baseline.feature_optimiser]
        return [optimiser for optimiser in parts if optimiser is not None]

    def scale_learning_rates(self, factor: float) -> None:
        """Every optimiser at ``factor`` times the rate it was built with (``training.lr_rampdown``); the built
        rate is kept in each group's ``initial_lr``, as torch's schedulers keep it, and travels with checkpoints."""
        for optimiser in self.optimisers():
            for group in optimiser.param_groups:
                group.setdefault("initial_lr", group["lr"])
                group["lr"] = group["initial_lr"] * factor

    @property
    def zplus_share(self) -> float:
        """Probability that a sample is a Z+ generator sample (Table 4 data mixes)."""
        return {"real": 0.0, "zplus": 1.0, "real+zplus": self.config.training.zplus_fraction}[self.experiment.training_data]

    def autocast(self):
        if not self.config.training.bf16:
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.device.type, dtype=torch.bfloat16)

    def render(self, trigrid: Tensor, ws: Tensor, cameras: Tensor, rng: StepGenerator) -> dict[str, Tensor]:
        """The generator's output dict for ``trigrid`` seen from ``cameras``."""
        return self.generator.render_trigrid(trigrid, ws, cameras, generator=rng)

    def zplus_images(self, cameras: Tensor, rng: torch.Generator) -> Tensor:
        """Z+ generator samples rendered at ``cameras`` ("Z+ gens." training data, Table 4)."""
        ws = self.zplus_ws(cameras.shape[0], rng)
        return self.render(self.generator.synthesize_trigrid(ws, noise_mode="const"), ws, cameras, rng)["image"]

    def discriminator_input(self, ws: Tensor | None, trigrid: Tensor | None, render: dict | None, cameras: Tensor,
                            rng: torch.Generator) -> tuple[Tensor, Tensor | None]:
        """What D sees for one Table 3 row, and the occlusion mask it applies (None if unmasked).

        Fake: the encoded tri-grid (``ws``/``trigrid``/``render`` given). Real (all None): Z+ tri-grids,
        masked by the occlusion mask of *their own* depth at the same cameras, so real and fake are
        masked alike (§3.3). ``image``: renders at random other views instead of tri-grids.
        """
        kind, fake = self.experiment.discriminator, trigrid is not None
        if kind == "image":
            novel = self.novel_cameras(cameras.shape[0], rng)
            if fake:
                return self.render(trigrid, ws, novel, rng)["image"], None
            with torch.no_grad():
                return self.zplus_images(novel, rng), None
        if not fake:
            with torch.no_grad():
                ws = self.zplus_ws(cameras.shape[0], rng)
                trigrid = self.generator.synthesize_trigrid(ws, noise_mode="const")
                render = self.render(trigrid, ws, cameras, rng) if kind == "triplane_occlusion" else None
        if kind == "triplane":
            return trigrid, None
        with torch.no_grad():
            mask = self.occlusion_mask(render["image_depth"].float(), cameras, render["image_mask"].float())
        return trigrid, mask
