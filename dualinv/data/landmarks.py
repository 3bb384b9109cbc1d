"""The 68 landmarks of dlib's iBUG-300W layout, which PanoHead's cropping starts from (spec
panohead.md §8.2 step 1, ``dlib_kps.py``).

Two sources, chosen by the config:

- **dlib** (as the authors ran it): dlib's frontal face detector (upsampled once) and the
  ``shape_predictor_68_face_landmarks.dat`` file set in ``weights.dlib_landmarks``; needs the
  ``dlib`` package.
- **mediapipe face mesh, the fallback** (no extra files): the 478-point mesh of :mod:`.pose`, with
  each of the 68 points taken from one fixed mesh vertex (:data:`MESH_TO_68`). The eye contours
  (36-47) and the mouth corners (48, 54), which alone decide PanoHead's crop quad, are the mesh's own
  eyelid and lip-corner vertices; the jaw line (0-16) follows the mesh's face oval, which sits
  slightly outside dlib's jaw. Results made this way are labelled ``mediapipe-68``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from dualinv.errors import ConfigError, MissingWeightsError, NoFaceError

if TYPE_CHECKING:
    from dualinv.data.pose import FaceFinder

DLIB = "dlib-68"
MESH_FALLBACK = "mediapipe-68"
LANDMARK_SOURCES = (DLIB, MESH_FALLBACK)

MESH_TO_68: tuple[int, ...] = (
    # 0-16 jaw, from the subject's right ear (image left) over the chin to the left ear
    127, 234, 93, 132, 58, 136, 150, 176, 152, 400, 379, 365, 288, 361, 323, 454, 356,
    # 17-21 subject's right brow (outer to inner), 22-26 left brow (inner to outer)
    70, 63, 105, 66, 107, 336, 296, 334, 293, 300,
    # 27-30 nose bridge (top to tip), 31-35 nostrils (image left to right)
    168, 197, 5, 4, 75, 97, 2, 326, 305,
    # 36-41 subject's right eye, 42-47 left eye (outer corner, upper lid, inner corner, lower lid)
    33, 160, 158, 133, 153, 144, 362, 385, 387, 263, 373, 380,
    # 48-59 outer lip (right corner, upper lip, left corner, lower lip), 60-67 inner lip
    61, 39, 37, 0, 267, 269, 291, 405, 314, 17, 84, 181, 78, 82, 13, 312, 308, 317, 14, 87,
)
"""Face-mesh vertex of each dlib point, in dlib order. Fixed: changing it changes every crop."""

DLIB_PREDICTOR_SOURCE = "https://github.com/davisking/dlib-models (shape_predictor_68_face_landmarks.dat.bz2; unpack with bunzip2)"


def landmarks_from_mesh(mesh_points: np.ndarray) -> np.ndarray:
    """The 68 points [68, 2] (photo pixels) of a face mesh [478, >=2]."""
    return np.asarray(mesh_points, dtype=np.float64)[list(MESH_TO_68), :2]


class MeshLandmarks:
    """68 points from the largest face of the mediapipe mesh (the labelled fallback)."""

    name = MESH_FALLBACK

    def __init__(self, faces: "FaceFinder") -> None:
        self.faces = faces

    def find(self, photo_rgb: np.ndarray) -> np.ndarray:
        face = self.faces.largest_face(photo_rgb)
        if face is None:
            raise NoFaceError("no face detected; use a photo with a visible face")
        return landmarks_from_mesh(face.mesh_points)


class DlibLandmarks:
    """68 points from dlib, as ``dlib_kps.py`` runs it (grey image, detector upsampled once); of
    several faces the largest is kept (the authors' script kept the last one found)."""

    name = DLIB

    def __init__(self, predictor_path: str | Path | None) -> None:
        if predictor_path is None or not Path(predictor_path).expanduser().is_file():
            raise MissingWeightsError(f"dlib landmark predictor not found at {str(predictor_path)!r}: download "
                                      f"{DLIB_PREDICTOR_SOURCE} and set weights.dlib_landmarks, or set "
                                      f"pose.landmarks: {MESH_FALLBACK}")
        try:
            import dlib  # dlib loads only when this runs, not on CLI start-up
        except ImportError:
            raise ConfigError(f"pose.landmarks is {DLIB} but the dlib package is not installed; "
                              f"pip install dlib-bin, or set pose.landmarks: {MESH_FALLBACK}") from None
        self._detector = dlib.get_frontal_face_detector()
        self._predictor = dlib.shape_predictor(str(Path(predictor_path).expanduser()))

    def find(self, photo_rgb: np.ndarray) -> np.ndarray:
        import cv2  # OpenCV loads only when this runs, not on CLI start-up

        grey = cv2.cvtColor(photo_rgb, cv2.COLOR_RGB2GRAY)
        rects = list(self._detector(grey, 1))
        if not rects:
            raise NoFaceError("dlib found no face; use a photo with a visible, roughly frontal face")
        rect = max(rects, key=lambda r: r.width() * r.height())
        shape = self._predictor(grey, rect)
        return np.array([[part.x, part.y] for part in shape.parts()], dtype=np.float64)
