"""Eq. 3 occlusion masks against analytic geometry (spheres and planes seen by known cameras).

Expected cells are computed here independently of ``dualinv.occlusion``: points are taken on the
analytic surface (not through the depth map), mapped to planes with the spec §3.2 table written out
by hand, and binned with explicit texel edges (``torch.bucketize``).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from dualinv.errors import ConfigError
from dualinv.occlusion import (
    apply_occlusion_mask,
    expand_mask,
    lift_pixel_mask,
    occlusion_mask,
    save_occlusion_debug,
    unproject_depth,
)
from dualinv.panohead.generator import TRANSLATION_INDICES
from dualinv.panohead.rendering import rays_from_cameras

FOCAL = 4.2647
RADIUS = 2.7
SPHERE = 0.3


def camera_label(right, up, forward, position) -> torch.Tensor:
    """25-value label from rotation columns (OpenCV: right, down, forward) and position (spec §6.1)."""
    cam2world = torch.eye(4, dtype=torch.float64)
    cam2world[:3, 0], cam2world[:3, 1], cam2world[:3, 2] = map(torch.tensor, (right, up, forward))
    cam2world[:3, 3] = torch.tensor(position)
    intrinsics = torch.tensor([[FOCAL, 0, 0.5], [0, FOCAL, 0.5], [0, 0, 1]], dtype=torch.float64)
    return torch.cat([cam2world.reshape(16), intrinsics.reshape(9)]).float()[None]


FRONT = camera_label((1.0, 0, 0), (0, -1.0, 0), (0, 0, -1.0), (0, 0, RADIUS))  # spec §6.1 example
BACK = camera_label((-1.0, 0, 0), (0, -1.0, 0), (0, 0, 1.0), (0, 0, -RADIUS))  # LookAt at h = -π/2


def sphere_depth(camera: torch.Tensor, resolution: int, background: float = float("nan")):
    """Ray–sphere intersection: depth [1,1,R,R] (ray distance) and opacity [1,1,R,R] (1 on hits)."""
    origins, directions = rays_from_cameras(camera.double(), resolution)
    half_b = (origins * directions).sum(-1)
    discriminant = half_b**2 - ((origins**2).sum(-1) - SPHERE**2)
    hit = discriminant > 0
    depth = torch.where(hit, -half_b - discriminant.clamp(min=0).sqrt(), torch.full_like(half_b, background))
    shape = (1, 1, resolution, resolution)
    return depth.reshape(shape).float(), hit.reshape(shape).float()


def plane_coordinates(points: torch.Tensor) -> list[torch.Tensor]:
    """Spec §3.2 table: plane 0 (x, y | z), plane 1 (x, z | y), plane 2 (y, z | x), world units."""
    x, y, z = points.unbind(-1)
    return [torch.stack(axes, -1) for axes in ((x, y, z), (x, z, y), (y, z, x))]


def cell_of(world: torch.Tensor, cells: int, box_warp: float = 1.0) -> torch.Tensor:
    """Texel index along one axis: texel i spans [−b/2 + i·b/n, −b/2 + (i+1)·b/n); −1 or n if outside."""
    edges = torch.linspace(-box_warp / 2, box_warp / 2, cells + 1, dtype=torch.float64)
    return torch.bucketize(world.double().contiguous(), edges, right=True) - 1


def expected_cells(points: torch.Tensor, resolution: int, depth: int = 3) -> list[torch.Tensor]:
    """Per plane, the (slice, row, column) cells of ``points`` [M, 3] that lie inside the grid."""
    result = []
    for coords in plane_coordinates(points):
        column, row, depth_slice = cell_of(coords[:, 0], resolution), cell_of(coords[:, 1], resolution), cell_of(
            coords[:, 2], depth
        )
        inside = (column >= 0) & (column < resolution) & (row >= 0) & (row < resolution)
        inside &= (depth_slice >= 0) & (depth_slice < depth)
        result.append(torch.stack([depth_slice, row, column], -1)[inside])
    return result


def sphere_points(count: int = 200_000) -> torch.Tensor:
    """Fibonacci-lattice points on the sphere of radius SPHERE, [count, 3], float64."""
    index = torch.arange(count, dtype=torch.float64) + 0.5
    polar = torch.arccos(1 - 2 * index / count)
    azimuth = math.pi * (1 + 5**0.5) * index
    return SPHERE * torch.stack(
        [polar.sin() * azimuth.cos(), polar.sin() * azimuth.sin(), polar.cos()], -1
    )


def mask_at(mask: torch.Tensor, plane: int, cells: torch.Tensor) -> torch.Tensor:
    return mask[0, plane, cells[:, 0], cells[:, 1], cells[:, 2]]


@pytest.fixture(scope="module")
def front_masks():
    depth, opacity = sphere_depth(FRONT, 64)
    return occlusion_mask(depth, FRONT, image_mask=opacity)


def test_front_hemisphere_cells_are_visible(front_masks):
    points = sphere_points()
    # Seen from (0,0,2.7) the visible cap is z > r²/2.7; keep to where the surface faces the camera.
    cap = points[points[:, 2] > 0.5 * SPHERE]
    for plane, cells in enumerate(expected_cells(cap, 256)):
        assert len(cells) > 100
        assert mask_at(front_masks.visible, plane, cells).all(), f"plane {plane}: a front cell is occluded"
        assert not mask_at(front_masks.occluded, plane, cells).any()


def test_back_hemisphere_cells_stay_occluded(front_masks):
    points = sphere_points()
    back = points[points[:, 2] < 0]
    cells = expected_cells(back, 256)
    # XY plane: depth is z; the slab z ∈ [−1/6, 1/6) is slice 1, shared with front points near the
    # rim, so only back points in slice 0 (z < −1/6) are distinguishable there.
    back_slice = cells[0][cells[0][:, 0] == 0]
    assert len(back_slice) > 100
    assert mask_at(front_masks.occluded, 0, back_slice).all()
    # XZ and YZ planes: rows are z, and every back point lies below every visible row.
    for plane in (1, 2):
        assert mask_at(front_masks.occluded, plane, cells[plane]).all(), f"plane {plane}: a back cell is visible"
    assert not front_masks.visible[0, 0, 0].any(), "no visible point lies in the back slice of the XY plane"


def test_marked_cells_lie_on_the_visible_cap():
    """Precision: before dilation, every marked cell is (within a texel) a cell of the visible cap."""
    depth, opacity = sphere_depth(FRONT, 64)
    visible = occlusion_mask(depth, FRONT, image_mask=opacity, dilation=0).visible
    points = sphere_points(400_000)
    cap = points[points[:, 2] > SPHERE**2 / RADIUS]
    expected = torch.zeros_like(visible)
    for plane, cells in enumerate(expected_cells(cap, 256)):
        expected[0, plane, cells[:, 0], cells[:, 1], cells[:, 2]] = True
    near_expected = torch.nn.functional.max_pool2d(expected[0].flatten(0, 1)[:, None].float(), 3, 1, 1) > 0
    assert visible.sum() > 10_000
    assert not (visible[0].flatten(0, 1)[:, None] & ~near_expected).any(), "a cell off the visible cap is marked"


def test_back_camera_mirrors_the_front_mask(front_masks):
    depth, opacity = sphere_depth(BACK, 64)
    back = occlusion_mask(depth, BACK, image_mask=opacity)
    front = front_masks.visible
    # Mirroring z: the XY plane's depth slices reverse; the XZ and YZ planes' rows (v = z) reverse.
    assert torch.equal(back.visible[:, 0], front[:, 0].flip(1))
    assert torch.equal(back.visible[:, 1:], front[:, 1:].flip(3))


@pytest.mark.parametrize("plane_row", [38, 45])  # z0 at a texel centre, in depth slice 1 and 2
def test_planar_depth_gives_the_analytic_mask(plane_row):
    resolution, grid = 128, 64
    z0 = -0.5 + (plane_row + 0.5) / grid
    origins, directions = rays_from_cameras(FRONT, resolution)
    depth = ((RADIUS - z0) / -directions[..., 2]).reshape(1, 1, resolution, resolution)
    masks = occlusion_mask(depth, FRONT, trigrid_resolution=grid, supersample=1, dilation=0)

    # Analytic pixel footprint on the plane z = z0 (camera at distance 2.7 − z0, spec §6.4).
    centres = ((torch.arange(resolution, dtype=torch.float64) + 0.5) / resolution - 0.5) / FOCAL
    xs, ys = (RADIUS - z0) * centres, -(RADIUS - z0) * centres
    edges = torch.linspace(-0.5, 0.5, grid + 1, dtype=torch.float64)
    assert (xs[:, None] - edges).abs().min() > 1e-5, "test set-up: a pixel sits on a texel edge"
    columns_x, rows_y = cell_of(xs, grid).unique(), cell_of(ys, grid).unique()
    slices_x, slices_y = cell_of(xs, 3).unique(), cell_of(ys, 3).unique()
    row_z, slice_z = cell_of(torch.tensor([z0]), grid), cell_of(torch.tensor([z0]), 3)

    expected = torch.zeros(1, 3, 3, grid, grid, dtype=torch.bool)
    expected[0, 0, slice_z, rows_y[:, None], columns_x[None, :]] = True  # XY: (x, y | z)
    expected[0, 1, slices_y[:, None], row_z, columns_x[None, :]] = True  # XZ: (x, z | y)
    expected[0, 2, slices_x[:, None], row_z, rows_y[None, :]] = True  # YZ: (y, z | x); ys are columns here
    assert torch.equal(masks.visible, expected)
    assert torch.equal(masks.occluded, ~expected)
    assert slices_y.tolist() == [0, 1, 2] and len(columns_x) > 30


def test_supersampled_coarse_depth_matches_the_dense_plane():
    """A 32² depth map supersampled ×4 marks the same cells as the 128² one, before dilation."""
    z0 = -0.5 + 38.5 / 64
    masks = []
    for resolution, supersample in ((128, 1), (32, 4)):
        _, directions = rays_from_cameras(FRONT, resolution)
        depth = ((RADIUS - z0) / -directions[..., 2]).reshape(1, 1, resolution, resolution)
        masks.append(occlusion_mask(depth, FRONT, trigrid_resolution=64, supersample=supersample, dilation=0).visible)
    assert torch.equal(masks[0], masks[1])


def test_background_pixels_mark_nothing():
    # Misses get the far clamp t = 3.3 (ray_end, spec §4.2/§4.4), i.e. z = −0.6 behind the head. A
    # point interpolated between the rim (t ≈ 2.68) and such a pixel would land in z ∈ (−0.6, 0),
    # partly in slice 0 of the XY plane, where no point of the sphere's visible cap (z > 0) is.
    depth, opacity = sphere_depth(FRONT, 64, background=3.3)
    with_opacity = occlusion_mask(depth, FRONT, image_mask=opacity).visible
    without = occlusion_mask(depth, FRONT).visible
    assert not with_opacity[0, 0, 0].any(), "no background or silhouette-interpolated point may be marked"
    assert without[0, 0, 0].sum() > 100, "sanity: without the opacity, rim-to-background points are marked"
    nan_depth, _ = sphere_depth(FRONT, 64, background=float("nan"))  # non-finite depth counts as a miss
    assert torch.equal(with_opacity, occlusion_mask(nan_depth, FRONT).visible)


def test_all_depth_slices_rule_marks_every_slice_of_a_visible_cell():
    depth, opacity = sphere_depth(FRONT, 32)
    nearest = occlusion_mask(depth, FRONT, image_mask=opacity, trigrid_resolution=64).visible
    every = occlusion_mask(depth, FRONT, image_mask=opacity, trigrid_resolution=64, depth_slices="all").visible
    assert torch.equal(every, nearest.any(dim=2, keepdim=True).expand_as(every))


def test_unprojected_points_lie_at_the_ray_distance():
    depth = torch.linspace(2.3, 3.0, 16 * 16).reshape(1, 1, 16, 16)
    points, keep = unproject_depth(depth, FRONT)
    origin = FRONT[0, list(TRANSLATION_INDICES)]
    assert keep.all()
    torch.testing.assert_close((points[0] - origin).norm(dim=-1), depth.reshape(-1))


def test_released_size_shapes_and_memory():
    batch = 3
    depth, opacity = sphere_depth(FRONT, 64)
    camera = FRONT.expand(batch, -1)
    masks = occlusion_mask(depth.expand(batch, -1, -1, -1), camera, image_mask=opacity.expand(batch, -1, -1, -1))
    assert masks.visible.shape == masks.occluded.shape == (batch, 3, 3, 256, 256)
    assert masks.visible.dtype == torch.bool and masks.visible.nbytes == batch * 3 * 3 * 256 * 256  # 1.8 MB
    full = expand_mask(masks.occluded, features=32)
    assert full.shape == (batch, 3, 96, 256, 256) and full.nbytes == 56_623_104
    feature, depth_slice = 17, 2
    assert torch.equal(full[:, :, feature * 3 + depth_slice], masks.occluded[:, :, depth_slice])  # spec §3.1


def test_apply_occlusion_mask_equals_the_expanded_product():
    generator = torch.Generator().manual_seed(0)
    trigrid = torch.randn(2, 3, 4 * 3, 8, 8, generator=generator, requires_grad=True)
    mask = torch.rand(2, 3, 3, 8, 8, generator=generator) > 0.5
    masked = apply_occlusion_mask(trigrid, mask)
    assert torch.equal(masked, trigrid * expand_mask(mask, features=4))
    masked.sum().backward()
    assert torch.equal(trigrid.grad, expand_mask(mask, features=4).float())


@pytest.mark.parametrize(
    "option",
    [{"trigrid_resolution": 0}, {"dilation": -1}, {"depth_slices": "front"}, {"opacity_threshold": 2.0},
     {"supersample": 0}, {"box_warp": 0.0}],
)
def test_bad_options_are_named(option):
    depth = torch.full((1, 1, 8, 8), 2.7)
    with pytest.raises(ConfigError, match=next(iter(option))):
        occlusion_mask(depth, FRONT, **option)


def test_debug_picture_shows_the_three_planes(tmp_path):
    from PIL import Image

    mask = torch.zeros(1, 3, 3, 16, 16, dtype=torch.bool)
    mask[0, 0, :, 0, 0] = True  # XY plane, v = −1 (bottom), u = −1 (left), every slice
    mask[0, 2, 0, 15, 15] = True  # YZ plane, top right, one slice of three
    path = tmp_path / "mask.png"
    save_occlusion_debug(mask, path)
    picture = torch.from_numpy(np.array(Image.open(path).convert("L"))).int()
    separator = 2
    assert picture.shape == (16, 3 * 16 + 2 * separator)
    assert picture[15, 0] == 255 and picture[0, 0] == 0  # v drawn upwards: row 0 of the mask is the bottom
    assert picture[0, 2 * (16 + separator) + 15] in (85, 86)  # one slice of three ≈ 1/3 grey
    assert picture[:, 16].unique().tolist() == [128]  # the grey separator
    assert list(tmp_path.iterdir()) == [path]  # atomic: no temporary file left


def test_official_renderer_outputs_feed_the_mask(tiny_fixture_dir):
    """The official tiny PanoHead's image_depth/image_mask (16², tri-grid 32²) go straight in."""
    io = torch.load(tiny_fixture_dir / "reference.pt", weights_only=True)["inputs_outputs"]
    depth, opacity, camera = io["synthesis_seed123_image_depth"], io["synthesis_seed123_image_mask"], io["c_render"]
    masks = occlusion_mask(depth, camera, image_mask=opacity, trigrid_resolution=32)
    trigrid = io["planes_raw"].view(2, 3, 96, 32, 32)  # spec §3.1
    assert masks.occluded.shape == (2, 3, 3, 32, 32)
    assert apply_occlusion_mask(trigrid, masks.occluded).shape == trigrid.shape
    assert masks.visible.any() and masks.occluded.any()
    # Camera 1 is the back view at z = −2.7 looking +z: every lifted point has z ≤ −2.7 + max depth,
    # so on the XY plane (depth z) nothing may be marked beyond that bound's slice.
    assert torch.allclose(camera[1, list(TRANSLATION_INDICES)], torch.tensor([0.0, 0.0, -RADIUS]), atol=1e-6)
    z_bound = -RADIUS + depth[1].max().item()
    highest_slice = int(cell_of(torch.tensor([z_bound]), 3).item())
    assert highest_slice < 2 and masks.visible[1, 0, :highest_slice + 1].any()
    assert not masks.visible[1, 0, highest_slice + 1:].any()


def test_lift_pixel_mask_marks_only_the_masked_part_of_the_surface():
    """Upper image half (world y > 0 for the front camera) lifts to upper cells only; analytic points."""
    depth, opacity = sphere_depth(FRONT, 64)
    upper = torch.zeros(1, 1, 64, 64, dtype=torch.bool)
    upper[..., :32, :] = True  # image row 0 looks at +y (the camera's down axis is world −y)
    lifted = lift_pixel_mask(upper, depth, FRONT, image_mask=opacity, dilation=0)
    points = sphere_points(400_000)
    cap = points[points[:, 2] > 0.5 * SPHERE]
    high, low = cap[cap[:, 1] > 0.02], cap[cap[:, 1] < -0.02]
    high_cells, low_cells = expected_cells(high, 256), expected_cells(low, 256)
    assert mask_at(lifted, 0, high_cells[0]).float().mean() > 0.99  # XY plane: rows are y
    assert not mask_at(lifted, 0, low_cells[0]).any()
    low_slice = low_cells[1][low_cells[1][:, 0] == 0]  # XZ plane: slice 0 holds y < −1/6
    assert len(low_slice) > 100 and not mask_at(lifted, 1, low_slice).any()


def test_lift_pixel_mask_of_everything_is_the_visible_mask_at_any_mask_resolution():
    depth, opacity = sphere_depth(FRONT, 64)
    everything = lift_pixel_mask(torch.ones(1, 1, 64, 64), depth, FRONT, image_mask=opacity)
    assert torch.equal(everything, occlusion_mask(depth, FRONT, image_mask=opacity).visible)
    left = torch.zeros(1, 1, 64, 64, dtype=torch.bool)
    left[..., :, :20] = True
    fine = left.repeat_interleave(8, dim=2).repeat_interleave(8, dim=3)  # the same mask at 512²
    assert torch.equal(lift_pixel_mask(left, depth, FRONT, image_mask=opacity),
                       lift_pixel_mask(fine, depth, FRONT, image_mask=opacity))
