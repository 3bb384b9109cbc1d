"""FaceBoxes port: anchor layout and the +1-pixel NMS of 3DDFA_V2's py_cpu_nms (the detector itself
is compared with the official one by benchmarks/alignment_vs_official.py --faceboxes)."""

from __future__ import annotations

import numpy as np
import pytest

from dualinv.data.faceboxes import FaceBoxes, FaceBoxesNet, anchors, nms, seeded_faceboxes
from dualinv.errors import MissingWeightsError


def test_anchor_count_matches_the_network_output():
    # stride 32: 21 anchors per cell (16 + 4 + 1), strides 64 and 128: one each
    assert anchors(512, 512).shape == (16 * 16 * 21 + 8 * 8 + 4 * 4, 4)
    import torch

    loc, score = FaceBoxesNet().eval()(torch.zeros(1, 3, 512, 512))
    assert loc.shape == (1, 5456, 4) and score.shape == (1, 5456)
    first = anchors(512, 512)[:16]
    assert np.allclose(first[:4, 0] * 512, [0, 8, 16, 24]) and np.allclose(first[:, 2] * 512, 32)


def test_nms_uses_plus_one_areas():
    boxes = np.array([[0, 0, 9, 9], [5, 0, 14, 9], [30, 30, 40, 40]], dtype=np.float32)
    scores = np.array([0.9, 0.8, 0.7], dtype=np.float32)
    # overlap 5x10 = 50 over 100 + 100 - 50: IoU 1/3 > 0.3 with +1 areas (0.286 without)
    assert nms(boxes, scores, 0.3) == [0, 2]
    assert nms(boxes, scores, 0.34) == [0, 1, 2]


def test_missing_detector_file_names_it(tmp_path):
    with pytest.raises(MissingWeightsError, match="FaceBoxesProd.pth"):
        FaceBoxes.from_file(tmp_path / "absent.pth")


def test_seeded_detector_runs_on_a_square():
    boxes = FaceBoxes(seeded_faceboxes(0))(np.zeros((512, 512, 3), np.uint8))
    assert all(len(box) == 5 and box[4] > 0.5 for box in boxes)
