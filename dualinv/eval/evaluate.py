"""The metrics of one method on one test set, from the inversion runner's folder (paper §4.3).

* Same-view test sets (Tables 1, 3-5): L2, LPIPS, ID of ``same_view/<stem>.png`` against the prepared
  image, the 360° FID of ``fid/<stem>.png`` against as many heads synthesized by the study's generator
  at the same cameras (:func:`dualinv.eval.fid.synthesized_images`), and seconds per image (its
  convention, :data:`dualinv.eval.metrics.TIME_CONVENTION`, written beside it).
* MEAD (Table 2): LPIPS, ID and FID at ±30° and ±60° (:func:`dualinv.eval.mead.evaluate_mead`).

Every metric but the time is computed by both protocols (:mod:`dualinv.eval.protocols`): the one
``evaluation.protocol`` names under the paper's key, the other beside it (``id:ours``), and the authors'
ID miss counts as ``face_misses``.

Every number computed from stand-in inversions (a seeded generator or a stand-in method) is marked
``stand_in``, on top of the stand-in flags of the metric networks themselves.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping

import numpy as np
import torch

from dualinv.config import config_hash
from dualinv.data.dataset import read_labels
from dualinv.data.manifests import mead_pairs
from dualinv.errors import ConfigError, PairingError
from dualinv.eval.bootstrap import summarize
from dualinv.eval.fid import FidProtocol, fid_metric, synthesized_images
from dualinv.eval.mead import evaluate_mead
from dualinv.eval.metrics import time_protocol
from dualinv.eval.protocols import MetricSuite, build_metric_suite, by_protocol, evaluate_pairs_both, fid_features_both
from dualinv.eval.results import MetricsResult, MetricValue, write_metrics
from dualinv.eval.runners import MANIFEST_FILE, MANIFEST_FORMAT
from dualinv.fileio import load_image
from dualinv.models.generator import study_generator
from dualinv.output_names import item_stem

Synthesize = Callable[[FidProtocol, int], Iterable[torch.Tensor]]
"""``(protocol, count)`` → batches [B, 3, S, S] of synthesized heads ``0..count-1`` at the protocol's cameras."""


def read_manifest(inversions: str | Path) -> dict[str, Any]:
    """The runner's manifest of a finished inversion folder (an unfinished one is an error)."""
    path = Path(inversions) / MANIFEST_FILE
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise PairingError(f"{path} does not exist; run the inversion (dualinv.eval.runners) first") from None
    except json.JSONDecodeError as error:
        raise PairingError(f"{path} is not valid JSON ({error}); delete the folder and invert again") from None
    if manifest.get("format") != MANIFEST_FORMAT:
        raise PairingError(f"{path}: not a {MANIFEST_FORMAT} manifest")
    if not manifest.get("complete"):
        raise PairingError(f"{path}: the inversion did not finish; run it again (it resumes)")
    return manifest


def _item_seconds(inversions: Path, manifest: Mapping[str, Any]) -> np.ndarray:
    records = [json.loads((inversions / "items" / f"{item_stem(name)}.json").read_text(encoding="utf-8"))
               for name in manifest["names"]]
    return np.asarray([record["seconds"] for record in records], dtype=np.float64)


def _fid_features(inversions: Path, manifest: Mapping[str, Any], suite: MetricSuite,
                  batch_size: int) -> tuple[tuple[np.ndarray, np.ndarray], int]:
    stems = [item_stem(name) for name in manifest["fid_names"]]  # in camera order (dualinv.eval.sampling)

    def batches() -> Iterable[torch.Tensor]:
        for start in range(0, len(stems), batch_size):
            yield torch.stack([load_image(inversions / "fid" / f"{stem}.png") for stem in stems[start:start + batch_size]])

    return fid_features_both(batches(), suite), len(stems)


def evaluate_inversions(inversions: str | Path, suite: MetricSuite, *,
                        method: str, dataset: str, synthesize: Synthesize | None, synthetic_data: bool = False,
                        batch_size: int = 8, resamples: int = 1000, seed: int = 0,
                        provenance: Mapping[str, Any] | None = None) -> MetricsResult:
    """Every table metric of one inversion folder by both protocols (``suite.protocol`` under the paper's keys);
    ``synthesize`` = ``None`` leaves FID out."""
    inversions = Path(inversions)
    manifest = read_manifest(inversions)
    dataset_dir = Path(manifest["dataset"])
    metrics: dict[str, MetricValue] = {}
    if manifest["protocol"] == "mead":
        inputs = set(manifest["names"])
        pairs = [pair for pair in mead_pairs(list(read_labels(dataset_dir))) if pair["input"] in inputs]
        scores, misses = evaluate_mead(pairs, inversions / "mead", lambda name: dataset_dir / name, suite,
                                       batch_size=batch_size, resamples=resamples, seed=seed)
        metrics.update(scores)
    else:
        pairs = [(inversions / "same_view" / f"{item_stem(name)}.png", dataset_dir / name) for name in manifest["names"]]
        scores, misses = evaluate_pairs_both(pairs, suite, batch_size=batch_size, resamples=resamples, seed=seed)
        metrics.update(scores)
        (encoded_ours, encoded_authors), count = _fid_features(inversions, manifest, suite, batch_size)
        if synthesize is not None and count >= 2:
            protocol = FidProtocol(**manifest["plan"]["fid"])
            synthesized_ours, synthesized_authors = fid_features_both(synthesize(protocol, count), suite)
            metrics.update(by_protocol(
                {"fid": fid_metric(synthesized_ours, encoded_ours, suite.fid_ours, protocol.describe())},
                {"fid": fid_metric(synthesized_authors, encoded_authors, suite.fid_authors, protocol.describe())},
                suite.protocol))
    timing = manifest.get("timing") or {}
    metrics["time_sec"] = dataclasses.replace(
        summarize(_item_seconds(inversions, manifest), resamples=resamples, seed=seed),
        protocol=time_protocol(timing.get("batch_size", "?"), timing.get("device", "?"), timing.get("warm_up", True)))
    if manifest["stand_in"]:
        metrics = {name: dataclasses.replace(value, stand_in=True) for name, value in metrics.items()}
    record = {"inversions": str(inversions), "inversion": manifest.get("provenance", {}),
              "inversions_stand_in": manifest["stand_in"], "seed": seed, "bootstrap_resamples": resamples,
              "metric_protocol": suite.protocol, "stand_in": suite.stand_in_flags(), **(provenance or {})}
    return MetricsResult(method=method, dataset=dataset, metrics=metrics, synthetic_data=synthetic_data,
                         provenance=record, face_misses=misses)


def is_synthetic_test_set(config, dataset: str) -> bool:
    """Whether the study's test set ``dataset`` is made of generator renders (mini preset), not photos."""
    sources = ("ffhq", "lpff") if dataset in ("val", "train") else (dataset,)
    known = [getattr(config.data, name) for name in sources if hasattr(config.data, name)]
    return any(source.source == "synthetic" for source in known)


def evaluate_method(config, method: str, dataset: Path, inversions: Path, output: Path) -> MetricsResult:
    """Workflow entry point (rule ``evaluate_method``): ``results/metrics/<method>/<test set>.json``.

    ``config`` is the study config (``dualinv.config.StudyConfig``); the test set's name is the output's
    stem. The metric networks and Inception come from ``weights`` (``null``: seeded stand-ins, marked).
    """

    output, evaluation, weights = Path(output), config.evaluation, config.weights
    manifest = read_manifest(inversions)
    if Path(manifest["dataset"]) != Path(dataset).resolve():
        raise ConfigError(f"{inversions} inverted {manifest['dataset']}, not the test set {dataset}; invert again")
    device = "cuda" if torch.cuda.is_available() else "cpu"
    suite = build_metric_suite(weights, protocol=evaluation.protocol, seed=evaluation.seed, device=device,
                               small_stand_ins=config.encoder.size == "tiny")
    generator = None

    def synthesize(protocol: FidProtocol, count: int) -> Iterable[torch.Tensor]:
        nonlocal generator
        if generator is None:
            generator, _ = study_generator(config, device)
        return synthesized_images(generator, protocol, count, device=device)

    result = evaluate_inversions(inversions, suite, method=method, dataset=output.stem,
                                 synthesize=synthesize, synthetic_data=is_synthetic_test_set(config, output.stem),
                                 resamples=evaluation.bootstrap_samples, seed=evaluation.seed,
                                 provenance={"config_hash": config_hash(config), "preset": config.preset})
    write_metrics(output, result)
    return result
