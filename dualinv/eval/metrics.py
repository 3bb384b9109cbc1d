"""Same-view reconstruction metrics of §4.3 (Table 1, 3-5): L2, LPIPS, ID, and time per image.

Conventions (the paper does not state them; these follow its first author's evaluation script,
``three-bee/gen_metrics`` ``run_eval_from_folder.py``, where targets are downscaled 512 -> 256 and
renders pooled to 256, and pixel values are divided by 255):

* **Resolution 256×256.** Renders and targets at another size are average-pooled to 256 first.
* **L2** is the per-image mean squared error over channels and pixels **on [0, 1] pixel values**
  (library images are [-1, 1]; ``(x + 1) / 2`` first). On [-1, 1] it would be 4× larger; the
  paper's 0.015-0.08 range fits [0, 1].
* **LPIPS** is LPIPS v0.1 AlexNet (``lpips.LPIPS(net="alex")``'s network, :mod:`dualinv.losses.perceptual`)
  on the [-1, 1] images, as the package expects, through :class:`dualinv.losses.LPIPSLoss` (the trunk from
  ``weights.lpips_alex``). The author's
  script passed [0, 1] images to an LPIPS expecting [-1, 1]; we do not copy that slip, so small
  LPIPS differences to the paper are expected.
* **ID** is the cosine similarity of ArcFace IR-SE50 embeddings on the pSp face crop, through
  :func:`dualinv.losses.identity_similarity` (the crop is defined once, in ``losses``); the paper cites
  ArcFace [12]. The author's script used CurricularFace IR-101 with MTCNN alignment.

This is "our" protocol; :mod:`dualinv.eval.protocols` computes the authors' one beside it, and
``evaluation.protocol`` chooses which fills the paper's columns.

The LPIPS and ID functions are injectable (``lpips_fn(a, b) -> [B]``, ``identity_fn(a, b) -> [B]``),
and record whether they ran with stand-in weights.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Mapping, Sequence

import torch
import torch.nn.functional as F

from dualinv.encoders.backbone import BackboneConfig
from dualinv.errors import PairingError
from dualinv.eval.bootstrap import summarize
from dualinv.eval.results import MetricValue
from dualinv.fileio import load_image
from dualinv.losses import IdentityEmbedder, LPIPSLoss, identity_similarity
from dualinv.shapes import assert_shape

EVAL_RESOLUTION = 256
"""Side at which every same-view metric is computed."""
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")

PairMetric = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
"""``(renders [B,3,H,W], targets [B,3,H,W])`` in [-1, 1] -> per-image values [B]."""


def at_eval_resolution(images: torch.Tensor) -> torch.Tensor:
    """[B, 3, H, W] average-pooled to 256×256 (unchanged if already there)."""
    if images.shape[-2:] == (EVAL_RESOLUTION, EVAL_RESOLUTION):
        return images
    return F.adaptive_avg_pool2d(images, EVAL_RESOLUTION)


def l2_per_image(renders: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """L2 of Table 1: per-image MSE on [0, 1] pixel values at 256×256 -> [B]."""
    assert_shape(renders, [None, 3, None, None], "renders")
    assert_shape(targets, [renders.shape[0], 3, None, None], "targets")
    difference = (at_eval_resolution(renders) - at_eval_resolution(targets)) / 2.0  # [-1,1] -> [0,1] scale
    return difference.square().mean(dim=(1, 2, 3))


@dataclass(frozen=True)
class MetricNetworks:
    """The networks behind LPIPS and ID, as per-image functions, with their provenance."""

    lpips: PairMetric
    identity: PairMetric
    lpips_stand_in: bool
    identity_stand_in: bool


def build_metric_networks(lpips_trunk: str | Path | None = None, ir_se50: str | Path | None = None, *,
                          seed: int = 0, backbone=None, lpips_module: LPIPSLoss | None = None,
                          device: str | torch.device = "cpu") -> MetricNetworks:
    """LPIPS (AlexNet) and ArcFace from the configured files; ``None`` builds a seeded stand-in.

    ``backbone`` (a :class:`dualinv.encoders.backbone.BackboneConfig`) shrinks the stand-in ArcFace
    for tests and the mini preset; the paper's IR-SE50 is the default. ``lpips_module`` reuses an LPIPS
    built from ``lpips_trunk`` already (the authors' protocol shares it); a new one goes to ``device``.
    """

    lpips_module = lpips_module if lpips_module is not None else LPIPSLoss("alex", lpips_trunk, seed=seed).to(device)
    embedder = IdentityEmbedder(backbone or BackboneConfig(), ir_se50, seed=seed).to(device)

    def lpips_fn(renders: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        return lpips_module.metric(at_eval_resolution(renders), at_eval_resolution(targets)).reshape(-1)

    def identity_fn(renders: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        return identity_similarity(embedder, renders, targets)

    return MetricNetworks(lpips=lpips_fn, identity=identity_fn,
                          lpips_stand_in=lpips_trunk is None, identity_stand_in=ir_se50 is None)


def per_image_metrics(renders: torch.Tensor, targets: torch.Tensor, networks: MetricNetworks) -> dict[str, torch.Tensor]:
    """``{"l2", "lpips", "id"}`` -> [B] values for a batch of same-view renders and their targets."""
    with torch.no_grad():
        return {
            "l2": l2_per_image(renders, targets),
            "lpips": networks.lpips(renders, targets).reshape(-1),
            "id": networks.identity(renders, targets).reshape(-1),
        }


TIME_CONVENTION = (
    "wall-clock seconds of one call of the method on a batch (images and cameras already on the device) "
    "divided by the batch size; CUDA synchronised before starting and before stopping the clock; includes all "
    "of the inversion (dual: both encoders, the input-view depth render, the occlusion mask, the stitch; "
    "optimisation baselines: every step, their own per-image clock); excludes image loading, one-time setup "
    "(network loading, the W+ average), the output renders, meshes and file writes"
)
"""Table 1 "Time sec" as measured by the runner (the paper does not state its convention)."""


def time_protocol(batch_size: int, device: str, warm_up: bool = True) -> str:
    """:data:`TIME_CONVENTION` with the batch size, device and warm-up of a run, written beside the number.

    Encoders are timed after one untimed warm-up batch; per-image optimisation inverts each image once
    (its hundreds of steps dwarf start-up costs)."""
    warm = "after one untimed warm-up batch" if warm_up else "no warm-up batch (each image optimised once)"
    return f"{TIME_CONVENTION}; {warm}; batch {batch_size} on {device}"


def paired_files(renders_dir: str | Path, targets_dir: str | Path) -> list[tuple[Path, Path]]:
    """``(render, target)`` pairs matched by relative path; any unmatched file is an error."""
    def images(folder: Path) -> dict[str, Path]:
        if not folder.is_dir():
            raise PairingError(f"image folder {folder} does not exist")
        return {str(path.relative_to(folder).with_suffix("")): path for path in sorted(folder.rglob("*"))
                if path.suffix.lower() in IMAGE_SUFFIXES}

    renders, targets = images(Path(renders_dir)), images(Path(targets_dir))
    unmatched = sorted(set(renders) ^ set(targets))
    if unmatched:
        raise PairingError(f"{len(unmatched)} image(s) have no counterpart between {renders_dir} and "
                           f"{targets_dir}, e.g. {unmatched[:5]}; every render needs a target of the same name")
    if not renders:
        raise PairingError(f"no images (.png/.jpg) in {renders_dir}")
    return [(renders[name], targets[name]) for name in sorted(renders)]


def evaluate_pairs(pairs: Sequence[tuple[Path, Path]], networks: MetricNetworks, *, batch_size: int = 8,
                   resamples: int = 1000, seed: int = 0) -> dict[str, MetricValue]:
    """L2, LPIPS and ID over image file pairs, each with its mean and 95% bootstrap interval."""
    values: dict[str, list[torch.Tensor]] = {"l2": [], "lpips": [], "id": []}
    for start in range(0, len(pairs), batch_size):
        chunk = pairs[start:start + batch_size]
        renders = torch.stack([at_eval_resolution(load_image(render)[None])[0] for render, _ in chunk])
        targets = torch.stack([at_eval_resolution(load_image(target)[None])[0] for _, target in chunk])
        for name, batch_values in per_image_metrics(renders, targets, networks).items():
            values[name].append(batch_values)
    stand_in = {"l2": False, "lpips": networks.lpips_stand_in, "id": networks.identity_stand_in}
    return {name: summarize(torch.cat(parts).numpy(), resamples=resamples, seed=seed, stand_in=stand_in[name])
            for name, parts in values.items()}


def stand_in_flags(networks: MetricNetworks) -> Mapping[str, bool]:
    """Provenance of the metric networks for the metrics JSON."""
    return {"lpips_alex": networks.lpips_stand_in, "ir_se50": networks.identity_stand_in}
