"""Inversion jobs of the workflow that keep their progress when they fail.

Snakemake deletes the declared outputs of a failed job, so a runner writing straight into
``results/inversions/<method>/<test set>/`` would lose every finished image on a time limit, a
preemption or a node failure. These jobs write into a work folder beside it that is *not* a
declared output, ``<results>/inversions/<method>/.<test set>.partial/<fingerprint>/``, and move it
onto the declared output only when every image is done. A retried job finds the work folder and the
runner (:func:`dualinv.eval.runners.run_inversions`) skips every image that has its record.

The fingerprint names what the work depends on: the method, the test set, the content of the
checkpoints and the study config except its ``resources`` and ``experiments`` (which change
neither an inversion nor its renders). Progress made with another config or another checkpoint
sits in another folder and is never mixed in; publishing removes those stale folders.

The per-image optimisation baselines (W+ optimisation ~49 s/image, PTI ~87 s/image on an RTX 4090)
need 190-340 GPU hours for the ~14k validation images: they run as ``resources.optimise_shards``
parallel jobs (:func:`optimise_shard`), each inverting the images whose index is its shard number
modulo the shard count into the shared work folder, then one short job (:func:`invert_resumably`)
renders anything left and publishes the folder.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path
from typing import Any, Sequence

from dualinv.config import StudyConfig, as_dict
from dualinv.eval.inverters import invert_dataset
from dualinv.eval.runners import TestItem, item_record_path
from dualinv.fileio import write_json_atomic
from dualinv.output_names import item_stem
from dualinv.weights import file_digest

PARTIAL_SUFFIX = ".partial"
"""A work folder sits in ``.<test set>.partial/`` beside the declared output folder."""


def inversion_fingerprint(config: StudyConfig, method: str, dataset: Path, checkpoints: Sequence[Path]) -> str:
    """16 hex digits of sha256 over what an inversion folder's content depends on (module docstring)."""
    settings = {key: value for key, value in as_dict(config).items() if key not in ("resources", "experiments")}
    record = {"method": method, "dataset": str(Path(dataset).resolve()),
              "checkpoints": [file_digest(path) for path in checkpoints], "config": settings}
    return hashlib.sha256(json.dumps(record, sort_keys=True).encode("utf-8")).hexdigest()[:16]


def partial_root(output: Path) -> Path:
    """The folder holding every work folder of the declared output ``output``."""
    output = Path(output)
    return output.parent / f".{output.name}{PARTIAL_SUFFIX}"


def work_dir(output: Path, fingerprint: str) -> Path:
    """The work folder of ``output`` for one fingerprint (never a declared output, so it survives a failure)."""
    return partial_root(output) / fingerprint


def publish(work: Path, output: Path) -> None:
    """Move the finished ``work`` folder onto ``output`` (same filesystem: one rename) and drop stale work."""
    output = Path(output)
    if output.exists():  # Snakemake removes a job's outputs before it runs; anything left is an older run
        shutil.rmtree(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    os.replace(work, output)
    shutil.rmtree(partial_root(output), ignore_errors=True)


def invert_resumably(config: StudyConfig, method: str, dataset: Path, checkpoints: Sequence[Path],
                     output: Path) -> dict[str, Any]:
    """Rules ``invert_dataset`` and ``optimise_inversions``: invert ``dataset`` with ``method`` in the work
    folder (resuming whatever an earlier try or the shards finished), then publish it as ``output``."""

    work = work_dir(output, inversion_fingerprint(config, method, dataset, checkpoints))
    manifest = invert_dataset(config=config, method=method, dataset=Path(dataset), checkpoints=list(checkpoints),
                              output=work)
    publish(work, output)
    return manifest


def optimise_shard(config: StudyConfig, method: str, dataset: Path, shard: int, inversions: Path,
                   record: Path) -> dict[str, Any]:
    """Rule ``optimise_shard``: shard ``shard`` of ``resources.optimise_shards`` of an optimisation baseline
    over ``dataset``, into the work folder of the final output ``inversions``; ``record`` lists its items."""

    shards = config.resources.optimise_shards
    work = work_dir(inversions, inversion_fingerprint(config, method, dataset, ()))
    manifest = invert_dataset(config=config, method=method, dataset=Path(dataset), checkpoints=[], output=work,
                              shard=(shard, shards))
    items = [TestItem(index, name, item_stem(name)) for index, name in enumerate(manifest["names"])
             if index % shards == shard]  # the runner's item index is the position in the manifest
    done = [item.name for item in items if item_record_path(work, item).is_file()]
    summary = {"method": method, "shard": shard, "shards": shards, "work_dir": str(work), "items": done}
    write_json_atomic(record, summary)
    return summary
