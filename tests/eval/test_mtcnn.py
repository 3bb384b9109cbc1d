"""dualinv.eval.mtcnn against facenet-pytorch 2.5.3 and torchvision (both imported by these tests only).

The reference runs the same weights on the same 8-bit images; our cascade reproduces its float
operations and memory layouts, so boxes, probabilities and landmarks come out bit-identical on these
photos. The assertions allow 1e-3 px and 1e-6 in probability, far below anything that moves an
aligned face, so that a different oneDNN build rounding a convolution by an ulp does not fail them.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

import matplotlib.cbook
import matplotlib.image
import numpy as np
import pytest
import torch
import torch.nn.functional as F
import torchvision
from facenet_pytorch import MTCNN
from facenet_pytorch.models.utils.detect_face import batched_nms_numpy
from skimage import data

from dualinv.eval.authors_protocol import AUTHORS_MTCNN_THRESHOLDS, FaceLandmarks
from dualinv.eval.mtcnn import ONet, PNet, RNet, _nms_as_batched, load_mtcnn, nms, nms_min
from dualinv.weights import mtcnn_weights_path
from tests.conftest import REPO_ROOT

PIXEL_TOLERANCE = 1e-3
PROBABILITY_TOLERANCE = 1e-6
FACENET_DEFAULT_THRESHOLDS = (0.6, 0.7, 0.7)


def _grace_hopper() -> np.ndarray:
    with matplotlib.cbook.get_sample_data("grace_hopper.jpg") as handle:
        return np.array(matplotlib.image.imread(handle, format="jpg"))  # a writable copy


def _halved(image: np.ndarray) -> np.ndarray:
    """2× area downscale, rounded back to 8 bits, as an HWC array."""
    pixels = torch.from_numpy(image).permute(2, 0, 1)[None].float()
    return F.avg_pool2d(pixels, 2)[0].round().to(torch.uint8).permute(1, 2, 0).contiguous().numpy()


PHOTOS = {"astronaut": data.astronaut, "grace_hopper": _grace_hopper}
VARIANTS = {"full": lambda image: image, "halved": _halved,
            "flipped": lambda image: np.ascontiguousarray(image[:, ::-1])}


def _photo(name: str, variant: str) -> np.ndarray:
    return VARIANTS[variant](PHOTOS[name]())


@pytest.fixture(scope="module")
def detectors():
    """(ours, facenet-pytorch's) per threshold triple, built once."""
    return {thresholds: (load_mtcnn(thresholds), MTCNN(thresholds=list(thresholds), select_largest=False))
            for thresholds in (AUTHORS_MTCNN_THRESHOLDS, FACENET_DEFAULT_THRESHOLDS)}


@pytest.mark.parametrize("net_class, name", [(PNet, "pnet"), (RNet, "rnet"), (ONet, "onet")])
def test_state_dict_names_and_shapes_are_the_shipped_files(net_class, name):
    shipped = torch.load(mtcnn_weights_path(name), map_location="cpu", weights_only=True)
    ours = net_class().state_dict()
    assert list(ours) == list(shipped)
    assert {key: tuple(value.shape) for key, value in ours.items()} == {
        key: tuple(value.shape) for key, value in shipped.items()}


@pytest.mark.parametrize("thresholds, name, variant", [
    *[(AUTHORS_MTCNN_THRESHOLDS, name, variant) for name in PHOTOS for variant in VARIANTS],
    *[(FACENET_DEFAULT_THRESHOLDS, name, "full") for name in PHOTOS],
], ids=lambda value: "-".join(map(str, value)) if isinstance(value, tuple) else str(value))
def test_detections_equal_facenet_pytorch(detectors, thresholds, name, variant):
    ours, reference = detectors[thresholds]
    image = _photo(name, variant)
    boxes, probabilities, landmarks = reference.detect(image, landmarks=True)
    found = ours.detect(torch.from_numpy(image).permute(2, 0, 1))
    assert boxes is not None and found.boxes.shape[0] == len(boxes) >= 1
    # select_largest=False keeps facenet-pytorch's own order: that of its last NMS, as ours
    torch.testing.assert_close(found.boxes, torch.from_numpy(np.asarray(boxes, np.float32)),
                               atol=PIXEL_TOLERANCE, rtol=0)
    torch.testing.assert_close(found.probabilities, torch.from_numpy(np.asarray(probabilities, np.float32)),
                               atol=PROBABILITY_TOLERANCE, rtol=0)
    torch.testing.assert_close(found.landmarks, torch.from_numpy(np.asarray(landmarks, np.float32)),
                               atol=PIXEL_TOLERANCE, rtol=0)


def test_uniform_grey_has_no_face_in_either(detectors):
    grey = np.full((256, 256, 3), 128, dtype=np.uint8)
    ours, reference = detectors[AUTHORS_MTCNN_THRESHOLDS]
    assert reference.detect(grey, landmarks=True)[0] is None
    assert ours.detect(torch.from_numpy(grey).permute(2, 0, 1)).boxes.shape == (0, 4)
    assert FaceLandmarks().detect(torch.full((3, 256, 256), 128 / 255)) is None


def test_face_landmarks_are_facenet_pytorchs_most_confident_face(detectors):
    """The interface FaceLandmarks had on facenet-pytorch: [0, 1] image in, float64 (5, 2) out."""
    image = _photo("astronaut", "halved")
    _, probabilities, landmarks = detectors[AUTHORS_MTCNN_THRESHOLDS][1].detect(image, landmarks=True)
    expected = torch.from_numpy(np.asarray(landmarks[int(np.argmax(probabilities))], np.float64))
    points = FaceLandmarks().detect(torch.from_numpy(image).permute(2, 0, 1).double() / 255)
    assert points.dtype == torch.float64 and points.shape == (5, 2)
    torch.testing.assert_close(points, expected, atol=PIXEL_TOLERANCE, rtol=0)


def _random_boxes(count: int, seed: int, tied: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """Crowded boxes in a 100 px square; ``tied`` rounds the scores to 20 values (many equal)."""
    generator = torch.Generator().manual_seed(seed)
    corners = torch.rand(count, 2, generator=generator) * 100
    sides = 1 + torch.rand(count, 2, generator=generator) * 40
    scores = torch.rand(count, generator=generator)
    return torch.cat([corners, corners + sides], dim=1), (scores * 20).round() / 20 if tied else scores


@pytest.mark.parametrize("count", [0, 1, 50, 600])
@pytest.mark.parametrize("tied", [False, True])
@pytest.mark.parametrize("threshold", [0.3, 0.5, 0.7])
def test_nms_equals_torchvision(count, tied, threshold):
    boxes, scores = _random_boxes(count, seed=count, tied=tied)
    assert torch.equal(nms(boxes, scores, threshold), torchvision.ops.nms(boxes, scores, threshold))


@pytest.mark.parametrize("tied", [False, True])
def test_one_image_nms_equals_torchvision_batched_nms_past_its_resort(tied):
    """Above 1000 boxes torchvision's batched_nms re-sorts its result; ties then come out in that order."""
    boxes, scores = _random_boxes(1500, seed=1, tied=tied)
    expected = torchvision.ops.batched_nms(boxes, scores, torch.zeros(1500, dtype=torch.long), 0.5)
    assert torch.equal(_nms_as_batched(boxes, scores, 0.5), expected)


@pytest.mark.parametrize("count, tied", [(1, False), (12, True), (300, False), (300, True)])
def test_min_nms_equals_facenet_pytorchs_numpy_one(count, tied):
    boxes, scores = _random_boxes(count, seed=count + 7, tied=tied)
    expected = batched_nms_numpy(boxes, scores, torch.zeros(count, dtype=torch.long), 0.7, "Min")
    assert torch.equal(nms_min(boxes, scores, 0.7), expected)


def test_evaluation_jobs_import_neither_torchvision_nor_facenet_pytorch():
    script = textwrap.dedent("""
        import sys
        import dualinv.eval.evaluate
        from dualinv.eval.authors_protocol import FaceLandmarks
        FaceLandmarks()
        print(sorted(name for name in ("torchvision", "facenet_pytorch") if name in sys.modules))
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=REPO_ROOT, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
