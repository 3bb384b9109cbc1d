"""Align and crop a portrait to PanoHead's crop convention (spec panohead.md §8.2, steps 2, 10, 11).

The face crop is defined here once:

1. the FFHQ quad from the eye centres and the mouth corners (step 2);
2. the quad is placed at [⌊0.05·S⌋, ⌊0.1·S⌋] with side S−1 on a canvas of ⌊1.1·S⌋² (step 10:
   room above the head, none below the chin), warped at twice the canvas size with Lanczos and a
   reflected border, then area-downsampled. As in the official ``crop_final``, the 2× warp uses
   the canvas affine map scaled by 2, so after the area downsampling the picture sits a quarter
   canvas pixel up and left of the nominal corners (:data:`UPSAMPLE_SHIFT`); the coverage mask is
   warped at 1× without that shift;
3. where the photo does not cover the canvas, the warp is blended with a 31-px box-blurred copy
   through a 21-px box-blurred coverage mask (step 10);
4. the whole canvas is resized to S² (step 11; no crop, the normalised intrinsics are unchanged).

The camera label describes the written crop: :func:`align_face` estimates the head pose on the
aligned crop, as PanoHead runs 3DDFA on the quad-warped image (step 3), so the quad's in-plane
rotation of a tilted photo does not leak into the label's roll.

Step 8 (re-centring the quad on 3DDFA's head-centre estimate) needs the 3DDFA model and is not
reproduced; docs/data.md says what that changes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from dualinv.errors import NoFaceError

if TYPE_CHECKING:
    from dualinv.data.pose import FaceFinder

CROP_SIZE = 512
"""Side of PanoHead's training images."""
CANVAS_SCALE = 1.10
"""The canvas is this much larger than the quad before the final resize."""
MARGIN_LEFT = 0.05
MARGIN_TOP = 0.10
QUAD_SCALE_EYES = 2.0
QUAD_SCALE_MOUTH = 1.8
QUAD_CENTRE_SHIFT = 0.1
"""Quad centre = eye centre + this share of the eye-to-mouth vector (FFHQ)."""
FILL_BLUR = 31
COVERAGE_BLUR = 21
UPSAMPLE = 2
"""The warp runs at this multiple of the canvas size, then is area-downsampled."""
UPSAMPLE_SHIFT = -(UPSAMPLE - 1) / (2 * UPSAMPLE)
"""Canvas pixels by which the picture moves when the affine map is scaled by UPSAMPLE and the result
area-downsampled: a point mapped to canvas c lands at UPSAMPLE·c, whose downsampled position is
(UPSAMPLE·c + 0.5)/UPSAMPLE − 0.5 = c − 1/4 for UPSAMPLE 2."""

# Face-mesh indices standing in for dlib's 68-point eye contours (36-41, 42-47) and mouth corners.
EYE_IMAGE_LEFT = (33, 160, 158, 133, 153, 144)   # subject's right eye
EYE_IMAGE_RIGHT = (362, 385, 387, 263, 373, 380)  # subject's left eye
MOUTH_CORNERS = (61, 291)


def face_quad(mesh_points: np.ndarray) -> np.ndarray:
    """FFHQ quad [4, 2] (top-left, bottom-left, bottom-right, top-right, in pixels) from face-mesh
    landmarks [N, >=2] in pixels (spec §8.2 step 2)."""
    points = np.asarray(mesh_points, dtype=np.float64)[:, :2]
    eye_left = points[list(EYE_IMAGE_LEFT)].mean(axis=0)
    eye_right = points[list(EYE_IMAGE_RIGHT)].mean(axis=0)
    eye_centre = (eye_left + eye_right) / 2
    eye_to_eye = eye_right - eye_left
    mouth_centre = points[list(MOUTH_CORNERS)].mean(axis=0)
    eye_to_mouth = mouth_centre - eye_centre
    rot90 = np.array([-eye_to_mouth[1], eye_to_mouth[0]])  # flipud(v)·[-1, 1]
    x_axis = eye_to_eye - rot90
    x_axis /= np.hypot(*x_axis)
    x_axis *= max(np.hypot(*eye_to_eye) * QUAD_SCALE_EYES, np.hypot(*eye_to_mouth) * QUAD_SCALE_MOUTH)
    y_axis = np.array([-x_axis[1], x_axis[0]])
    centre = eye_centre + eye_to_mouth * QUAD_CENTRE_SHIFT
    return np.stack([centre - x_axis - y_axis, centre - x_axis + y_axis, centre + x_axis + y_axis, centre + x_axis - y_axis])


def canvas_corners(size: int = CROP_SIZE) -> np.ndarray:
    """Where the quad's corners land on the canvas of side ⌊1.1·size⌋ (same order as the quad)."""
    left, top = int(size * MARGIN_LEFT), int(size * MARGIN_TOP)
    right, bottom = left + size - 1, top + size - 1
    return np.array([[left, top], [left, bottom], [right, bottom], [right, top]], dtype=np.float64)


def quad_to_canvas(quad: np.ndarray, size: int = CROP_SIZE) -> np.ndarray:
    """The 2x3 affine map from photo pixels to canvas pixels (exact for FFHQ's square quad)."""
    import cv2  # OpenCV loads only when this runs, not on CLI start-up

    return cv2.getAffineTransform(np.float32(quad[:3]), np.float32(canvas_corners(size)[:3]))


def crop_face(image: np.ndarray, quad: np.ndarray, size: int = CROP_SIZE) -> tuple[np.ndarray, np.ndarray]:
    """(crop [size, size, 3] uint8, coverage [size, size] float in [0, 1]) of ``image`` [H, W, 3].

    Coverage is 1 where the crop shows the photo and 0 where it was filled in (spec §8.2 step 10).
    """
    import cv2  # OpenCV loads only when this runs, not on CLI start-up

    canvas = int(size * CANVAS_SCALE)
    to_canvas = quad_to_canvas(quad, size)
    to_upsampled = to_canvas * UPSAMPLE
    warped = cv2.warpAffine(image, to_upsampled, (UPSAMPLE * canvas, UPSAMPLE * canvas), flags=cv2.INTER_LANCZOS4,
                            borderMode=cv2.BORDER_REFLECT)
    warped = cv2.resize(warped, (canvas, canvas), interpolation=cv2.INTER_AREA).astype(np.float32)
    ones = np.ones(image.shape[:2], dtype=np.float32)
    coverage = cv2.warpAffine(ones, to_canvas, (canvas, canvas), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0.0)
    blurred = cv2.blur(warped, (FILL_BLUR, FILL_BLUR))
    weight = cv2.blur(coverage, (COVERAGE_BLUR, COVERAGE_BLUR))[:, :, None]
    blended = warped * weight + blurred * (1.0 - weight)
    blended = np.clip(np.rint(blended), 0, 255).astype(np.uint8)
    crop = cv2.resize(blended, (size, size), interpolation=cv2.INTER_LANCZOS4)
    coverage_final = np.clip(cv2.resize(coverage, (size, size), interpolation=cv2.INTER_AREA), 0.0, 1.0)
    return crop, coverage_final


def transform_points(points: np.ndarray, quad: np.ndarray, size: int = CROP_SIZE) -> np.ndarray:
    """Photo pixel coordinates [N, 2] -> where they appear in the final ``size``² crop (pixel k
    spans [k − 0.5, k + 0.5]), the 2× warp's quarter-pixel shift included."""
    canvas = int(size * CANVAS_SCALE)
    to_canvas = quad_to_canvas(quad, size)
    homogeneous = np.concatenate([np.asarray(points, dtype=np.float64)[:, :2], np.ones((len(points), 1))], axis=1)
    on_canvas = homogeneous @ to_canvas.T + UPSAMPLE_SHIFT
    return (on_canvas + 0.5) * (size / canvas) - 0.5  # resize maps pixel centres


@dataclass(frozen=True)
class AlignedFace:
    """A photo's face cropped to PanoHead's convention, with the camera label of that crop."""

    crop: np.ndarray
    """[S, S, 3] uint8 RGB."""
    coverage: np.ndarray
    """[S, S] float in [0, 1]: 1 where the crop shows the photo, 0 where it was filled in."""
    label: np.ndarray
    """The 25-value camera label of the crop (pose estimated on the crop itself)."""


def align_face(faces: "FaceFinder", photo: np.ndarray, size: int = CROP_SIZE) -> AlignedFace:
    """Crop the largest face of ``photo`` [H, W, 3] and estimate its pose on the crop (spec §8.2
    steps 2-3, 9-11). The quad comes from the photo's face mesh; the mesh is then run again on
    the upright crop, inside the box of the photo's landmarks mapped onto it, and the label is
    built from that second mesh. :class:`NoFaceError` when either mesh finds no face."""
    face = faces.largest_face(photo)
    if face is None:
        raise NoFaceError("no face detected; use a photo with a visible face")
    quad = face_quad(face.mesh_points)
    crop, coverage = crop_face(photo, quad, size)
    on_crop = transform_points(face.mesh_points, quad, size)
    (left, top), (right, bottom) = on_crop.min(axis=0), on_crop.max(axis=0)
    aligned = faces.face_in_box(crop, (float(left), float(top), float(right - left), float(bottom - top)), face.score)
    if aligned is None:
        raise NoFaceError("the face mesh found no face on the aligned crop; use a sharper, less occluded photo")
    return AlignedFace(crop=crop, coverage=coverage, label=aligned.label())
