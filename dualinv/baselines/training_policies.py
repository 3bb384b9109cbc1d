"""Per-baseline training policies: what the shared training loop does differently for each baseline.

The loop (``dualinv.training.train_segment``) calls, around its usual encoder step,
``policy.before_step(encoder, step)`` (progressive stages) and adds
``policy.extra_terms(ws, step, latent_discriminator)`` to the encoder objective. Every schedule is
a pure function of the step, so resume stays exact. Published hyperparameters
(encoders-baselines.md §1.5, §2, §3.1, §3.2) are the defaults here; a study sets them from the
``baselines:`` section of config.yaml (through ``TrainingSettings``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn

from dualinv.encoders.e4e import E4EConfig, progressive_stage
from dualinv.encoders.goae import GOAEConfig, goae_stage
from dualinv.losses.e4e import E4ELossWeights, active_codes, delta_regularisation, latent_encoder_adversarial_loss


@dataclass(frozen=True)
class ReconstructionWeights:
    """Reconstruction weights of a baseline's own recipe (shared terms of ``dualinv.losses``); pSp's by default."""

    lpips: float = 0.8
    """LPIPS weight (``--lpips_lambda``)."""
    l2: float = 1.0
    """Pixel weight (``--l2_lambda``): MSE, SmoothL1 in TriPlaneNet v2's F stage."""
    identity: float = 0.1
    """ArcFace identity weight (``--id_lambda``)."""


@dataclass(frozen=True)
class TriPlaneNetSchedule:
    """TriPlaneNet v2 phases (§3.1): W+ alone, then W+ and F with separate Ranger optimisers, then F alone.

    Not implemented: TriPlaneNet v2's image discriminator, which joins at ``--add_discriminator``
    600k (adversarial weight 0.005), beyond the paper's 500k-step runs, so it never acts in them.
    """

    add_triplanenet: int = 20_000
    """Step at which the F stage starts training (``--add_triplanenet``)."""
    stop_psp: int = 500_000
    """Step from which the W+ encoder is frozen (``--stop_psp``)."""
    mirror_lambda: float = 0.1
    """Weight of the mirrored-view loss (``--mirror_lambda``); the F stage's pixel term is SmoothL1."""

    def trains(self, step: int) -> dict[str, bool]:
        """Which parts take an optimiser step at ``step``."""
        return {"w_plus": step < self.stop_psp, "feature_stage": step >= self.add_triplanenet}


@dataclass(frozen=True)
class BaselinePolicy:
    name: str
    reconstruction: ReconstructionWeights = field(default_factory=ReconstructionWeights)
    e4e: E4EConfig | None = None
    e4e_losses: E4ELossWeights | None = None
    goae: GOAEConfig | None = None
    triplanenet: TriPlaneNetSchedule | None = None

    def stage(self, step: int) -> int | None:
        """The encoder's progressive stage at ``step`` (e4e deltas, GOAE groups), or None."""
        if self.e4e is not None:
            return progressive_stage(step, self.e4e)
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
        if self.e4e is None or self.e4e_losses is None:
            return zero, {}
        stage, weights = self.stage(step), self.e4e_losses
        terms = {"loss_delta": delta_regularisation(ws, stage, weights.delta_norm_p),
                 "loss_w_adv": zero}
        if latent_discriminator is not None:
            terms["loss_w_adv"] = latent_encoder_adversarial_loss(latent_discriminator(active_codes(ws, stage)), stage)
        return weights.delta_norm * terms["loss_delta"] + weights.latent_adversarial * terms["loss_w_adv"], terms


BASELINE_POLICIES: dict[str, BaselinePolicy] = {
    "psp": BaselinePolicy("psp"),
    "e4e": BaselinePolicy("e4e", reconstruction=ReconstructionWeights(identity=0.5), e4e=E4EConfig(),
                          e4e_losses=E4ELossWeights()),
    "triplanenet_v2": BaselinePolicy("triplanenet_v2", triplanenet=TriPlaneNetSchedule()),
    "goae": BaselinePolicy("goae", goae=GOAEConfig()),
}
"""Published recipes: pSp (0.8 LPIPS, 1.0 L2, 0.1 ID), e4e README (ID 0.5, delta 2e-4, w-adv 0.1,
progressive 20k + 2k), TriPlaneNet v2 (F stage from 20k, W+ frozen from 500k, mirror 0.1), GOAE
(groups at 10k/20k/30k; training code unreleased, losses as pSp's). The study config
(``baselines:`` in config.yaml) sets every one of these values; these defaults equal config.yaml's
(tested), and :func:`dualinv.training.baseline_parts.configured_policy` applies a run's settings."""
