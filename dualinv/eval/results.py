"""The metrics JSON: ``results/metrics/<method>/<dataset>.json``, one file per method and test set.

Format ``dualinv-metrics/1``::

    {
      "format": "dualinv-metrics/1",
      "method": "dual",                 # experiment registry name
      "dataset": "val",                 # test set (val, celebahq, mead, ...)
      "n": 1400,                        # images scored
      "synthetic_data": false,          # the test set is synthetic (mini preset), not real photos
      "metrics": {
        "lpips": {"value": 0.101, "ci95": [0.098, 0.104], "n": 1400, "stand_in": false},
        "fid":   {"value": 65.4, "ci95": null, "n": 1000, "stand_in": true,
                  "protocol": "<camera rule>"},
        ...
      },
      "provenance": {...}               # weights hashes or "stand-in", seeds, config hash, commit
    }

Metric keys: ``l2``, ``lpips``, ``id``, ``fid``, ``time_sec`` (Table 1, 3-5) and ``lpips_60``,
``lpips_30``, ``id_60``, ``id_30``, ``fid_60``, ``fid_30`` (Table 2, MEAD). ``stand_in`` on a
metric says the network that computed it had seeded random weights (LPIPS trunk, ArcFace,
CurricularFace, Inception) or that the renders came from a stand-in generator; such a number is never
a reproduction of the paper and every table marks it.

Every metric but ``time_sec`` is computed two ways (:data:`PROTOCOLS`, ``evaluation.protocol``): the key
above holds the chosen protocol, ``<key>:<other protocol>`` (``id:ours``, ``fid_60:authors``) the other,
and each value says which it is in ``computed_as``. The authors' ID leaves out pairs where MTCNN found no
face; ``face_misses`` counts them per ID key (``{"id": {"misses": 1, "pairs": 9}}``), and an ID key is
absent when every pair missed.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from dualinv.errors import ResultsFormatError
from dualinv.fileio import write_json_atomic

RESULTS_FORMAT = "dualinv-metrics/1"
PROTOCOLS = ("authors", "ours")
"""The two ways of computing the metrics (``evaluation.protocol``; dualinv.eval.protocols)."""


def other_protocol(protocol: str) -> str:
    """The protocol that is not ``protocol``."""
    if protocol not in PROTOCOLS:
        raise ResultsFormatError(f"metric protocol must be one of {PROTOCOLS}, got {protocol!r}")
    return PROTOCOLS[1 - PROTOCOLS.index(protocol)]


def beside_key(metric: str, protocol: str) -> str:
    """Key of ``metric`` computed by the protocol that was not chosen: ``"id:ours"``."""
    return f"{metric}:{protocol}"


@dataclass(frozen=True)
class MetricValue:
    """One reported number with its bootstrap interval (``None`` for set statistics such as FID)."""

    value: float
    n: int
    ci95: tuple[float, float] | None = None
    stand_in: bool = False
    protocol: str | None = None
    """How the number was measured where it is not obvious (the FID camera rule)."""
    computed_as: str | None = None
    """``"authors"`` or ``"ours"`` (:data:`PROTOCOLS`); ``None`` for a metric with one way (``time_sec``)."""

    def to_json(self) -> dict[str, Any]:
        record: dict[str, Any] = {"value": self.value, "ci95": list(self.ci95) if self.ci95 else None,
                                  "n": self.n, "stand_in": self.stand_in}
        if self.protocol is not None:
            record["protocol"] = self.protocol
        if self.computed_as is not None:
            record["computed_as"] = self.computed_as
        return record


@dataclass(frozen=True)
class MetricsResult:
    """The content of one metrics JSON file."""

    method: str
    dataset: str
    metrics: Mapping[str, MetricValue]
    synthetic_data: bool = False
    provenance: Mapping[str, Any] = field(default_factory=dict)
    face_misses: Mapping[str, Mapping[str, int]] = field(default_factory=dict)
    """Per authors'-protocol ID key: ``{"misses": pairs where MTCNN found no face, "pairs": all pairs}``."""

    @property
    def n(self) -> int:
        return max((metric.n for metric in self.metrics.values()), default=0)

    @property
    def stand_in(self) -> bool:
        """Whether any number in the file came from a stand-in network."""
        return any(metric.stand_in for metric in self.metrics.values())

    def to_json(self) -> dict[str, Any]:
        return {
            "format": RESULTS_FORMAT,
            "method": self.method,
            "dataset": self.dataset,
            "n": self.n,
            "synthetic_data": self.synthetic_data,
            "stand_in": self.stand_in,
            "metrics": {name: metric.to_json() for name, metric in self.metrics.items()},
            "face_misses": {name: dict(count) for name, count in self.face_misses.items()},
            "provenance": dict(self.provenance),
        }


def metrics_path(results_dir: str | Path, method: str, dataset: str) -> Path:
    """``<results>/metrics/<method>/<dataset>.json``."""
    return Path(results_dir) / "metrics" / method / f"{dataset}.json"


def write_metrics(path: str | Path, result: MetricsResult) -> Path:
    """Write ``result`` atomically (an interrupted job leaves no half-written file)."""
    for name, metric in result.metrics.items():
        if not math.isfinite(metric.value):
            raise ResultsFormatError(f"metric {name!r} of {result.method}/{result.dataset} is {metric.value}; "
                                     "refusing to write a non-finite number")
    write_json_atomic(path, result.to_json())
    return Path(path)


def metric_from_json(source: str, name: str, record: Any) -> MetricValue:
    """One metric entry of a results file; a malformed one raises :class:`ResultsFormatError` naming ``source``."""
    if not isinstance(record, Mapping) or not isinstance(record.get("value"), (int, float)):
        raise ResultsFormatError(f"{source}: metrics.{name} must be an object with a numeric 'value'")
    ci = record.get("ci95")
    if ci is not None and (not isinstance(ci, (list, tuple)) or len(ci) != 2):
        raise ResultsFormatError(f"{source}: metrics.{name}.ci95 must be [low, high] or null")
    return MetricValue(value=float(record["value"]), n=int(record.get("n", 0)),
                       ci95=None if ci is None else (float(ci[0]), float(ci[1])),
                       stand_in=bool(record.get("stand_in", False)), protocol=record.get("protocol"),
                       computed_as=record.get("computed_as"))


def read_metrics(path: str | Path) -> MetricsResult:
    """Read and validate one metrics JSON; a bad file raises :class:`ResultsFormatError` naming it."""
    source = str(path)
    try:
        payload = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ResultsFormatError(f"metrics file {source} does not exist; run `dualinv evaluate` first") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ResultsFormatError(f"metrics file {source} is not readable JSON ({error}); delete it and "
                                 "re-run `dualinv evaluate`") from None
    if not isinstance(payload, Mapping) or payload.get("format") != RESULTS_FORMAT:
        raise ResultsFormatError(f"{source}: not a {RESULTS_FORMAT} metrics file (format = "
                                 f"{payload.get('format') if isinstance(payload, Mapping) else None!r})")
    for key in ("method", "dataset", "metrics"):
        if key not in payload:
            raise ResultsFormatError(f"{source}: missing key {key!r}")
    if not isinstance(payload["metrics"], Mapping):
        raise ResultsFormatError(f"{source}: 'metrics' must be an object")
    metrics = {name: metric_from_json(source, name, record) for name, record in payload["metrics"].items()}
    misses = payload.get("face_misses") or {}
    if not isinstance(misses, Mapping) or not all(
            isinstance(count, Mapping) and isinstance(count.get("misses"), int) and isinstance(count.get("pairs"), int)
            for count in misses.values()):
        raise ResultsFormatError(f"{source}: face_misses must map ID keys to {{'misses': int, 'pairs': int}}")
    return MetricsResult(method=str(payload["method"]), dataset=str(payload["dataset"]), metrics=metrics,
                         synthetic_data=bool(payload.get("synthetic_data", False)),
                         provenance=payload.get("provenance") or {},
                         face_misses={name: {"misses": count["misses"], "pairs": count["pairs"]}
                                      for name, count in misses.items()})
