"""Loss composers of paper A.2: :func:`encoder_loss` (Eq. 5 / Eq. 6) and :func:`discriminator_loss` (Eq. 8).

Both return ``(total, named_terms)``; the names (``loss_l2``, ``loss_lpips``, ``loss_id``,
``loss_adv``, ``loss_d``, ``loss_r1``) are stable: logs and tests use them. Terms are reported
unweighted; ``total`` is the weighted sum.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from dualinv.errors import ConfigError
from dualinv.losses.adversarial import (
    R1_GAMMA,
    R1_INTERVAL,
    discriminator_adversarial_loss,
    encoder_adversarial_loss,
    lazy_r1_loss,
    r1_due,
    r1_penalty,
)
from dualinv.losses.reconstruction import (
    IdentityEmbedder,
    LPIPSLoss,
    face_crop,
    identity_loss,
    identity_similarity,
    l2_loss,
)


@dataclass(frozen=True)
class LossWeights:
    """Loss coefficients of paper A.2."""

    lpips: float = 0.8
    """lambda_1, on L_LPIPS (Eq. 5, 6)."""
    l2: float = 1.0
    """lambda_2, on L_2 (Eq. 5, 6)."""
    identity: float = 0.5
    """lambda_3, on L_identity (Eq. 5, 6)."""
    adversarial: float = 0.001
    """lambda_4, on Encoder 2's L_adv (Eq. 6, 7); unused for Encoder 1."""
    discriminator: float = 0.5
    """lambda, on the discriminator's L_adv (Eq. 8, 9)."""
    r1_gamma: float = R1_GAMMA
    """R1 weight (A.2: 10)."""
    r1_interval: int = R1_INTERVAL
    """R1 every this many D steps (A.2: 16)."""

    def __post_init__(self) -> None:
        values = (self.lpips, self.l2, self.identity, self.adversarial, self.discriminator, self.r1_gamma)
        if any(value < 0 for value in values) or self.r1_interval < 1:
            raise ConfigError(f"loss weights must be >= 0 and r1_interval >= 1, got {self}")


def encoder_loss(
    output: torch.Tensor,
    target: torch.Tensor,
    *,
    lpips_loss: LPIPSLoss,
    identity_embedder: IdentityEmbedder,
    weights: LossWeights = LossWeights(),
    fake_logits: torch.Tensor | None = None,
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Eq. 5 (Encoder 1) or, with ``fake_logits`` = D(O_pi T_enc), Eq. 6 (Encoder 2).

    ``output`` is the same-view render I^sv and ``target`` the input image I, both [B, 3, H, W]
    in [-1, 1]. ``loss_adv`` is 0 when no discriminator logits are given.
    """
    terms = {
        "loss_l2": l2_loss(output, target),
        "loss_lpips": lpips_loss(output, target),
        "loss_id": identity_loss(identity_embedder, output, target),
        "loss_adv": (encoder_adversarial_loss(fake_logits) if fake_logits is not None
                     else output.new_zeros(())),
    }
    total = (weights.l2 * terms["loss_l2"] + weights.lpips * terms["loss_lpips"]
             + weights.identity * terms["loss_id"] + weights.adversarial * terms["loss_adv"])
    return total, terms


def discriminator_loss(
    real_logits: torch.Tensor,
    fake_logits: torch.Tensor,
    *,
    step: int,
    real_inputs: torch.Tensor | None = None,
    weights: LossWeights = LossWeights(),
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Eq. 8: ``lambda * L_adv(D(O T_synth), D(O T_enc))`` plus lazy R1 on due steps (A.2).

    On steps where :func:`r1_due` holds, ``real_inputs`` (the masked, folded real tensor D saw,
    with ``requires_grad``) must be given; R1 is not multiplied by lambda.
    """
    terms = {"loss_d": discriminator_adversarial_loss(real_logits, fake_logits)}
    total = weights.discriminator * terms["loss_d"]
    if r1_due(step, weights.r1_interval):
        if real_inputs is None:
            raise ValueError(f"step {step} is an R1 step: pass real_inputs (requires_grad=True)")
        terms["loss_r1"] = lazy_r1_loss(real_logits, real_inputs, weights.r1_gamma, weights.r1_interval)
        total = total + terms["loss_r1"]
    else:
        terms["loss_r1"] = real_logits.new_zeros(())
    return total, terms


__all__ = [
    "IdentityEmbedder",
    "LPIPSLoss",
    "LossWeights",
    "discriminator_adversarial_loss",
    "discriminator_loss",
    "encoder_adversarial_loss",
    "encoder_loss",
    "face_crop",
    "identity_loss",
    "identity_similarity",
    "l2_loss",
    "lazy_r1_loss",
    "r1_due",
    "r1_penalty",
]
