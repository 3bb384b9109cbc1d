"""Seeded stand-in networks: deterministic random weights where no pretrained file is configured.

Every ``nn.Module`` initialises its parameters from PyTorch's global RNG. To get the same stand-in
weights for the same seed without touching the caller's RNG stream, modules are constructed inside
:func:`torch.random.fork_rng` after seeding the forked stream; the global state is restored on
exit (offline-weights.md, "What the project should do" 2). :func:`standin_generator` builds a
seeded PanoHead this way (the generator of the mini preset and of synthetic data).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable, TypeVar

import torch

from dualinv.errors import ConfigError
from dualinv.panohead.config import PanoHeadConfig
from dualinv.panohead.generator import PanoHeadGenerator

if TYPE_CHECKING:
    from dualinv.panohead.config import PanoHeadConfig
    from dualinv.panohead.generator import PanoHeadGenerator

ModuleT = TypeVar("ModuleT", bound=torch.nn.Module)


def build_seeded(factory: Callable[[], ModuleT], seed: int) -> ModuleT:
    """Call ``factory()`` with the CPU RNG seeded by ``seed``; the caller's RNG state is untouched."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(seed))
        return factory()


STANDIN_GENERATORS = ("mini", "tiny", "released")
"""Architectures :func:`standin_generator` builds: ``mini`` (the tiny fixture generator with the 128²
``SuperresolutionHybrid2X``: fast on CPU), ``tiny`` (exactly ``PanoHeadConfig.tiny()``, 512²) and
``released`` (the full architecture; only useful on a GPU)."""


def standin_generator_config(config_name: str = "mini") -> "PanoHeadConfig":
    """The :class:`~dualinv.panohead.PanoHeadConfig` of a stand-in generator (see :data:`STANDIN_GENERATORS`).

    ``mini`` keeps ``tiny()``'s tri-grid (32², depth 3), 12 + 12 samples per ray and 16² neural
    rendering, and swaps the 512² super-resolution for the 2× one, whose output is 128² (specs/panohead.md §1.2).
    """

    builders = {"mini": PanoHeadConfig.mini, "tiny": PanoHeadConfig.tiny, "released": PanoHeadConfig.released}
    if config_name not in builders:
        raise ConfigError(f"stand-in generator {config_name!r} is unknown; use one of {list(STANDIN_GENERATORS)}")
    return builders[config_name]()


def standin_generator(config_name: str = "mini", seed: int = 0) -> "PanoHeadGenerator":
    """A PanoHead generator with seeded random weights, in eval mode and frozen (offline-weights.md).

    Its renders are noise-like, not heads: good for exercising the pipeline end to end and for
    synthetic data whose ground truth is exact, never for judging image quality.
    """

    config = standin_generator_config(config_name)
    return build_seeded(lambda: PanoHeadGenerator(config), seed).eval().requires_grad_(False)
