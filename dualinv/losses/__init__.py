"""Loss composers of paper A.2: :func:`encoder_loss` (Eq. 5 / Eq. 6) and :func:`discriminator_loss` (Eq. 8).

Both return ``(total, named_terms)``; the names (``loss_l2``, ``loss_lpips``, ``loss_id``,
``loss_adv``, ``loss_d``, ``loss_r1``) are stable: logs and tests use them. Terms are reported
unweighted; ``total`` is the weighted sum.
"""

from __future__ import annotations

import torch

from dualinv.config import TrainingConfig
from dualinv.losses.adversarial import (
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


def encoder_loss(
    output: torch.Tensor,
    target: torch.Tensor,
    *,
    lpips_loss: LPIPSLoss,
    identity_embedder: IdentityEmbedder,
    weights: TrainingConfig = TrainingConfig(),
    fake_logits: torch.Tensor | None = None,
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Eq. 5 (Encoder 1) or, with ``fake_logits`` = D(O_pi T_enc), Eq. 6 (Encoder 2).

    ``weights`` is the study's ``training`` section (λ1-λ4 = ``lambda_lpips``, ``lambda_l2``,
    ``lambda_id``, ``lambda_adv``; paper A.2 by default).

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
    total = (weights.lambda_l2 * terms["loss_l2"] + weights.lambda_lpips * terms["loss_lpips"]
             + weights.lambda_id * terms["loss_id"] + weights.lambda_adv * terms["loss_adv"])
    return total, terms


def discriminator_loss(
    real_logits: torch.Tensor,
    fake_logits: torch.Tensor,
    *,
    step: int,
    real_inputs: torch.Tensor | None = None,
    weights: TrainingConfig = TrainingConfig(),
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Eq. 8: ``lambda * L_adv(D(O T_synth), D(O T_enc))`` plus lazy R1 on due steps (A.2).

    ``weights`` is the study's ``training`` section (``lambda_discriminator``, ``r1_gamma``, ``r1_every``).

    On steps where :func:`r1_due` holds, ``real_inputs`` (the masked, folded real tensor D saw,
    with ``requires_grad``) must be given; R1 is not multiplied by lambda.
    """
    terms = {"loss_d": discriminator_adversarial_loss(real_logits, fake_logits)}
    total = weights.lambda_discriminator * terms["loss_d"]
    if r1_due(step, weights.r1_every):
        if real_inputs is None:
            raise ValueError(f"step {step} is an R1 step: pass real_inputs (requires_grad=True)")
        terms["loss_r1"] = lazy_r1_loss(real_logits, real_inputs, weights.r1_gamma, weights.r1_every)
        total = total + terms["loss_r1"]
    else:
        terms["loss_r1"] = real_logits.new_zeros(())
    return total, terms


__all__ = [
    "IdentityEmbedder",
    "LPIPSLoss",
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
