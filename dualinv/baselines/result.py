"""What every baseline returns (:class:`InversionResult`) and the input checks they share."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Iterator, TypeVar

import torch
from torch import nn

from dualinv.camera import LABEL_SIZE
from dualinv.errors import BadImageError
from dualinv.shapes import assert_shape

T = TypeVar("T")


@dataclass
class InversionResult:
    """Codes, tri-grids and the generator(s) to render them with, for a batch of B images.

    ``generators[i]`` renders image i: the shared frozen generator for every method except PTI,
    whose per-image fine-tuned copies differ (paper §5.3: PTI's tri-grids can only be rendered by
    their own generator).
    """

    ws: torch.Tensor
    """[B, num_ws, w_dim]: drive the background, raw ToRGB and super-resolution at render time."""
    trigrid: torch.Tensor
    """[B, 3, D*C, H, W]: the tri-grid to render (after any F stage or feature fusion)."""
    generators: tuple[nn.Module, ...]
    """One generator per image (the same object repeated when shared)."""
    seconds_per_image: tuple[float, ...]
    """Wall seconds spent on each image (Table 1 "Time sec")."""
    final_terms: dict[str, float] = field(default_factory=dict)
    """Loss terms of the last optimisation step (empty for encoders)."""

    def __post_init__(self) -> None:
        batch = self.ws.shape[0]
        if self.trigrid.shape[0] != batch or len(self.generators) != batch or len(self.seconds_per_image) != batch:
            raise ValueError(f"InversionResult: ws, trigrid, generators and seconds_per_image must all have "
                             f"{batch} entries")

    @torch.no_grad()
    def render(self, cameras: torch.Tensor, **render_kwargs) -> dict[str, torch.Tensor]:
        """Every head seen from ``cameras`` [B, 25]: the generator's output dict, batched per generator."""
        assert_shape(cameras, [self.ws.shape[0], LABEL_SIZE], "cameras")
        groups: dict[int, list[int]] = {}
        for index, generator in enumerate(self.generators):
            groups.setdefault(id(generator), []).append(index)
        outputs: dict[str, list[tuple[int, torch.Tensor]]] = {}
        for indices in groups.values():
            rows = torch.tensor(indices, device=self.ws.device)
            rendered = self.generators[indices[0]].render_trigrid(self.trigrid[rows], self.ws[rows], cameras[rows],
                                                                  **render_kwargs)
            for key, value in rendered.items():
                outputs.setdefault(key, []).extend(zip(indices, value))
        return {key: torch.stack([value for _, value in sorted(pairs, key=lambda pair: pair[0])])
                for key, pairs in outputs.items()}


def check_inputs(images: torch.Tensor, cameras: torch.Tensor) -> None:
    """Images [B, 3, H, W] in [-1, 1] and cameras [B, 25] (the :class:`Inverter` contract)."""
    assert_shape(images, [None, 3, None, None], "images")
    assert_shape(cameras, [images.shape[0], LABEL_SIZE], "cameras")
    low, high = float(images.min()), float(images.max())
    if low < -1.001 or high > 1.001:
        raise BadImageError(f"images must lie in [-1, 1] (dualinv.fileio.read_image gives that range); "
                            f"got values in [{low:.3g}, {high:.3g}]")


def progress(items: Iterable[T], description: str, enabled: bool) -> Iterator[T]:
    """A tqdm bar over ``items`` when ``enabled`` (no control flow, STYLE.md ``monitor``)."""
    if not enabled:
        yield from items
        return
    from tqdm import tqdm

    yield from tqdm(items, desc=description, leave=False)


def synchronise(device: torch.device) -> None:
    """Wait for queued CUDA work so wall-clock timings are honest."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
