"""Explicit randomness: seeds derived from names, and torch.Generator factories.

No code in dualinv seeds the global RNG except where the official PanoHead draw order must be
reproduced (and then the caller does it, visibly). Everything else takes a ``torch.Generator``.
"""

from __future__ import annotations

import hashlib

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
