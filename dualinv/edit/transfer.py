"""Reference-based part transfer in tri-grid space (paper §5.3, Fig. 10, following [8]).

Both photos are inverted into tri-grids. The part is localised on the reference in 2D
(:mod:`dualinv.edit.parts`), lifted into the reference's tri-grid cells through its own rendered
depth (:func:`dualinv.occlusion.lift_pixel_mask`, Eq. 3's unprojection restricted to the part's
pixels), and those cells are blended into the source's tri-grid (:mod:`dualinv.edit.blend`).
The edited head renders with the source's ``ws`` (background, raw ToRGB and super-resolution stay
the source's, so only the tri-grid content changes).

[8] localises through the gradients of a parser's mask with respect to the tri-grid over 11 views;
we lift the mask with the depth instead (the issue asks for the occlusion module's projection). A
single view sees only the front of a part, so ``extra_yaws`` adds renders of the reference at
other yaws, each segmented the same way, and the cells of all views are united.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np
import torch

from dualinv.camera import camera_at_yaw
from dualinv.dual.outputs import HeadCode
from dualinv.edit.blend import blend_trigrids, feather_cells
from dualinv.edit.parts import PartName, check_part
from dualinv.errors import ConfigError
from dualinv.fileio import tensor_to_uint8
from dualinv.occlusion import DepthSliceRule, lift_pixel_mask
from dualinv.seeding import make_generator


@dataclass(frozen=True)
class EditConfig:
    """One reference-based edit."""

    part: PartName = "hair"
    """Part copied from the reference (see :data:`dualinv.edit.parts.SUPPORTED_PARTS`)."""
    feather: int = 2
    """Width in texels of the linear ramp on each side of the part's border (0: hard copy)."""
    extra_yaws: tuple[float, ...] = ()
    """Dataset yaws (degrees) of extra renders of the reference that are segmented and lifted too."""
    depth_slices: DepthSliceRule = "nearest"
    """Depth slices a lifted point marks: its nearest (default) or all (see dualinv.occlusion)."""
    opacity_threshold: float = 0.5
    """Rendered opacity below which a masked pixel is background and lifts nothing."""
    dilation: int = 1
    """In-plane dilation (texels) of the lifted cells, as for the occlusion mask."""
    seed: int = 0
    """Seed of the renderer's sample jitter."""

    def __post_init__(self) -> None:
        check_part(self.part)
        if self.feather < 0 or self.dilation < 0:
            raise ConfigError(f"edit feather and dilation must be >= 0, got {self.feather} and {self.dilation}")
        if not 0.0 <= self.opacity_threshold <= 1.0:
            raise ConfigError(f"edit opacity_threshold must lie in [0, 1], got {self.opacity_threshold}")
        if self.depth_slices not in ("nearest", "all"):
            raise ConfigError(f"edit depth_slices must be 'nearest' or 'all', got {self.depth_slices!r}")


class Segmenter(Protocol):
    """Anything that returns a bool [H, W] part mask for an RGB uint8 [H, W, 3] image."""

    def part_mask(self, image: np.ndarray, part: str) -> np.ndarray: ...


@dataclass(frozen=True)
class PartEdit:
    """The result of :func:`transfer_part`."""

    head: HeadCode
    """The edited head: blended tri-grid, the source's ws and camera."""
    part_cells: torch.Tensor
    """bool [1, 3, D, H, W] lifted part cells (union over views)."""
    part_weight: torch.Tensor
    """float [1, 3, D, H, W] blend weight A after feathering."""
    pixel_masks: list[np.ndarray]
    """bool [h, w] part mask per view (the reference photo first, then each extra yaw)."""


@torch.no_grad()
def localise_part(generator: torch.nn.Module, reference: HeadCode, reference_image: np.ndarray,
                  segmenter: Segmenter, config: EditConfig) -> tuple[torch.Tensor, list[np.ndarray]]:
    """Lifted part cells [1, 3, D, H, W] of the reference and the 2D masks they came from.

    The first view is the reference photo itself (segmented as given, lifted with the depth
    rendered from its inverted tri-grid at its camera); each extra yaw is a render, segmented.
    """

    rendering = generator.config.rendering
    device = reference.trigrid.device
    cameras = [reference.camera] + [camera_at_yaw(yaw, device=device) for yaw in config.extra_yaws]
    cells, pixel_masks = None, []
    for index, camera in enumerate(cameras):
        render = generator.render_trigrid(reference.trigrid, reference.ws, camera.to(device),
                                          generator=make_generator(config.seed, device), noise_mode="const")
        image = reference_image if index == 0 else tensor_to_uint8(render["image"][0].clamp(-1, 1))
        pixel_mask = np.asarray(segmenter.part_mask(image, config.part), dtype=bool)
        pixel_masks.append(pixel_mask)
        lifted = lift_pixel_mask(torch.from_numpy(pixel_mask)[None, None].to(device), render["image_depth"],
                                 camera.to(device), image_mask=render["image_mask"],
                                 opacity_threshold=config.opacity_threshold, trigrid_resolution=rendering.triplane_size, trigrid_depth=rendering.triplane_depth,
                                 box_warp=rendering.box_warp, dilation=config.dilation,
                                 depth_slices=config.depth_slices)
        cells = lifted if cells is None else cells | lifted
    return cells, pixel_masks


@torch.no_grad()
def transfer_part(generator: torch.nn.Module, source: HeadCode, reference: HeadCode, reference_image: np.ndarray,
                  segmenter: Segmenter, config: EditConfig = EditConfig()) -> PartEdit:
    """Copy ``config.part`` of the reference head into the source head (§5.3)."""
    cells, pixel_masks = localise_part(generator, reference, reference_image, segmenter, config)
    weight = feather_cells(cells, config.feather)
    trigrid = blend_trigrids(source.trigrid, reference.trigrid.to(source.trigrid.device), weight)
    return PartEdit(HeadCode(trigrid, source.ws, source.camera), cells, weight, pixel_masks)
