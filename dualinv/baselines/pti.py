"""PTI baseline (paper Table 1/2 "PTI" [30]): a W+ pivot, then per-image generator fine-tuning.

Defaults follow PanoHead's ``project_pti`` (the authors' released code for PanoHead,
encoders-baselines.md §4.2): the pivot is the W+ optimisation of :mod:`dualinv.baselines.w_optim`
(500 steps; no second copy of the projector loop), then a deep copy of the generator is tuned,
every parameter trainable, with Adam at a constant 3e-4 for 350 steps on ``0.1 * MSE + LPIPS``
at the pivot. Original PTI's options (§4.1) are config fields: ``lambda_mse = 1`` with AlexNet
LPIPS, and an early stop at LPIPS <= 0.06; locality regularisation is off in both, and left out.

The tuned generator is a ``copy.deepcopy`` made per image: the shared generator's parameters and
buffers are never touched (tests check this), which is also why PTI tri-grids cannot be mixed
across images (paper §5.3).
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass, field

import torch
from torch import nn

from dualinv.baselines.result import InversionResult, check_inputs, progress, synchronise
from dualinv.baselines.w_optim import WOptimConfig, WPlusOptimiser, reconstruction_terms
from dualinv.errors import ConfigError
from dualinv.seeding import derive_seed, make_generator


@dataclass(frozen=True)
class PTIConfig:
    """PanoHead ``project_pti`` defaults (§4.2); the pivot is a :class:`WOptimConfig`."""

    pivot: WOptimConfig = field(default_factory=WOptimConfig)
    """The W+ pivot (PanoHead projector: 500 steps, lr 0.1)."""
    steps: int = 350
    """Generator tuning steps per image (PanoHead ``projector.py`` CLI: 350; ``projector_withseg.py``: 500)."""
    learning_rate: float = 3e-4
    """Adam learning rate over all generator parameters, constant."""
    lambda_mse: float = 0.1
    """Weight of the pixel MSE (original PTI: 1.0)."""
    lambda_lpips: float = 1.0
    """Weight of LPIPS."""
    early_stop_lpips: float | None = None
    """Stop tuning an image once its LPIPS is at or below this (original PTI: 0.06; PanoHead: none)."""
    seed: int = 303
    """Seed of the renderer's jitter during tuning."""
    progress: bool = True
    """Show a tqdm progress bar per image."""

    def __post_init__(self) -> None:
        problems = []
        if self.steps < 0:
            problems.append("steps must be >= 0")
        if self.learning_rate <= 0:
            problems.append("learning_rate must be > 0")
        if self.lambda_mse < 0 or self.lambda_lpips < 0:
            problems.append("lambda_mse and lambda_lpips must be >= 0")
        if self.early_stop_lpips is not None and self.early_stop_lpips < 0:
            problems.append("early_stop_lpips must be >= 0 or null")
        if problems:
            raise ConfigError("baselines.pti: " + "; ".join(problems))


def tunable_copy(generator: nn.Module) -> nn.Module:
    """An independent deep copy of ``generator`` with every parameter trainable (PTI step 2)."""
    tuned = copy.deepcopy(generator)
    tuned.requires_grad_(True)
    return tuned


class PivotalTuning:
    """The ``pti`` baseline: :meth:`invert` = batched W+ pivot, then one tuned generator per image."""

    def __init__(
        self,
        generator: nn.Module,          # shared frozen PanoHead generator (never modified)
        lpips_loss: nn.Module,         # LPIPSLoss("vgg", weights.lpips_vgg), frozen
        config: PTIConfig = PTIConfig(),
    ):
        self.generator, self.lpips_loss, self.config = generator, lpips_loss, config
        self.pivot = WPlusOptimiser(generator, lpips_loss, config.pivot)

    def tune(self, image: torch.Tensor, camera: torch.Tensor, ws: torch.Tensor) -> tuple[nn.Module, dict[str, float]]:
        """Fine-tune a copy of the generator so that its render of pivot ``ws`` [1,L,K] matches ``image`` [1,3,H,W]."""
        config = self.config
        tuned = tunable_copy(self.generator)
        optimiser = torch.optim.Adam(tuned.parameters(), lr=config.learning_rate)
        rng = make_generator(derive_seed(config.seed, "tune"), device=image.device)
        terms: dict[str, float] = {}
        for _ in progress(range(config.steps), "PTI tuning", config.progress):
            render = tuned.synthesis(ws, camera, noise_mode="const", generator=rng)[config.pivot.render_key]
            named = reconstruction_terms(render, image, self.lpips_loss, config.pivot.lpips_resolution)
            terms = {name: float(value.detach()) for name, value in named.items()}
            if config.early_stop_lpips is not None and terms["loss_lpips"] <= config.early_stop_lpips:
                break
            total = config.lambda_mse * named["loss_mse"] + config.lambda_lpips * named["loss_lpips"]
            optimiser.zero_grad(set_to_none=True)
            total.backward()
            optimiser.step()
        return tuned.eval().requires_grad_(False), terms

    def invert(self, images: torch.Tensor, cameras: torch.Tensor) -> InversionResult:
        """Pivot all images together (time shared equally), then tune each image on its own copy."""
        check_inputs(images, cameras)
        batch = images.shape[0]
        started = time.perf_counter()
        ws, _ = self.pivot.optimise(images, cameras)
        synchronise(images.device)
        pivot_seconds = (time.perf_counter() - started) / batch
        generators, seconds, trigrids, terms = [], [], [], {}
        for index in range(batch):
            started = time.perf_counter()
            tuned, terms = self.tune(images[index:index + 1], cameras[index:index + 1], ws[index:index + 1])
            with torch.no_grad():
                trigrids.append(tuned.synthesize_trigrid(ws[index:index + 1], noise_mode="const"))
            synchronise(images.device)
            generators.append(tuned)
            seconds.append(pivot_seconds + time.perf_counter() - started)
        return InversionResult(ws=ws, trigrid=torch.cat(trigrids), generators=tuple(generators),
                               seconds_per_image=tuple(seconds), final_terms=terms)
