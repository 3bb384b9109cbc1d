"""The choice of face alignment and camera labels for ``prepare``, ``pose`` and ``invert``.

- ``3ddfa`` (default): PanoHead's own pipeline (:mod:`.landmarks` → :mod:`.recrop` with
  :mod:`.tddfa`): dlib's 68 points when ``weights.dlib_landmarks`` is set, otherwise the face mesh's
  68 points (the labelled fallback); TDDFA from ``weights.tddfa`` (``pose.tddfa_width`` 1.0 for
  ``mb1_120x120.pth``, 0.5 for ``mb05_120x120.pth``), ``weights.tddfa_whitening`` and
  ``weights.bfm``. With ``stand_in`` and no files, a seeded stand-in TDDFA and BFM run instead and
  every label says so (the mini preset).
- ``mediapipe``: the face mesh's own quad and Umeyama pose (:mod:`.align`, :mod:`.pose`).

:attr:`Aligner.name` is what ``dataset.json`` (``"alignment"``) and ``summary.json`` record.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from dualinv.data.align import CROP_SIZE, AlignedFace, align_face, crop_face
from dualinv.data.faceboxes import FaceBoxes
from dualinv.data.landmarks import DlibLandmarks, MeshLandmarks
from dualinv.data.pose import FaceFinder
from dualinv.data.recrop import MIN_QUAD_SIDE, recrop
from dualinv.data.tddfa import INPUT_SIZE, WEIGHTS_SOURCE, Bfm, ParamWhitening, Tddfa, load_regressor, seeded_regressor
from dualinv.errors import ConfigError, MissingWeightsError

PoseMethod = Literal["3ddfa", "mediapipe"]
POSE_METHODS = ("3ddfa", "mediapipe")
STAND_IN_TAG = "stand-in"


@dataclass(frozen=True)
class PoseConfig:
    """How faces are aligned and posed (config ``data.pose`` and ``weights.tddfa*``/``bfm``/``dlib_landmarks``)."""

    method: PoseMethod = "3ddfa"
    tddfa_width: float = 1.0
    """1.0: ``mb1_120x120.pth`` (the authors' default); 0.5: ``mb05_120x120.pth``."""
    tddfa: str | None = None
    tddfa_whitening: str | None = None
    bfm: str | None = None
    dlib_landmarks: str | None = None
    faceboxes: str | None = None
    """``FaceBoxesProd.pth``: TDDFA's crop from the FaceBoxes detection, as the authors; ``None``: TDDFA's
    landmark crop rule on the 68 points (labelled ``landmark-roi``)."""
    stand_in: bool = False
    """Run seeded stand-ins where the TDDFA/BFM paths are ``None`` (labelled); otherwise they are required."""
    seed: int = 0
    min_face_size: float = MIN_QUAD_SIDE
    """Smallest crop quad side (photo pixels) accepted; PanoHead's ``crop_final`` uses 256."""

    def __post_init__(self) -> None:
        if self.method not in POSE_METHODS:
            raise ConfigError(f"pose method must be one of {POSE_METHODS}, got {self.method!r}")
        if self.tddfa_width not in (1.0, 0.5):
            raise ConfigError(f"pose.tddfa_width must be 1.0 (mb1_120x120.pth) or 0.5 (mb05_120x120.pth), got {self.tddfa_width}")

    def check(self) -> None:
        """Fail before any work when a file the method needs is not set or not there."""
        if self.method != "3ddfa":
            return
        regressor = "mb1_120x120.pth" if self.tddfa_width == 1.0 else "mb05_120x120.pth"
        problems = []
        if self.faceboxes is not None and not Path(self.faceboxes).expanduser().is_file():
            problems.append(f"weights.faceboxes = {self.faceboxes!r}: FaceBoxesProd.pth is needed")
        for key, path, filename in (("tddfa", self.tddfa, regressor),
                                    ("tddfa_whitening", self.tddfa_whitening, "param_mean_std_62d_120x120.pkl"),
                                    ("bfm", self.bfm, "bfm_noneck_v3.pkl")):
            if path is None and self.stand_in:
                continue
            if path is None or not Path(path).expanduser().is_file():
                problems.append(f"weights.{key} = {path!r}: {filename} is needed")
        if problems:
            raise MissingWeightsError("PanoHead's 3DDFA alignment cannot start: " + "; ".join(problems)
                                      + f". Get them from {WEIGHTS_SOURCE} and set their paths, or use the "
                                      "face-mesh alignment (pose method mediapipe, labelled as such)")


class StandInTddfa(Tddfa):
    """A labelled stand-in for the real regressor: the seeded MobileNet runs, and its output only
    tilts the head by a few degrees; the camera otherwise keeps the landmarks' crop (scale 1, centred),
    so stand-in labels stay near frontal and no photo is rejected for the stand-in's sake."""

    def __init__(self, width: float, seed: int) -> None:
        super().__init__(seeded_regressor(width, seed), ParamWhitening(np.zeros(62, np.float32), np.ones(62, np.float32)))

    def params(self, image_bgr: np.ndarray, roi_box: tuple[float, float, float, float]) -> np.ndarray:
        from scipy.spatial.transform import Rotation  # scipy loads only when the stand-in regressor runs

        raw = super().params(image_bgr, roi_box)
        rotation = Rotation.from_rotvec(np.radians(5.0) * np.tanh(raw[:3])).as_matrix()
        height, width = image_bgr.shape[:2]
        x0, y0, x1, y1 = roi_box
        side = ((x1 - x0) / (width - 1) + (y1 - y0) / (height - 1)) / 2
        scale = 1.0 / (2000 * side)
        centre = (0.5 * (width - 1) - x0) * INPUT_SIZE / (x1 - x0) + 1, INPUT_SIZE - (0.5 * (height - 1) - y0) * INPUT_SIZE / (y1 - y0)
        params = np.zeros(62, np.float32)
        params[:12] = np.concatenate([scale * rotation, np.array([[centre[0]], [centre[1]], [0.0]])], axis=1).reshape(-1)
        return params


class Aligner:
    """One photo in, its PanoHead crop and label out, by the configured method."""

    def __init__(self, faces: FaceFinder, config: PoseConfig = PoseConfig()) -> None:
        config.check()
        self.config = config
        self.faces = faces
        self.name = self.describe(config)
        if config.method == "mediapipe":
            return
        self.landmarks = DlibLandmarks(config.dlib_landmarks) if config.dlib_landmarks else MeshLandmarks(faces)
        if config.tddfa is None or config.tddfa_whitening is None:
            self.tddfa: Tddfa = StandInTddfa(config.tddfa_width, config.seed)
        else:
            self.tddfa = Tddfa(load_regressor(config.tddfa, config.tddfa_width), ParamWhitening.from_file(config.tddfa_whitening))
        self.bfm = Bfm.from_file(config.bfm) if config.bfm else Bfm.seeded(config.seed)

        self.face_boxes = FaceBoxes.from_file(config.faceboxes) if config.faceboxes else None
        self.name = self.describe(config)

    @staticmethod
    def describe(config: PoseConfig) -> str:
        """The :attr:`name` an aligner of ``config`` has, without loading anything."""
        if config.method == "mediapipe":
            return "mediapipe-mesh"
        width_tag = "mb1" if config.tddfa_width == 1.0 else "mb05"
        if config.tddfa is None or config.tddfa_whitening is None:
            width_tag = f"{width_tag}-{STAND_IN_TAG}"
        bfm_tag = "bfm" if config.bfm else "bfm-stand-in"
        landmarks = DlibLandmarks.name if config.dlib_landmarks else MeshLandmarks.name
        roi = "faceboxes" if config.faceboxes else "landmark-roi"
        return f"3ddfa-{width_tag}+{bfm_tag}+{landmarks}+{roi}"

    @property
    def stand_in(self) -> bool:
        return STAND_IN_TAG in self.name

    def align(self, photo: np.ndarray, size: int = CROP_SIZE, source: str = "photo") -> AlignedFace:
        """:class:`AlignedFace` of ``photo`` [H, W, 3] RGB; ``NoFaceError`` / ``UnusableImageError`` (with a
        reject reason) where it cannot be aligned."""
        if self.config.method == "mediapipe":
            return align_face(self.faces, photo, size)
        points = self.landmarks.find(photo)
        result = recrop(photo, points, self.tddfa, self.bfm, source, self.config.min_face_size, self.face_boxes)
        crop, coverage = crop_face(photo, result.quad.astype(np.float64), size)
        return AlignedFace(crop=crop, coverage=coverage, label=result.label)


def study_pose_config(config) -> PoseConfig:
    """The study's :class:`PoseConfig` (``data.pose`` and the ``weights`` paths; ``null`` = labelled stand-in)."""
    pose, weights = config.data.pose, config.weights
    return PoseConfig(method=pose.method, tddfa_width=float(pose.tddfa_width), tddfa=weights.tddfa,
                      tddfa_whitening=weights.tddfa_whitening, bfm=weights.bfm, dlib_landmarks=weights.dlib_landmarks,
                      faceboxes=weights.faceboxes,
                      stand_in=True, min_face_size=float(pose.min_face_size))
