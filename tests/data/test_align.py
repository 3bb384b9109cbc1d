"""The crop convention, checked geometrically against spec panohead.md §8.2 steps 10-11.

The expected positions are computed here from the spec's literal numbers, not from dualinv's
constants: at size 512 the canvas is 563², the quad's corners land on the pixel centres
[25, 51]-[536, 562] (top-left, bottom-right), and the whole canvas is then resized to 512². A
point of the canvas at pixel coordinate c is at (c + 0.5)·512/563 − 0.5 in the crop (a resize maps
pixel centres; pixel k spans [k − 0.5, k + 0.5]).

One more fact, from the official ``crop_final``: the 2× warp uses the affine map times 2
(``upsample*mat``), then INTER_AREA halves it; a point mapped to canvas c lands at 2c on the large
image, which the halving puts at (2c + 0.5)/2 − 0.5 = c − 1/4. So the picture sits a quarter canvas
pixel up and left of the nominal corners, and the test expects that.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from dualinv.data.align import crop_face, face_quad, transform_points

SPEC_SIZE = 512
SPEC_CANVAS = 563
SPEC_LEFT, SPEC_TOP, SPEC_RIGHT, SPEC_BOTTOM = 25, 51, 536, 562


OFFICIAL_UPSAMPLE_SHIFT = -0.25  # canvas pixels, see the module docstring


def spec_crop_coordinate(canvas_coordinate: float) -> float:
    return (canvas_coordinate + OFFICIAL_UPSAMPLE_SHIFT + 0.5) * SPEC_SIZE / SPEC_CANVAS - 0.5


def spec_quad_point(u: float, v: float) -> tuple[float, float]:
    """Crop coordinates (x, y) of the quad point at fractions u (left -> right) and v (top -> bottom)."""
    x = SPEC_LEFT + u * (SPEC_RIGHT - SPEC_LEFT)
    y = SPEC_TOP + v * (SPEC_BOTTOM - SPEC_TOP)
    return spec_crop_coordinate(x), spec_crop_coordinate(y)


def square_quad(centre: tuple[float, float], side: float, degrees: float) -> np.ndarray:
    """Quad [4, 2] (top-left, bottom-left, bottom-right, top-right) of a square turned by ``degrees``."""
    turn = math.radians(degrees)
    right = np.array([math.cos(turn), math.sin(turn)]) * side / 2  # image x axis of the quad
    down = np.array([-math.sin(turn), math.cos(turn)]) * side / 2  # image y axis of the quad
    c = np.asarray(centre, dtype=np.float64)
    return np.stack([c - right - down, c - right + down, c + right + down, c + right - down])


def photo_with_inner_square(quad: np.ndarray, shape: tuple[int, int], low: float, high: float) -> np.ndarray:
    """A black photo, white where the quad's fractions (u, v) both lie in [low, high]; each pixel's
    value is the white share of 4×4 samples over its area (pixel k spans [k − 0.5, k + 0.5])."""
    rows, cols = np.mgrid[0 : shape[0], 0 : shape[1]].astype(np.float64)
    u_axis, v_axis = quad[3] - quad[0], quad[1] - quad[0]
    share = np.zeros(shape)
    for dy in (-0.375, -0.125, 0.125, 0.375):
        for dx in (-0.375, -0.125, 0.125, 0.375):
            offset = np.stack([cols + dx - quad[0, 0], rows + dy - quad[0, 1]], axis=-1)
            u = offset @ u_axis / (u_axis @ u_axis)
            v = offset @ v_axis / (v_axis @ v_axis)
            share += ((u >= low) & (u <= high) & (v >= low) & (v <= high)) / 16.0
    return np.repeat(np.rint(share * 255).astype(np.uint8)[:, :, None], 3, axis=2)


@pytest.mark.parametrize("degrees", [0.0, 30.0, -75.0])
def test_the_quad_lands_where_the_spec_puts_it(degrees):
    """An upright or turned square quad: the square's middle half ends up, upright, exactly where the
    spec's corner numbers place it in the 512² crop (centroid within 0.05 px, side within 0.15 px).
    Measured: centroid errors ≤ 0.01 px, sides within 0.07 px."""
    quad = square_quad((600.0, 600.0), 600.0, degrees)
    low, high = 0.25, 0.75
    crop, coverage = crop_face(photo_with_inner_square(quad, (1200, 1200), low, high), quad, SPEC_SIZE)
    assert crop.shape == (SPEC_SIZE, SPEC_SIZE, 3) and coverage.shape == (SPEC_SIZE, SPEC_SIZE)
    assert coverage.min() > 0.999  # the photo covers the whole canvas: nothing filled in

    white = crop[:, :, 0].astype(np.float64) / 255.0
    rows, cols = np.mgrid[0:SPEC_SIZE, 0:SPEC_SIZE]
    (left, top), (right, bottom) = spec_quad_point(low, low), spec_quad_point(high, high)
    assert (white * cols).sum() / white.sum() == pytest.approx((left + right) / 2, abs=0.05)
    assert (white * rows).sum() / white.sum() == pytest.approx((top + bottom) / 2, abs=0.05)
    middle_row, middle_col = white[int(round((top + bottom) / 2))], white[:, int(round((left + right) / 2))]
    assert middle_row.sum() == pytest.approx(right - left, abs=0.15)
    assert middle_col.sum() == pytest.approx(bottom - top, abs=0.15)


def test_transform_points_maps_the_quad_corners_to_the_spec_square():
    quad = square_quad((300.0, 260.0), 180.0, 20.0)
    on_crop = transform_points(quad, quad, SPEC_SIZE)
    expected = [spec_quad_point(0, 0), spec_quad_point(0, 1), spec_quad_point(1, 1), spec_quad_point(1, 0)]
    np.testing.assert_allclose(on_crop, expected, atol=1e-3)


def test_uncovered_canvas_is_filled_and_marked():
    """A quad at the photo's left edge: the canvas left of the photo has coverage 0 (step 10's fill)."""
    quad = square_quad((100.0, 300.0), 200.0, 0.0)  # the photo starts 100 px left of the quad centre
    photo = np.full((600, 600, 3), 200, dtype=np.uint8)
    _, coverage = crop_face(photo, quad, SPEC_SIZE)
    photo_left_edge = spec_crop_coordinate(SPEC_LEFT + (0.0 - 0.5 - quad[0, 0]) / 200.0 * (SPEC_RIGHT - SPEC_LEFT))
    assert coverage[:, : int(photo_left_edge) - 1].max() == 0.0
    assert coverage[:, int(photo_left_edge) + 2 :].min() > 0.999


def test_face_quad_is_ffhq_geometry():
    """The FFHQ quad (spec §8.2 step 2) of a level face: centred 0.1 of the eye-to-mouth vector below
    the eyes, half-side max(2·|eye_to_eye|, 1.8·|eye_to_mouth|), axis-aligned."""
    points = np.zeros((478, 3))
    eye_left, eye_right, mouth = np.array([200.0, 300.0]), np.array([300.0, 300.0]), np.array([250.0, 400.0])
    for index in (33, 160, 158, 133, 153, 144):
        points[index, :2] = eye_left
    for index in (362, 385, 387, 263, 373, 380):
        points[index, :2] = eye_right
    points[61, :2], points[291, :2] = mouth - [30.0, 0.0], mouth + [30.0, 0.0]
    half = max(2.0 * 100.0, 1.8 * 100.0)
    centre = np.array([250.0, 300.0 + 0.1 * 100.0])
    expected = [centre + [-half, -half], centre + [-half, half], centre + [half, half], centre + [half, -half]]
    np.testing.assert_allclose(face_quad(points), expected, atol=1e-9)
