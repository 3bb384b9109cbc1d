"""The dual-encoder combination of tri-grids (paper §3.4, Fig. 4)."""

from __future__ import annotations

import torch

from dualinv.occlusion import apply_occlusion_mask


def stitch_trigrids(
    trigrid_visible: torch.Tensor,
    trigrid_occluded: torch.Tensor,
    occlusion_mask: torch.Tensor,
) -> torch.Tensor:
    """§3.4: visible cells from Encoder 1, occluded cells from Encoder 2.

    ``trigrid_visible`` (from ``encoder_visible``, Encoder 1) and ``trigrid_occluded`` (from
    ``encoder_occluded``, Encoder 2) are [B, 3, C·D, H, W]; ``occlusion_mask`` is ``O`` of Eq. 3 in
    the compact form [B, 3, D, H, W] returned by :func:`dualinv.occlusion.occlusion_mask`
    (``.occluded``), bool or float in [0, 1]. The result is ``(1 − O)·T_visible + O·T_occluded``:
    exactly ``T_visible`` where ``O`` is 0 and exactly ``T_occluded`` where it is 1 (a soft mask
    blends), and gradients reach both tri-grids.
    """
    if trigrid_visible.shape != trigrid_occluded.shape:
        raise ValueError(
            f"trigrid_visible {list(trigrid_visible.shape)} and trigrid_occluded "
            f"{list(trigrid_occluded.shape)} must have the same shape"
        )
    occluded = occlusion_mask.to(trigrid_visible.dtype)
    return apply_occlusion_mask(trigrid_visible, 1.0 - occluded) + apply_occlusion_mask(trigrid_occluded, occluded)
