"""The authors' image operations against independent computations (PIL, closed forms)."""
import math

import numpy as np
import pytest
import torch
from PIL import Image

from dualinv.eval import authors_protocol as ap


def _pil_bicubic_half(array: np.ndarray) -> np.ndarray:
    """PIL's antialiased bicubic (a = -0.5) on a symmetrically padded image: MATLAB's border rule."""
    pad = 8
    padded = np.pad(array, pad, mode="symmetric").astype(np.float32)
    height, width = padded.shape
    resized = Image.fromarray(padded, mode="F").resize((width // 2, height // 2), Image.BICUBIC)
    return np.asarray(resized)[pad // 2:-(pad // 2), pad // 2:-(pad // 2)]


def test_matlab_downscale_matches_pil_with_symmetric_border():
    rng = np.random.default_rng(0)
    array = rng.random((24, 32)).astype(np.float64)
    ours = ap.downscale_real_images(torch.from_numpy(array)[None, None], 2)[0, 0].numpy()
    expected = _pil_bicubic_half(array)
    assert ours.shape == (12, 16)
    np.testing.assert_allclose(ours, expected, atol=1e-5)


def test_matlab_downscale_keeps_constants_and_ramps():
    constant = torch.full((1, 3, 16, 16), 0.3, dtype=torch.float64)
    assert torch.allclose(ap.downscale_real_images(constant), constant[..., ::2, ::2])
    # a linear ramp x stays linear: output pixel j (0-based) samples input x = 2 j + 0.5, away from the border
    ramp = torch.arange(32, dtype=torch.float64).repeat(32, 1)[None, None]
    out = ap.downscale_real_images(ramp)[0, 0]
    interior = torch.arange(3, 13)
    assert torch.allclose(out[5, interior], 2 * interior.double() + 0.5, atol=1e-12)


def test_downscale_rejects_odd_sizes():
    with pytest.raises(ValueError, match="not divisible"):
        ap.downscale_real_images(torch.zeros(1, 3, 15, 16))


def test_reference_template_is_the_padded_square():
    points = ap.reference_points_112()
    assert points[0, 0].item() == pytest.approx(38.29459953)
    assert points[4, 1].item() == pytest.approx(92.20410156)


def _similarity(scale, angle_deg, tx, ty):
    a = math.radians(angle_deg)
    return torch.tensor([[scale * math.cos(a), -scale * math.sin(a), tx],
                         [scale * math.sin(a), scale * math.cos(a), ty]], dtype=torch.float64)


def test_similarity_recovers_a_known_transform():
    template = ap.reference_points_112()
    truth = _similarity(0.43, 17.0, -20.0, 31.0)  # photo landmarks -> template
    full = torch.eye(3, dtype=torch.float64)
    full[:2] = truth
    inverse = torch.linalg.inv(full)
    photo = torch.cat([template, torch.ones(5, 1, dtype=torch.float64)], 1) @ inverse[:2].T
    estimated = ap.similarity_from_points(photo, template)
    assert torch.allclose(estimated, truth, atol=1e-9)


def test_similarity_never_reflects():
    template = ap.reference_points_112()
    mirrored = template.clone()
    mirrored[:, 0] = 112 - mirrored[:, 0]
    matrix = ap.similarity_from_points(mirrored, template)
    assert torch.det(matrix[:, :2]) > 0


def test_warp_geometry_on_a_linear_image():
    """Bilinear sampling is exact on linear images: output (u, v) holds the x of its source point."""
    height, width = 260, 250  # every source point of the 112² output lies inside
    xs = torch.arange(width, dtype=torch.float64).repeat(height, 1)
    ys = torch.arange(height, dtype=torch.float64)[:, None].repeat(1, width)
    image = torch.stack([xs, ys])
    matrix = _similarity(0.6, -12.0, -30.0, -10.0)
    out = ap.warp_affine(image, matrix, 112)
    full = torch.eye(3, dtype=torch.float64)
    full[:2] = matrix
    inverse = torch.linalg.inv(full)
    for u, v in [(10, 20), (56, 56), (100, 90)]:
        source = inverse[:2] @ torch.tensor([u, v, 1.0], dtype=torch.float64)
        assert out[0, v, u].item() == pytest.approx(source[0].item(), abs=1e-9)
        assert out[1, v, u].item() == pytest.approx(source[1].item(), abs=1e-9)


def test_align_face_puts_landmarks_on_the_template():
    """A bright dot at each photo landmark lands on its template point in the 112² crop."""
    template = ap.reference_points_112()
    photo_points = template * 2.0 + torch.tensor([40.0, 25.0], dtype=torch.float64)
    image = torch.zeros(1, 320, 320, dtype=torch.float64)
    for x, y in photo_points.round().long().tolist():
        image[0, y - 1:y + 2, x - 1:x + 2] = 1.0
    crop = ap.align_face(image, photo_points.round())
    for x, y in template.tolist():
        assert crop[0, round(y), round(x)].item() > 0.5


def test_authors_mse_is_on_unit_range():
    a = torch.zeros(2, 3, 4, 4)
    b = torch.full((2, 3, 4, 4), 0.5)
    assert torch.allclose(ap.authors_mse(a, b), torch.full((2,), 0.25, dtype=torch.float64))


def test_lpips_input_is_the_unit_range_without_rescaling():
    images = torch.tensor([-1.0, 0.0, 1.0])
    assert torch.equal(ap.authors_lpips_input(images), torch.tensor([0.0, 0.5, 1.0]))


def test_id_misses_are_counted_and_left_out_of_the_mean():
    assert ap.id_mean_with_misses([0.5, None, 0.7, None]) == (pytest.approx(0.6), 2)
    assert ap.id_mean_with_misses([None]) == (None, 1)


class _FixedLandmarks:
    """A detector stand-in: the given points, or no face."""

    def __init__(self, points):
        self.points = points
        self.seen = []

    def detect(self, image):
        self.seen.append(image.shape)
        return self.points


def test_authors_id_aligns_both_images_and_reports_a_miss():
    template = ap.reference_points_112()
    seen_crops = []

    def network(crops):
        seen_crops.append(crops)
        return torch.nn.functional.normalize(crops.flatten(1)[:, :8], dim=1)

    image = torch.rand(3, 256, 256)
    similarity = ap.authors_id_similarity(image, image, network, _FixedLandmarks(template * 2))
    assert similarity == pytest.approx(1.0)
    assert [tuple(c.shape) for c in seen_crops] == [(1, 3, 112, 112)] * 2
    assert seen_crops[0].min() >= -1 and seen_crops[0].max() <= 1
    assert ap.authors_id_similarity(image, image, network, _FixedLandmarks(None)) is None


@pytest.mark.slow
def test_mtcnn_finds_no_face_in_noise():
    """facenet-pytorch's packaged MTCNN runs offline; noise has no face, which is a miss."""
    generator = torch.Generator().manual_seed(0)
    noise = torch.rand(3, 256, 256, generator=generator)
    assert ap.FaceLandmarks().detect(noise) is None
