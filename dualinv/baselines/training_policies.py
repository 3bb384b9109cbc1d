"""Per-baseline training policies: what the shared training loop does differently for each baseline.

The loop (``dualinv.training.train_segment``) calls, around its usual encoder step,
``policy.before_step(encoder, step)`` (progressive stages) and adds
``policy.extra_terms(ws, step, latent_discriminator)`` to the encoder objective. Every schedule is
a pure function of the step, so resume stays exact. A policy carries its baseline's section of the
study config (``baselines.psp`` / ``.e4e`` / ``.triplanenet_v2`` / ``.goae``, dualinv.config): the
published recipes are those sections' defaults (encoders-baselines.md §1.5, §2, §3.1, §3.2).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from dualinv.config import BaselinesConfig, E4ESettings, GOAESettings, PSPSettings, TriPlaneNetSettings
from dualinv.encoders.e4e import progressive_stage
from dualinv.encoders.goae import goae_stage
from dualinv.errors import ConfigError
from dualinv.losses.e4e import active_codes, delta_regularisation, latent_encoder_adversarial_loss

ENCODER_BASELINES: tuple[str, ...] = ("psp", "e4e", "triplanenet_v2", "goae")
"""Trained-encoder baselines (their sections of ``baselines:`` in the study config)."""
Recipe = PSPSettings | E4ESettings | TriPlaneNetSettings | GOAESettings


@dataclass(frozen=True)
class BaselinePolicy:
    """A baseline's recipe (its study-config section) and the generator's code count its stages cap at."""

    name: str
    """Registry name: ``psp``, ``e4e``, ``triplanenet_v2`` or ``goae``."""
    recipe: Recipe
    """Its section of ``baselines:`` (reconstruction weights, schedules, e4e's latent GAN)."""
    num_ws: int
    """Codes of the generator (e4e's last delta is ``num_ws - 1``)."""

    @property
    def e4e(self) -> E4ESettings | None:
        return self.recipe if isinstance(self.recipe, E4ESettings) else None

    @property
    def goae(self) -> GOAESettings | None:
        return self.recipe if isinstance(self.recipe, GOAESettings) else None

    @property
    def triplanenet(self) -> TriPlaneNetSettings | None:
        return self.recipe if isinstance(self.recipe, TriPlaneNetSettings) else None

    def stage(self, step: int) -> int | None:
        """The encoder's progressive stage at ``step`` (e4e deltas, GOAE groups), or None."""
        if self.e4e is not None:
            return progressive_stage(step, self.e4e, self.num_ws)
        if self.goae is not None:
            return goae_stage(step, self.goae)
        return None

    def before_step(self, encoder: nn.Module, step: int) -> None:
        stage = self.stage(step)
        if stage is not None:
            encoder.set_stage(stage)

    def extra_terms(self, ws: torch.Tensor, step: int,
                    latent_discriminator: nn.Module | None = None) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """e4e's weighted delta regularisation and latent adversarial term; zero for the others."""
        zero = ws.new_zeros(())
        recipe = self.e4e
        if recipe is None:
            return zero, {}
        stage = self.stage(step)
        terms = {"loss_delta": delta_regularisation(ws, stage, recipe.delta_norm_p), "loss_w_adv": zero}
        if latent_discriminator is not None:
            terms["loss_w_adv"] = latent_encoder_adversarial_loss(latent_discriminator(active_codes(ws, stage)), stage)
        return (recipe.delta_norm_lambda * terms["loss_delta"]
                + recipe.w_discriminator_lambda * terms["loss_w_adv"]), terms


def triplanenet_trains(recipe: TriPlaneNetSettings, step: int) -> dict[str, bool]:
    """TriPlaneNet v2 phases (§3.1): which parts take an optimiser step at ``step`` (W+ alone, then W+
    and F with separate Ranger optimisers, then F alone). Its image discriminator, which joins at
    ``--add_discriminator`` 600k, beyond the paper's 500k-step runs, is not implemented."""
    return {"w_plus": step < recipe.stop_psp, "feature_stage": step >= recipe.add_triplanenet}


def baseline_policy(name: str, baselines: BaselinesConfig, num_ws: int) -> BaselinePolicy:
    """The training policy of encoder baseline ``name`` with the study's ``baselines`` section."""
    if name not in ENCODER_BASELINES:
        raise ConfigError(f"no training policy for baseline {name!r}; known: {list(ENCODER_BASELINES)}")
    return BaselinePolicy(name=name, recipe=getattr(baselines, name), num_ws=int(num_ws))
