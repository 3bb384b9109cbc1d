"""Part masks from face-mesh landmarks and the selfie matte: synthetic landmarks, then a real photo."""

from __future__ import annotations

import numpy as np
import pytest

from dualinv.edit.parts import SUPPORTED_PARTS, PartSegmenter, check_part, part_mask_from_landmarks, region_landmarks
from dualinv.errors import ConfigError

SIZE = 512


def synthetic_mesh(regions: dict[str, list[np.ndarray]]) -> np.ndarray:
    """478 landmarks: the face oval on a circle of radius 100 about (256, 256), each eye on a circle
    of radius 15 about (200, 230) / (312, 230); every other landmark at the centre."""
    points = np.full((478, 3), 256.0)

    def ring(indices: np.ndarray, centre: tuple[float, float], radius: float) -> None:
        angles = np.linspace(0, 2 * np.pi, len(indices), endpoint=False)
        points[indices, 0] = centre[0] + radius * np.cos(angles)
        points[indices, 1] = centre[1] + radius * np.sin(angles)

    ring(regions["face"][0], (256, 256), 100)
    left, right = regions["eyes"]
    ring(left, (200, 230), 15)
    ring(right, (312, 230), 15)
    return points


@pytest.fixture(scope="module")
def regions():
    return region_landmarks()


def test_hair_is_the_matte_outside_the_face_oval_and_above_the_chin(regions) -> None:
    matte = np.zeros((SIZE, SIZE), np.float32)
    matte[50:, :] = 1.0
    hair = part_mask_from_landmarks("hair", synthetic_mesh(regions), matte, regions)
    assert hair[100, 256] and hair[300, 20]  # above the oval; beside it above the chin (y = 356)
    assert not hair[256, 256] and not hair[200, 300]  # inside the oval
    assert not hair[400, 256] and not hair[400, 20]  # below the chin
    assert not hair[30, 256]  # outside the matte


def test_eyes_are_two_hulls_without_the_bridge(regions) -> None:
    matte = np.zeros((SIZE, SIZE), np.float32)
    eyes = part_mask_from_landmarks("eyes", synthetic_mesh(regions), matte, regions)
    assert eyes[230, 200] and eyes[230, 312] and not eyes[230, 256]
    assert 2 * 600 < eyes.sum() < 2 * np.pi * 15**2  # two discs of radius 15 (inscribed polygons)


def test_no_face_gives_empty_masks_and_unknown_parts_are_refused(regions) -> None:
    matte = np.ones((SIZE, SIZE), np.float32)
    for part in SUPPORTED_PARTS:
        assert not part_mask_from_landmarks(part, None, matte, regions).any()
    with pytest.raises(ConfigError, match="hair"):
        check_part("beard")


def test_segmenter_on_a_real_portrait_puts_hair_above_the_face() -> None:
    from skimage.data import astronaut

    image = astronaut()
    with PartSegmenter() as segmenter:
        hair, face, mouth = (segmenter.part_mask(image, part) for part in ("hair", "face", "mouth"))
    assert hair.sum() > 2000 and face.sum() > 5000 and mouth.sum() > 100
    assert not (hair & face).any() and (mouth & ~face).sum() < 0.05 * mouth.sum()
    rows = np.arange(image.shape[0])[:, None]
    assert (rows * hair).sum() / hair.sum() < (rows * face).sum() / face.sum()  # hair centroid higher
