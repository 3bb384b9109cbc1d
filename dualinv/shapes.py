"""Shape checks at module entry (STYLE.md §9).

Shape letters used across dualinv: ``B`` batch, ``C`` channels, ``H``/``W`` height/width,
``P`` tri-grid planes (3), ``D`` depth slices per plane (3 for PanoHead), ``F`` features per
slice (32), ``L`` number of W+ codes (``num_ws``), ``K`` latent width (``w_dim``/``z_dim``).
"""

from __future__ import annotations

from typing import Sequence

import torch


class ShapeError(ValueError):
    """A tensor reached a module with a shape it cannot take."""


def assert_shape(tensor: torch.Tensor, shape: Sequence[int | None], name: str = "tensor") -> None:
    """Raise :class:`ShapeError` unless ``tensor.shape`` matches ``shape`` (``None`` = any size)."""
    if tensor.ndim != len(shape) or any(
        want is not None and int(have) != want for have, want in zip(tensor.shape, shape)
    ):
        expected = "[" + ", ".join("*" if s is None else str(s) for s in shape) + "]"
        raise ShapeError(f"{name} has shape {list(tensor.shape)}, expected {expected}")
