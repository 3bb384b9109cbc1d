"""Ground-truth 360° protocol (``table_gt360``; beyond the paper, whose MEAD views reach ±60° at most).

A generator sample is a head whose every view is known. The protocol inverts its front view with a
method and renders the inversion and the sample at yaw 0, ±30, ±60, ±90, ±120, ±150 and 180, and scores
each pair by the same-view metrics of :mod:`dualinv.eval.metrics` — L2 (on [0, 1] values at 256²),
LPIPS and, where a face is visible (|yaw| ≤ :data:`ID_MAX_YAW_DEG`), ID — and by the depth error (mean
|Δ ray distance| over the union of both foreground masks). Anything that implements
:class:`~dualinv.models.inversion.Inverter` runs through it, so it is the same code on the demo
generator and on the released PanoHead.

Sample ``i`` has the latent seeded by ``(evaluation.seed, "gt360", i)``: the heads do not depend on the
batch size and are not the synthetic training heads (seeded by dataset name). A job keeps its finished
samples in ``<output>.partial.json`` (not a declared output, so a failed or preempted job keeps it) and
a retry starts after them.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import torch

from dualinv.camera import camera_at_yaw
from dualinv.config import StudyConfig, config_hash
from dualinv.errors import ConfigError, PreemptedError, ResultsFormatError
from dualinv.eval.bootstrap import summarize
from dualinv.eval.inverters import build_method_inverter
from dualinv.eval.metrics import MetricNetworks, build_metric_networks, l2_per_image
from dualinv.eval.results import MetricValue, metric_from_json
from dualinv.fileio import write_json_atomic
from dualinv.models.encoders import TINY_BACKBONE
from dualinv.models.experiments import get_experiment
from dualinv.models.generator import study_generator
from dualinv.models.inversion import Inverter
from dualinv.preemption import stop_requests
from dualinv.progress import progress_bar
from dualinv.seeding import derive_seed, make_generator
from dualinv.weights import file_digest

LOGGER = logging.getLogger(__name__)

GT360_YAWS: tuple[float, ...] = (0.0, 30.0, -30.0, 60.0, -60.0, 90.0, -90.0, 120.0, -120.0, 150.0, -150.0, 180.0)
"""Yaw angles (degrees, 0 = front, the inverted view) of the comparison."""
ID_MAX_YAW_DEG = 60.0
"""ID is scored up to this yaw: the widest view the paper scores identity at (MEAD's ±60°, Table 2);
beyond it the face turns away and ArcFace's crop holds hair or a cheek."""
GT360_METRICS: tuple[str, ...] = ("l2", "lpips", "id", "depth")
LOWER_IS_BETTER: Mapping[str, bool] = {"l2": True, "lpips": True, "id": False, "depth": True}
METRIC_NAMES: Mapping[str, str] = {"l2": "L2 ↓", "lpips": "LPIPS ↓", "id": "ID ↑", "depth": "Depth error ↓"}
FORMAT = "dualinv-gt360/1"


def yaw_key(yaw: float) -> str:
    """JSON key of a yaw: ``"-30"``, ``"180"``."""
    return f"{yaw:g}"


def metric_applies(metric: str, yaw: float) -> bool:
    return metric != "id" or abs(yaw) <= ID_MAX_YAW_DEG


def sample_latents(z_dim: int, indices: Sequence[int], seed: int, device: torch.device | str = "cpu") -> torch.Tensor:
    """``[len(indices), z_dim]``: latent ``i`` drawn from its own seed, whatever the batch."""
    return torch.stack([torch.randn(z_dim, generator=make_generator(derive_seed(seed, "gt360", index)))
                        for index in indices]).to(device)


def _render_each(render, heads: Sequence[int], seed: int, purpose: str, device) -> dict[str, torch.Tensor]:
    """``render(row, jitter)`` of every head with the ray jitter seeded by (seed, purpose, head index): a head's
    renders do not depend on which batch it is in."""
    outputs = [render(row, make_generator(derive_seed(seed, purpose, head), device)) for row, head in enumerate(heads)]
    return {key: torch.cat([output[key] for output in outputs]) for key in outputs[0]}


def score_heads(generator: torch.nn.Module, inverter: Inverter, heads: Sequence[int], networks: MetricNetworks, *,
                yaws: Sequence[float] = GT360_YAWS, truncation_psi: float = 0.7, seed: int = 0,
                device: torch.device | str = "cpu") -> dict[str, dict[str, list[float]]]:
    """Per-head scores of ``inverter`` on the samples ``heads`` (indices): ``{metric: {yaw: [values]}}``.

    The sample and the inversion of a view are rendered with the same seeded ray jitter, so an exact
    inversion scores zero L2 and depth error.
    """
    z = sample_latents(generator.z_dim, heads, seed, device)
    cameras = camera_at_yaw(torch.tensor(list(yaws)), device=device)
    front = camera_at_yaw(0.0, device=device).expand(len(heads), -1)
    with torch.no_grad():
        ws_true = generator.mapping(z, front, truncation_psi=truncation_psi)
        trigrid_true = generator.synthesize_trigrid(ws_true, noise_mode="const")
        target = _render_each(lambda row, jitter: generator.render_trigrid(
            trigrid_true[row:row + 1], ws_true[row:row + 1], front[:1], noise_mode="const", generator=jitter),
            heads, seed, "gt360-front", device)["image"]
    inversion = inverter.invert(target.clamp(-1, 1), front)  # with gradients: per-image optimisation needs them
    scores: dict[str, dict[str, list[float]]] = {metric: {} for metric in GT360_METRICS}
    with torch.no_grad():
        for index, yaw in enumerate(yaws):
            camera = cameras[index:index + 1]
            purpose = f"gt360-view-{yaw_key(yaw)}"
            truth = _render_each(lambda row, jitter: generator.render_trigrid(
                trigrid_true[row:row + 1], ws_true[row:row + 1], camera, noise_mode="const", generator=jitter),
                heads, seed, purpose, device)
            guess = _render_each(lambda row, jitter: inversion.generators[row].render_trigrid(
                inversion.trigrid[row:row + 1], inversion.ws[row:row + 1], camera, noise_mode="const", generator=jitter),
                heads, seed, purpose, device)
            for metric, value in _view_scores(truth, guess, networks, with_identity=metric_applies("id", yaw)).items():
                scores[metric][yaw_key(yaw)] = [float(number) for number in value.cpu()]
    return scores


def _view_scores(truth: Mapping[str, torch.Tensor], guess: Mapping[str, torch.Tensor], networks: MetricNetworks,
                 with_identity: bool) -> dict[str, torch.Tensor]:
    """[B] values of every metric of one view's renders."""
    foreground = ((truth["image_mask"] > 0.5) | (guess["image_mask"] > 0.5)).float()
    depth = ((truth["image_depth"] - guess["image_depth"]).abs() * foreground).sum(dim=(1, 2, 3))
    depth = depth / foreground.sum(dim=(1, 2, 3)).clamp(min=1)
    # images as a saved render holds them (the same-view metrics read PNGs): an untrained method's
    # out-of-range pixels count as saturated, not as unbounded errors
    guess_image, truth_image = guess["image"].clamp(-1, 1), truth["image"].clamp(-1, 1)
    values = {"l2": l2_per_image(guess_image, truth_image),
              "lpips": networks.lpips(guess_image, truth_image).reshape(-1), "depth": depth}
    if with_identity:
        values["id"] = networks.identity(guess_image, truth_image).reshape(-1)
    return values


@dataclasses.dataclass(frozen=True)
class Gt360Result:
    """One method's scores: per yaw and metric, the mean with its bootstrap interval (and the per-head values)."""

    method: str
    yaws: tuple[float, ...]
    summary: dict[str, dict[str, MetricValue]]
    """``{metric: {yaw_key: value}}``; ID only where it applies."""
    per_head: dict[str, dict[str, list[float]]]
    stand_in: bool
    """The inversions or a metric network came from stand-in weights: not a real result."""
    provenance: dict[str, Any] = dataclasses.field(default_factory=dict)

    def value(self, metric: str, yaw: float) -> MetricValue | None:
        return self.summary.get(metric, {}).get(yaw_key(yaw))


def summarize_scores(method: str, per_head: Mapping[str, Mapping[str, Sequence[float]]], yaws: Sequence[float], *,
                     stand_in: bool, resamples: int, seed: int, provenance: Mapping[str, Any] | None = None) -> Gt360Result:
    summary = {metric: {key: summarize(values, resamples=resamples, seed=seed, stand_in=stand_in)
                        for key, values in per_yaw.items()} for metric, per_yaw in per_head.items()}
    return Gt360Result(method=method, yaws=tuple(float(yaw) for yaw in yaws), summary=summary,
                       per_head={metric: {key: list(values) for key, values in per_yaw.items()}
                                 for metric, per_yaw in per_head.items()},
                       stand_in=stand_in, provenance=dict(provenance or {}))


def write_gt360(path: str | Path, result: Gt360Result) -> Path:
    write_json_atomic(path, {
        "format": FORMAT, "method": result.method, "yaws": list(result.yaws), "stand_in": result.stand_in,
        "summary": {metric: {key: value.to_json() for key, value in per_yaw.items()}
                    for metric, per_yaw in result.summary.items()},
        "per_head": result.per_head, "provenance": result.provenance})
    return Path(path)


def read_gt360(path: str | Path) -> Gt360Result:
    path = Path(path)
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as error:
        raise ResultsFormatError(f"{path}: cannot read the ground-truth 360° scores ({error}); run the "
                                 "gt360_method job again") from None
    if not isinstance(record, dict) or record.get("format") != FORMAT:
        raise ResultsFormatError(f"{path}: not a {FORMAT} file")
    try:
        summary = {metric: {key: metric_from_json(str(path), f"{metric}[{key}]", value) for key, value in per_yaw.items()}
                   for metric, per_yaw in record["summary"].items()}
        return Gt360Result(method=record["method"], yaws=tuple(float(yaw) for yaw in record["yaws"]), summary=summary,
                           per_head=record["per_head"], stand_in=bool(record["stand_in"]),
                           provenance=record.get("provenance", {}))
    except (KeyError, TypeError, ValueError) as error:
        raise ResultsFormatError(f"{path}: malformed ground-truth 360° scores ({error!r})") from None


def yaw_bin_mean(result: Gt360Result, metric: str, low: float, high: float) -> float | None:
    """Mean of ``metric`` over the heads and the yaws with ``low <= |yaw| <= high``; ``None`` if none has it."""
    values = [value for yaw in result.yaws if low <= abs(yaw) <= high
              for value in result.per_head.get(metric, {}).get(yaw_key(yaw), [])]
    return float(np.mean(values)) if values else None


def gt360_networks(config: StudyConfig, device: torch.device | str = "cpu") -> MetricNetworks:
    """LPIPS and ArcFace of the protocol from ``weights`` (seeded stand-ins where ``null``; a tiny ArcFace
    stand-in for tiny encoders, as the mini preset's evaluation)."""
    weights = config.weights
    small_arcface = config.encoder.size == "tiny" and weights.ir_se50 is None
    return build_metric_networks(weights.lpips_alex, weights.ir_se50, seed=config.evaluation.seed,
                                 backbone=TINY_BACKBONE if small_arcface else None, device=device)


def partial_path(output: str | Path) -> Path:
    """Where a job keeps its finished heads: beside the output, not declared, so a failed job keeps it."""
    output = Path(output)
    return output.with_name(f"{output.stem}.partial.json")


def _resume(path: Path, settings: Mapping[str, Any]) -> tuple[int, dict[str, dict[str, list[float]]]]:
    """``(heads done, their scores)`` of a previous try with the same settings, else ``(0, empty)``."""
    empty: dict[str, dict[str, list[float]]] = {metric: {} for metric in GT360_METRICS}
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return 0, empty
    except (OSError, json.JSONDecodeError):
        LOGGER.warning("%s is unreadable; starting the ground-truth 360° scores again", path)
        return 0, empty
    if not isinstance(record, dict) or record.get("settings") != dict(settings):
        LOGGER.info("%s was made with other settings; starting again", path)
        return 0, empty
    return int(record["done"]), record["per_head"]


def run_gt360(generator: torch.nn.Module, inverter: Inverter, networks: MetricNetworks, *, samples: int,
              truncation_psi: float, batch_size: int, seed: int, partial: Path | None = None,
              settings: Mapping[str, Any] | None = None, yaws: Sequence[float] = GT360_YAWS,
              device: torch.device | str = "cpu", progress: bool = False) -> dict[str, dict[str, list[float]]]:
    """Per-head scores of ``samples`` heads, in batches; resumable through ``partial`` (module doc).

    A stop signal (:mod:`dualinv.preemption`) ends the job after the batch in progress, whose scores are kept.
    """
    if samples < 1:
        raise ConfigError(f"evaluation.gt360.samples must be >= 1 to score a method, got {samples}")
    settings = {"samples": samples, "truncation_psi": truncation_psi, "seed": seed,
                "yaws": [yaw_key(yaw) for yaw in yaws], **(settings or {})}
    done, per_head = _resume(partial, settings) if partial is not None else (0, {m: {} for m in GT360_METRICS})
    step = min(batch_size, inverter.max_batch_size or batch_size)
    with stop_requests() as stop, progress_bar(total=samples, desc="gt360 heads", unit="head",
                                               enabled=progress) as bar:
        bar.update(done)
        while done < samples:
            indices = list(range(done, min(done + step, samples)))
            scores = score_heads(generator, inverter, indices, networks, yaws=yaws, truncation_psi=truncation_psi,
                                 seed=seed, device=device)
            for metric, per_yaw in scores.items():
                for key, values in per_yaw.items():
                    per_head[metric].setdefault(key, []).extend(values)
            done += len(indices)
            bar.update(len(indices))
            if partial is not None:
                write_json_atomic(partial, {"settings": settings, "done": done, "per_head": per_head})
            if stop.requested and done < samples:
                raise PreemptedError(f"{stop.signal_name}: stopped after {done} of {samples} heads; "
                                     f"{partial} keeps them and the retry continues from there")
    return {metric: per_yaw for metric, per_yaw in per_head.items() if per_yaw}


def gt360_method(config: StudyConfig, method: str, checkpoints: Sequence[Path], output: Path) -> Gt360Result:
    """Workflow entry point (rule ``gt360_method``): ``results/gt360/<method>.json``."""
    output, evaluation = Path(output), config.evaluation
    device = "cuda" if torch.cuda.is_available() else "cpu"
    generator, identity = study_generator(config, device)
    inverter = build_method_inverter(get_experiment(method), [Path(path) for path in checkpoints], generator, identity,
                                     config=config, device=device, seed=evaluation.seed)
    networks = gt360_networks(config, device)
    metric_stand_in = {"lpips_alex": networks.lpips_stand_in, "ir_se50": networks.identity_stand_in}
    settings = {"method": method, "generator": identity.weights_hash,
                "checkpoints": [file_digest(path) for path in checkpoints]}
    partial = partial_path(output)
    per_head = run_gt360(generator, inverter, networks, samples=evaluation.gt360.samples,
                         truncation_psi=evaluation.gt360.truncation_psi, batch_size=evaluation.gt360.batch_size,
                         seed=evaluation.seed, partial=partial, settings=settings, device=device, progress=True)
    stand_in = bool(inverter.stand_in or identity.stand_in or any(metric_stand_in.values()))
    result = summarize_scores(method, per_head, GT360_YAWS, stand_in=stand_in, resamples=evaluation.bootstrap_samples,
                              seed=evaluation.seed, provenance={
                                  "generator": identity.source, "checkpoints": [str(path) for path in checkpoints],
                                  "inversions_stand_in": bool(inverter.stand_in or identity.stand_in),
                                  "metric_stand_in": metric_stand_in, "samples": evaluation.gt360.samples,
                                  "truncation_psi": evaluation.gt360.truncation_psi, "seed": evaluation.seed,
                                  "id_max_yaw_deg": ID_MAX_YAW_DEG, "config_hash": config_hash(config),
                                  "preset": config.preset})
    write_gt360(output, result)
    partial.unlink(missing_ok=True)
    return result
