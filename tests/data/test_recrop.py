"""PanoHead's recrop (recentring, rejections, label) against the official ``recrop_images.main``,
and the 68-point index map of the face-mesh fallback."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from dualinv.data import align
from dualinv.data.landmarks import MESH_TO_68, landmarks_from_mesh
from dualinv.data.recrop import Quad, check, quad_from_landmarks, recentre, recrop
from dualinv.data.tddfa import Bfm, ParamWhitening, Tddfa, seeded_regressor
from dualinv.errors import UnusableImageError
from tools.make_tddfa_golden import BFM_SEED, REGRESSOR_SEED, WHITENING_SEED, golden_image

GOLDEN = Path(__file__).parent / "fixtures" / "tddfa_golden.npz"


@pytest.fixture(scope="module")
def golden() -> dict[str, np.ndarray]:
    return dict(np.load(GOLDEN))


@pytest.fixture(scope="module")
def tddfa() -> Tddfa:
    return Tddfa(seeded_regressor(0.5, REGRESSOR_SEED), ParamWhitening.seeded(WHITENING_SEED))


def test_recrop_matches_official_main(golden, tddfa):
    photo_rgb = golden_image(563, 563)[..., ::-1]  # the official script reads the BGR file with OpenCV
    result = recrop(photo_rgb, golden["recrop_landmarks"], tddfa, Bfm.seeded(BFM_SEED))
    assert np.abs(result.quad - golden["recrop_quad"]).max() < 1e-2  # photo pixels
    assert np.abs(result.label - golden["recrop_label"]).max() < 2e-6  # the label file keeps 6 decimals


def test_quad_matches_align_quad(golden):
    """The 68-point quad equals align.face_quad of the mesh points it was mapped from."""
    mesh = np.zeros((478, 3))
    mesh[list(MESH_TO_68), :2] = golden["recrop_landmarks"]
    assert np.allclose(quad_from_landmarks(landmarks_from_mesh(mesh)).corners(), align.face_quad(mesh), atol=1e-3)


def test_recentring_moves_and_scales_the_quad(tddfa):
    """A camera put at the square's centre with the landmark scale leaves the quad alone; moving it
    moves the quad centre along the quad's axes by the normalised offset."""
    quad = Quad(np.array([300.0, 320.0]), np.array([200.0, 10.0]), np.array([-10.0, 200.0]))
    square = np.zeros((512, 512, 3), np.uint8)
    roi = (100.0, 100.0, 412.0, 412.0)
    bfm = Bfm(np.zeros(3 * 68, np.float32), np.zeros((204, 40), np.float32), np.zeros((204, 10), np.float32),
              np.arange(204), stand_in=True)

    class FixedCamera(Tddfa):
        def __init__(self, params):
            self._params = params

        def params(self, image, roi_box):
            return self._params

    side = roi[2] - roi[0]
    scale_relative = 511 / side / 2000  # -> recentring scale exactly 1
    params = np.zeros(62, np.float32)
    centre_crop = ((255.5 - roi[0]) * 120 / side + 1, 120 - (255.5 - roi[1]) * 120 / side)
    params[:12] = [scale_relative, 0, 0, centre_crop[0], 0, scale_relative, 0, centre_crop[1], 0, 0, scale_relative, 0]
    still = recentre(FixedCamera(params), bfm, square, roi, quad)
    assert np.allclose(still.centre, (0, 0), atol=1e-5) and np.isclose(still.scale, 1.0, atol=1e-5)
    assert np.allclose(still.quad.corners(), quad.corners(), atol=1e-3)
    moved = params.copy()
    moved[3] += 0.25 * 255.5 * 120 / side  # a quarter of the half-square to the right
    result = recentre(FixedCamera(moved), bfm, square, roi, quad)
    assert np.allclose(result.centre, (0.25, 0), atol=1e-5)
    assert np.allclose(result.quad.centre, quad.centre + 0.25 * quad.x_axis, atol=1e-3)


def _recentring(**changes):
    from dualinv.data.recrop import Recentring

    quad = Quad(np.array([300.0, 300.0]), np.array([200.0, 0.0]), np.array([0.0, 200.0]))
    values = dict(params=np.zeros(62), roi_box=(0, 0, 1, 1), rotation=np.eye(3), angles=(0.0, 0.0, 0.0), scale=1.0,
                  centre=(0.0, 0.0), quad=quad)
    values.update(changes)
    return Recentring(**values)


@pytest.mark.parametrize("changes,reason", [
    (dict(scale=1.4), "alignment_failed"),
    (dict(scale=0.6), "alignment_failed"),
    (dict(angles=(95.0, 0.0, 0.0)), "pose_out_of_range"),
    (dict(angles=(0.0, 0.0, 55.0)), "pose_out_of_range"),
    (dict(centre=(0.0, -1.2)), "alignment_failed"),
    (dict(quad=Quad(np.zeros(2), np.array([100.0, 0.0]), np.array([0.0, 100.0]))), "too_small"),
])
def test_rejections_name_their_reason(changes, reason):
    check(_recentring())  # in range: no error
    with pytest.raises(UnusableImageError) as caught:
        check(_recentring(**changes), "p.jpg")
    assert caught.value.reason == reason and str(caught.value).startswith("p.jpg")


def test_a_stand_in_that_cannot_align_rejects(golden):
    """A regressor whose scale is far off (whitening mean scaled ×3) is a reject, not a bad crop."""
    whitening = ParamWhitening.seeded(WHITENING_SEED)
    mean = whitening.mean.copy()
    mean[[0, 5, 10]] *= 3
    tddfa = Tddfa(seeded_regressor(0.5, REGRESSOR_SEED), ParamWhitening(mean, whitening.std))
    with pytest.raises(UnusableImageError) as caught:
        recrop(golden_image(563, 563), golden["recrop_landmarks"], tddfa, Bfm.seeded(BFM_SEED))
    assert caught.value.reason == "alignment_failed"


def test_index_map_layout():
    assert len(MESH_TO_68) == 68 and len(set(MESH_TO_68)) == 68 and max(MESH_TO_68) < 468
    assert MESH_TO_68[36:42] == align.EYE_IMAGE_LEFT and MESH_TO_68[42:48] == align.EYE_IMAGE_RIGHT
    assert (MESH_TO_68[48], MESH_TO_68[54]) == align.MOUTH_CORNERS
    assert MESH_TO_68[8] == 152 and MESH_TO_68[30] == 4  # chin, nose tip


@pytest.mark.slow
def test_index_map_follows_dlib_order_on_a_face():
    """On a real face the mapped points lie where dlib's do: jaw from image left to right through the
    chin at the bottom, brows above eyes above nose tip above mouth, left-to-right eye/lip order."""
    from skimage import data

    from dualinv.data.pose import FaceFinder, FaceFinderConfig

    with FaceFinder(FaceFinderConfig()) as faces:
        face = faces.largest_face(data.astronaut())
    points = landmarks_from_mesh(face.mesh_points)
    x, y = points[:, 0], points[:, 1]
    assert x[0] < x[8] < x[16] and y[8] == y[:17].max()
    assert y[17:27].max() < y[36:48].min() and y[36:48].max() < y[30] < y[48:68].min()
    assert x[36] < x[39] < x[42] < x[45] and x[48] < x[51] < x[54] and x[31] < x[33] < x[35]
    assert np.all(np.diff(y[27:31]) > 0)
