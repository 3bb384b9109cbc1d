"""Seeded stand-in networks: deterministic random weights where no pretrained file is configured.

Every ``nn.Module`` initialises its parameters from PyTorch's global RNG. To get the same stand-in
weights for the same seed without touching the caller's RNG stream, modules are constructed inside
:func:`torch.random.fork_rng` after seeding the forked stream; the global state is restored on
exit (offline-weights.md, "What the project should do" 2).
"""

from __future__ import annotations

from typing import Callable, TypeVar

import torch

ModuleT = TypeVar("ModuleT", bound=torch.nn.Module)


def build_seeded(factory: Callable[[], ModuleT], seed: int) -> ModuleT:
    """Call ``factory()`` with the CPU RNG seeded by ``seed``; the caller's RNG state is untouched."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(seed))
        return factory()
