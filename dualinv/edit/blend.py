"""Blending a reference's tri-grid cells into a source's (reference-based editing, paper §5.3, [8]).

Tri-grids share a canonical space (§5.3), so a part localised in tri-grid cells of the reference can
be copied into the source cell by cell. The blend is the same convex combination as the dual
encoder's stitch (§3.4), with the part weight in the place of the occlusion mask:
``T_edit = (1 − A)·T_source + A·T_reference``.

At the mask border, ``A`` is a linear ramp (``feather`` texels): the binary part cells are
box-filtered in-plane with a (2·feather + 1)² window (edge cells replicated; depth slices never
mix). Cells deeper than ``feather`` inside the part take exactly the reference's values, cells
farther than ``feather`` outside it keep exactly the source's, and the band of width 2·feather
between them mixes the two linearly, which hides the seam a hard copy leaves between features
that were never meant to meet. ``feather=0`` is the hard copy.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from dualinv.dual.stitch import stitch_trigrids
from dualinv.errors import ConfigError


def feather_cells(part_cells: torch.Tensor, feather: int) -> torch.Tensor:
    """bool part cells [B, 3, D, H, W] → blend weight ``A`` in [0, 1], float32, same shape.

    ``A`` is exactly 1 on cells at more than ``feather`` texels (Chebyshev distance) inside the part,
    exactly 0 on cells at more than ``feather`` outside it, and the in-plane box mean between.
    """
    if feather < 0:
        raise ConfigError(f"edit feather must be >= 0 texels, got {feather}")
    if part_cells.ndim != 5 or part_cells.shape[1] != 3:
        raise ValueError(f"part_cells: expected [B, 3, D, H, W], got {list(part_cells.shape)}")
    weight = part_cells.to(torch.float32)
    if feather == 0:
        return weight
    flat = weight.flatten(0, 2)[:, None]  # [B·3·D,1,H,W]
    padded = F.pad(flat, (feather,) * 4, mode="replicate")
    ramp = F.avg_pool2d(padded, kernel_size=2 * feather + 1, stride=1)
    return ramp[:, 0].reshape(weight.shape)


def blend_trigrids(trigrid_source: torch.Tensor, trigrid_reference: torch.Tensor, part_weight: torch.Tensor
                   ) -> torch.Tensor:
    """``(1 − A)·T_source + A·T_reference`` for tri-grids [B, 3, C·D, H, W] and a compact weight
    ``A`` [B, 3, D, H, W] (bool or float, e.g. from :func:`feather_cells`)."""
    return stitch_trigrids(trigrid_source, trigrid_reference, part_weight)
