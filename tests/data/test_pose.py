"""Pose convention: synthetic faces seen by known PanoHead cameras, and the two public-domain photos.

The cameras are built here from the LookAt rule of spec panohead.md §6.2, independently of
dualinv; expected yaw/pitch are the spec's worked values (h = π/2 ± 30° -> yaw ±30°;
v = π/2 − 0.2 -> pitch +7.31°).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from dualinv.data.align import align_face
from dualinv.data.pose import (
    MIRROR_NEGATED,
    FaceFinder,
    POSE_LANDMARKS,
    camera_label,
    label_from_world_to_camera,
    mirror_label,
    pose_angles,
    world_to_camera_rotation,
)


def lookat_cam2world(h: float, v: float, radius: float = 2.7) -> np.ndarray:
    """LookAtPoseSampler at the origin (spec §6.2, no noise)."""
    v = min(max(v, 1e-5), math.pi - 1e-5)
    phi = math.acos(1 - 2 * v / math.pi)
    origin = radius * np.array([-math.sin(phi) * math.cos(h), math.cos(phi), math.sin(phi) * math.sin(h)])
    forward = -origin / np.linalg.norm(origin)
    right = -np.cross([0.0, 1.0, 0.0], forward)
    right /= np.linalg.norm(right)
    up = np.cross(forward, right)
    up /= np.linalg.norm(up)
    cam2world = np.eye(4)
    cam2world[:3, 0], cam2world[:3, 1], cam2world[:3, 2], cam2world[:3, 3] = right, up, forward, origin
    return cam2world


def synthetic_mesh(cam2world: np.ndarray, width: int = 512, focal: float = 4.2647) -> np.ndarray:
    """Face-mesh-like landmarks [478, 3] of the canonical face (scaled to head size, at the world
    origin) seen by the camera under weak perspective, as the face mesh models it: x right and
    y down in pixels, z = depth relative to the face in the same pixel scale (nearer is smaller)."""
    points = np.zeros((478, 3))
    world2cam = np.linalg.inv(cam2world)
    pixels_per_unit = focal * width / 2.7
    for index, canonical in POSE_LANDMARKS.items():
        x, y, z, _ = world2cam @ np.append(np.asarray(canonical) * 0.02, 1.0)  # cm -> a head ~0.3 wide
        points[index] = [x * pixels_per_unit + width / 2, y * pixels_per_unit + width / 2, (z - 2.7) * pixels_per_unit]
    return points


@pytest.mark.parametrize(
    "h_degrees, v_offset, yaw, pitch",
    [(0.0, 0.0, 0.0, 0.0), (30.0, 0.0, 30.0, 0.0), (-30.0, 0.0, -30.0, 0.0), (0.0, -0.2, 0.0, 7.31), (45.0, 0.2, None, None), (-60.0, -0.1, None, None), (75.0, -0.3, None, None)],
)
def test_synthetic_face_recovers_lookat_camera(h_degrees, v_offset, yaw, pitch):
    cam2world = lookat_cam2world(math.pi / 2 + math.radians(h_degrees), math.pi / 2 + v_offset)
    label = label_from_world_to_camera(world_to_camera_rotation(synthetic_mesh(cam2world)))
    angles = pose_angles(label)
    if yaw is not None:  # single-axis cases: the spec's worked values, and no roll
        assert angles.yaw == pytest.approx(yaw, abs=0.05)
        assert angles.pitch == pytest.approx(pitch, abs=0.05)
        assert angles.roll == pytest.approx(0.0, abs=0.05)
    assert np.sign(angles.yaw) == np.sign(h_degrees) or h_degrees == 0
    # The label's camera sits where the LookAt camera is, at radius 2.7, and looks the same way.
    np.testing.assert_allclose(label[[3, 7, 11]], cam2world[:3, 3], atol=1e-3)
    np.testing.assert_allclose(label[:16].reshape(4, 4)[:3, :3], cam2world[:3, :3], atol=1e-3)


def test_positive_yaw_turns_the_nose_to_image_left():
    mesh = synthetic_mesh(lookat_cam2world(math.pi / 2 + math.radians(30), math.pi / 2))
    nose_x = mesh[1, 0]
    eyes_x = mesh[[133, 362], 0].mean()
    assert nose_x < eyes_x


def test_frontal_label_is_the_spec_example():
    label = camera_label(np.eye(3))
    np.testing.assert_allclose(label[:16].reshape(4, 4), [[1, 0, 0, 0], [0, -1, 0, 0], [0, 0, -1, 2.7], [0, 0, 0, 1]], atol=1e-12)
    np.testing.assert_allclose(label[16:], [4.2647, 0, 0.5, 0, 4.2647, 0.5, 0, 0, 1])


def test_mirror_label_negates_spec_entries_and_yaw():
    cam2world = lookat_cam2world(math.pi / 2 + math.radians(25), math.pi / 2 - 0.15)
    label = np.concatenate([cam2world.reshape(-1), [4.2647, 0, 0.5, 0, 4.2647, 0.5, 0, 0, 1]])
    mirrored = mirror_label(label)
    assert MIRROR_NEGATED == (1, 2, 3, 4, 8)
    changed = np.flatnonzero(~np.isclose(mirrored, label))
    assert set(changed) <= set(MIRROR_NEGATED)
    # The mirror of h = 90° + 25° is h = 90° − 25°.
    expected = lookat_cam2world(math.pi / 2 - math.radians(25), math.pi / 2 - 0.15)
    np.testing.assert_allclose(mirrored[:16].reshape(4, 4), expected, atol=1e-9)
    assert pose_angles(mirrored).yaw == pytest.approx(-pose_angles(label).yaw, abs=1e-6)


@pytest.fixture(scope="module")
def finder():
    with FaceFinder() as face_finder:
        yield face_finder


def public_domain_photos() -> dict[str, np.ndarray]:
    import matplotlib.cbook
    import skimage.data
    from PIL import Image

    with Image.open(matplotlib.cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)) as handle:
        grace = np.asarray(handle.convert("RGB"))
    return {"astronaut": skimage.data.astronaut(), "grace_hopper": grace}


@pytest.mark.parametrize("name", ["astronaut", "grace_hopper"])
def test_frontal_photos_near_zero_and_mirror_negates_yaw(finder, name):
    photo = public_domain_photos()[name]
    face = finder.largest_face(photo)
    mirrored_face = finder.largest_face(np.ascontiguousarray(photo[:, ::-1]))
    angles = pose_angles(face.label())
    mirrored = pose_angles(mirrored_face.label())
    # Measured (mediapipe 0.10.14): astronaut yaw +1.2, pitch +5.7; grace_hopper yaw −0.4, pitch +4.1.
    assert abs(angles.yaw) < 20 and abs(angles.pitch) < 20
    assert mirrored.yaw == pytest.approx(-angles.yaw, abs=3.0)
    assert mirrored.pitch == pytest.approx(angles.pitch, abs=3.0)
    assert mirrored.roll == pytest.approx(-angles.roll, abs=3.0)


@pytest.mark.parametrize("degrees", [20.0, -20.0])
def test_label_describes_the_upright_crop_of_a_tilted_photo(finder, degrees):
    """The crop is rotated upright (the FFHQ quad), so its label must have no roll; yaw and pitch are
    those of the untilted photo, measured the same way (spec §8.2 step 3: pose on the aligned image).
    Measured before the fix, when the label came from the tilted photo: roll +16.9° at 20°."""
    import cv2

    photo = public_domain_photos()["astronaut"]
    height, width = photo.shape[:2]
    turn = cv2.getRotationMatrix2D((width / 2, height / 2), degrees, 1.0)  # counter-clockwise for degrees > 0
    tilted = cv2.warpAffine(photo, turn, (width, height), flags=cv2.INTER_LINEAR, borderValue=(127, 127, 127))
    reference = pose_angles(align_face(finder, photo).label)
    aligned = pose_angles(align_face(finder, tilted).label)
    assert abs(pose_angles(finder.largest_face(tilted).label()).roll) > 10  # the tilt is visible in the photo frame
    assert aligned.roll == pytest.approx(0.0, abs=3.0)
    assert aligned.yaw == pytest.approx(reference.yaw, abs=2.0)
    assert aligned.pitch == pytest.approx(reference.pitch, abs=2.0)


def test_no_face_in_a_blank_image(finder):
    assert finder.largest_face(np.full((256, 256, 3), 127, dtype=np.uint8)) is None


def test_largest_face_is_chosen(finder):
    photo = public_domain_photos()["astronaut"]
    import cv2

    small = cv2.resize(photo, (256, 256), interpolation=cv2.INTER_AREA)
    canvas = np.full((600, 1100, 3), 200, dtype=np.uint8)
    canvas[:256, :256] = small
    canvas[50:562, 560:1072] = photo
    face = finder.largest_face(canvas)
    left, top, width, height = face.box
    assert left > 560 and width > 80



def _label(cam2world: np.ndarray) -> np.ndarray:
    return np.concatenate([cam2world.reshape(-1), [4.2647, 0, 0.5, 0, 4.2647, 0.5, 0, 0, 1]])


@pytest.mark.parametrize("h_degrees", [-180.0, -150.0, -120.0, -95.0, -30.0, 0.0, 45.0, 95.0, 135.0, 170.0, 180.0])
def test_pose_angles_of_level_cameras_all_around(h_degrees):
    """``get_poseangle`` is PanoHead's matrix2angle with its back-view fold (spec §8.1): a level LookAt
    camera at h = π/2 + a reports yaw a on the whole circle; 3DDFA's plain matrix2angle would report
    180° − a with pitch ±180° behind the head."""
    angles = pose_angles(_label(lookat_cam2world(math.pi / 2 + math.radians(h_degrees), math.pi / 2)))
    assert angles.yaw == pytest.approx(h_degrees, abs=1e-6)
    assert angles.pitch == pytest.approx(0.0, abs=1e-6)
    assert angles.roll == pytest.approx(0.0, abs=1e-6)


@pytest.mark.parametrize("v_offset", [-0.4, 0.3])
def test_pose_angles_pitch_front_and_back(v_offset):
    """Pitch is the camera elevation asin(y / r) at the front; at the back (yaw 180°) the fold divides
    by cos(yaw) = −1, so the official code reports the elevation negated."""
    elevation = math.degrees(math.asin(lookat_cam2world(math.pi / 2, math.pi / 2 + v_offset)[1, 3] / 2.7))
    front = pose_angles(_label(lookat_cam2world(math.pi / 2, math.pi / 2 + v_offset)))
    back = pose_angles(_label(lookat_cam2world(math.pi / 2 + math.pi, math.pi / 2 + v_offset)))
    assert (front.yaw, front.pitch) == pytest.approx((0.0, elevation), abs=1e-6)
    assert (back.yaw, back.pitch) == pytest.approx((180.0, -elevation), abs=1e-6)
