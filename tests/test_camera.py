"""Camera conventions against the worked values of specs/panohead.md §6.2–§6.3 and analytic geometry."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from dualinv import camera

DEG = math.pi / 180


def angle_difference(first: float, second: float) -> float:
    """|first − second| in degrees, wrapped (so 180 and −180 agree)."""
    return abs((first - second + 180.0) % 360.0 - 180.0)


@pytest.mark.parametrize("horizontal, vertical, position, yaw, pitch", [
    (math.pi / 2, math.pi / 2, (0.0, 0.0, 2.7), 0.0, 0.0),
    (math.pi / 2 + 30 * DEG, math.pi / 2, (1.35, 0.0, 2.338), 30.0, 0.0),
    (math.pi / 2 - 30 * DEG, math.pi / 2, (-1.35, 0.0, 2.338), -30.0, 0.0),
    (0.0, math.pi / 2, (-2.7, 0.0, 0.0), -90.0, None),
    (math.pi, math.pi / 2, (2.7, 0.0, 0.0), 90.0, None),
    (-math.pi / 2, math.pi / 2, (0.0, 0.0, -2.7), 180.0, 0.0),
    (3 * math.pi / 2, math.pi / 2, (0.0, 0.0, -2.7), 180.0, 0.0),
    (math.pi / 2, math.pi / 2 - 0.2, (0.0, 0.344, 2.678), 0.0, 7.31),
])
def test_worked_table(horizontal: float, vertical: float, position: tuple, yaw: float, pitch: float | None) -> None:
    cam2world = camera.lookat_camera(horizontal, vertical, 2.7, (0.0, 0.0, 0.0))
    assert cam2world.shape == (1, 4, 4) and cam2world.dtype == torch.float32
    assert torch.allclose(cam2world[0, :3, 3], torch.tensor(position), atol=1e-3)
    assert torch.allclose(cam2world[0, :3, :3] @ cam2world[0, :3, :3].T, torch.eye(3), atol=1e-6)
    label = camera.make_label(cam2world, camera.focal_to_intrinsics())
    yaws, pitches = camera.yaw_pitch_from_label(label)
    assert angle_difference(yaws[0], yaw) < 0.01
    if pitch is not None:
        assert pitches[0] == pytest.approx(pitch, abs=0.01)


def test_exact_float32_frontal_pose() -> None:
    cam2world = camera.lookat_camera(math.pi / 2, math.pi / 2, 2.7, (0.0, 0.0, 0.0))
    expected = [1, 1.9e-15, 4.37e-8, -1.18e-7, 0, -1, 4.37e-8, -1.18e-7, 4.37e-8, -4.37e-8, -1, 2.7, 0, 0, 0, 1]
    values = cam2world.reshape(16).tolist()
    for value, want in zip(values, expected):
        assert value == pytest.approx(want, rel=0.02, abs=1e-17)


def test_frontal_camera_is_opencv_identity_flip() -> None:
    """R = diag(1, −1, −1): x right, y down (world −y), z towards −z (the face looks towards +z)."""
    label = camera.canonical_cameras()["front"]
    assert torch.allclose(label[0, camera.CAM2WORLD].reshape(4, 4)[:3, :3], torch.diag(torch.tensor([1.0, -1, -1])),
                          atol=1e-6)
    assert label[0, list(camera.TRANSLATION_INDICES)].tolist() == pytest.approx([0, 0, 2.7], abs=1e-6)
    assert label[0, camera.INTRINSICS].tolist() == pytest.approx([4.2647, 0, 0.5, 0, 4.2647, 0.5, 0, 0, 1])


def test_samplers_draw_two_numbers_per_call_even_with_zero_spread() -> None:
    torch.manual_seed(5)
    camera.lookat_camera(math.pi / 2, math.pi / 2)
    after_lookat = torch.rand(1)
    torch.manual_seed(5)
    torch.randn((1, 1)), torch.randn((1, 1))
    assert torch.equal(torch.rand(1), after_lookat)
    for sampler in (camera.gaussian_camera, camera.uniform_camera):
        seeded = torch.Generator().manual_seed(3)
        sampler(math.pi / 2, math.pi / 2, generator=seeded)
        reference = torch.Generator().manual_seed(3)
        draw = torch.rand if sampler is camera.uniform_camera else torch.randn
        draw((1, 1), generator=reference), draw((1, 1), generator=reference)
        assert torch.equal(torch.rand(3, generator=seeded), torch.rand(3, generator=reference))


def test_gaussian_spread_uses_explicit_generator() -> None:
    first = camera.gaussian_camera(math.pi / 2, math.pi / 2, horizontal_stddev=0.3, vertical_stddev=0.1,
                                   batch_size=4, generator=torch.Generator().manual_seed(1))
    second = camera.gaussian_camera(math.pi / 2, math.pi / 2, horizontal_stddev=0.3, vertical_stddev=0.1,
                                    batch_size=4, generator=torch.Generator().manual_seed(1))
    assert torch.equal(first, second) and not torch.allclose(first[0], first[1])
    # Gaussian cameras look at the origin: the forward column is −position / radius.
    forward, position = first[:, :3, 2], first[:, :3, 3]
    assert torch.allclose(forward, -position / 2.7, atol=1e-6)


def test_uniform_sampler_stays_within_spread() -> None:
    cams = camera.uniform_camera(math.pi / 2, math.pi / 2, horizontal_stddev=0.5, batch_size=256,
                                 generator=torch.Generator().manual_seed(0))
    yaws, _ = camera.yaw_pitch_from_label(camera.make_label(cams, camera.focal_to_intrinsics()))
    assert np.all(np.abs(yaws) <= math.degrees(0.5) + 1e-3) and np.abs(yaws).max() > 25


def test_lookat_point_is_on_the_optical_axis() -> None:
    lookat = torch.tensor([0.0, 0.0, 0.2])
    cam2world = camera.lookat_camera(math.pi / 2 + 30 * DEG, math.pi / 2 - 0.2, 2.7, lookat)[0]
    direction = lookat - cam2world[:3, 3]
    assert torch.allclose(cam2world[:3, 2], direction / direction.norm(), atol=1e-6)


def test_focal_and_fov() -> None:
    assert camera.fov_to_intrinsics(18.837)[0, 0].item() == pytest.approx(4.263391, abs=1e-6)
    assert camera.fov_to_intrinsics(18)[0, 0].item() == pytest.approx(4.4651747, abs=1e-6)
    assert camera.fov_to_intrinsics(18.8313)[0, 0].item() == pytest.approx(4.2647, abs=1e-4)
    assert camera.focal_to_intrinsics(4.2647).tolist() == [[pytest.approx(4.2647), 0, 0.5], [0, pytest.approx(4.2647), 0.5], [0, 0, 1]]


@pytest.mark.parametrize("yaw", [-150.0, -60.0, -30.0, 10.0, 45.0, 120.0])
@pytest.mark.parametrize("vertical", [math.pi / 2, math.pi / 2 - 0.2])
def test_mirroring_negates_yaw(yaw: float, vertical: float) -> None:
    label = camera.camera_at_yaw(yaw, vertical=vertical)
    original_yaw, original_pitch = camera.yaw_pitch_from_label(label)
    mirrored_yaw, mirrored_pitch = camera.yaw_pitch_from_label(camera.mirror_label(label))
    if vertical == math.pi / 2:  # level: get_poseangle's yaw is the azimuth offset itself
        assert angle_difference(original_yaw[0], yaw) < 1e-3
    assert angle_difference(mirrored_yaw[0], -original_yaw[0]) < 1e-3
    assert mirrored_pitch[0] == pytest.approx(original_pitch[0], abs=1e-4)
    # The mirrored camera is the reflection x → −x of the original.
    assert camera.mirror_label(label)[0, 3].item() == pytest.approx(-label[0, 3].item())


def test_canonical_cameras_have_their_named_yaws() -> None:
    cameras = camera.canonical_cameras()
    assert set(cameras) == {"front", "back", "yaw+30", "yaw-30", "yaw+60", "yaw-60"}
    for name, label in cameras.items():
        yaw, pitch = camera.yaw_pitch_from_label(label)
        assert angle_difference(yaw[0], camera.CANONICAL_YAWS[name]) < 1e-3, name
        assert pitch[0] == pytest.approx(0.0, abs=1e-3)
    assert cameras["back"][0, 11].item() == pytest.approx(-2.7, abs=1e-5)


def test_orbit_goes_once_round() -> None:
    labels = camera.orbit_cameras(8, pitch_amplitude=0.0, pitch_offset=0.0)
    assert labels.shape == (8, 25)
    yaws, pitches = camera.yaw_pitch_from_label(labels)
    expected = [0, 45, 90, 135, 180, -135, -90, -45]
    assert all(angle_difference(got, want) < 1e-3 for got, want in zip(yaws, expected))
    level = [index for index, want in enumerate(expected) if abs(want) != 90]  # ±90° is matrix2angle's gimbal case
    assert np.allclose(pitches[level], 0, atol=1e-3)
    radii = labels[:, list(camera.TRANSLATION_INDICES)].norm(dim=1)
    assert torch.allclose(radii, torch.full((8,), 2.7))
    tilted = camera.orbit_cameras(4)  # official Head path: v = π/2 − 0.05 + 0.5 sin(2πk/F)
    assert tilted[1, 7].item() == pytest.approx(2.7 * math.cos(math.acos(1 - 2 * (math.pi / 2 + 0.45) / math.pi)),
                                                abs=1e-5)


def test_fixture_cameras_are_reproduced_bit_for_bit(tiny_fixture_dir) -> None:
    """The official LookAtPoseSampler made the fixture's cameras (shared/fixtures/README.md)."""
    reference = torch.load(tiny_fixture_dir / "reference.pt", weights_only=True)["inputs_outputs"]
    intrinsics = camera.focal_to_intrinsics(camera.DATASET_FOCAL)
    frontal = camera.make_label(camera.lookat_camera(math.pi / 2, math.pi / 2, 2.7, (0.0, 0.0, 0.0)), intrinsics)
    assert torch.equal(frontal.expand(reference["c_cond"].shape[0], 25), reference["c_cond"])
    horizontal = torch.tensor([[math.pi / 2 + 30 * DEG], [-math.pi / 2]])
    vertical = torch.tensor([[math.pi / 2 - 0.2], [math.pi / 2]])
    render = camera.make_label(camera.lookat_camera(horizontal, vertical, 2.7, (0.0, 0.0, 0.2), batch_size=2),
                               intrinsics)
    assert torch.equal(render, reference["c_render"])
