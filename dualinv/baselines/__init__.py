"""Baselines of Tables 1 and 2 behind one :class:`Inverter` protocol (paper §4.2).

``build_inverter(name, generator, ...)`` gives an object whose ``invert(images [B,3,H,W] in
[-1, 1], cameras [B,25])`` returns an :class:`InversionResult` (codes, tri-grid, the generator(s)
to render with, seconds per image). Optimisation baselines (``w_optim``, ``pti``) need an LPIPS
loss; encoder baselines (``psp``, ``e4e``, ``triplanenet_v2``, ``goae``) need their trained encoder.
The names are the experiment registry's (``dualinv.training.experiments``).
"""

from __future__ import annotations

from typing import Protocol

import torch
from torch import nn

from dualinv.baselines.encoder_baselines import EncoderInverter, TrainedEncoder
from dualinv.baselines.pti import PivotalTuning, PTIConfig
from dualinv.baselines.result import InversionResult
from dualinv.baselines.w_optim import WOptimConfig, WPlusOptimiser
from dualinv.errors import ConfigError


class Inverter(Protocol):
    def invert(self, images: torch.Tensor, cameras: torch.Tensor) -> InversionResult: ...


OPTIMISATION_BASELINES: dict[str, tuple[type, type]] = {
    "w_optim": (WPlusOptimiser, WOptimConfig),
    "pti": (PivotalTuning, PTIConfig),
}
"""Per-image optimisation baselines: name -> (inverter class, config class)."""
ENCODER_BASELINES: tuple[str, ...] = ("psp", "e4e", "triplanenet_v2", "goae")
"""Trained-encoder baselines; their encoders come from training checkpoints."""


def build_inverter(name: str, generator: nn.Module, *, lpips_loss: nn.Module | None = None,
                   config: WOptimConfig | PTIConfig | None = None, encoder: TrainedEncoder | None = None,
                   encoder_resolution: int = 256) -> Inverter:
    """The baseline ``name`` inverting into ``generator`` (frozen; PTI tunes copies of it)."""
    if name in OPTIMISATION_BASELINES:
        cls, config_cls = OPTIMISATION_BASELINES[name]
        if lpips_loss is None:
            raise ConfigError(f"baseline {name!r} needs an LPIPS loss (dualinv.losses.LPIPSLoss('vgg', ...))")
        config = config_cls() if config is None else config
        if not isinstance(config, config_cls):
            raise ConfigError(f"baseline {name!r} takes a {config_cls.__name__}, got {type(config).__name__}")
        return cls(generator, lpips_loss, config)
    if name in ENCODER_BASELINES:
        if encoder is None:
            raise ConfigError(f"baseline {name!r} needs its trained encoder: train it with "
                              f"`dualinv train {name}` and load the checkpoint")
        return EncoderInverter(encoder, generator, encoder_resolution)
    raise ConfigError(f"unknown baseline {name!r}; choose one of: "
                      f"{', '.join([*OPTIMISATION_BASELINES, *ENCODER_BASELINES])}")


__all__ = [
    "ENCODER_BASELINES",
    "EncoderInverter",
    "InversionResult",
    "Inverter",
    "OPTIMISATION_BASELINES",
    "PTIConfig",
    "PivotalTuning",
    "WOptimConfig",
    "WPlusOptimiser",
    "build_inverter",
]
