"""e4e's own training terms (encoders-baselines.md §2.2-2.3): delta regularisation and the latent GAN.

The reconstruction terms are the shared ones (:func:`dualinv.losses.encoder_loss`); the
discriminator's softplus loss and lazy R1 reuse :mod:`dualinv.losses.adversarial`. What is e4e's
own is which codes are regularised and discriminated: only the active positions 0..stage.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from dualinv.errors import ConfigError


@dataclass(frozen=True)
class E4ELossWeights:
    """e4e README recipe on top of the shared reconstruction weights (§2.4, §9)."""

    delta_norm: float = 2e-4
    """Weight of the delta regularisation (``--delta_norm_lambda``)."""
    delta_norm_p: int = 2
    """Norm of each delta (``--delta_norm``)."""
    latent_adversarial: float = 0.1
    """Weight of the encoder's latent adversarial term (``--w_discriminator_lambda``)."""
    discriminator_learning_rate: float = 2e-5
    """Adam learning rate of the latent discriminator (``--w_discriminator_lr``)."""
    w_pool_size: int = 50
    """Size of the fake-codes pool (``--use_w_pool``, 50)."""
    r1_gamma: float = 10.0
    """R1 weight on real codes (``--r1``)."""
    r1_interval: int = 16
    """R1 every this many discriminator steps (``--d_reg_every``)."""

    def __post_init__(self) -> None:
        if min(self.delta_norm, self.latent_adversarial, self.r1_gamma) < 0 or self.delta_norm_p < 1:
            raise ConfigError(f"e4e loss weights must be >= 0 and delta_norm_p >= 1, got {self}")
        if self.discriminator_learning_rate <= 0 or self.r1_interval < 1 or self.w_pool_size < 0:
            raise ConfigError(f"e4e: discriminator_learning_rate > 0, r1_interval >= 1, w_pool_size >= 0; got {self}")


def delta_regularisation(ws: torch.Tensor, stage: int, p: int = 2) -> torch.Tensor:
    """L_d-reg = sum_{i=1..stage} mean_b ||w_i - w_0||_p over the active deltas (§2.2); 0 at stage 0."""
    if stage < 1:
        return ws.new_zeros(())
    deltas = ws[:, 1:stage + 1] - ws[:, :1]  # [B, stage, K]
    return deltas.norm(p=p, dim=2).mean(dim=0).sum()


def active_codes(ws: torch.Tensor, stage: int) -> torch.Tensor:
    """The codes the latent discriminator judges: positions 0..stage, as [B * (stage+1), K] (§2.3)."""
    return ws[:, :stage + 1].reshape(-1, ws.shape[-1])


def latent_encoder_adversarial_loss(fake_logits: torch.Tensor, stage: int) -> torch.Tensor:
    """Encoder term: mean over the active positions of ``softplus(-D(w_i)).mean()`` (§2.3).

    ``fake_logits`` are D's logits for :func:`active_codes` ([B * (stage+1), 1]).
    """
    return F.softplus(-fake_logits).reshape(-1, stage + 1).mean()
