"""Small seeded heads for tests that render: the tiny generator with a 2x super-resolution head.

128² output from a 16² neural rendering (as the training tests' ``tiny128``): a render takes about
a second on a 2-core CPU, where the tiny generator's 512² SR takes several.
"""

from __future__ import annotations

import torch

from dualinv.edit import HeadCode
from dualinv.panohead import PanoHeadGenerator
from dualinv.standin import standin_generator

FRONT_CAMERA = torch.tensor([[1, 0, 0, 0, 0, -1, 0, 0, 0, 0, -1, 2.7, 0, 0, 0, 1,
                              4.2647, 0, 0.5, 0, 4.2647, 0.5, 0, 0, 1]], dtype=torch.float32)
"""Spec panohead.md §6.1's frontal camera at radius 2.7."""


def tiny128_generator(seed: int = 0) -> PanoHeadGenerator:
    """The mini stand-in generator (tiny fixture architecture, 128² output), seeded and frozen."""
    return standin_generator("mini", seed)


@torch.no_grad()
def random_head(generator: PanoHeadGenerator, seed: int, camera: torch.Tensor = FRONT_CAMERA) -> HeadCode:
    z = torch.randn(1, generator.z_dim, generator=torch.Generator().manual_seed(seed))
    ws = generator.mapping(z, camera, truncation_psi=0.7)
    return HeadCode(generator.synthesize_trigrid(ws, noise_mode="const"), ws, camera)
