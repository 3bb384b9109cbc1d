"""PanoHead's camera label and crop from 68 landmarks and 3DDFA_V2 (``recrop_images.py`` of
SizheAn/PanoHead; spec panohead.md §8.2 steps 2-10).

1. The FFHQ quad from the 68 landmarks' eye contours and mouth corners (step 2).
2. The photo is warped so that the quad fills a 512² square (Lanczos, black outside), and TDDFA
   regresses the 3DMM parameters of the face there (step 3), in the crop TDDFA derives from the
   FaceBoxes detection (:mod:`.faceboxes`), as the authors ran it; without the FaceBoxes file,
   TDDFA's own landmark crop rule on the 68 landmarks mapped into the square (labelled; docs/data.md
   measures the difference).
3. Recentring (step 8): the head centre is taken half the BFM mean shape's depth behind the face
   (``R·(0, 0, ū_z/2)`` added to the camera translation); its position in the square, normalised to
   [-1, 1], moves the quad centre along the quad's axes, and the camera's scale (relative to the
   square) rescales the quad. Out-of-range scale, pose or centre is a reject, as in the authors' code.
4. The label is ``eg3dcamparams`` of the rotation alone (translation zeroed, radius 2.7; step 9),
   and the crop is :func:`dualinv.data.align.crop_face` of the recentred quad (step 10).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from dualinv.data.pose import camera_label
from dualinv.data.tddfa import (
    INPUT_SIZE,
    Bfm,
    Tddfa,
    decompose_camera,
    roi_box_from_face_box,
    roi_box_from_landmarks,
    rotation_angles,
)
from dualinv.errors import UnusableImageError

if TYPE_CHECKING:
    from dualinv.data.faceboxes import FaceBoxes

SQUARE = 512
"""Side of the square the quad is warped to before TDDFA (``recrop_images.py``'s ``size``)."""
SCALE_RANGE = (0.7, 1.3)
"""A face whose TDDFA scale relative to the square falls outside this range is rejected."""
MAX_YAW, MAX_PITCH, MAX_ROLL = 90.0, 80.0, 50.0
"""3DDFA angle limits (degrees) beyond which a photo is rejected."""
MAX_CENTRE_OFFSET = 1.0
"""The head centre must lie inside the square (normalised coordinates in [-1, 1])."""
MIN_QUAD_SIDE = 256.0
"""``crop_final``'s ``min_size``: a recentred quad smaller than this in the photo is rejected."""


@dataclass(frozen=True)
class Quad:
    """The FFHQ crop quad as centre and half-axes (``get_crop_bound``)."""

    centre: np.ndarray
    x_axis: np.ndarray
    y_axis: np.ndarray

    def corners(self) -> np.ndarray:
        """[4, 2] float32: top-left, bottom-left, bottom-right, top-right."""
        c, x, y = self.centre, self.x_axis, self.y_axis
        return np.stack([c - x - y, c - x + y, c + x + y, c + x - y]).astype(np.float32)


def quad_from_landmarks(points68: np.ndarray) -> Quad:
    """FFHQ's quad from dlib's 68 points [68, 2] (step 2)."""
    points = np.asarray(points68, dtype=np.float64)[:, :2]
    eye_left, eye_right = points[36:42].mean(axis=0), points[42:48].mean(axis=0)
    eye_centre = (eye_left + eye_right) * 0.5
    eye_to_eye = eye_right - eye_left
    eye_to_mouth = (points[48] + points[54]) * 0.5 - eye_centre
    x_axis = eye_to_eye - np.array([-eye_to_mouth[1], eye_to_mouth[0]])
    x_axis /= np.hypot(*x_axis)
    x_axis *= max(np.hypot(*eye_to_eye) * 2.0, np.hypot(*eye_to_mouth) * 1.8)
    y_axis = np.array([-x_axis[1], x_axis[0]])
    return Quad(eye_centre + eye_to_mouth * 0.1, x_axis, y_axis)


def square_map(quad: Quad, side: int = SQUARE) -> np.ndarray:
    """2×3 affine map photo -> the ``side``² square the quad fills."""
    import cv2  # OpenCV loads only when this runs, not on CLI start-up

    bound = np.array([[0, 0], [0, side - 1], [side - 1, side - 1]], dtype=np.float32)
    return cv2.getAffineTransform(quad.corners()[:3], bound)


def warp_to_square(photo: np.ndarray, quad: Quad, side: int = SQUARE) -> np.ndarray:
    import cv2  # OpenCV loads only when this runs, not on CLI start-up

    return cv2.warpAffine(np.asarray(photo), square_map(quad, side), (side, side), flags=cv2.INTER_LANCZOS4,
                          borderMode=cv2.BORDER_CONSTANT)


@dataclass(frozen=True)
class Recentring:
    """What TDDFA said about the face in the square, and the quad it implies."""

    params: np.ndarray
    """The 62 de-whitened TDDFA parameters."""
    roi_box: tuple[float, float, float, float]
    rotation: np.ndarray
    """[3, 3] head rotation in 3DDFA's camera frame (rows of the normalised affine camera)."""
    angles: tuple[float, float, float]
    """3DDFA's (yaw, pitch, roll) in degrees."""
    scale: float
    """Face scale relative to the square (1 = as the landmarks' quad)."""
    centre: tuple[float, float]
    """Head centre in the square, [-1, 1], y up."""
    quad: Quad
    """The recentred, rescaled quad in photo pixels."""


def recentre(tddfa: Tddfa, bfm: Bfm, square_bgr: np.ndarray, roi_box: tuple[float, float, float, float],
             quad: Quad, mapping_roi: tuple[float, float, float, float] | None = None) -> Recentring:
    """TDDFA on the square and the recentring of step 8 (no rejection here, see :func:`check`);
    ``mapping_roi`` (default ``roi_box``) is the ROI that maps TDDFA's crop frame back to the square."""
    params = tddfa.params(square_bgr, roi_box)
    relative_scale, rotation, translation = decompose_camera(params)
    affine = params[:12].reshape(3, 4)[:, :3].astype(np.float64)
    translation = translation + affine @ np.array([0.0, 0.0, 0.5 * bfm.centre_depth()])
    height, width = square_bgr.shape[:2]
    x0, y0, x1, y1 = roi_box if mapping_roi is None else mapping_roi
    half_w, half_h = 0.5 * (width - 1), 0.5 * (height - 1)
    centre_x = ((translation[0] - 1) * (x1 - x0) / INPUT_SIZE + x0 - half_w) / half_w
    centre_y = -((INPUT_SIZE - translation[1]) * (y1 - y0) / INPUT_SIZE + y0 - half_h) / half_h
    scale = ((x1 - x0) / (width - 1) + (y1 - y0) / (height - 1)) / 2 * relative_scale * 2000
    moved = Quad(quad.centre + quad.x_axis * centre_x - quad.y_axis * centre_y, quad.x_axis * scale, quad.y_axis * scale)
    return Recentring(params, tuple(float(v) for v in roi_box), rotation, rotation_angles(rotation), float(scale),
                      (float(centre_x), float(centre_y)), moved)


def check(result: Recentring, source: str = "photo", min_side: float = MIN_QUAD_SIDE) -> None:
    """The authors' rejections, as :class:`UnusableImageError` with a reason code."""
    yaw, pitch, roll = result.angles
    if not SCALE_RANGE[0] <= result.scale <= SCALE_RANGE[1]:
        raise UnusableImageError(f"{source}: 3DDFA's face scale {result.scale:.2f} is outside {SCALE_RANGE} of the "
                                 "landmark crop; the landmarks and the 3D fit disagree, use a clearer photo",
                                 "alignment_failed")
    if abs(yaw) > MAX_YAW or abs(pitch) > MAX_PITCH or abs(roll) > MAX_ROLL:
        raise UnusableImageError(f"{source}: head pose yaw {yaw:.0f}°, pitch {pitch:.0f}°, roll {roll:.0f}° is beyond "
                                 f"PanoHead's limits ({MAX_YAW:.0f}/{MAX_PITCH:.0f}/{MAX_ROLL:.0f}°)", "pose_out_of_range")
    if max(abs(result.centre[0]), abs(result.centre[1])) > MAX_CENTRE_OFFSET:
        raise UnusableImageError(f"{source}: 3DDFA puts the head centre outside the landmark crop "
                                 f"({result.centre[0]:.2f}, {result.centre[1]:.2f}); the alignment failed",
                                 "alignment_failed")
    corners = result.quad.corners()
    side = min(np.linalg.norm(corners[1] - corners[0]), np.linalg.norm(corners[2] - corners[1]))
    if side < min_side:
        raise UnusableImageError(f"{source}: the head spans {side:.0f} px, below the {min_side:.0f} px allowed (PanoHead: {MIN_QUAD_SIDE:.0f}); "
                                 "use a larger photo of the face", "too_small")


def label_of(rotation: np.ndarray) -> np.ndarray:
    """The 25-value label of the head rotation (translation zeroed, step 9)."""
    return camera_label(rotation)


@dataclass(frozen=True)
class Recropped:
    """The result of PanoHead's alignment of one photo."""

    label: np.ndarray
    quad: np.ndarray
    """[4, 2] the final crop quad in photo pixels."""
    recentring: Recentring


def centre_most(roi_boxes: list[tuple[float, float, float, float]], width: int, height: int) -> int:
    """Index of the ROI whose centre is nearest the square's centre (``find_center_bbox``)."""
    boxes = np.asarray(roi_boxes, dtype=np.float64)
    offsets = np.stack([0.5 * (boxes[:, 0] + boxes[:, 2]) - 0.5 * (width - 1),
                        0.5 * (boxes[:, 1] + boxes[:, 3]) - 0.5 * (height - 1)], 1)
    return int(np.argmin(np.linalg.norm(offsets, axis=1)))


def recrop(photo_rgb: np.ndarray, points68: np.ndarray, tddfa: Tddfa, bfm: Bfm, source: str = "photo",
           min_side: float = MIN_QUAD_SIDE, face_boxes: "FaceBoxes | None" = None) -> Recropped:
    """The label and final quad of a photo [H, W, 3] RGB from its 68 landmarks (steps 2-9);
    :class:`UnusableImageError` where the authors' code would skip the photo.

    With ``face_boxes`` (the authors' way) TDDFA's crop comes from the FaceBoxes detection nearest the
    square's centre; as in ``recrop_images.py``, the first detection's ROI then maps the camera back to
    the square. Without it, TDDFA's landmark rule on the 68 points mapped into the square is used."""
    quad = quad_from_landmarks(points68)
    square = warp_to_square(np.ascontiguousarray(np.asarray(photo_rgb)[..., ::-1]), quad)
    if face_boxes is None:
        mapping = square_map(quad)
        on_square = np.asarray(points68, dtype=np.float64)[:, :2] @ mapping[:, :2].T + mapping[:, 2]
        result = recentre(tddfa, bfm, square, roi_box_from_landmarks(on_square), quad)
    else:
        detections = face_boxes(square)
        if not detections:
            raise UnusableImageError(f"{source}: FaceBoxes finds no face in the landmark crop; the landmarks are "
                                     "off the face, use a clearer photo", "alignment_failed")
        rois = [roi_box_from_face_box(box) for box in detections]
        chosen = centre_most(rois, square.shape[1], square.shape[0])
        result = recentre(tddfa, bfm, square, rois[chosen], quad, mapping_roi=rois[0])
    check(result, source, min_side)
    return Recropped(label_of(result.rotation), result.quad.corners(), result)
