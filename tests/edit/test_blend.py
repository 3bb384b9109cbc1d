"""Feathered tri-grid blending: the analytic ramp, and exact source/reference values away from the border."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from dualinv.edit.blend import blend_trigrids, feather_cells
from dualinv.errors import ConfigError


def half_plane_cells(edge: int, size: int = 24) -> torch.Tensor:
    """bool [1,3,3,size,size]: True on columns < ``edge`` in every plane and slice."""
    columns = torch.arange(size)
    return (columns < edge).expand(1, 3, 3, size, size).clone()


@pytest.mark.parametrize("feather", [1, 2, 3])
def test_feather_is_a_linear_ramp_across_a_straight_border(feather: int) -> None:
    edge = 10
    weight = feather_cells(half_plane_cells(edge), feather)
    window = 2 * feather + 1
    for column in range(24):
        # Share of the window columns column-f .. column+f that lie left of the edge, counted by hand.
        expected = min(max(edge - (column - feather), 0), window) / window
        assert torch.allclose(weight[..., column], torch.tensor(expected), atol=1e-6), column
    assert torch.all(weight[..., : edge - feather] == 1.0) and torch.all(weight[..., edge + feather:] == 0.0)


def test_feather_zero_is_the_hard_mask_and_negative_is_refused() -> None:
    cells = half_plane_cells(7)
    assert torch.equal(feather_cells(cells, 0), cells.float())
    with pytest.raises(ConfigError, match="feather"):
        feather_cells(cells, -1)


def test_feather_never_mixes_depth_slices_or_planes() -> None:
    cells = torch.zeros(1, 3, 3, 16, 16, dtype=torch.bool)
    cells[0, 1, 2, 4:12, 4:12] = True  # one slice of one plane
    weight = feather_cells(cells, 2)
    untouched = torch.ones_like(weight, dtype=torch.bool)
    untouched[0, 1, 2] = False
    assert torch.all(weight[untouched] == 0.0) and weight[0, 1, 2].max() == 1.0


@pytest.mark.parametrize("feather", [0, 2])
def test_blend_keeps_source_outside_and_takes_reference_inside_exactly(feather: int) -> None:
    generator = torch.Generator().manual_seed(3)
    source = torch.randn(1, 3, 96, 20, 20, generator=generator)
    reference = torch.randn(1, 3, 96, 20, 20, generator=generator)
    cells = torch.rand(1, 3, 3, 20, 20, generator=generator) > 0.6
    cells[..., 5:15, 5:15] = True  # a solid block so the eroded core is not empty
    blended = blend_trigrids(source, reference, feather_cells(cells, feather))

    # Independent support and core: grow / shrink the binary cells by `feather` texels (Chebyshev).
    flat = cells.float().flatten(0, 2)[:, None]
    grown = F.max_pool2d(flat, 2 * feather + 1, stride=1, padding=feather)[:, 0].reshape(cells.shape) > 0.5
    padded = F.pad(1.0 - flat, (feather,) * 4, mode="replicate")
    core = F.max_pool2d(padded, 2 * feather + 1, stride=1)[:, 0].reshape(cells.shape) < 0.5
    per_channel = blended.unflatten(2, (32, 3))  # channel c·3 + d → [B,3,C,D,H,W]
    source_c, reference_c = source.unflatten(2, (32, 3)), reference.unflatten(2, (32, 3))
    outside = (~grown).unsqueeze(2).expand_as(per_channel)
    inside = core.unsqueeze(2).expand_as(per_channel)
    assert outside.any() and inside.any()
    assert torch.equal(per_channel[outside], source_c[outside])
    assert torch.equal(per_channel[inside], reference_c[inside])
    if feather:
        band = ~(outside | inside)
        assert band.any() and not torch.equal(per_channel[band], source_c[band])
