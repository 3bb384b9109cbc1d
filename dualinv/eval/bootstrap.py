"""Bootstrap 95% confidence intervals of per-image metrics (L2, LPIPS, ID, time; paper §4.3 metrics).

Percentile bootstrap of the mean: resample the per-image values with replacement ``resamples``
times from a seeded ``numpy.random.Generator`` and take the 2.5th and 97.5th percentiles of the
resampled means. Same values and seed give the same interval on every machine.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from dualinv.errors import ConfigError
from dualinv.eval.results import MetricValue
from dualinv.seeding import derive_seed


def bootstrap_ci(values: Sequence[float] | np.ndarray, *, resamples: int = 1000, confidence: float = 0.95,
                 seed: int = 0) -> tuple[float, float]:
    """``(low, high)`` percentile-bootstrap interval of the mean of ``values``."""
    data = np.asarray(values, dtype=np.float64).reshape(-1)
    if data.size == 0:
        raise ConfigError("cannot bootstrap an empty set of values")
    if not np.isfinite(data).all():
        raise ConfigError("per-image metric values contain NaN or infinity")
    if resamples < 1 or not 0 < confidence < 1:
        raise ConfigError(f"bootstrap needs resamples >= 1 and 0 < confidence < 1, got {resamples}, {confidence}")
    rng = np.random.default_rng(derive_seed(seed, "bootstrap"))
    means = np.empty(resamples)
    for start in range(0, resamples, 256):  # chunks keep memory at 256 x n
        stop = min(start + 256, resamples)
        means[start:stop] = data[rng.integers(0, data.size, size=(stop - start, data.size))].mean(axis=1)
    tail = (1.0 - confidence) / 2.0 * 100.0
    low, high = np.percentile(means, [tail, 100.0 - tail])
    return float(low), float(high)


def summarize(values: Sequence[float] | np.ndarray, *, resamples: int = 1000, seed: int = 0,
              stand_in: bool = False) -> MetricValue:
    """Mean, 95% bootstrap interval and count of a per-image metric, as a metrics-JSON entry."""
    data = np.asarray(values, dtype=np.float64).reshape(-1)
    low, high = bootstrap_ci(data, resamples=resamples, seed=seed)
    return MetricValue(value=float(data.mean()), n=int(data.size), ci95=(low, high), stand_in=stand_in)
