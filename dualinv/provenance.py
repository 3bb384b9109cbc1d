"""Provenance sidecars: what made an artifact, written beside it (DESIGN.md, Data flow).

``results/models/encoder2/checkpoint.pt`` gets ``checkpoint.pt.provenance.json`` next to it (a
folder ``inversions/dual/mead`` gets ``mead.provenance.json``): the git commit of the code, the
hash of the effective configuration, each pretrained file as its sha256 or ``"stand-in"``, the
seeds, the timings and the dualinv version. A result made with any stand-in network says so in
``stand_in``, so it is never mistaken for a reproduction of the paper.
"""

from __future__ import annotations

import datetime as dt
import json
import subprocess
from pathlib import Path
from typing import Any, Mapping

from dualinv import __version__
from dualinv.config import StudyConfig, config_hash
from dualinv.fileio import write_json_atomic
from dualinv.weights import STAND_IN, weights_provenance

SIDECAR_SUFFIX = ".provenance.json"


def sidecar_path(artifact: str | Path) -> Path:
    """Where the provenance of ``artifact`` (a file or a folder) is written."""
    artifact = Path(artifact)
    return artifact.with_name(artifact.name + SIDECAR_SUFFIX)


def git_commit(repository: str | Path) -> dict[str, Any]:
    """``{"commit": <sha or "unknown">, "dirty": <uncommitted changes?>}`` of ``repository``."""
    def git(*args: str) -> str | None:
        try:
            done = subprocess.run(["git", "-C", str(repository), *args], capture_output=True, text=True, timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            return None
        return done.stdout.strip() if done.returncode == 0 else None

    commit = git("rev-parse", "HEAD")
    status = git("status", "--porcelain", "--untracked-files=no") if commit else None
    return {"commit": commit or "unknown", "dirty": bool(status) if status is not None else None}


def _utc(timestamp: float) -> str:
    return dt.datetime.fromtimestamp(timestamp, tz=dt.timezone.utc).isoformat(timespec="seconds")


def provenance_record(config: StudyConfig, seeds: Mapping[str, int], started: float, finished: float,
                      repository: str | Path) -> dict[str, Any]:
    """The sidecar's content; ``started``/``finished`` are ``time.time()`` values."""
    weights = {key: weights_provenance(key, path) for key, path in vars(config.weights).items()}
    network = config.generator.network
    generator = weights["panohead"] if network is None and config.generator.preset == "released" else (
        STAND_IN if network is None else weights_provenance("panohead", network))
    return {
        "dualinv_version": __version__,
        "git": git_commit(repository),
        "preset": config.preset,
        "config_hash": config_hash(config),
        "generator": generator,
        "weights": weights,
        "stand_in": generator == STAND_IN or any(value == STAND_IN for value in weights.values()),
        "seeds": {name: int(value) for name, value in seeds.items()},
        "timings": {"started": _utc(started), "finished": _utc(finished),
                    "wall_seconds": round(finished - started, 3)},
    }


def write_provenance(artifact: str | Path, record: Mapping[str, Any]) -> Path:
    """Write ``record`` beside ``artifact`` atomically; returns the sidecar's path."""
    path = sidecar_path(artifact)
    write_json_atomic(path, dict(record))
    return path


def read_provenance(artifact: str | Path) -> dict[str, Any]:
    """The sidecar of ``artifact`` (``FileNotFoundError`` if it has none)."""
    return json.loads(sidecar_path(artifact).read_text(encoding="utf-8"))
