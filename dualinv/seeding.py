"""Explicit randomness: seeds derived from names, and torch.Generator factories.

No code in dualinv seeds the global RNG except where the official PanoHead draw order must be
reproduced (and then the caller does it, visibly). Everything else takes a ``torch.Generator``, or in
multi-GPU training one process's share of it (:class:`RowShard`, drawn through :func:`draw`).
"""

from __future__ import annotations

import dataclasses
import hashlib
from dataclasses import dataclass
from typing import Callable, Sequence, Union

import torch


def derive_seed(base_seed: int, *parts: object) -> int:
    """A 63-bit seed that depends on ``base_seed`` and on every part (experiment, segment, worker...).

    Stable across runs, machines and Python versions (it does not use ``hash()``).
    """
    text = "/".join([str(base_seed), *map(str, parts)])
    return int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:8], "little") >> 1


def make_generator(seed: int, device: str | torch.device = "cpu") -> torch.Generator:
    """A ``torch.Generator`` on ``device`` seeded with ``seed``."""
    generator = torch.Generator(device=device)
    generator.manual_seed(int(seed))
    return generator


@dataclass(frozen=True)
class RowShard:
    """A step's generator as seen by one of ``world_size`` processes that split its batch (multi-GPU training).

    Every draw is made at the size of the whole (global) batch, from the same generator on every
    process, and each process keeps its own rows; the processes' rows together are then exactly the
    draws of one process holding the whole batch, and every generator advances in step with it. A
    batch laid out as ``parts`` stacked copies (``torch.cat([a, b])``, each ``[local, ...]``) takes
    its rows from each part: :meth:`in_parts`. A draw without a batch dimension (a scalar) is shared.
    """

    generator: torch.Generator
    rank: int
    """This process's position in the batch, 0-based: it holds rows ``rank*local .. (rank+1)*local``."""
    world_size: int
    parts: int = 1

    @property
    def device(self) -> torch.device:
        return self.generator.device

    def in_parts(self, parts: int) -> "RowShard":
        """The same generator for a batch of ``parts`` stacked copies of the local batch."""
        return dataclasses.replace(self, parts=parts)

    def draw(self, sampler: Callable[..., torch.Tensor], shape: Sequence[int], **kwargs) -> torch.Tensor:
        """``sampler(shape, generator=..., **kwargs)`` for this process's rows of the global draw."""
        shape = tuple(shape)
        if not shape:
            return sampler(shape, generator=self.generator, **kwargs)
        if shape[0] % self.parts:
            raise ValueError(f"a draw of {shape[0]} rows cannot be cut into {self.parts} parts")
        part = shape[0] // self.parts
        drawn = sampler((shape[0] * self.world_size, *shape[1:]), generator=self.generator, **kwargs)
        return drawn.reshape(self.parts, self.world_size, part, *shape[1:])[:, self.rank].reshape(shape)


StepGenerator = Union[torch.Generator, RowShard]
"""What training's random draws take: a generator, or one process's share of it (:class:`RowShard`)."""


def in_parts(generator: StepGenerator | None, parts: int) -> StepGenerator | None:
    """``generator`` for a batch of ``parts`` stacked copies (:meth:`RowShard.in_parts`); a plain one is unchanged."""
    return generator.in_parts(parts) if isinstance(generator, RowShard) else generator


def draw(sampler: Callable[..., torch.Tensor], shape: Sequence[int], generator: StepGenerator | None,
         **kwargs) -> torch.Tensor:
    """``sampler(shape, generator=generator, **kwargs)``, or this process's rows of it for a :class:`RowShard`."""
    if isinstance(generator, RowShard):
        return generator.draw(sampler, shape, **kwargs)
    return sampler(tuple(shape), generator=generator, **kwargs)


def uniform(shape: Sequence[int], generator: StepGenerator | None, **kwargs) -> torch.Tensor:
    """``torch.rand`` through :func:`draw`."""
    return draw(torch.rand, shape, generator, **kwargs)


def normal(shape: Sequence[int], generator: StepGenerator | None, **kwargs) -> torch.Tensor:
    """``torch.randn`` through :func:`draw`."""
    return draw(torch.randn, shape, generator, **kwargs)
