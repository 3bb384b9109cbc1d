"""Shape checks at module entry (STYLE.md practice 9).

Shape-letter glossary used in comments and docstrings across dualinv:
``B`` batch (``N`` in the PanoHead spec), ``C`` feature channels, ``P`` tri-grid planes (3),
``D`` depth slices per plane (3 for PanoHead), ``F`` features per slice (32), ``H``/``W``
height/width, ``R`` neural-rendering resolution, ``M`` rays or points per image, ``S`` samples
per ray, ``L`` number of W+ codes (``num_ws``), ``K`` latent width (``w_dim``/``z_dim``).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch


class ShapeError(ValueError):
    """A tensor reached a module with a shape it cannot take."""


def assert_shape(tensor: torch.Tensor, shape: Sequence[int | None], name: str = "tensor") -> None:
    """Raise :class:`ShapeError` naming ``name`` unless ``tensor`` has ``shape`` (``None`` matches any size)."""
    if tensor.ndim != len(shape):
        raise ShapeError(f"{name}: expected {len(shape)} dimensions {list(shape)}, got shape {list(tensor.shape)}")
    for axis, (size, expected) in enumerate(zip(tensor.shape, shape)):
        if expected is not None and size != expected:
            raise ShapeError(
                f"{name}: dimension {axis} has size {size}, expected {expected} "
                f"(expected shape {list(shape)}, got {list(tensor.shape)})"
            )
