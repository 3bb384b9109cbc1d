"""Seeded samples of a test set's items: the real half of the 360° FID, the figure items, the test-image cap (§4.3).

A prepared test set lists its items in a fixed order, and the FFHQ + LPFF validation split is sorted
by name, so every ``ffhq__*`` item comes before every ``lpff__*`` one: its first 1000 items would leave
LPFF's large poses out of the FID and the figures. Every subset is therefore a uniform random sample
without replacement, drawn by :func:`sampled_positions`: the positions
``numpy.random.default_rng(derive_seed(seed, purpose)).permutation(total)[:count]``, in drawn order.
The draw depends only on the seed, the purpose and the number of items, so every method evaluated on
the same test set gets the same items.
"""

from __future__ import annotations

import numpy as np

from dualinv.errors import ConfigError
from dualinv.seeding import derive_seed

SAMPLING_RULE = "uniform sample without replacement (numpy permutation seeded by derive_seed(seed, {purpose!r}))"
"""How a subset was drawn, as written beside the numbers (format with ``purpose``)."""


def sampled_positions(total: int, count: int | None, seed: int, purpose: str) -> list[int]:
    """Positions of ``min(count, total)`` of ``total`` items drawn uniformly without replacement, in drawn
    order (``count`` ``None``: every item, in a seeded random order)."""
    if total < 0 or (count is not None and count < 0):
        raise ConfigError(f"cannot draw {count} of {total} items")
    order = np.random.default_rng(derive_seed(seed, purpose)).permutation(total)
    return [int(position) for position in (order if count is None else order[:count])]
