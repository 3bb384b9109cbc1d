"""The learning-rate ramp-down of ``training.lr_rampdown`` (dualinv.training.schedule)."""

from __future__ import annotations

import math

import pytest

from dualinv.training.schedule import learning_rate_factor


def test_no_ramp_keeps_the_rate_constant():
    assert {learning_rate_factor(0.0, 100, step) for step in range(101)} == {1.0}


def test_the_ramp_holds_the_rate_then_falls_along_a_half_cosine_to_zero():
    factors = [learning_rate_factor(0.4, 100, step) for step in range(101)]
    assert factors[:61] == [1.0] * 61                               # steps before the last 40 % of the run
    assert factors[80] == pytest.approx(0.5)                        # half-way down the ramp
    assert factors[70] == pytest.approx(0.5 + 0.5 * math.cos(math.pi / 4))
    assert factors[100] == pytest.approx(0.0, abs=1e-12)
    assert all(later <= earlier for earlier, later in zip(factors, factors[1:]))


def test_a_whole_run_ramp_starts_falling_at_once():
    assert learning_rate_factor(1.0, 10, 0) == 1.0
    assert learning_rate_factor(1.0, 10, 1) == pytest.approx(0.5 + 0.5 * math.cos(math.pi / 10))
