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
