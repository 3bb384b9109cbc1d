"""TEMPORARY stand-in for two helpers of the ``generator`` branch; delete once it is merged.

``dualinv.panohead.rendering.rays_from_cameras`` (spec §6.4) and the point → plane projection of
``dualinv.panohead.trigrid`` (spec §3.2) are written on the ``generator`` branch. Until that branch is
merged, :mod:`dualinv.occlusion` imports these minimal versions with the same signatures.
"""

from __future__ import annotations

import torch

# Spec §3.2: rows of each 3×3 matrix are the plane's (u, v, t) axes; q @ inverse(axes) gives (u, v, t).
PLANE_AXES = torch.tensor(
    [
        [[1, 0, 0], [0, 1, 0], [0, 0, 1]],
        [[1, 0, 0], [0, 0, 1], [0, 1, 0]],
        [[0, 1, 0], [0, 0, 1], [1, 0, 0]],
    ],
    dtype=torch.float32,
)


def project_onto_planes(points: torch.Tensor, box_warp: float) -> torch.Tensor:
    """World points [B, M, 3] -> per-plane grid coordinates (u, v, t) [B, 3, M, 3] (spec §3.2)."""
    q = points * (2.0 / box_warp)
    inverse_axes = torch.linalg.inv(PLANE_AXES.to(points))  # [3, 3, 3]
    return torch.einsum("bmi,pij->bpmj", q, inverse_axes)


def rays_from_cameras(camera: torch.Tensor, resolution: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Camera labels [B, 25] -> ray origins and unit directions [B, R*R, 3], row-major pixels (spec §6.4)."""
    cam2world = camera[:, :16].reshape(-1, 4, 4)
    intrinsics = camera[:, 16:25].reshape(-1, 3, 3)
    fx, fy = intrinsics[:, 0, 0, None], intrinsics[:, 1, 1, None]
    cx, cy, skew = intrinsics[:, 0, 2, None], intrinsics[:, 1, 2, None], intrinsics[:, 0, 1, None]
    centres = (torch.arange(resolution, dtype=camera.dtype, device=camera.device) + 0.5) / resolution
    y, x = torch.meshgrid(centres, centres, indexing="ij")
    x, y = x.reshape(1, -1), y.reshape(1, -1)
    x_cam = (x - cx + cy * skew / fy - skew * y / fy) / fx
    y_cam = (y - cy) / fy
    camera_points = torch.stack([x_cam, y_cam, torch.ones_like(x_cam), torch.ones_like(x_cam)], dim=-1)
    world_points = torch.einsum("bij,bmj->bmi", cam2world, camera_points)[..., :3]
    origins = cam2world[:, None, :3, 3].expand_as(world_points)
    directions = torch.nn.functional.normalize(world_points - origins, dim=-1)
    return origins, directions
