"""Head pose from face-mesh landmarks, and the 25-value camera label it implies.

The face mesh (mediapipe 0.10.14, bundled models) gives 478 landmarks with a depth estimate in pixel
units. A similarity fit (Umeyama) of a rigid subset of them against the same landmarks of
mediapipe's canonical face model gives the head rotation in the OpenCV camera frame. The canonical
model is already in PanoHead's world frame (y up, the face looking toward +z, x toward the
subject's left; spec panohead.md §6.1), so that rotation is the label's world-to-camera rotation.
The label itself is built as PanoHead's ``eg3dcamparams`` does (spec §8.2 step 9).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dualinv.camera import (  # noqa: F401  (re-exported: the camera-label constants live in dualinv.camera)
    CAM2WORLD,
    CAMERA_RADIUS,
    DATASET_FOCAL,
    INTRINSICS,
    LABEL_SIZE,
    MIRROR_NEGATED_INDICES,
    mirror_label,
    pose_angles_from_label,
)
from dualinv.native_logs import mediapipe_quiet

FOCAL_NORMALISED = DATASET_FOCAL
"""Alias of :data:`dualinv.camera.DATASET_FOCAL` (the focal of every PanoHead dataset label, spec §6.1)."""
MIRROR_NEGATED = MIRROR_NEGATED_INDICES
"""Alias of :data:`dualinv.camera.MIRROR_NEGATED_INDICES`."""
OPENCV_FROM_OPENGL = np.diag([1.0, -1.0, -1.0])
"""Camera y and z flipped: 3DDFA's y-up, z-toward-viewer frame -> OpenCV's y-down, z-forward."""

# Rigid landmarks of the face mesh (forehead, nose bridge and tip, eye corners, temples,
# cheekbones; no mouth or jaw, which move with expression), with their coordinates in
# mediapipe's canonical face model (cm; mediapipe/modules/face_geometry/data, Apache-2.0).
POSE_LANDMARKS: dict[int, tuple[float, float, float]] = {
    1: (0.0, -1.126865, 7.475604),        # nose tip
    4: (0.0, -0.463170, 7.586580),        # nose, above the tip
    197: (0.0, 1.728369, 6.316750),       # nose bridge, low
    6: (0.0, 2.473255, 5.788627),         # nose bridge
    168: (0.0, 3.271027, 5.236015),       # between the eyes
    9: (0.0, 4.885979, 5.385258),         # glabella
    151: (0.0, 6.545390, 5.027311),       # forehead
    10: (0.0, 8.261778, 4.481535),        # forehead top
    33: (-4.445859, 2.663991, 3.173422),  # subject's right eye, outer corner
    133: (-1.856432, 2.585245, 3.757904), # subject's right eye, inner corner
    362: (1.856432, 2.585245, 3.757904),  # subject's left eye, inner corner
    263: (4.445859, 2.663991, 3.173422),  # subject's left eye, outer corner
    127: (-7.743095, 2.364999, -2.005167),  # right temple
    356: (7.743095, 2.364999, -2.005167),   # left temple
    234: (-7.664182, 0.673132, -2.435867),  # right cheekbone
    454: (7.664182, 0.673132, -2.435867),   # left cheekbone
}


def pose_template() -> tuple[np.ndarray, np.ndarray]:
    """(landmark indices [N], canonical coordinates [N, 3]) of the rigid subset used for the fit."""
    indices = np.array(list(POSE_LANDMARKS), dtype=np.int64)
    points = np.array(list(POSE_LANDMARKS.values()), dtype=np.float64)
    return indices, points


def fit_rotation(template: np.ndarray, observed: np.ndarray) -> np.ndarray:
    """Rotation R [3, 3] of the similarity ``observed ≈ s·R·template + t`` (Umeyama 1991), a proper
    rotation (det +1) even when the points are noisy."""
    template_centred = template - template.mean(axis=0)
    observed_centred = observed - observed.mean(axis=0)
    covariance = observed_centred.T @ template_centred
    u, _, vt = np.linalg.svd(covariance)
    sign = np.sign(np.linalg.det(u @ vt)) or 1.0
    return u @ np.diag([1.0, 1.0, sign]) @ vt


def world_to_camera_rotation(mesh_points: np.ndarray) -> np.ndarray:
    """World-to-OpenCV-camera rotation [3, 3] from face-mesh landmarks in pixel units.

    ``mesh_points`` is [>=468, 3]: (x·width, y·height, z·width) as the face mesh returns them,
    i.e. x right, y down, z away from the camera, which is the OpenCV camera frame.
    """
    indices, template = pose_template()
    return fit_rotation(template, np.asarray(mesh_points, dtype=np.float64)[indices])


def camera_label(head_rotation: np.ndarray) -> np.ndarray:
    """The 25-value label for a head rotation in 3DDFA's camera frame (``eg3dcamparams``, spec §8.2
    step 9): world2cam = diag(1,-1,-1,1)·T(z=-2.7)·[R|0]; the label holds inv(world2cam) and K."""
    rotation_homogeneous = np.eye(4)
    rotation_homogeneous[:3, :3] = head_rotation
    backward = np.eye(4)
    backward[2, 3] = -CAMERA_RADIUS
    flip = np.diag([1.0, -1.0, -1.0, 1.0])
    world2cam = flip @ backward @ rotation_homogeneous
    cam2world = np.linalg.inv(world2cam)
    intrinsics = np.array([[DATASET_FOCAL, 0.0, 0.5], [0.0, DATASET_FOCAL, 0.5], [0.0, 0.0, 1.0]])
    return np.concatenate([cam2world.reshape(-1), intrinsics.reshape(-1)]).astype(np.float64)


def label_from_world_to_camera(world_to_camera: np.ndarray) -> np.ndarray:
    """The label for a world-to-OpenCV-camera rotation (what :func:`world_to_camera_rotation` gives)."""
    return camera_label(OPENCV_FROM_OPENGL @ world_to_camera)


@dataclass(frozen=True)
class PoseAngles:
    """Yaw, pitch and roll in degrees as PanoHead's ``get_poseangle`` reports them (spec §8.1).

    Yaw > 0: the camera is on the subject's left (+x), so the face turns toward the image's left.
    Pitch > 0: the camera is above the head, looking down.
    """

    yaw: float
    pitch: float
    roll: float


def pose_angles(label: np.ndarray) -> PoseAngles:
    """``get_poseangle`` of one label (spec §8.1), via :func:`dualinv.camera.pose_angles_from_label`."""
    yaw, pitch, roll = pose_angles_from_label(label)[0]
    return PoseAngles(float(yaw), float(pitch), float(roll))


@dataclass(frozen=True)
class Face:
    """One face found in a photo: its detection box and face-mesh landmarks, in photo pixels."""

    box: tuple[float, float, float, float]
    """(left, top, width, height) of the detection."""
    score: float
    """Detection confidence."""
    mesh_points: np.ndarray
    """[478, 3]: (x, y, z) in pixels; z is depth, smaller is nearer (the face mesh's convention)."""

    def world_to_camera(self) -> np.ndarray:
        return world_to_camera_rotation(self.mesh_points)

    def label(self) -> np.ndarray:
        return label_from_world_to_camera(self.world_to_camera())


@dataclass(frozen=True)
class FaceFinderConfig:
    """Settings of the face detector and mesh (mediapipe 0.10.14 bundled models)."""

    min_detection_confidence: float = 0.5
    """Detections below this score are ignored."""
    box_expansion: float = 0.6
    """The mesh runs on the detection box grown by this share on each side."""

    def __post_init__(self) -> None:
        if not 0.0 < self.min_detection_confidence < 1.0 or self.box_expansion < 0:
            raise ValueError(f"invalid FaceFinderConfig {self}")


class FaceFinder:
    """Face detection (full-range model) then the refined face mesh on the largest face.

    Holds two mediapipe graphs: create one per process, use it as a context manager (or call
    :meth:`close`), never share it across processes.
    """

    def __init__(self, config: FaceFinderConfig = FaceFinderConfig()) -> None:
        self.config = config
        with mediapipe_quiet():
            import mediapipe as mp  # mediapipe loads only when this runs, not on CLI start-up

            self._detector = mp.solutions.face_detection.FaceDetection(
                model_selection=1, min_detection_confidence=config.min_detection_confidence
            )
            self._mesh = mp.solutions.face_mesh.FaceMesh(
                static_image_mode=True, refine_landmarks=True, max_num_faces=1, min_detection_confidence=0.3
            )

    def __enter__(self) -> "FaceFinder":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        with mediapipe_quiet():
            self._detector.close()
            self._mesh.close()

    def largest_face(self, image: np.ndarray) -> Face | None:
        """The largest detected face of ``image`` [H, W, 3] uint8 RGB, or ``None``."""
        height, width = image.shape[:2]
        with mediapipe_quiet():
            detections = self._detector.process(image).detections or []
        boxes = []
        for detection in detections:
            relative = detection.location_data.relative_bounding_box
            boxes.append((relative.width * relative.height, detection.score[0], relative))
        if not boxes:
            return None
        _, score, relative = max(boxes, key=lambda entry: entry[0])
        box = (relative.xmin * width, relative.ymin * height, relative.width * width, relative.height * height)
        return self.face_in_box(image, box, float(score))

    def face_in_box(self, image: np.ndarray, box: tuple[float, float, float, float], score: float = 1.0) -> Face | None:
        """The face mesh of the face inside ``box`` (left, top, width, height in pixels) of ``image``,
        run on the box grown by ``box_expansion`` on each side; ``None`` when the mesh finds no face."""
        height, width = image.shape[:2]
        left, top, box_width, box_height = box
        grow = self.config.box_expansion
        x0 = int(max(0, left - grow * box_width))
        y0 = int(max(0, top - grow * box_height))
        x1 = int(min(width, left + (1 + grow) * box_width))
        y1 = int(min(height, top + (1 + grow) * box_height))
        if x1 - x0 < 8 or y1 - y0 < 8:
            return None
        region = np.ascontiguousarray(image[y0:y1, x0:x1])
        with mediapipe_quiet():
            result = self._mesh.process(region)
        if not result.multi_face_landmarks:
            return None
        region_width, region_height = x1 - x0, y1 - y0
        points = np.array(
            [[p.x * region_width + x0, p.y * region_height + y0, p.z * region_width] for p in result.multi_face_landmarks[0].landmark],
            dtype=np.float64,
        )
        return Face(box=(left, top, box_width, box_height), score=score, mesh_points=points)
