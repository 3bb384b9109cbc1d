"""Baselines of Tables 1 and 2 as :class:`~dualinv.models.inversion.Inverter` s (paper §4.2).

``build_inverter(name, generator, ...)`` gives an object whose ``invert(images [B,3,H,W] in
[-1, 1], cameras [B,25])`` returns an :class:`~dualinv.models.inversion.Inversion` (codes,
tri-grid, the generator(s) to render with, seconds per image). Optimisation baselines (``w_optim``,
``pti``) need an LPIPS loss and take their settings from the study config's ``baselines`` section;
encoder baselines (``psp``, ``e4e``, ``triplanenet_v2``, ``goae``) need their trained encoder. The
names are the experiment registry's (``dualinv.models.experiments``).
"""

from __future__ import annotations

from torch import nn

from dualinv.baselines.pti import PivotalTuning
from dualinv.baselines.training_policies import ENCODER_BASELINES
from dualinv.baselines.w_optim import WPlusOptimiser
from dualinv.config import BaselinesConfig
from dualinv.errors import ConfigError
from dualinv.models.inversion import EncoderInverter, Inverter

OPTIMISATION_BASELINES: tuple[str, ...] = ("w_optim", "pti")
"""Per-image optimisation baselines (``baselines.w_optim`` / ``baselines.pti`` of the study config)."""


def build_inverter(name: str, generator: nn.Module, *, baselines: BaselinesConfig | None = None,
                   lpips_loss: nn.Module | None = None, encoder: nn.Module | None = None,
                   encoder_resolution: int = 256, stand_in: bool = False, progress: bool = False,
                   seed: int = 0) -> Inverter:
    """The baseline ``name`` inverting into ``generator`` (frozen; PTI tunes copies of it).

    ``baselines`` defaults to the published settings (``BaselinesConfig()``); ``stand_in`` marks
    results of seeded networks."""
    baselines = BaselinesConfig() if baselines is None else baselines
    if name in OPTIMISATION_BASELINES:
        if lpips_loss is None:
            raise ConfigError(f"baseline {name!r} needs an LPIPS loss (dualinv.losses.LPIPSLoss('vgg', ...))")
        if name == "w_optim":
            return WPlusOptimiser(generator, lpips_loss, baselines.w_optim, progress=progress, stand_in=stand_in)
        return PivotalTuning(generator, lpips_loss, baselines.pti, baselines.w_optim, progress=progress,
                             stand_in=stand_in)
    if name in ENCODER_BASELINES:
        if encoder is None:
            raise ConfigError(f"baseline {name!r} needs its trained encoder: train it with "
                              f"`dualinv train {name}` and load the checkpoint")
        return EncoderInverter(encoder, generator, encoder_resolution, stand_in=stand_in, seed=seed)
    raise ConfigError(f"unknown baseline {name!r}; choose one of: "
                      f"{', '.join([*OPTIMISATION_BASELINES, *ENCODER_BASELINES])}")


__all__ = ["ENCODER_BASELINES", "OPTIMISATION_BASELINES", "PivotalTuning", "WPlusOptimiser", "build_inverter"]
