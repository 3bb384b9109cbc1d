"""LPFF pose rebalancing, exactly as LPFF defines it (spec encoders-baselines.md §5).

Each item's camera position gives two angles (θ, φ); a Gaussian KDE with Scott's bandwidth over all
items (originals and mirrors) gives each item a pose density d (1/rad²); rare poses are repeated:
``clip(round(4·0.06/d), 1, 4)`` copies, 5 when d < 0.03, 6 when d < 0.02 (Python's ``round``,
halves to even). The result is the list of item names, each repeated by its count; a weighted
sampler with these counts as weights is equivalent in expectation.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np

from dualinv.camera import CAM2WORLD


@dataclass(frozen=True)
class RebalanceRule:
    """LPFF's duplication constants (``2_eg3d_FFHQ_LPFF_rebalanced.py``)."""

    base: float = 0.06
    """Density scale: copies ≈ max_copies·base/d."""
    max_copies: int = 4
    """Cap of the rounded rule."""
    sparse_density: float = 0.03
    """Below this density: ``sparse_copies``."""
    sparse_copies: int = 5
    very_sparse_density: float = 0.02
    """Below this density: ``very_sparse_copies``."""
    very_sparse_copies: int = 6

    def copies(self, density: float) -> int:
        """Number of copies of an item of pose density ``density`` (1/rad²)."""
        if density < self.very_sparse_density:
            return self.very_sparse_copies
        if density < self.sparse_density:
            return self.sparse_copies
        if density <= 0:
            return self.very_sparse_copies
        return int(min(max(round(self.max_copies * self.base / density), 1), self.max_copies))


def lpff_angles(labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(θ, φ) in radians of cameras [N, 25]: with the camera at (x, y, z), φ = atan2(z, y) and
    θ = atan2(y / cos φ, x); the frontal camera is at (π/2, π/2) (``0_compute_theta_phi.py``)."""
    cam2world = np.asarray(labels, dtype=np.float64)[:, CAM2WORLD].reshape(-1, 4, 4)
    x, y, z = cam2world[:, 0, 3], cam2world[:, 1, 3], cam2world[:, 2, 3]
    phi = np.arctan2(z, y)
    theta = np.arctan2(y / np.cos(phi), x)
    return theta, phi


def pose_density(labels: np.ndarray) -> np.ndarray:
    """Each item's density [N] under a Scott's-rule Gaussian KDE of all items' (θ, φ)."""

    theta, phi = lpff_angles(labels)
    samples = np.stack([theta, phi])
    from scipy.stats import gaussian_kde  # scipy loads only when a rebalancing runs

    return gaussian_kde(samples)(samples)


def duplication_counts(labels: np.ndarray, rule: RebalanceRule = RebalanceRule()) -> np.ndarray:
    """Copies of each item [N] (int) under ``rule``."""
    return np.array([rule.copies(float(density)) for density in pose_density(labels)], dtype=np.int64)


def rebalanced_names(labels: Mapping[str, np.ndarray], rule: RebalanceRule = RebalanceRule(), names: Sequence[str] | None = None) -> list[str]:
    """The rebalanced list: each name of ``names`` (default: all labels, in order) repeated by its
    count. The density is computed over exactly these items, as LPFF does over its whole set."""
    names = list(labels) if names is None else list(names)
    counts = duplication_counts(np.stack([labels[name] for name in names]), rule)
    return [name for name, count in zip(names, counts) for _ in range(int(count))]
