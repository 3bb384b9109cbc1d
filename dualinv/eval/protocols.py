"""Both metric protocols of one evaluation: ours (:mod:`dualinv.eval.metrics`) and the authors'.

The paper (§4.3) names L2, LPIPS, ID and FID but not how they were computed; the numbers it prints come
from its first author's script three-bee/gen_metrics (``run_eval_from_folder.py``). Every evaluation
computes both ways and ``evaluation.protocol`` says which one fills the paper's columns
(:func:`by_protocol`; the other is stored as ``<key>:<protocol>``, :mod:`dualinv.eval.results`).

The authors' way, per same-view or MEAD pair (real image, render), as their script does it:

* the real image is downscaled ×2 with MATLAB-style bicubic (512 → 256) and rounded to 8 bits, the render
  average-pooled to 256 (``AdaptiveAvgPool2d``); both on [0, 1] (:func:`authors_views`);
* L2 = MSE on those [0, 1] images;
* LPIPS = ``lpips.LPIPS(net="alex")`` called on the [0, 1] images, not rescaled to the [-1, 1] it expects;
* ID = dot product of CurricularFace IR-101 embeddings of the MTCNN-aligned 112² crops of both images; a pair
  where MTCNN finds no face is left out of the mean and counted (:func:`id_mean_with_misses`);
* FID = clean-fid's ``legacy_tensorflow`` mode (the TF-aligned Inception resizing the 256² images to 299
  inside, bilinear) on the same 256² images; our 360° camera rule and sets (§4.3) are kept.

Images smaller or larger than 512² (the mini preset's 128² renders) are brought to 256² the same way: MATLAB
bicubic for real images, average pooling (or its repeat-upsampling) for renders.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import torch

from dualinv.eval.authors_protocol import (
    FaceLandmarks,
    authors_id_similarity,
    authors_lpips_input,
    authors_mse,
    downscale_real_images,
    id_mean_with_misses,
    matlab_imresize,
)
from dualinv.eval.bootstrap import summarize
from dualinv.eval.curricularface import IR_101, curricularface_or_stand_in
from dualinv.eval.fid import FeatureModel, image_features_each, load_inception_modes, standin_feature_model
from dualinv.eval.metrics import EVAL_RESOLUTION, MetricNetworks, at_eval_resolution, build_metric_networks, per_image_metrics
from dualinv.eval.results import PROTOCOLS, MetricValue, beside_key, other_protocol
from dualinv.fileio import load_image
from dualinv.losses import LPIPSLoss
from dualinv.models.encoders import TINY_BACKBONE
from dualinv.progress import progress_bar
from dualinv.weights import STAND_IN

AUTHORS_DOWNSCALE = 2
"""The authors' ``--downscale_rate``: real images (512²) are compared at half size."""
ID_KEYS = ("id", "id_30", "id_60")
"""Keys of the ID metrics, whose authors' version counts MTCNN misses."""


def authors_real_images(images: torch.Tensor) -> torch.Tensor:
    """Real images [B, 3, H, W] in [-1, 1] at 256² as the authors' loader makes them: MATLAB bicubic ×2 down
    (any other size: MATLAB bicubic to 256), rounded to 8 bits like their uint8 ``imresize``."""
    if images.shape[-2:] == (EVAL_RESOLUTION, EVAL_RESOLUTION):
        return images
    if images.shape[-2:] == (EVAL_RESOLUTION * AUTHORS_DOWNSCALE,) * 2:
        resized = downscale_real_images(images, AUTHORS_DOWNSCALE)
    else:
        resized = matlab_imresize(images, EVAL_RESOLUTION, EVAL_RESOLUTION)
    levels = ((resized + 1) * 127.5).round().clamp(0, 255)
    return levels / 127.5 - 1


def authors_renders(images: torch.Tensor) -> torch.Tensor:
    """Renders [B, 3, H, W] in [-1, 1] at 256² as the authors' script makes them (``AdaptiveAvgPool2d(256)``)."""
    return at_eval_resolution(images)


def authors_views(renders: torch.Tensor, targets: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``(render, real)`` [B, 3, 256, 256] on [0, 1], the images every authors' metric reads."""
    return authors_lpips_input(authors_renders(renders)), authors_lpips_input(authors_real_images(targets))


@dataclass(frozen=True)
class AuthorsMetricNetworks:
    """The networks of the authors' LPIPS and ID, with their provenance."""

    lpips: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
    """``lpips.LPIPS(net="alex")``: (a, b) -> [B, 1, 1, 1], called on [0, 1] images as theirs is."""
    face_network: torch.nn.Module
    """CurricularFace IR-101 (or its seeded stand-in)."""
    landmarks: Any
    """An object with ``detect(image [3, H, W] on [0, 1]) -> (5, 2) landmarks or None`` (:class:`FaceLandmarks`)."""
    lpips_stand_in: bool
    identity_stand_in: bool


def authors_per_image(renders: torch.Tensor, targets: torch.Tensor,
                      networks: AuthorsMetricNetworks) -> tuple[dict[str, torch.Tensor], list[float | None]]:
    """``({"l2": [B], "lpips": [B]}, ID per pair or None)`` of renders and real images in [-1, 1]."""
    fake, real = authors_views(renders, targets)
    with torch.no_grad():
        values = {"l2": authors_mse(fake, real), "lpips": networks.lpips(fake, real).reshape(-1).double()}
    ids = [authors_id_similarity(real[k], fake[k], networks.face_network, networks.landmarks) for k in range(len(fake))]
    return values, ids


def summarize_id(similarities: Sequence[float | None], *, resamples: int, seed: int,
                 stand_in: bool) -> tuple[MetricValue | None, dict[str, int]]:
    """The authors' ID over the pairs where both faces were found (``None`` if none was) and the miss count."""
    mean, misses = id_mean_with_misses(list(similarities))
    count = {"misses": misses, "pairs": len(similarities)}
    if mean is None:
        return None, count
    found = np.asarray([value for value in similarities if value is not None], dtype=np.float64)
    return summarize(found, resamples=resamples, seed=seed, stand_in=stand_in), count


@dataclass(frozen=True)
class MetricSuite:
    """Everything one evaluation job measures with: both protocols' networks and the chosen protocol."""

    protocol: str
    """``evaluation.protocol``: the one under the paper's column names."""
    ours: MetricNetworks
    authors: AuthorsMetricNetworks
    fid_ours: FeatureModel
    """Inception in clean-fid's ``clean`` mode."""
    fid_authors: FeatureModel
    """Inception in clean-fid's ``legacy_tensorflow`` mode (the TF-aligned resize inside the network)."""

    def __post_init__(self) -> None:
        if self.protocol not in PROTOCOLS:
            raise ValueError(f"evaluation.protocol must be one of {PROTOCOLS}, got {self.protocol!r}")
        if self.fid_authors.mode != "legacy_tensorflow" or self.fid_ours.mode != "clean":
            raise ValueError("the authors' FID uses clean-fid's legacy_tensorflow mode and ours its clean mode")

    def stand_in_flags(self) -> dict[str, bool]:
        """Provenance of every network for the metrics JSON."""
        return {"lpips_alex": self.ours.lpips_stand_in, "ir_se50": self.ours.identity_stand_in,
                "curricularface": self.authors.identity_stand_in, "inception": self.fid_ours.stand_in}


def build_metric_suite(weights, *, protocol: str, seed: int = 0, device: str = "cpu",
                       small_stand_ins: bool = False, landmarks: Any | None = None) -> MetricSuite:
    """Both protocols' networks from ``weights`` (:class:`dualinv.config.WeightsConfig`); ``None`` = stand-in.

    ``small_stand_ins`` (the mini preset: ``encoder.size: tiny``) makes the stand-in ArcFace and CurricularFace
    tiny IR bodies instead of seeded IR-SE50 / IR-101 (seconds each per job, and meaningless either way). One
    LPIPS network serves both protocols; MTCNN is built once here (``landmarks`` injects another detector).
    """
    lpips_module = LPIPSLoss("alex", weights.lpips_alex, seed=seed)
    small_arcface = small_stand_ins and weights.ir_se50 is None
    ours = build_metric_networks(weights.lpips_alex, weights.ir_se50, seed=seed,
                                 backbone=TINY_BACKBONE if small_arcface else None, lpips_module=lpips_module)
    small_face = small_stand_ins and weights.curricularface is None
    face_body = dataclasses.replace(TINY_BACKBONE, mode="ir") if small_face else IR_101
    face_network, provenance = curricularface_or_stand_in(weights.curricularface, seed=seed, backbone=face_body)
    authors = AuthorsMetricNetworks(lpips=lpips_module.metric, face_network=face_network.to(device).requires_grad_(False),
                                    landmarks=landmarks if landmarks is not None else FaceLandmarks(device),
                                    lpips_stand_in=weights.lpips_alex is None, identity_stand_in=provenance == STAND_IN)
    if weights.inception:
        features = load_inception_modes(weights.inception, device=device)
    else:
        features = {mode: standin_feature_model(seed, mode=mode) for mode in ("clean", "legacy_tensorflow")}
    return MetricSuite(protocol=protocol, ours=ours, authors=authors, fid_ours=features["clean"],
                       fid_authors=features["legacy_tensorflow"])


def by_protocol(ours: Mapping[str, MetricValue], authors: Mapping[str, MetricValue],
                protocol: str) -> dict[str, MetricValue]:
    """The chosen protocol's metrics under their own keys, the other's under ``<key>:<other>``; each value
    records which protocol computed it."""
    other = other_protocol(protocol)
    chosen, beside = (authors, ours) if protocol == "authors" else (ours, authors)
    named = {key: dataclasses.replace(value, computed_as=protocol) for key, value in chosen.items()}
    named.update({beside_key(key, other): dataclasses.replace(value, computed_as=other) for key, value in beside.items()})
    return named


def misses_by_protocol(misses: Mapping[str, Mapping[str, int]], protocol: str) -> dict[str, dict[str, int]]:
    """The authors' ID miss counts keyed as :func:`by_protocol` keys the authors' ID."""
    return {(key if protocol == "authors" else beside_key(key, "authors")): dict(count) for key, count in misses.items()}


def evaluate_pairs_both(pairs: Sequence[tuple[Path, Path]], suite: MetricSuite, *, batch_size: int = 8,
                        resamples: int = 1000, seed: int = 0) -> tuple[dict[str, MetricValue], dict[str, dict[str, int]]]:
    """L2, LPIPS and ID of (render, real image) file pairs by both protocols (:func:`by_protocol` keys), and the
    authors' ID miss count."""
    ours_values: dict[str, list[torch.Tensor]] = {"l2": [], "lpips": [], "id": []}
    authors_values: dict[str, list[torch.Tensor]] = {"l2": [], "lpips": []}
    authors_ids: list[float | None] = []
    for start in progress_bar(range(0, len(pairs), batch_size), desc="metrics", unit="batch"):
        chunk = pairs[start:start + batch_size]
        renders = torch.stack([load_image(render) for render, _ in chunk])
        targets = torch.stack([load_image(target) for _, target in chunk])
        for name, values in per_image_metrics(at_eval_resolution(renders), at_eval_resolution(targets), suite.ours).items():
            ours_values[name].append(values)
        values, ids = authors_per_image(renders, targets, suite.authors)
        for name, batch_values in values.items():
            authors_values[name].append(batch_values)
        authors_ids.extend(ids)
    ours_stand_in = {"l2": False, "lpips": suite.ours.lpips_stand_in, "id": suite.ours.identity_stand_in}
    ours = {name: summarize(torch.cat(parts).numpy(), resamples=resamples, seed=seed, stand_in=ours_stand_in[name])
            for name, parts in ours_values.items()}
    authors_stand_in = {"l2": False, "lpips": suite.authors.lpips_stand_in}
    authors = {name: summarize(torch.cat(parts).numpy(), resamples=resamples, seed=seed, stand_in=authors_stand_in[name])
               for name, parts in authors_values.items()}
    identity, count = summarize_id(authors_ids, resamples=resamples, seed=seed, stand_in=suite.authors.identity_stand_in)
    if identity is not None:
        authors["id"] = identity
    return by_protocol(ours, authors, suite.protocol), misses_by_protocol({"id": count}, suite.protocol)


def fid_features_both(batches, suite: MetricSuite, *, real_images: bool = False,
                      ours_presize: Callable[[torch.Tensor], torch.Tensor] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """``(ours, authors)`` Inception features of [B, 3, H, W] batches in [-1, 1], from one pass.

    Ours: clean mode on the images as given (or ``ours_presize`` of them: MEAD pools to 256 first). Authors':
    legacy_tensorflow mode on the 256² images of their script (renders pooled; ``real_images`` MATLAB-downscaled).
    """
    presize = authors_real_images if real_images else authors_renders
    ours, authors = image_features_each(batches, [suite.fid_ours, suite.fid_authors], presize=[ours_presize, presize])
    return ours, authors
