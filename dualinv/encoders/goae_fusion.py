"""GOAE's F-space synthesis and occlusion-aware mix fusion on PanoHead (encoders-baselines.md §3.2).

* :func:`synthesize_with_feature_edit`: the tri-grid backbone run in two halves: blocks up to
  ``split_resolution`` (32 in GOAE) give the feature map F; ``edit(F)`` (AFA) replaces it and the
  remaining blocks continue, reading the same ws slices as an unsplit run.
* :func:`goae_visibility_mask`: GOAE's mask, computed without gradients: surface points
  ``o + depth * d`` of the F-space render are rasterised onto the XY plane (``col = (x/box_warp +
  0.5) * N``, ``row = (y/box_warp + 0.5) * N``, clamped, truncated), blurred (kernel 9, sigma drawn
  uniformly from [1, 2] per blur from the caller's generator), thresholded at 0.35, blurred again.
* :func:`mix_fusion`: only plane 0 (XY) is mixed, ``m * F + (1 - m) * W`` over all its depth
  slices; planes 1 and 2 come from the F-space tri-grid.

PanoHead note [INFERRED, §3.2 caveats]: projecting onto XY merges front and back, and PanoHead's
depth slices could separate them; we keep GOAE's recipe because this is the GOAE baseline (our own
method's per-slice mask is :func:`dualinv.occlusion.occlusion_mask`).
"""

from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

from dualinv.encoders.goae import FeatureAdaptation, GOAEConfig, GOAEncoder
from dualinv.panohead.rendering import rays_from_cameras
from dualinv.shapes import assert_shape

BLUR_KERNEL = 9
"""Side of GOAE's Gaussian blur kernel."""
BLUR_SIGMA_RANGE = (1.0, 2.0)
"""GOAE draws each blur's sigma uniformly from this range."""
MASK_THRESHOLD = 0.35
"""Blurred coverage above this counts as visible."""


def synthesize_with_feature_edit(synthesis: nn.Module, ws: torch.Tensor, split_resolution: int,
                                 edit: Callable[[torch.Tensor], torch.Tensor] | None = None,
                                 noise_mode: str = "const") -> tuple[torch.Tensor, torch.Tensor]:
    """(tri-grid planes [B, C_img, H, W], F [B, C, s, s] before the edit) of a two-half backbone run."""
    x = img = features = None
    w_index = 0
    for resolution in synthesis.block_resolutions:
        block = getattr(synthesis, f"b{resolution}")
        block_ws = ws.narrow(1, w_index, block.num_conv + block.num_torgb)
        w_index += block.num_conv
        x, img = block(x, img, block_ws.float(), noise_mode=noise_mode)
        if resolution == split_resolution:
            features = x
            if edit is not None:
                x = edit(x)
    if features is None:
        raise ValueError(f"split_resolution {split_resolution} is not one of {synthesis.block_resolutions}")
    return img, features


def rasterise_points(points: torch.Tensor, resolution: int, box_warp: float = 1.0) -> torch.Tensor:
    """points [B, M, 3] -> coverage [B, 1, N, N] of the XY plane (1 where a point falls, GOAE's rule)."""
    batch = points.shape[0]
    cols = ((points[..., 0] / box_warp + 0.5) * resolution).clamp(0, resolution - 1).long()
    rows = ((points[..., 1] / box_warp + 0.5) * resolution).clamp(0, resolution - 1).long()
    coverage = points.new_zeros(batch, resolution * resolution)
    coverage.scatter_(1, rows * resolution + cols, 1.0)
    return coverage.reshape(batch, 1, resolution, resolution)


def _blur(mask: torch.Tensor, rng: torch.Generator) -> torch.Tensor:
    from torchvision.transforms.functional import gaussian_blur  # torchvision loads only for GOAE's mask

    low, high = BLUR_SIGMA_RANGE
    sigma = low + (high - low) * float(torch.rand((), generator=rng, device=rng.device))
    return gaussian_blur(mask, [BLUR_KERNEL, BLUR_KERNEL], [sigma, sigma])


@torch.no_grad()
def goae_visibility_mask(depth: torch.Tensor, cameras: torch.Tensor, resolution: int, rng: torch.Generator,
                         box_warp: float = 1.0) -> torch.Tensor:
    """GOAE's soft visibility mask [B, 1, N, N] of the XY plane from a render's depth [B, 1, R, R]."""
    assert_shape(depth, [None, 1, None, None], "depth")
    origins, directions = rays_from_cameras(cameras, depth.shape[-1])  # [B, R*R, 3], row-major pixels
    points = origins + depth.reshape(depth.shape[0], -1, 1) * directions
    mask = _blur(rasterise_points(points, resolution, box_warp), rng)
    return _blur((mask > MASK_THRESHOLD).float(), rng)


def mix_fusion(trigrid_f: torch.Tensor, trigrid_w: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Plane 0: ``mask * F + (1 - mask) * W``; planes 1-2: F (GOAE ``mix_fusion``). Tri-grids [B,3,D*C,H,W]."""
    assert_shape(mask, [trigrid_f.shape[0], 1, trigrid_f.shape[-2], trigrid_f.shape[-1]], "mask")
    plane0 = mask * trigrid_f[:, 0] + (1 - mask) * trigrid_w[:, 0]  # [B, D*C, H, W]
    return torch.cat([plane0[:, None], trigrid_f[:, 1:]], dim=1)


class GOAE(nn.Module):
    """The GOAE baseline: W+ codes, AFA edit of F, occlusion-aware mix of the F and W tri-grids."""

    def __init__(self, config: GOAEConfig = GOAEConfig(), w_avg: torch.Tensor | None = None):
        super().__init__()
        self.config = config
        self.encoder = GOAEncoder(config, w_avg=w_avg)
        self.afa = FeatureAdaptation(config.feature_channels, config)

    def set_stage(self, stage: int) -> None:
        self.encoder.set_stage(stage)

    def encode(self, image: torch.Tensor, camera: torch.Tensor, generator: nn.Module,
               rng: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """image [B,3,H,W] (the generator's image side) + camera [B,25] -> (ws, fused tri-grid)."""
        rng = rng if rng is not None else torch.Generator(device=image.device).manual_seed(0)
        ws = self.encoder(image)
        trigrid_w = generator.synthesize_trigrid(ws, noise_mode="const")
        with torch.no_grad():
            render_w = generator.render_trigrid(trigrid_w.detach(), ws.detach(), camera, generator=rng)["image"]
        if render_w.shape[-1] != image.shape[-1]:
            image = F.interpolate(image, size=render_w.shape[-2:], mode="bilinear", align_corners=False)
        residual = render_w - image  # GOAE feeds rec_w - x at the image resolution
        planes, _ = synthesize_with_feature_edit(generator.backbone.synthesis, ws, self.config.afa_resolution,
                                                 lambda features: self.afa(residual, features))
        trigrid_f = planes.view_as(trigrid_w)
        with torch.no_grad():
            depth = generator.render_trigrid(trigrid_f.detach(), ws.detach(), camera, generator=rng)["image_depth"]
            mask = goae_visibility_mask(depth, camera, trigrid_f.shape[-1], rng,
                                        generator.config.rendering.box_warp)
        return ws, mix_fusion(trigrid_f, trigrid_w, mask)
