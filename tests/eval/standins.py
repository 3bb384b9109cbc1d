"""Small stand-ins shared by the runner, evaluate_method and figure tests: the tiny generator with the
2x super-resolution head (128² output, fast on CPU) and a prepared test set written to disk."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from dualinv.camera import camera_at_yaw
from dualinv.data.dataset import write_labels
from dualinv.fileio import save_image
from tests.standin_heads import tiny128_generator  # noqa: F401 (re-exported for the tests here)


def write_test_set(root: Path, names: Sequence[str], yaws_deg: Sequence[float] | None = None, side: int = 64,
                   seed: int = 0) -> Path:
    """A prepared dataset: random smooth images at ``root/<name>`` and their LookAt cameras in dataset.json."""
    generator = torch.Generator().manual_seed(seed)
    yaws = list(yaws_deg) if yaws_deg is not None else [0.0] * len(names)
    labels = {}
    for name, yaw in zip(names, yaws):
        coarse = torch.rand(3, 8, 8, generator=generator) * 2 - 1
        image = torch.nn.functional.interpolate(coarse[None], size=(side, side), mode="bilinear",
                                                align_corners=False)[0]
        save_image(root / name, image)
        labels[name] = camera_at_yaw(float(yaw))[0].numpy().astype(np.float64)
    write_labels(root, labels)
    return root


class TemplateLandmarks:
    """A face detector for tests: the MTCNN template's five points scaled to the image, or ``None`` (a miss)
    for the images ``misses(image)`` picks; MTCNN itself runs in tests/eval/test_authors_protocol.py."""

    def __init__(self, misses=lambda image: False):
        self.misses = misses

    def detect(self, image):
        from dualinv.eval.authors_protocol import reference_points_112

        if self.misses(image):
            return None
        return reference_points_112() * (image.shape[-1] / 112)


def tiny_metric_suite(protocol: str = "authors", landmarks=None, seed: int = 0):
    """Both metric protocols with seeded tiny stand-ins (no files), as the mini preset builds them."""
    from types import SimpleNamespace

    from dualinv.eval.protocols import build_metric_suite

    weights = SimpleNamespace(lpips_alex=None, ir_se50=None, curricularface=None, inception=None)
    return build_metric_suite(weights, protocol=protocol, seed=seed, small_stand_ins=True,
                              landmarks=landmarks if landmarks is not None else TemplateLandmarks())
