"""Ranger: hand-computed steps, warm-up goes downhill, centralisation, Lookahead, exact resume."""

from __future__ import annotations

import io
import math

import pytest
import torch

from dualinv.errors import ConfigError
from dualinv.training.optim import Ranger


def quadratic_run(steps, lr=0.1, x0=1.0):
    """Minimise x^2 / 2 (gradient x) with Ranger; returns the trajectory."""
    x = torch.tensor([x0], dtype=torch.float64, requires_grad=True)
    optimizer = Ranger([x], lr=lr)
    path = []
    for _ in range(steps):
        optimizer.zero_grad()
        (0.5 * x.square()).sum().backward()
        optimizer.step()
        path.append(x.item())
    return path


def hand_ranger(steps, lr=0.1, x0=1.0, b1=0.95, b2=0.999, eps=1e-5, alpha=0.5, k=6):
    """The §7 update rule in plain floats, for a 1-D parameter (no centralisation)."""
    x, slow, m, v, path = x0, x0, 0.0, 0.0, []
    rho_inf = 2 / (1 - b2) - 1
    for t in range(1, steps + 1):
        g = x
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        rho = rho_inf - 2 * t * b2 ** t / (1 - b2 ** t)
        if rho > 5:
            r = math.sqrt((1 - b2 ** t) * (rho - 4) / (rho_inf - 4) * (rho - 2) / rho * rho_inf / (rho_inf - 2))
            x -= lr * r / (1 - b1 ** t) * m / (math.sqrt(v) + eps)
        else:
            x -= lr / (1 - b1 ** t) * m
        if t % k == 0:
            slow += alpha * (x - slow)
            x = slow
        path.append(x)
    return path


def test_first_two_steps_by_hand():
    # step 1: m = 0.05, bias-corrected momentum SGD moves by lr * 1 -> 0.9
    # step 2: m = 0.95*0.05 + 0.05*0.9 = 0.0925, 1 - 0.95^2 = 0.0975 -> 0.9 - 0.1*0.0925/0.0975
    assert quadratic_run(2) == pytest.approx([0.9, 0.9 - 0.1 * 0.0925 / 0.0975], rel=1e-12)


def test_rectified_steps_and_lookahead_match_the_update_rule():
    assert quadratic_run(13) == pytest.approx(hand_ranger(13), rel=1e-12)


def test_warm_up_goes_downhill():
    """The pytorch-optimizer default would give 1.1 here (encoders-baselines.md §7)."""
    path = quadratic_run(5)
    assert all(b < a for a, b in zip([1.0] + path, path))


def test_gradient_centralisation_removes_per_row_means():
    weight = torch.nn.Parameter(torch.zeros(2, 3))
    optimizer = Ranger([weight], lr=0.1)
    weight.grad = torch.tensor([[1.0, 1.0, 1.0], [-2.0, -2.0, -2.0]])  # constant per row
    optimizer.step()
    assert weight.eq(0).all()
    assert weight.grad.eq(torch.tensor([[1.0, 1.0, 1.0], [-2.0, -2.0, -2.0]])).all()  # p.grad untouched


def make_model():
    generator = torch.Generator().manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1))
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.copy_(torch.randn(parameter.shape, generator=generator))
    return model, Ranger(model.parameters())


def train(model, optimizer, start, stop):
    for step in range(start, stop):
        inputs = torch.randn(5, 4, generator=torch.Generator().manual_seed(step))
        optimizer.zero_grad()
        model(inputs).square().mean().backward()
        optimizer.step()


def test_state_dict_round_trip_resumes_bit_exactly():
    reference, reference_optimizer = make_model()
    train(reference, reference_optimizer, 0, 15)

    model, optimizer = make_model()
    train(model, optimizer, 0, 8)  # stop between two Lookahead syncs (k = 6)
    buffer = io.BytesIO()
    torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict()}, buffer)
    buffer.seek(0)
    checkpoint = torch.load(buffer, weights_only=True)
    state = checkpoint["optimizer"]["state"][0]
    assert set(state) == {"step", "exp_avg", "exp_avg_sq", "slow_buffer"} and state["step"] == 8

    resumed, resumed_optimizer = make_model()
    resumed.load_state_dict(checkpoint["model"])
    resumed_optimizer.load_state_dict(checkpoint["optimizer"])
    train(resumed, resumed_optimizer, 8, 15)
    for a, b in zip(reference.parameters(), resumed.parameters()):
        assert torch.equal(a, b)


@pytest.mark.parametrize("bad", [dict(lr=0.0), dict(k=0), dict(alpha=1.5), dict(betas=(0.9, 1.0))])
def test_settings_are_validated(bad):
    with pytest.raises(ConfigError):
        Ranger([torch.nn.Parameter(torch.zeros(1))], **bad)
