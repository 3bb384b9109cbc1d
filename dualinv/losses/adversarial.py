"""Adversarial terms of paper Eq. 4 and 6-9, and lazy R1 regularisation (A.2).

Signs. Eq. 7 gives Encoder 2 ``softplus(-D(O T_enc))``: the encoder raises D on its own tri-grids.
Eq. 9 is ``L_adv(x, y) = softplus(-x) + softplus(y)``. Eq. 8 prints its arguments as
``(D(O T_enc), D(O T_synth))``; read literally D would then also raise D(O T_enc), and D and
Encoder 2 would pursue the same goal, contradicting the min-max of Eq. 4 and the roles of §3.3 /
Fig. 3 (synthesised Z+ tri-grids are *real*, encoded ones *fake*). We therefore apply Eq. 9 as
``L_adv(x = D(O T_synth), y = D(O T_enc))``, the standard non-saturating GAN loss that e4e and
TriPlaneNet v2 also use (encoders-baselines.md §2.3, §3.1). lambda = 0.5 multiplies it (A.2).

R1 (A.2): weight gamma = 10, applied every 16 iterations on real (synthesised, masked) inputs,
scaled by the interval as in lazy regularisation (§2.3: ``gamma/2 * ||grad||^2 * d_reg_every``).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

def encoder_adversarial_loss(fake_logits: torch.Tensor) -> torch.Tensor:
    """Eq. 7: ``L_adv(x) = softplus(-x)`` on x = D(O_pi T_enc), averaged over the batch."""
    return F.softplus(-fake_logits).mean()


def discriminator_adversarial_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """Eq. 9 as used by Eq. 8: ``softplus(-D(real)) + softplus(D(fake))``, batch means (see module doc).

    ``real_logits`` = D(O_pi T_synth) from Z+ samples, ``fake_logits`` = D(O_pi T_enc).
    """
    return F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()


def r1_penalty(real_logits: torch.Tensor, real_inputs: torch.Tensor) -> torch.Tensor:
    """``mean_b ||dD(x_b)/dx_b||^2`` for the real inputs (which must require grad), graph kept."""
    (gradient,) = torch.autograd.grad(real_logits.sum(), real_inputs, create_graph=True)
    return gradient.square().flatten(1).sum(dim=1).mean()


def r1_due(step: int, interval: int) -> bool:
    """Whether discriminator step ``step`` (0-based) carries the lazy R1 term (A.2)."""
    return step % interval == 0


def lazy_r1_loss(real_logits: torch.Tensor, real_inputs: torch.Tensor,
                 gamma: float, interval: int) -> torch.Tensor:
    """A.2 R1 term for one due step: ``gamma / 2 * r1_penalty * interval`` (``training.r1_gamma``, ``r1_every``)."""
    return 0.5 * gamma * interval * r1_penalty(real_logits, real_inputs)
