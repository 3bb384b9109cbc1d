"""Plane-axis conventions of the tri-grid (specs/panohead.md §3): analytic points on each axis."""

from __future__ import annotations

import torch

from dualinv.panohead.trigrid import project_onto_planes, sample_trigrid


def test_a_point_on_each_axis_projects_to_the_expected_plane_coordinates():
    # §3.2 table: plane 0 = (x, y, z), plane 1 = (x, z, y), plane 2 = (y, z, x) as (u, v, t).
    points = torch.tensor([[[0.3, 0.0, 0.0], [0.0, 0.3, 0.0], [0.0, 0.0, 0.3]]])
    grid = project_onto_planes(points)[0]  # [3 planes, 3 points, 3]
    a = 0.3
    expected = torch.tensor([
        [[a, 0, 0], [0, a, 0], [0, 0, a]],  # XY plane, depth z
        [[a, 0, 0], [0, 0, a], [0, a, 0]],  # XZ plane, depth y
        [[0, 0, a], [a, 0, 0], [0, a, 0]],  # YZ plane, depth x
    ])  # fmt: skip
    assert torch.equal(grid, expected)


def test_sample_trigrid_reads_depth_slices_and_channel_layout():
    # Channel index within a plane is c*D + d (§3.1). Give feature c of slice d the value 10c + d on
    # every plane; slice centres sit at t = -2/3, 0, 2/3, i.e. world ±1/3 with box_warp 1.
    depth, channels, size = 3, 32, 8
    values = torch.tensor([10.0 * c + d for c in range(channels) for d in range(depth)])
    trigrid = values.reshape(1, 1, depth * channels, 1, 1).expand(1, 3, depth * channels, size, size).contiguous()
    third = 1.0 / 3.0
    points = torch.tensor([[[0.0, 0.0, third], [0.0, -third, 0.0], [0.0, 0.0, 0.0]]])
    features = sample_trigrid(trigrid, points, box_warp=1.0)  # [1,3,M,C]
    c = torch.arange(channels, dtype=torch.float32) * 10
    # plane 0 depth = z, plane 1 depth = y, plane 2 depth = x
    assert torch.allclose(features[0, 0, 0], c + 2, atol=1e-5)  # z = +1/3 → slice 2
    assert torch.allclose(features[0, 1, 1], c + 0, atol=1e-5)  # y = -1/3 → slice 0
    assert torch.allclose(features[0, 2, 2], c + 1, atol=1e-5)  # x = 0 → slice 1


def test_sample_trigrid_pins_the_in_plane_axes():
    # A ramp along W (u) on plane 2 must follow y, a ramp along H (v) must follow z.
    size = 4
    ramp_w = torch.arange(size, dtype=torch.float32).reshape(1, size).expand(size, size)
    trigrid = torch.zeros(1, 3, 96, size, size)
    trigrid[0, 2, :] = ramp_w  # plane 2: u = y
    trigrid[0, 1, :] = ramp_w.t()  # plane 1: v (rows) = z
    # texel k centre sits at normalised (2k+1)/size - 1 → world half of that
    y_texel3 = 0.5 * (7 / size - 1)
    features = sample_trigrid(trigrid, torch.tensor([[[0.0, y_texel3, 0.0], [0.0, 0.0, y_texel3]]]), box_warp=1.0)
    assert torch.allclose(features[0, 2, 0], torch.full((32,), 3.0))
    assert torch.allclose(features[0, 1, 1], torch.full((32,), 3.0))
