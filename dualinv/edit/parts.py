"""2D masks of face parts on aligned crops, offline: face-mesh regions and the selfie matte.

Reference-based editing (paper §5.3, following [8]) first localises the part to transfer on the
reference image. [8] runs a 19-class BiSeNet face parser (CelebAMask-HQ classes, hair = 17); it
runs here when its checkpoint is given (``--face-parsing`` or ``weights.face_parsing``,
:mod:`dualinv.edit.face_parsing`). Its weights are not bundled, so the default localisation is
built from the two mediapipe models the data preparation already uses (mediapipe 0.10.14, bundled
weights, nothing downloaded):

* ``face``, ``eyes``, ``brows``, ``nose``, ``mouth``: the filled convex hull of the face-mesh
  landmarks of that region (``FACEMESH_FACE_OVAL``, ``..._LEFT_EYE`` + ``..._RIGHT_EYE``,
  ``..._LEFT_EYEBROW`` + ``..._RIGHT_EYEBROW``, ``FACEMESH_NOSE``, ``FACEMESH_LIPS``); paired
  regions are hulled separately so the bridge between them stays out.
* ``hair``: the selfie matte (≥ ``matte_threshold``) minus the face-oval hull, above the chin
  (the lowest face-oval landmark). What this includes besides hair: the ears and anything worn on
  the head (hats, glasses arms); what it misses: hair that falls below the chin. Give the face
  parser's checkpoint (``--face-parsing``) where that matters.

A view in which no face is found yields an empty mask for every part.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

import numpy as np

from dualinv.data.background import SelfieMatting
from dualinv.data.pose import FaceFinder
from dualinv.errors import ConfigError

PartName = Literal["hair", "face", "eyes", "brows", "nose", "mouth"]
SUPPORTED_PARTS: tuple[str, ...] = get_args(PartName)
"""Parts ``dualinv edit --part`` accepts."""

FACE_MESH_REGIONS: dict[str, tuple[str, ...]] = {
    "face": ("FACEMESH_FACE_OVAL",),
    "eyes": ("FACEMESH_LEFT_EYE", "FACEMESH_RIGHT_EYE"),
    "brows": ("FACEMESH_LEFT_EYEBROW", "FACEMESH_RIGHT_EYEBROW"),
    "nose": ("FACEMESH_NOSE",),
    "mouth": ("FACEMESH_LIPS",),
}
"""Per part, the mediapipe face-mesh connection sets whose landmarks outline it (one hull each)."""


def check_part(part: str) -> PartName:
    """``part`` if supported, else a ``ConfigError`` listing the supported parts."""
    if part not in SUPPORTED_PARTS:
        raise ConfigError(f"part {part!r} is not supported; choose one of {', '.join(SUPPORTED_PARTS)}")
    return part  # type: ignore[return-value]


def region_landmarks() -> dict[str, list[np.ndarray]]:
    """Per part, the landmark indices of each of its face-mesh regions (from mediapipe's constants)."""
    # mediapipe loads only when this runs, not on CLI start-up
    from mediapipe.python.solutions import face_mesh_connections as connections

    return {
        part: [np.array(sorted({index for edge in getattr(connections, name) for index in edge}), dtype=np.int64)
               for name in names]
        for part, names in FACE_MESH_REGIONS.items()
    }


def filled_hull(points: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """bool [H, W]: the pixels whose centres lie inside the convex hull of ``points`` [N, 2] (x, y)."""
    from skimage.draw import polygon  # scikit-image loads only when this runs, not on CLI start-up
    from scipy.spatial import ConvexHull  # scipy loads only when a part mask is drawn

    hull = points[ConvexHull(points).vertices]
    rows, columns = polygon(hull[:, 1], hull[:, 0], shape=shape)
    mask = np.zeros(shape, dtype=bool)
    mask[rows, columns] = True
    return mask


def part_mask_from_landmarks(
    part: PartName,
    mesh_points: np.ndarray | None,
    person_matte: np.ndarray,
    regions: dict[str, list[np.ndarray]],
    *,
    matte_threshold: float = 0.5,
) -> np.ndarray:
    """bool [H, W] mask of ``part`` from face-mesh points [478, 3] (pixels; None: no face) and a
    soft person matte [H, W] in [0, 1]; ``regions`` is :func:`region_landmarks` (rules: module doc)."""
    shape = person_matte.shape
    if mesh_points is None:
        return np.zeros(shape, dtype=bool)
    xy = np.asarray(mesh_points, dtype=np.float64)[:, :2]
    if part == "hair":
        oval = xy[regions["face"][0]]
        face = filled_hull(oval, shape)
        rows = np.arange(shape[0])[:, None]
        above_chin = np.broadcast_to(rows < oval[:, 1].max(), shape)
        return (person_matte >= matte_threshold) & ~face & above_chin
    mask = np.zeros(shape, dtype=bool)
    for indices in regions[part]:
        mask |= filled_hull(xy[indices], shape)
    return mask


@dataclass(frozen=True)
class PartSegmenterConfig:
    """How parts are found on an image."""

    matte_threshold: float = 0.5
    """Selfie-matte level above which a pixel belongs to the person (for ``hair``)."""

    def __post_init__(self) -> None:
        if not 0.0 < self.matte_threshold < 1.0:
            raise ConfigError(f"part segmentation matte_threshold must lie in (0, 1), got {self.matte_threshold}")


class PartSegmenter:
    """Part masks from the bundled face mesh and selfie segmentation (use as a context manager)."""

    def __init__(self, config: PartSegmenterConfig = PartSegmenterConfig()) -> None:
        self.config = config
        self._faces = FaceFinder()
        self._matting = SelfieMatting()
        self._regions = region_landmarks()

    def __enter__(self) -> "PartSegmenter":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        self._faces.close()
        self._matting.close()

    def part_mask(self, image: np.ndarray, part: str) -> np.ndarray:
        """bool [H, W] mask of ``part`` on ``image`` [H, W, 3] uint8 RGB (empty when no face is found)."""
        part = check_part(part)
        image = np.ascontiguousarray(image)
        face = self._faces.largest_face(image)
        matte = self._matting.matte(image) if part == "hair" else np.zeros(image.shape[:2], np.float32)
        return part_mask_from_landmarks(part, None if face is None else face.mesh_points, matte, self._regions,
                                        matte_threshold=self.config.matte_threshold)
