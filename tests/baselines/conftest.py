"""Tiny generator, LPIPS and targets shared by the baseline tests."""

from __future__ import annotations

import pytest
import torch

from dualinv.camera import canonical_cameras
from dualinv.losses import LPIPSLoss
from dualinv.panohead import PanoHeadGenerator
from tests.standin_heads import tiny128_generator  # noqa: F401 (re-exported for the tests here)


@pytest.fixture(scope="module")
def generator() -> PanoHeadGenerator:
    return tiny128_generator()


@pytest.fixture(scope="module")
def lpips_vgg() -> LPIPSLoss:
    return LPIPSLoss("vgg", seed=1)


@pytest.fixture(scope="module")
def target(generator):
    """Raw renders [2,3,16,16] of two known codes at the front and +30° cameras, with their ws and cameras."""
    cameras = torch.cat([canonical_cameras()["front"], canonical_cameras()["yaw+30"]])
    z = torch.randn(2, generator.z_dim, generator=torch.Generator().manual_seed(5))
    with torch.no_grad():
        ws = generator.mapping(z, cameras)
        images = generator.synthesis(ws, cameras, noise_mode="const",
                                     generator=torch.Generator().manual_seed(0))["image_raw"]
    return images.clamp(-1, 1), cameras, ws
