"""Occlusion masks on the tri-grid from the depth map of the input view (paper Eq. 3, §3.3).

Eq. 3 defines the occluded set as everything in the tri-grid except the surface points seen from the
input camera: each pixel of the rendered depth map is lifted back to 3D (``origin + depth · direction``;
PanoHead's depth is the expected ray distance t along a unit direction, spec §4.4 and §10.6), and the
tri-grid cells those points fall into are *visible*; every other cell is *occluded* (``O``).

How a visible point maps to cells (the paper leaves this open; the official code is not available
here, so these are our documented choices):

* **Per plane, nearest cell.** A point is projected onto the three planes exactly as the renderer
  does (spec §3.2: plane 0 = XY with depth z, plane 1 = XZ with depth y, plane 2 = YZ with depth x,
  scaled by ``2 / box_warp``). On every axis it marks the cell whose centre is nearest, i.e. the
  cell ``floor((coord + 1) · n / 2)`` of the ``align_corners=False`` layout; a point more than half a
  cell outside the grid marks nothing.
* **Per depth slice** (``depth_slices="nearest"``, the default). Eq. 3 is a set in R³, and the
  tri-grid's depth slices exist precisely to separate front from back (PanoHead), so only the slice
  nearest to the point is marked: a frontal view leaves the back-of-head slice of the XY plane
  occluded. ``depth_slices="all"`` marks every slice of a visible (u, v) instead (a plain triplane
  reading of the paper).
* **Foreground only.** Pixels whose rendered opacity (``image_mask``, the sum of ray weights) is
  below ``opacity_threshold`` are background or ray misses; their depth is a clamp value, not a
  surface, so they mark nothing.
* **Dense enough for a 256² grid.** A 64² depth map gives ~2.5 texels between neighbouring points
  on the face, which would leave a sieve of holes. The depth map is therefore bilinearly
  supersampled (default factor ``ceil(trigrid_resolution / depth_resolution)``), keeping only
  sub-pixels whose every bilinear tap is foreground so that no point is interpolated across the
  silhouette, and the marked cells are then dilated in-plane by ``dilation`` texels (not across
  depth slices). GOAE's mask, which the paper cites for occlusion masks, likewise splats the nearest
  texel and then smooths in-plane.

Compact form. Visibility depends on (plane, depth slice, row, column) only, never on the feature
channel, so masks are returned as bool ``[B, 3, D, H, W]`` (1.8 MB at B = 3 for the released
256² × 3 grid, against 56 MB for the expanded ``[B, 3, 96, 256, 256]``).
:func:`apply_occlusion_mask` multiplies a tri-grid by a compact mask without expanding it;
:func:`expand_mask` builds the full ``[B, 3, C·D, H, W]`` layout (channel ``c·D + d``, spec §3.1)
when one is really needed.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Literal, NamedTuple

import torch
import torch.nn.functional as F

from dualinv.errors import ConfigError
from dualinv.fileio import save_image
from dualinv.panohead.rendering import rays_from_cameras
from dualinv.panohead.trigrid import project_onto_planes
from dualinv.shapes import assert_shape

DepthSliceRule = Literal["nearest", "all"]
NUM_PLANES = 3
CAMERA_LABEL_SIZE = 25


class OcclusionMasks(NamedTuple):
    """Visible cells and their complement ``O`` (Eq. 3), both bool ``[B, 3, D, H, W]``."""

    visible: torch.Tensor
    occluded: torch.Tensor


def _check_options(
    trigrid_resolution: int,
    trigrid_depth: int,
    box_warp: float,
    opacity_threshold: float,
    supersample: int | None,
    dilation: int,
    depth_slices: str,
) -> None:
    """Reject option values that would give a silently wrong mask, naming the option."""
    problems = []
    if trigrid_resolution < 1:
        problems.append(f"trigrid_resolution must be >= 1, got {trigrid_resolution}")
    if trigrid_depth < 1:
        problems.append(f"trigrid_depth must be >= 1, got {trigrid_depth}")
    if not box_warp > 0:
        problems.append(f"box_warp must be > 0, got {box_warp}")
    if not 0.0 <= opacity_threshold <= 1.0:
        problems.append(f"opacity_threshold must lie in [0, 1], got {opacity_threshold}")
    if supersample is not None and supersample < 1:
        problems.append(f"supersample must be >= 1 or None (automatic), got {supersample}")
    if dilation < 0:
        problems.append(f"dilation must be >= 0 texels, got {dilation}")
    if depth_slices not in ("nearest", "all"):
        problems.append(f"depth_slices must be 'nearest' or 'all', got {depth_slices!r}")
    if problems:
        raise ConfigError("occlusion mask options: " + "; ".join(problems))


def unproject_depth(
    depth: torch.Tensor,
    camera: torch.Tensor,
    image_mask: torch.Tensor | None = None,
    *,
    opacity_threshold: float = 0.5,
    supersample: int = 1,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Lift a depth map to world points, Eq. 3's ``π_R D K⁻¹ I[u, v, 1]``.

    ``depth`` [B, 1, R, R] is the expected ray distance t; ``camera`` [B, 25]; ``image_mask``
    [B, 1, R, R] the rendered opacity (None: every pixel is foreground). Returns points
    [B, M, 3] with M = (supersample·R)² in row-major pixel order, and ``keep`` [B, M] (foreground
    and finite depth; with supersampling, only sub-pixels whose four bilinear taps are all kept).
    """
    batch, _, resolution, _ = depth.shape
    foreground = torch.isfinite(depth)
    if image_mask is not None:
        foreground &= image_mask >= opacity_threshold
    depth = torch.where(foreground, depth, torch.zeros_like(depth))
    if supersample > 1:
        size = resolution * supersample
        depth = F.interpolate(depth, size=(size, size), mode="bilinear", align_corners=False)
        coverage = F.interpolate(foreground.to(depth.dtype), size=(size, size), mode="bilinear", align_corners=False)
        # A dropped tap costs at least 1/(2·supersample)² of coverage; test halfway to that.
        foreground = coverage > 1.0 - 0.125 / supersample**2
        resolution = size
    origins, directions = rays_from_cameras(camera.to(depth.dtype), resolution)  # [B,M,3] each
    points = origins + depth.reshape(batch, -1, 1) * directions  # [B,M,3]
    return points, foreground.reshape(batch, -1)


def _mark_cells(
    coords: torch.Tensor,
    keep: torch.Tensor,
    resolution: int,
    depth: int,
    depth_slices: DepthSliceRule,
) -> torch.Tensor:
    """Scatter per-plane coordinates [B, 3, M, 3] (u, v, t) into a bool grid [B, 3, D, R, R]."""
    batch, planes, points, _ = coords.shape
    sizes = torch.tensor([resolution, resolution, depth], device=coords.device)
    cells = torch.floor((coords + 1.0) * (sizes / 2.0)).long()  # [B,3,M,3]: (column, row, slice)
    inside = ((cells >= 0) & (cells < sizes)).all(dim=-1) & keep[:, None, :]  # [B,3,M]
    column, row, depth_slice = cells.unbind(dim=-1)
    if depth_slices == "all":
        depth_slice = torch.zeros_like(depth_slice)
    slices_marked = 1 if depth_slices == "all" else depth
    plane_index = torch.arange(batch * planes, device=coords.device).reshape(batch, planes, 1)
    flat = ((plane_index * slices_marked + depth_slice) * resolution + row) * resolution + column
    size = batch * planes * slices_marked * resolution * resolution
    flat = torch.where(inside, flat, torch.full_like(flat, size))  # outside points go to a spare slot
    grid = torch.zeros(size + 1, dtype=torch.bool, device=coords.device)
    grid[flat.reshape(-1)] = True
    grid = grid[:size].reshape(batch, planes, slices_marked, resolution, resolution)
    return grid.expand(batch, planes, depth, resolution, resolution).clone()


def _dilate(mask: torch.Tensor, radius: int) -> torch.Tensor:
    """In-plane square dilation of a bool [B, 3, D, H, W] mask by ``radius`` texels (slices untouched)."""
    if radius == 0:
        return mask
    flat = mask.flatten(0, 2)[:, None].to(torch.float32)  # [B·3·D,1,H,W]
    grown = F.max_pool2d(flat, kernel_size=2 * radius + 1, stride=1, padding=radius)
    return grown[:, 0].reshape(mask.shape) > 0.5


@torch.no_grad()
def occlusion_mask(
    depth: torch.Tensor,
    camera: torch.Tensor,
    *,
    image_mask: torch.Tensor | None = None,
    trigrid_resolution: int = 256,
    trigrid_depth: int = 3,
    box_warp: float = 1.0,
    opacity_threshold: float = 0.5,
    supersample: int | None = None,
    dilation: int = 1,
    depth_slices: DepthSliceRule = "nearest",
) -> OcclusionMasks:
    """Eq. 3: visible tri-grid cells from the input view's depth map, and their complement ``O``.

    ``depth`` [B, 1, R, R] is the rendered ``image_depth`` (expected ray distance) at the input
    camera ``camera`` [B, 25]; ``image_mask`` [B, 1, R, R] the rendered opacity, thresholded at
    ``opacity_threshold`` to drop background pixels (None: all pixels count). Returns bool masks
    [B, 3, trigrid_depth, trigrid_resolution, trigrid_resolution]; see the module docstring for the
    cell rule, the supersampling (``None``: ``ceil(trigrid_resolution / R)``) and the dilation.
    No gradient flows through the mask.
    """
    _check_options(trigrid_resolution, trigrid_depth, box_warp, opacity_threshold, supersample, dilation, depth_slices)
    assert_shape(depth, [None, 1, depth.shape[-1], None], "depth")
    assert_shape(camera, [depth.shape[0], CAMERA_LABEL_SIZE], "camera")
    if image_mask is not None:
        assert_shape(image_mask, list(depth.shape), "image_mask")
    if supersample is None:
        supersample = max(1, math.ceil(trigrid_resolution / depth.shape[-1]))

    points, keep = unproject_depth(
        depth.float(), camera.float(), image_mask, opacity_threshold=opacity_threshold, supersample=supersample
    )
    coords = project_onto_planes(points * (2.0 / box_warp))  # [B,3,M,3] (u, v, t) in [-1, 1] (spec §3.2)
    visible = _mark_cells(coords, keep, trigrid_resolution, trigrid_depth, depth_slices)
    visible = _dilate(visible, dilation)
    return OcclusionMasks(visible=visible, occluded=~visible)


@torch.no_grad()
def lift_pixel_mask(
    pixel_mask: torch.Tensor,
    depth: torch.Tensor,
    camera: torch.Tensor,
    *,
    image_mask: torch.Tensor | None = None,
    opacity_threshold: float = 0.5,
    **cell_options,
) -> torch.Tensor:
    """Tri-grid cells of the surface seen under a 2D pixel mask, by Eq. 3's depth unprojection.

    The same lifting as :func:`occlusion_mask`, restricted to the pixels of ``pixel_mask``
    [B, 1, h, w] (bool or float, any resolution: it is area-resized to the depth map's R and
    thresholded at 0.5). ``depth``, ``camera`` and ``image_mask`` are as for :func:`occlusion_mask`;
    ``cell_options`` are its keyword options (``trigrid_resolution``, ``trigrid_depth``,
    ``box_warp``, ``supersample``, ``dilation``, ``depth_slices``). Returns bool [B, 3, D, H, W],
    True on the cells the masked surface points fall into (used to localise a part for editing).
    """
    assert_shape(pixel_mask, [depth.shape[0], 1, None, None], "pixel_mask")
    coverage = F.interpolate(pixel_mask.float(), size=depth.shape[-2:], mode="area")
    selected = coverage >= 0.5
    if image_mask is not None:
        assert_shape(image_mask, list(depth.shape), "image_mask")
        selected &= image_mask >= opacity_threshold
    return occlusion_mask(depth, camera, image_mask=selected.float(), opacity_threshold=0.5, **cell_options).visible


def _check_compact(mask: torch.Tensor, trigrid: torch.Tensor) -> int:
    """Return the feature count C of ``trigrid`` [B, 3, C·D, H, W] for a compact mask [B, 3, D, H, W]."""
    if mask.ndim != 5 or trigrid.ndim != 5 or mask.shape[1] != NUM_PLANES:
        raise ValueError(f"expected mask [B, 3, D, H, W] and trigrid [B, 3, C*D, H, W], got "
                         f"{list(mask.shape)} and {list(trigrid.shape)}")
    channels, slices = trigrid.shape[2], mask.shape[2]
    if channels % slices or mask.shape[-2:] != trigrid.shape[-2:] or mask.shape[0] not in (1, trigrid.shape[0]):
        raise ValueError(f"mask {list(mask.shape)} does not fit trigrid {list(trigrid.shape)}")
    return channels // slices


def apply_occlusion_mask(trigrid: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """``mask · trigrid`` as in Eq. 4/6/8 (``O_π T``), broadcasting a compact mask over features.

    ``trigrid`` [B, 3, C·D, H, W] with channel ``c·D + d`` (spec §3.1); ``mask`` bool or float
    [B, 3, D, H, W] (batch 1 broadcasts). Gradients flow to ``trigrid`` (and to a float mask).
    """
    features = _check_compact(mask, trigrid)
    per_feature = trigrid.unflatten(2, (features, mask.shape[2]))  # [B,3,C,D,H,W]
    masked = per_feature * mask.to(trigrid.dtype).unsqueeze(2)  # mask as [B,3,1,D,H,W]
    return masked.flatten(2, 3)  # [B,3,C·D,H,W]


def expand_mask(mask: torch.Tensor, features: int = 32) -> torch.Tensor:
    """Compact [B, 3, D, H, W] -> full tri-grid layout [B, 3, features·D, H, W] (channel ``c·D + d``)."""
    batch, planes, slices, height, width = mask.shape
    expanded = mask.unsqueeze(2).expand(batch, planes, features, slices, height, width)
    return expanded.reshape(batch, planes, features * slices, height, width)


def save_occlusion_debug(mask: torch.Tensor, path: str | Path, *, index: int = 0) -> None:
    """Write a PNG of one mask of a batch: the planes XY, XZ, YZ side by side, left to right.

    ``mask`` is compact [B, 3, D, H, W] or full [B, 3, C·D, H, W], bool or float; each panel is the
    mean over slices/channels (white = visible in every slice). Rows are drawn with v increasing
    upwards (so +y is up on the XY panel); panels are separated by a grey bar. Written atomically.
    """
    if mask.ndim != 5 or mask.shape[1] != NUM_PLANES:
        raise ValueError(f"mask: expected [B, 3, D, H, W], got {list(mask.shape)}")
    panels = mask[index].detach().float().mean(dim=1).flip(dims=[-2]).cpu()  # [3,H,W], v up
    height = panels.shape[-2]
    separator = torch.full((height, max(2, height // 32)), 0.5)
    picture = torch.cat([panels[0], separator, panels[1], separator, panels[2]], dim=1)  # [H, W']
    save_image(path, picture[None] * 2.0 - 1.0)
