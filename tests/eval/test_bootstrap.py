"""Bootstrap intervals: contain the mean, narrow with n, seeded, degenerate for constant values."""

from __future__ import annotations

import numpy as np
import pytest

from dualinv.errors import ConfigError
from dualinv.eval.bootstrap import bootstrap_ci, summarize


def _sample(n: int) -> np.ndarray:
    return np.random.default_rng(0).normal(0.3, 0.1, size=n)


def test_interval_contains_the_mean_and_narrows_with_n():
    widths = []
    for n in (25, 400, 6400):
        values = _sample(n)
        low, high = bootstrap_ci(values, resamples=500, seed=1)
        assert low < values.mean() < high
        widths.append(high - low)
    # The width of a mean's interval shrinks as 1/sqrt(n): x16 samples -> about /4.
    assert widths[0] / widths[1] == pytest.approx(4.0, rel=0.3)
    assert widths[1] / widths[2] == pytest.approx(4.0, rel=0.3)
    # ... and matches the normal interval 2 * 1.96 * sd / sqrt(n) for large n.
    values = _sample(6400)
    assert widths[2] == pytest.approx(2 * 1.96 * values.std(ddof=1) / np.sqrt(6400), rel=0.1)


def test_interval_is_seeded():
    values = _sample(50)
    assert bootstrap_ci(values, seed=3) == bootstrap_ci(values, seed=3)
    assert bootstrap_ci(values, seed=3) != bootstrap_ci(values, seed=4)


def test_constant_values_give_a_zero_width_interval():
    assert bootstrap_ci([0.5] * 10) == (0.5, 0.5)


def test_summarize_and_bad_input():
    metric = summarize([1.0, 2.0, 3.0], resamples=200, stand_in=True)
    assert (metric.value, metric.n, metric.stand_in) == (2.0, 3, True)
    assert 1.0 <= metric.ci95[0] < 2.0 < metric.ci95[1] <= 3.0
    with pytest.raises(ConfigError, match="empty"):
        bootstrap_ci([])
    with pytest.raises(ConfigError, match="NaN"):
        bootstrap_ci([1.0, float("nan")])
