"""What one experiment trains with, gathered in one place: generator, encoder, discriminator, data.

:func:`build_components` (in :mod:`dualinv.training.build`) is the only code that knows the
factories of the other subpackages; the loop and the steps only talk to this dataclass. Its
methods are thin: each names one operation of the paper's pipeline on top of the modules it holds.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Callable

import torch

from dualinv.training.config import TrainingSettings
from dualinv.training.experiments import Experiment

Encode = Callable[[torch.Tensor, torch.Tensor, torch.Generator], tuple[torch.Tensor, torch.Tensor]]
Render = Callable[[torch.Tensor, torch.Tensor, torch.Tensor, torch.Generator], dict]
Samples = Callable[[list[int]], tuple[torch.Tensor, torch.Tensor]]


@dataclass
class TrainingComponents:
    config: TrainingSettings
    experiment: Experiment
    device: torch.device
    generator: torch.nn.Module
    """Frozen PanoHead generator (eval mode, no gradients to its parameters)."""
    generator_identity: "GeneratorIdentity"  # noqa: F821 (dualinv.training.checkpoint)
    encoder: torch.nn.Module
    """The trained encoder (W+/Z/Z+ stage and optional F stage) as one module, for state dicts."""
    discriminator: torch.nn.Module | None
    encoder_optimiser: torch.optim.Optimizer
    discriminator_optimiser: torch.optim.Optimizer | None
    encode: Encode
    """(encoder-sized images [B,3,h,w], cameras [B,25], rng) -> (ws [B,N,W], trigrid [B,3,D*C,H,W])."""
    render: Render
    """(trigrid, ws, cameras, rng) -> the generator's output dict at ``cameras``."""
    real_samples: Samples
    """Dataset indices -> (images [B,3,H,W] in [-1,1], cameras [B,25]) on the CPU."""
    dataset_size: int
    """Number of real samples (the data order permutes ``range(dataset_size)`` each epoch)."""
    reconstruction_loss: Callable[[torch.Tensor, torch.Tensor], tuple[torch.Tensor, dict]]
    """Eq. 5: (render, target) at the loss resolution -> (weighted total, named terms)."""
    mirror_cameras: Callable[[torch.Tensor], torch.Tensor]
    """Cameras of the horizontally flipped images."""
    front_camera: torch.Tensor
    """[25] canonical front camera (conditioning of Z / Z+ codes, paper A.2)."""
    occlusion_mask: Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor] | None
    """(depth [B,1,R,R], cameras [B,25], trigrid) -> mask broadcastable to the tri-grid, 1 on occluded cells."""
    novel_cameras: Callable[[int, torch.Generator], torch.Tensor] | None = None
    """Random cameras for the image-domain discriminator (ablation d_image)."""

    @property
    def zplus_share(self) -> float:
        """Probability that a sample is a Z+ generator sample (Table 4 data mixes)."""
        return {"real": 0.0, "zplus": 1.0, "real+zplus": self.config.zplus_fraction}[self.experiment.training_data]

    def autocast(self):
        if not self.config.bf16:
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.device.type, dtype=torch.bfloat16)

    def zplus_ws(self, batch: int, rng: torch.Generator) -> torch.Tensor:
        """Eq. 8: z+ ~ N(0, I_14) through the mapping at the front camera, w_i = mapping(z_i)[:, i]."""
        num_ws, z_dim = self.num_ws, self.z_dim
        z = torch.randn(batch * num_ws, z_dim, generator=rng, device=self.device)
        cameras = self.front_camera.to(self.device).expand(batch * num_ws, -1)
        ws = self.generator.mapping(z, cameras, truncation_psi=self.config.zplus_truncation_psi)
        ws = ws.reshape(batch, num_ws, num_ws, -1)  # [B, row of z+, layer, W]
        return torch.diagonal(ws, dim1=1, dim2=2).permute(0, 2, 1)  # [B, num_ws, W]

    def zplus_images(self, cameras: torch.Tensor, rng: torch.Generator) -> torch.Tensor:
        """Z+ generator samples rendered at ``cameras``: training inputs for the "Z+ gens." data (Table 4)."""
        ws = self.zplus_ws(cameras.shape[0], rng)
        trigrid = self.generator.synthesize_trigrid(ws, noise_mode="const")
        return self.render(trigrid, ws, cameras, rng)["image"]

    def discriminator_input(self, heads, batch, rng: torch.Generator, fake: bool) -> torch.Tensor:
        """What D sees (Table 3 rows): masked or plain folded tri-grids, or renders at other views."""
        kind = self.experiment.discriminator
        if kind == "image":
            cameras = self.novel_cameras(batch.images.shape[0], rng).to(self.device)
            if fake:
                return self.render(heads.trigrid, heads.ws, cameras, rng)["image"]
            with torch.no_grad():
                return self.zplus_images(cameras, rng)
        if fake:
            trigrid, depth = heads.trigrid, heads.render["image_depth"]
        else:
            with torch.no_grad():
                ws = self.zplus_ws(batch.images.shape[0], rng)
                trigrid = self.generator.synthesize_trigrid(ws, noise_mode="const")
                depth = self.render(trigrid, ws, batch.cameras, rng)["image_depth"] if kind == "triplane_occlusion" \
                    else None
        if kind == "triplane_occlusion":
            # §3.3: only occluded cells reach D, for real (Z+) and fake (encoded) tri-grids alike.
            with torch.no_grad():
                mask = self.occlusion_mask(depth.detach(), batch.cameras, trigrid.detach())
            trigrid = trigrid * mask.to(trigrid.dtype)
        elif kind != "triplane":
            raise ValueError(f"no discriminator input for kind {kind!r}")
        return trigrid.flatten(1, 2)  # [B, 3*D*C, H, W] (A.1: depth slices folded into channels)

    @property
    def num_ws(self) -> int:
        return int(self.generator.num_ws)

    @property
    def z_dim(self) -> int:
        return int(self.generator.z_dim)
