"""What the proof study (``presets/proof.yaml``) shows, read from its results folder.

The proof run trains Encoder 1 (no D), Encoder 2 (occlusion-aware triplane D) and scores them, the dual
stitch and W+ optimisation on demo-generator heads. :func:`proof_summary` gathers the numbers that answer
issue 14's questions, whatever they say:

* **learning**: the ground-truth same-view (yaw 0) and all-round errors of each encoder trained against the
  same encoder untrained (its initialisation: the seed training starts from), on the held-out
  ground-truth 360° heads;
* **per yaw bin**: E1, E2, dual and W+ optimisation on the visible side, the profiles and the far side;
* **the paper's orderings in miniature** (Tables 3 and 5): E1 beats E2 on the input view, E2 beats E1 on
  the unseen side, and the dual stitch keeps E1's input view while taking E2's far side. The paper measures
  the far side with FID; here the ground truth is known, so it is the L2 and depth error of the far-side
  views, compared head by head (mean difference, its standard error, heads won), so a difference inside
  the spread of the held-out heads is reported as within noise. LPIPS, ID and FID of the proof run come
  from seeded stand-in networks and are printed as such;
* **loss curves**: whether each run's total and L2 losses have flattened (last tenth of the steps against
  the tenth before it).
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import torch

from dualinv.config import StudyConfig
from dualinv.eval.gt360 import Gt360Result, gt360_networks, read_gt360, run_gt360, yaw_bin_mean, yaw_key
from dualinv.eval.results import read_metrics
from dualinv.models.encoders import build_inversion_encoder, encoder_input_side
from dualinv.models.experiments import get_experiment
from dualinv.models.generator import study_generator
from dualinv.models.inversion import EncoderInverter
from dualinv.seeding import derive_seed

YAW_BINS: Mapping[str, tuple[float, float]] = {"input view (0°)": (0.0, 0.0), "visible (|yaw| ≤ 60°)": (0.0, 60.0),
                                               "profiles (90°)": (90.0, 90.0), "far side (|yaw| ≥ 120°)": (120.0, 180.0)}
PROOF_METHODS = ("encoder1", "encoder2", "dual", "w_optim")
NOISE_STANDARD_ERRORS = 2.0
"""A paired difference smaller than this many standard errors is not told apart from noise."""
FLAT_CHANGE = 0.05
"""A loss curve counts as flat when its mean over the last tenth of the steps moved less than 5 % from the
tenth before."""


def loss_flatness(path: Path | Sequence[Path], columns: Sequence[str] = ("loss_encoder", "loss_l2")) -> dict[str, Any]:
    """First-tenth, previous-tenth and last-tenth means of each loss column of a run's CSV logs."""
    paths = [path] if isinstance(path, Path) else list(path)
    rows = [row for file in paths for row in csv.DictReader(file.open(encoding="utf-8"))]
    report: dict[str, Any] = {"steps": len(rows)}
    tenth = max(1, len(rows) // 10)
    for column in columns:
        if not rows or column not in rows[0]:
            continue
        values = np.array([float(row[column]) for row in rows])
        first, previous, last = values[:tenth].mean(), values[-2 * tenth:-tenth].mean(), values[-tenth:].mean()
        change = abs(last - previous) / max(abs(previous), 1e-12)
        report[column] = {"first": float(first), "previous": float(previous), "last": float(last),
                          "change": float(change), "flat": bool(change < FLAT_CHANGE)}
    return report


def head_bin_means(result: Gt360Result, metric: str, low: float, high: float) -> np.ndarray:
    """Each head's mean of ``metric`` over the yaws with ``low <= |yaw| <= high`` (one value per head)."""
    per_yaw = [result.per_head.get(metric, {}).get(yaw_key(yaw), []) for yaw in result.yaws if low <= abs(yaw) <= high]
    per_yaw = [values for values in per_yaw if values]
    return np.mean(np.array(per_yaw, dtype=float), axis=0) if per_yaw else np.zeros(0)


def paired_claim(scores: Mapping[str, Gt360Result], better: str, worse: str, bin_name: str,
                 metric: str = "l2") -> dict[str, Any] | None:
    """Whether ``better`` beats ``worse`` on ``metric`` in ``bin_name``, with the paired per-head spread.

    Both methods invert the same held-out heads, so the difference is taken head by head: its mean, its
    standard error, and on how many heads ``better`` wins. A claim whose mean difference is under
    :data:`NOISE_STANDARD_ERRORS` standard errors is reported as within noise, whichever way it points.
    """
    if better not in scores or worse not in scores:
        return None
    low, high = YAW_BINS[bin_name]
    better_heads = head_bin_means(scores[better], metric, low, high)
    worse_heads = head_bin_means(scores[worse], metric, low, high)
    if better_heads.size == 0 or better_heads.shape != worse_heads.shape:
        return None
    difference = better_heads - worse_heads
    standard_error = float(difference.std(ddof=1) / np.sqrt(difference.size)) if difference.size > 1 else 0.0
    mean = float(difference.mean())
    return {"claim": f"{better} < {worse}: {metric}, {bin_name}", better: float(better_heads.mean()),
            worse: float(worse_heads.mean()), "holds": bool(mean < 0), "difference": mean,
            "standard_error": standard_error, "wins": int((difference < 0).sum()), "heads": int(difference.size),
            "within_noise": bool(abs(mean) < NOISE_STANDARD_ERRORS * standard_error)}


def untrained_scores(config: StudyConfig, experiment_name: str, *, device: str = "cpu") -> dict[str, dict[str, list[float]]]:
    """Ground-truth 360° per-head scores of ``experiment_name``'s encoder at its initialisation: the seed
    training starts from (:func:`dualinv.models.checkpoint.load_trained_encoder` builds it the same way)."""
    generator, identity = study_generator(config, device)
    experiment = get_experiment(experiment_name)
    encoder = build_inversion_encoder(config, experiment, generator, derive_seed(config.training.seed, experiment.name))
    encoder = encoder.to(device).eval().requires_grad_(False)
    inverter = EncoderInverter(encoder, generator, encoder_input_side(config, experiment, generator), stand_in=True,
                               seed=config.evaluation.seed)
    gt360 = config.evaluation.gt360
    return run_gt360(generator, inverter, gt360_networks(config, device), samples=gt360.samples, truncation_psi=gt360.truncation_psi,
                     batch_size=gt360.batch_size, seed=config.evaluation.seed, device=device)


def _metrics(results: Path, method: str) -> dict[str, float]:
    path = results / "metrics" / method / "val.json"
    return {name: value.value for name, value in read_metrics(path).metrics.items()} if path.is_file() else {}


def proof_summary(config: StudyConfig, *, untrained: bool = True, device: str = "cpu") -> dict[str, Any]:
    """Every number :mod:`dualinv.eval.proof` reports, from ``config.output.results`` (module doc)."""
    results = Path(config.output.results)
    scores = {method: read_gt360(results / "gt360" / f"{method}.json") for method in PROOF_METHODS
              if (results / "gt360" / f"{method}.json").is_file()}
    summary: dict[str, Any] = {"results": str(results), "gt360_samples": config.evaluation.gt360.samples,
                               "bins": {}, "learning": {}, "orderings": {}, "losses": {}, "table_metrics": {}}
    for method, result in scores.items():
        summary["bins"][method] = {name: {metric: yaw_bin_mean(result, metric, low, high) for metric in ("l2", "depth")}
                                   for name, (low, high) in YAW_BINS.items()}
    if untrained:
        for method in ("encoder1", "encoder2"):
            if method not in scores:
                continue
            before = untrained_scores(config, method, device=device)
            before_result = Gt360Result(method=method, yaws=scores[method].yaws, summary={}, per_head=before,
                                        stand_in=True)
            summary["learning"][method] = {
                name: {"untrained": yaw_bin_mean(before_result, "l2", low, high), "trained": yaw_bin_mean(scores[method], "l2", low, high)}
                for name, (low, high) in YAW_BINS.items()}
    claims = [paired_claim(scores, "encoder1", "encoder2", "input view (0°)"),
              paired_claim(scores, "encoder2", "encoder1", "far side (|yaw| ≥ 120°)"),
              paired_claim(scores, "encoder2", "encoder1", "far side (|yaw| ≥ 120°)", "depth"),
              paired_claim(scores, "dual", "encoder2", "input view (0°)"),
              paired_claim(scores, "dual", "encoder1", "far side (|yaw| ≥ 120°)")]
    summary["orderings"] = [claim for claim in claims if claim is not None]
    for method in ("encoder1", "encoder2"):
        logs = sorted((results / "models" / method / "segments").glob("*.losses.csv"), key=lambda p: int(p.name.split(".")[0]))
        if logs:
            summary["losses"][method] = loss_flatness(logs)
    for method in PROOF_METHODS:
        metrics = _metrics(results, method)
        if metrics:
            summary["table_metrics"][method] = {key: metrics[key] for key in ("l2", "lpips", "id", "fid") if key in metrics}
    return summary


def _figure(value: float) -> str:
    """Three significant digits: the trained errors are ~1e-4, where four decimals would print ties."""
    return f"{value:.3g}"


def format_summary(summary: Mapping[str, Any]) -> str:
    """The summary as the text the benchmark prints."""
    lines = [f"proof study: {summary['results']} ({summary['gt360_samples']} held-out ground-truth heads per method)"]
    if summary["learning"]:
        lines.append("\nLearning: ground-truth L2 (0-1 pixels, 256²) of the encoder untrained -> trained")
        for method, per_bin in summary["learning"].items():
            cells = [f"{name}: {_figure(values['untrained'])} -> {_figure(values['trained'])} "
                     f"({(values['trained'] / values['untrained'] - 1) * 100:+.0f} %)" for name, values in per_bin.items()]
            lines.append(f"  {method:9s} " + "; ".join(cells))
    lines.append("\nPer yaw bin: ground-truth L2 / depth error")
    for method, per_bin in summary["bins"].items():
        lines.append(f"  {method:9s} " + "; ".join(f"{name}: {_figure(values['l2'])} / {_figure(values['depth'])}"
                                                   for name, values in per_bin.items()))
    lines.append("\nThe paper's orderings (Tables 3 and 5) in miniature, on the ground truth "
                 f"(paired over the heads; within noise: under {NOISE_STANDARD_ERRORS:g} standard errors):")
    for claim in summary["orderings"]:
        better, worse = claim["claim"].split(":")[0].split(" < ")
        verdict = "holds" if claim["holds"] else "does not hold"
        lines.append(f"  [{verdict}{', within noise' if claim['within_noise'] else ''}] {claim['claim']} "
                     f"({better} {_figure(claim[better])}, {worse} {_figure(claim[worse])}; difference "
                     f"{_figure(claim['difference'])} ± {_figure(claim['standard_error'])}, "
                     f"{better} better on {claim['wins']}/{claim['heads']} heads)")
    if summary["table_metrics"]:
        lines.append("\nTables 3/5 metrics on the validation heads (LPIPS, ID, FID from seeded stand-in networks):")
        for method, metrics in summary["table_metrics"].items():
            lines.append(f"  {method:9s} " + ", ".join(f"{key} {_figure(value)}" for key, value in metrics.items()))
    if summary["losses"]:
        lines.append("\nLoss curves (mean of the first / previous-to-last / last tenth of the steps):")
        for method, report in summary["losses"].items():
            for column, values in report.items():
                if column == "steps":
                    continue
                lines.append(f"  {method:9s} {column:13s} {values['first']:.4f} / {values['previous']:.4f} / "
                             f"{values['last']:.4f}  change {values['change'] * 100:.1f} % "
                             f"({'flat' if values['flat'] else 'still moving'}; {report['steps']} steps)")
    return "\n".join(lines)


def summary_json(summary: Mapping[str, Any]) -> str:
    return json.dumps(summary, indent=2, default=lambda value: value.item() if isinstance(value, torch.Tensor) else str(value))
