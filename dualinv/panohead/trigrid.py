"""Tri-grid layout, plane projection and sampling (specs/panohead.md §3).

A tri-grid is ``[B, 3, D*C, H, W]``: three axis-aligned planes (XY, XZ, YZ), each a stack of ``D``
depth slices of ``C`` = 32 features, channel index ``c*D + d`` within a plane (§3.1).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from dualinv.shapes import assert_shape

TRIGRID_FEATURES = 32
"""Feature channels per plane and depth slice (C); the decoder input width."""

PLANE_AXES = (
    ((1.0, 0.0, 0.0), (0.0, 1.0, 0.0), (0.0, 0.0, 1.0)),  # XY plane, depth along z
    ((1.0, 0.0, 0.0), (0.0, 0.0, 1.0), (0.0, 1.0, 0.0)),  # XZ plane, depth along y
    ((0.0, 1.0, 0.0), (0.0, 0.0, 1.0), (1.0, 0.0, 0.0)),  # YZ plane, depth along x (differs from EG3D)
)
"""PanoHead's ``renderer.plane_axes`` (§3.2): grid coordinates are ``q @ inverse(axes[p])``."""


def plane_axes(device: torch.device | None = None) -> torch.Tensor:
    """``PLANE_AXES`` as a ``[3,3,3]`` float32 tensor."""
    return torch.tensor(PLANE_AXES, dtype=torch.float32, device=device)


def project_onto_planes(points: torch.Tensor, axes: torch.Tensor | None = None) -> torch.Tensor:
    """Grid coordinates (u→W, v→H, t→D) of ``points [B,M,3]`` on each plane: ``[B,3,M,3]`` (§3.2)."""
    axes = plane_axes(points.device) if axes is None else axes
    inverse = torch.linalg.inv(axes).to(points.dtype)  # [3,3,3]
    return torch.einsum("bmi,pij->bpmj", points, inverse)


def sample_trigrid(
    trigrid: torch.Tensor,
    points: torch.Tensor,
    box_warp: float,
    depth: int | None = None,
) -> torch.Tensor:
    """Trilinear features of world ``points [B,M,3]`` on each plane: ``[B,3,M,C]`` (§3.2).

    ``trigrid [B,3,D*C,H,W]``; ``depth`` = D (default: channels // 32). Points are scaled by
    ``2 / box_warp`` so the cube ``[-box_warp/2, box_warp/2]³`` maps to ``[-1, 1]³``; outside it the
    features fade to the zero padding (``align_corners=False``).
    """
    batch, planes, depth_channels, height, width = trigrid.shape
    assert_shape(trigrid, [None, 3, None, None, None], "trigrid")
    assert_shape(points, [batch, None, 3], "points")
    depth = depth_channels // TRIGRID_FEATURES if depth is None else depth
    channels = depth_channels // depth
    num_points = points.shape[1]
    grid = project_onto_planes((2 / box_warp) * points)  # [B,3,M,3]
    grid = grid.reshape(batch * planes, 1, 1, num_points, 3).to(trigrid.dtype)
    volume = trigrid.reshape(batch * planes, channels, depth, height, width)  # [B*3,C,D,H,W]
    features = F.grid_sample(volume, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    return features.reshape(batch, planes, channels, num_points).permute(0, 1, 3, 2)  # [B,3,M,C]
