"""Rays, depth sampling and the volume-rendering equation (specs/panohead.md §3.3, §4.2–§4.4, §6.4).

Every random draw takes an optional ``torch.Generator``; with ``None`` the global RNG is used in the
official order (§10.1): coarse jitter, [coarse density noise], importance ``u``, [fine density noise].
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F

from dualinv.camera import CAM2WORLD, INTRINSICS, LABEL_SIZE
from dualinv.panohead.trigrid import sample_trigrid
from dualinv.seeding import normal, uniform
from dualinv.shapes import assert_shape

if TYPE_CHECKING:
    from dualinv.panohead.config import RenderingConfig
    from dualinv.panohead.decoder import OSGDecoder

CROPPED_DENSITY = -1e3
"""Raw density written outside the crop box (§3.3)."""


def rays_from_cameras(camera: torch.Tensor, resolution: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Pixel-centre rays of an R×R image, row-major: origins and unit directions ``[B,R*R,3]`` (§6.4)."""
    assert_shape(camera, [None, LABEL_SIZE], "camera")
    batch = camera.shape[0]
    cam2world = camera[:, CAM2WORLD].reshape(batch, 4, 4)
    intrinsics = camera[:, INTRINSICS].reshape(batch, 3, 3)
    fx, fy = intrinsics[:, 0, 0, None], intrinsics[:, 1, 1, None]
    cx, cy, skew = intrinsics[:, 0, 2, None], intrinsics[:, 1, 2, None], intrinsics[:, 0, 1, None]
    index = torch.arange(resolution, dtype=torch.float32, device=camera.device) * (1.0 / resolution) + (0.5 / resolution)
    y_pix, x_pix = torch.meshgrid(index, index, indexing="ij")  # [R,R] rows, columns
    x_pix = x_pix.reshape(1, -1).to(camera.dtype)
    y_pix = y_pix.reshape(1, -1).to(camera.dtype)
    x_cam = (x_pix - cx + cy * skew / fy - skew * y_pix / fy) / fx
    y_cam = (y_pix - cy) / fy
    ones = torch.ones_like(x_cam)
    cam_points = torch.stack([x_cam, y_cam, ones, ones], dim=-1)  # [B,M,4]
    world_points = torch.bmm(cam2world, cam_points.permute(0, 2, 1)).permute(0, 2, 1)[:, :, :3]
    origins = cam2world[:, :3, 3]
    directions = F.normalize(world_points - origins[:, None, :], dim=2)
    return origins[:, None, :].expand(-1, directions.shape[1], -1).contiguous(), directions


def sample_stratified(
    origins: torch.Tensor, ray_start: float, ray_end: float, num_samples: int, disparity_space: bool, generator: torch.Generator | None
) -> torch.Tensor:
    """Jittered depths ``[B,M,S,1]``: S uniform bins between ray_start and ray_end, jitter always on (§4.2)."""
    batch, num_rays, _ = origins.shape
    kwargs = dict(device=origins.device, dtype=origins.dtype)
    if disparity_space:
        depths = torch.linspace(0, 1, num_samples, **kwargs).reshape(1, 1, num_samples, 1).repeat(batch, num_rays, 1, 1)
        depths = depths + uniform(depths.shape, generator, **kwargs) / (num_samples - 1)
        return 1.0 / (1.0 / ray_start * (1.0 - depths) + 1.0 / ray_end * depths)
    depths = torch.linspace(ray_start, ray_end, num_samples, **kwargs).reshape(1, 1, num_samples, 1).repeat(batch, num_rays, 1, 1)
    delta = (ray_end - ray_start) / (num_samples - 1)
    return depths + uniform(depths.shape, generator, **kwargs) * delta


@torch.no_grad()
def sample_importance(
    depths: torch.Tensor, weights: torch.Tensor, num_samples: int, generator: torch.Generator | None, eps: float = 1e-5
) -> torch.Tensor:
    """Fine depths ``[B,M,S_f,1]`` drawn from the smoothed coarse weights by inverse CDF (§4.3)."""
    batch, num_rays, coarse, _ = depths.shape
    depths = depths.reshape(batch * num_rays, coarse)
    weights = weights.reshape(batch * num_rays, 1, -1).float()
    weights = F.max_pool1d(weights, 2, 1, padding=1)
    weights = F.avg_pool1d(weights, 2, 1).squeeze(1) + 0.01
    bins = 0.5 * (depths[:, :-1] + depths[:, 1:])
    weights = weights[:, 1:-1] + eps
    pdf = weights / weights.sum(-1, keepdim=True)
    cdf = torch.cat([torch.zeros_like(pdf[:, :1]), torch.cumsum(pdf, -1)], -1)
    u = uniform((batch * num_rays, num_samples), generator, device=depths.device)
    index = torch.searchsorted(cdf, u, right=True)
    below = torch.clamp_min(index - 1, 0)
    above = torch.clamp_max(index, weights.shape[1])
    both = torch.stack([below, above], -1).reshape(batch * num_rays, 2 * num_samples)
    cdf_g = torch.gather(cdf, 1, both).reshape(batch * num_rays, num_samples, 2)
    bins_g = torch.gather(bins, 1, both).reshape(batch * num_rays, num_samples, 2)
    denom = cdf_g[..., 1] - cdf_g[..., 0]
    denom = torch.where(denom < eps, torch.ones_like(denom), denom)
    samples = bins_g[..., 0] + (u - cdf_g[..., 0]) / denom * (bins_g[..., 1] - bins_g[..., 0])
    return samples.reshape(batch, num_rays, num_samples, 1)


def march_rays(
    colors: torch.Tensor, densities: torch.Tensor, depths: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Midpoint-rule compositing (MipRayMarcher2, §4.4).

    ``colors [B,M,S,C]``, ``densities [B,M,S,1]`` (raw), ``depths [B,M,S,1]`` →
    colour ``[B,M,C]``, expected depth ``[B,M,1]`` (clamped to the global sample range) and
    weights ``[B,M,S-1,1]``.
    """
    deltas = depths[:, :, 1:] - depths[:, :, :-1]
    colors_mid = (colors[:, :, :-1] + colors[:, :, 1:]) / 2
    densities_mid = F.softplus((densities[:, :, :-1] + densities[:, :, 1:]) / 2 - 1)
    depths_mid = (depths[:, :, :-1] + depths[:, :, 1:]) / 2
    alpha = 1 - torch.exp(-densities_mid * deltas)
    transmittance = torch.cumprod(torch.cat([torch.ones_like(alpha[:, :, :1]), 1 - alpha + 1e-10], -2), -2)
    weights = alpha * transmittance[:, :, :-1]
    composite = torch.sum(weights * colors_mid, -2)
    depth = torch.sum(weights * depths_mid, -2) / weights.sum(2)
    depth = torch.clamp(torch.nan_to_num(depth, float("inf")), torch.min(depths), torch.max(depths))
    return composite, depth, weights


def crop_mask(points: torch.Tensor, box_warp: float, margin: float = 0.1) -> torch.Tensor:
    """True where ``|x|`` or ``|z|`` exceeds ``box_warp/2 - margin``; y is unconstrained (§3.3)."""
    return (points[..., [0, 2]].abs() > (box_warp / 2 - margin)).any(dim=-1, keepdim=True)


def run_decoder(
    trigrid: torch.Tensor,
    decoder: OSGDecoder,
    points: torch.Tensor,
    directions: torch.Tensor,
    rendering: RenderingConfig,
    generator: torch.Generator | None = None,
) -> dict[str, torch.Tensor]:
    """Decoder output at ``points [B,M,3]``: ``{'rgb' [B,M,32], 'sigma' [B,M,1] raw, 'xyz'}`` (§4.5)."""
    features = sample_trigrid(trigrid, points, rendering.box_warp, rendering.triplane_depth)
    out = decoder(features, directions)
    if rendering.density_noise > 0:
        noise = normal(out["sigma"].shape, generator, device=points.device, dtype=out["sigma"].dtype)
        out["sigma"] = out["sigma"] + noise * rendering.density_noise
    out["xyz"] = points
    return out


def render_volume(
    trigrid: torch.Tensor,
    decoder: OSGDecoder,
    origins: torch.Tensor,
    directions: torch.Tensor,
    rendering: RenderingConfig,
    generator: torch.Generator | None = None,
    triplane_crop: float = 0.1,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Coarse + importance volume rendering of a tri-grid (ImportanceRenderer, §4.2–§4.4).

    Returns features ``[B,M,32]``, depth ``[B,M,1]`` and accumulated weight ``[B,M,1]``.
    """
    batch, num_rays, _ = origins.shape

    def decode(depths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        samples = depths.shape[2]
        points = (origins.unsqueeze(-2) + depths * directions.unsqueeze(-2)).reshape(batch, -1, 3)
        dirs = directions.unsqueeze(-2).expand(-1, -1, samples, -1).reshape(batch, -1, 3)
        out = run_decoder(trigrid, decoder, points, dirs, rendering, generator)
        sigma = out["sigma"]
        if triplane_crop:
            sigma = torch.where(crop_mask(points, rendering.box_warp, triplane_crop), CROPPED_DENSITY, sigma)
        return (
            out["rgb"].reshape(batch, num_rays, samples, -1),
            sigma.reshape(batch, num_rays, samples, 1),
            points.reshape(batch, num_rays, samples, 3),
        )

    depths = sample_stratified(
        origins, rendering.ray_start, rendering.ray_end, rendering.depth_resolution, rendering.disparity_space_sampling, generator
    )
    colors, densities, points = decode(depths)
    if rendering.depth_resolution_importance > 0:
        _, _, weights = march_rays(colors, densities, depths)
        depths_fine = sample_importance(depths, weights, rendering.depth_resolution_importance, generator)
        colors_fine, densities_fine, points_fine = decode(depths_fine)
        depths = torch.cat([depths, depths_fine], dim=-2)
        colors = torch.cat([torch.cat([colors, points], -1), torch.cat([colors_fine, points_fine], -1)], dim=-2)
        densities = torch.cat([densities, densities_fine], dim=-2)
        depths, order = torch.sort(depths, dim=-2)
        colors = torch.gather(colors, -2, order.expand(-1, -1, -1, colors.shape[-1]))
        densities = torch.gather(densities, -2, order)
    else:
        colors = torch.cat([colors, points], -1)
    composite, depth, weights = march_rays(colors, densities, depths)
    return composite[..., :-3], depth, weights.sum(2)
