"""§3.4 stitching: visible cells from Encoder 1, occluded cells (O = 1) from Encoder 2."""

from __future__ import annotations

import pytest
import torch

from dualinv.dual import stitch_trigrids
from dualinv.occlusion import expand_mask

FEATURES, SLICES, SIZE = 4, 3, 8


def random_inputs(seed: int = 0):
    generator = torch.Generator().manual_seed(seed)
    shape = (2, 3, FEATURES * SLICES, SIZE, SIZE)
    trigrid_visible = torch.randn(shape, generator=generator, requires_grad=True)
    trigrid_occluded = torch.randn(shape, generator=generator, requires_grad=True)
    occluded = torch.rand(2, 3, SLICES, SIZE, SIZE, generator=generator) > 0.5
    return trigrid_visible, trigrid_occluded, occluded


def test_stitched_takes_visible_cells_from_encoder1_and_occluded_from_encoder2():
    trigrid_visible, trigrid_occluded, occluded = random_inputs()
    stitched = stitch_trigrids(trigrid_visible, trigrid_occluded, occluded)
    full = expand_mask(occluded, FEATURES)  # [B,3,C·D,H,W], channel c·D + d
    assert 0 < full.float().mean() < 1
    assert torch.equal(stitched[~full], trigrid_visible[~full])  # exact, not approximately
    assert torch.equal(stitched[full], trigrid_occluded[full])


def test_gradients_reach_both_trigrids_through_their_own_cells():
    trigrid_visible, trigrid_occluded, occluded = random_inputs(1)
    stitch_trigrids(trigrid_visible, trigrid_occluded, occluded).sum().backward()
    full = expand_mask(occluded, FEATURES).float()
    assert torch.equal(trigrid_visible.grad, 1 - full)
    assert torch.equal(trigrid_occluded.grad, full)


def test_soft_mask_blends_and_all_or_nothing_masks_select_one_side():
    trigrid_visible, trigrid_occluded, occluded = random_inputs(2)
    half = torch.full(occluded.shape, 0.25)
    blended = stitch_trigrids(trigrid_visible, trigrid_occluded, half)
    torch.testing.assert_close(blended, 0.75 * trigrid_visible + 0.25 * trigrid_occluded)
    nothing_occluded = torch.zeros_like(occluded)
    assert torch.equal(stitch_trigrids(trigrid_visible, trigrid_occluded, nothing_occluded), trigrid_visible)
    assert torch.equal(stitch_trigrids(trigrid_visible, trigrid_occluded, ~nothing_occluded), trigrid_occluded)


def test_mismatched_shapes_are_refused():
    trigrid_visible, trigrid_occluded, occluded = random_inputs()
    with pytest.raises(ValueError, match="same shape"):
        stitch_trigrids(trigrid_visible, trigrid_occluded[:1], occluded)
    with pytest.raises(ValueError, match="does not fit"):
        stitch_trigrids(trigrid_visible, trigrid_occluded, occluded[..., :4, :])
