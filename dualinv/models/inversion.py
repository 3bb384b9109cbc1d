"""One inversion contract for every method: the :class:`Inversion` result, the :class:`Inverter`
protocol, the input check and the one per-image clock (Table 1 "Time sec").

Ours (one encoder, or the dual inverter of §3.4), the encoder baselines, the per-image optimisation
baselines and the stand-in all return an :class:`Inversion`; the evaluation runner, the photo
pipeline and the editing code read nothing else.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable, Iterable, Iterator, Protocol, TypeVar

import torch
import torch.nn.functional as F
from torch import nn

from dualinv.camera import LABEL_SIZE
from dualinv.errors import BadImageError
from dualinv.seeding import make_generator
from dualinv.shapes import assert_shape

T = TypeVar("T")


@dataclass(frozen=True)
class DualParts:
    """What the dual inversion (§3.4) computed on the way to its stitched tri-grid."""

    trigrid_visible: torch.Tensor
    """Encoder 1's tri-grid [B, 3, D*C, H, W]."""
    trigrid_occluded: torch.Tensor
    """Encoder 2's tri-grid."""
    ws_occluded: torch.Tensor
    """Encoder 2's codes [B, num_ws, w_dim]."""
    depth: torch.Tensor
    """[B, 1, R, R] depth of Encoder 1's tri-grid at the input camera (the source of the mask)."""
    occlusion_mask: torch.Tensor
    """[B, 3, D, H, W] bool, True on occluded cells (Eq. 3)."""


@dataclass(frozen=True)
class Inversion:
    """Codes, tri-grids and the generator(s) that render them, for a batch of B images.

    ``generators[i]`` renders image i: the shared frozen generator for every method except PTI,
    whose per-image fine-tuned copies differ (paper §5.3: PTI's tri-grids can only be rendered by
    their own generator).
    """

    ws: torch.Tensor
    """[B, num_ws, w_dim]: drive the background, raw ToRGB and super-resolution at render time."""
    trigrid: torch.Tensor
    """[B, 3, D*C, H, W]: the tri-grid to render (after any F stage, feature fusion or stitch)."""
    generators: tuple[nn.Module, ...]
    """One generator per image (the same object repeated when shared)."""
    seconds_per_image: tuple[float, ...] | None = None
    """Wall seconds the method spent on each image when it times itself (per-image optimisation);
    ``None``: the caller times the batch with :func:`timed_per_image`."""
    final_terms: dict[str, float] = field(default_factory=dict)
    """Loss terms of the last optimisation step (empty for encoders)."""
    cameras: torch.Tensor | None = None
    """[B, 25] input cameras, when the inverter keeps them (the dual inverter renders them by default)."""
    dual: DualParts | None = None
    """The dual inverter's intermediate results (both tri-grids, the depth, the occlusion mask)."""

    def __post_init__(self) -> None:
        batch = self.ws.shape[0]
        if self.trigrid.shape[0] != batch or len(self.generators) != batch:
            raise ValueError(f"Inversion: ws, trigrid and generators must all have {batch} entries")
        if self.seconds_per_image is not None and len(self.seconds_per_image) != batch:
            raise ValueError(f"Inversion: seconds_per_image must have {batch} entries")

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


class Inverter(Protocol):
    """Any method of the study: images [B, 3, H, W] in [-1, 1] and cameras [B, 25] → :class:`Inversion`."""

    stand_in: bool
    """The inversions come from a stand-in (seeded generator or stand-in method): never the paper's numbers."""
    max_batch_size: int | None
    """Largest batch the method accepts (1 for per-image optimisation), or ``None``."""
    warm_up: bool
    """Run one untimed warm-up batch before timing (encoders). Per-image optimisation sets False: a
    repeat would cost a whole optimisation, and its hundreds of steps dwarf start-up costs."""

    def invert(self, images: torch.Tensor, cameras: torch.Tensor) -> Inversion: ...


class EncoderInverter:
    """A trained encoder as an :class:`Inverter`: one forward pass per batch (ours and the encoder
    baselines: the encoder rows of Tables 1-5). Inputs are resized to the side it was trained at."""

    max_batch_size = None
    warm_up = True

    def __init__(
        self,
        encoder: nn.Module,            # trained encoder with encode(image, camera, generator, rng), eval mode
        generator: nn.Module,          # the frozen PanoHead generator it was trained with
        encoder_resolution: int,       # side of the encoder's input images (paper 256; GOAE the generator's)
        stand_in: bool = False,        # the generator or the encoder has seeded random weights
        seed: int = 0,                 # seed of the renderer's jitter inside the F stage
    ) -> None:
        self.encoder, self.generator, self.encoder_resolution = encoder, generator, encoder_resolution
        self.stand_in, self.seed = stand_in, seed

    @torch.no_grad()
    def invert(self, images: torch.Tensor, cameras: torch.Tensor) -> Inversion:
        check_inputs(images, cameras)
        rng = make_generator(self.seed, images.device)
        ws, trigrid = self.encoder.encode(fit_side(images, self.encoder_resolution), cameras, self.generator, rng)
        return Inversion(ws=ws, trigrid=trigrid, generators=(self.generator,) * images.shape[0])


def fit_side(images: torch.Tensor, side: int) -> torch.Tensor:
    """Average-pool images to the encoder side (pSp), or enlarge bilinearly when they are smaller."""
    if images.shape[-1] >= side:
        return F.adaptive_avg_pool2d(images, side)
    return F.interpolate(images, size=(side, side), mode="bilinear", align_corners=False)


def check_inputs(images: torch.Tensor, cameras: torch.Tensor) -> None:
    """Images [B, 3, H, W] in [-1, 1] and cameras [B, 25] (the :class:`Inverter` contract)."""
    assert_shape(images, [None, 3, None, None], "images")
    assert_shape(cameras, [images.shape[0], LABEL_SIZE], "cameras")
    low, high = float(images.min()), float(images.max())
    if low < -1.001 or high > 1.001:
        raise BadImageError(f"images must lie in [-1, 1] (dualinv.fileio.load_image gives that range); "
                            f"got values in [{low:.3g}, {high:.3g}]")


def timed_per_image(function: Callable[[], T], batch_size: int,
                    device: str | torch.device = "cpu") -> tuple[T, float]:
    """Run ``function`` once; return its result and wall seconds per image (Table 1 "Time sec").

    The one clock of every method: on CUDA the device is synchronised before starting the clock and
    again before reading it, so earlier queued work is not counted and this call's queued kernels are.
    """
    synchronize = torch.device(device).type == "cuda" and torch.cuda.is_available()
    if synchronize:
        torch.cuda.synchronize(device)
    start = time.perf_counter()
    result = function()
    if synchronize:
        torch.cuda.synchronize(device)
    return result, (time.perf_counter() - start) / max(batch_size, 1)


def progress(items: Iterable[T], description: str, enabled: bool) -> Iterator[T]:
    """A tqdm bar over ``items`` when ``enabled`` (no control flow, STYLE.md ``monitor``)."""
    if not enabled:
        yield from items
        return
    from tqdm import tqdm  # imported here: only long runs with a bar need it

    yield from tqdm(items, desc=description, leave=False)
