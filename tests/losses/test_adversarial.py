"""Eq. 7-9 softplus terms on known logits, R1 on a quadratic D, and the composers' weights."""

from __future__ import annotations

import math

import pytest
import torch

from dualinv.config import TrainingConfig
from dualinv.losses import (
    discriminator_adversarial_loss,
    discriminator_loss,
    encoder_adversarial_loss,
    encoder_loss,
    lazy_r1_loss,
    r1_due,
    r1_penalty,
)


PAPER = TrainingConfig()
"""The study's training section at its defaults (paper A.2)."""


def softplus(x):
    return math.log1p(math.exp(x))


def test_encoder_adversarial_is_softplus_of_minus_logit():
    logits = torch.tensor([[0.0], [2.0]])
    expected = (math.log(2.0) + softplus(-2.0)) / 2
    assert encoder_adversarial_loss(logits).item() == pytest.approx(expected)


def test_discriminator_adversarial_pushes_real_up_and_fake_down():
    real, fake = torch.tensor([[1.0]]), torch.tensor([[-3.0]])
    assert discriminator_adversarial_loss(real, fake).item() == pytest.approx(softplus(-1.0) + softplus(-3.0))
    # a discriminator that scores real higher and fake lower has a smaller loss
    assert discriminator_adversarial_loss(real + 1, fake - 1) < discriminator_adversarial_loss(real, fake)


def test_r1_on_a_quadratic_discriminator_is_analytic():
    a = 0.75
    x = torch.tensor([[1.0, 2.0], [3.0, -1.0]], requires_grad=True)
    logits = (a * x.square()).sum(dim=1, keepdim=True)  # dD/dx = 2 a x
    expected = (4 * a * a * (1 + 4) + 4 * a * a * (9 + 1)) / 2
    assert r1_penalty(logits, x).item() == pytest.approx(expected)
    logits = (a * x.square()).sum(dim=1, keepdim=True)
    assert lazy_r1_loss(logits, x, PAPER.r1_gamma, PAPER.r1_every).item() == pytest.approx(0.5 * 10 * 16 * expected)


def test_r1_is_due_every_sixteen_steps():
    assert [s for s in range(40) if r1_due(s, PAPER.r1_every)] == [0, 16, 32]


def test_training_defaults_are_the_paper_weights():
    weights = TrainingConfig()
    assert (weights.lambda_lpips, weights.lambda_l2, weights.lambda_id) == (0.8, 1.0, 0.5)  # A.2 lambda_1..3
    assert (weights.lambda_adv, weights.lambda_discriminator) == (0.001, 0.5)  # lambda_4, lambda
    assert (weights.r1_gamma, weights.r1_every) == (10.0, 16)


def test_encoder_loss_weights_the_named_terms():
    def lpips_loss(a, b):
        return torch.tensor(0.3)

    def embedder(x):
        return torch.nn.functional.normalize(x.flatten(1), dim=1)

    output, target = torch.zeros(1, 2, 1, 1), torch.ones(1, 2, 1, 1)
    output[:, 0] = 1.0  # cos(output, target) = 1/sqrt(2)
    logits = torch.tensor([[0.0]])
    total, terms = encoder_loss(output, target, lpips_loss=lpips_loss, identity_embedder=embedder,
                                fake_logits=logits)
    assert set(terms) == {"loss_l2", "loss_lpips", "loss_id", "loss_adv"}
    l2, id_ = 0.5, 1 - 1 / math.sqrt(2)
    assert terms["loss_l2"].item() == pytest.approx(l2) and terms["loss_id"].item() == pytest.approx(id_)
    assert total.item() == pytest.approx(1.0 * l2 + 0.8 * 0.3 + 0.5 * id_ + 0.001 * math.log(2))
    total, terms = encoder_loss(output, target, lpips_loss=lpips_loss, identity_embedder=embedder)
    assert terms["loss_adv"].item() == 0.0  # Encoder 1: Eq. 5, no adversarial term


def test_discriminator_loss_adds_r1_on_due_steps_only():
    x = torch.tensor([[1.0, 2.0]], requires_grad=True)
    real = x.square().sum(dim=1, keepdim=True)
    fake = torch.tensor([[0.0]])
    total, terms = discriminator_loss(real, fake, step=1)
    assert terms["loss_r1"].item() == 0.0
    assert total.item() == pytest.approx(0.5 * (softplus(-5.0) + math.log(2)))
    total, terms = discriminator_loss(real, fake, step=16, real_inputs=x)
    r1 = 0.5 * 10 * 16 * (4 * (1 + 4))
    assert terms["loss_r1"].item() == pytest.approx(r1)
    assert total.item() == pytest.approx(0.5 * (softplus(-5.0) + math.log(2)) + r1)
    with pytest.raises(ValueError, match="real_inputs"):
        discriminator_loss(real, fake, step=0)
