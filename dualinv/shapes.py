"""Shape checks at module entry (STYLE.md practice 9).

Shape-letter glossary used in comments and docstrings across dualinv:
``B`` batch, ``N`` batch in the PanoHead spec, ``C`` feature channels, ``D`` tri-grid depth slices,
``H``/``W`` height/width, ``R`` neural-rendering resolution, ``M`` rays or points per image,
``S`` samples per ray, ``num_ws`` number of style vectors.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch


def assert_shape(tensor: torch.Tensor, shape: Sequence[int | None], name: str = "tensor") -> None:
    """Raise ``ValueError`` naming ``name`` unless ``tensor`` has ``shape`` (``None`` matches any size)."""
    if tensor.ndim != len(shape):
        raise ValueError(f"{name}: expected {len(shape)} dimensions {list(shape)}, got shape {list(tensor.shape)}")
    for axis, (size, expected) in enumerate(zip(tensor.shape, shape)):
        if expected is not None and size != expected:
            raise ValueError(
                f"{name}: dimension {axis} has size {size}, expected {expected} "
                f"(expected shape {list(shape)}, got {list(tensor.shape)})"
            )
