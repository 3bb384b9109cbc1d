"""e4e's own training terms (encoders-baselines.md §2.2-2.3): delta regularisation and the latent GAN.

The reconstruction terms are the shared ones (:func:`dualinv.losses.encoder_loss`); the
discriminator's softplus loss and lazy R1 reuse :mod:`dualinv.losses.adversarial`. What is e4e's
own is which codes are regularised and discriminated: only the active positions 0..stage.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


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
