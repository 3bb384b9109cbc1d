"""TriPlaneNet v2's mirror loss (encoders-baselines.md §3.1) as the training step computes it."""

from __future__ import annotations

import torch

from dualinv.training.baseline_steps import _objective_with_mirror


def mse_objective(output, target):
    loss = (output - target).square().mean()
    return loss, {"loss_l2": loss}


def test_mirror_loss_compares_the_mirrored_render_with_the_flipped_target():
    generator = torch.Generator().manual_seed(0)
    target = torch.rand(2, 3, 8, 8, generator=generator)
    render = torch.rand(2, 3, 8, 8, generator=generator)
    mirrored = torch.rand(2, 3, 8, 8, generator=generator)
    total, terms = _objective_with_mirror(mse_objective, {"image": render}, mirrored, target, 8, 0.1)
    same_view = ((render - target) ** 2).mean()
    mirror_view = ((mirrored - torch.flip(target, dims=[3])) ** 2).mean()
    assert torch.allclose(total, same_view + 0.1 * mirror_view)
    assert torch.allclose(terms["loss_l2_mirror"], mirror_view) and torch.allclose(terms["loss_mirror"], mirror_view)
    # a mirrored render that is exactly the flipped target adds nothing
    exact, _ = _objective_with_mirror(mse_objective, {"image": render}, target.flip(-1), target, 8, 0.1)
    assert torch.allclose(exact, same_view)


def test_without_a_mirrored_render_only_the_same_view_counts():
    target, render = torch.zeros(1, 3, 4, 4), torch.ones(1, 3, 4, 4)
    total, terms = _objective_with_mirror(mse_objective, {"image": render}, None, target, 4, 0.1)
    assert float(total) == 1.0 and set(terms) == {"loss_l2"}
