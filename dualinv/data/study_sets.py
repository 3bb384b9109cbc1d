"""The study's datasets from its config: photo folders prepared, FFHQ + LPFF merged and split.

Two workflow entry points (rules ``prepare_images`` and ``split_dataset``, DESIGN.md "Data flow"),
each a thin adapter from a :class:`dualinv.config.StudyConfig` to the library:

* :func:`prepare_study_images`: :func:`dualinv.data.prepare.prepare_images` with the study's
  matting weights (``weights.u2net``; the bundled mediapipe selfie matte when null).
* :func:`split_dataset`: the prepared sources merged into one name space (``<source>__<stem>``),
  split deterministically by :func:`dualinv.data.manifests.split_names_by_count` into
  ``data.validation_images`` validation images (paper §4.1: ~14k; docs/data.md says why a count and
  not a share of the ~90k photos), and every training item,
  FFHQ included, repeated by LPFF's pose rebalancing rule (spec encoders-baselines.md §5,
  :mod:`dualinv.data.rebalance`). As in LPFF, the density is one KDE over *all* FFHQ + LPFF items and
  their mirrors (the validation items included: the density describes the whole pose distribution,
  and the split is drawn from it); validation items are written once. Mirroring itself happens
  during training (``training.mirror_probability``), so no flipped copies are written; the pose set
  is mirror-closed, so an item and its mirror have the same density and the same count.

The split folders are ordinary prepared datasets (``dataset.json``, ``images/``, ``masks/``) whose
files are hard links to the sources' files (copies where links are impossible).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from dualinv.camera import mirror_label
from dualinv.config import StudyConfig
from dualinv.data.alignment import study_pose_config
from dualinv.data.background import BackgroundConfig
from dualinv.data.celebahq import celebahq_test_photos
from dualinv.data.dataset import IMAGES_DIR, MASKS_DIR, read_labels, write_labels
from dualinv.data.manifests import split_names_by_count
from dualinv.data.mead_frames import extract_mead_frames
from dualinv.data.prepare import PrepareConfig, PrepareSummary, Shard, merge_prepared_shards, prepare_images
from dualinv.data.rebalance import duplication_counts
from dualinv.errors import DatasetFormatError
from dualinv.fileio import write_json_atomic


def study_prepare_config(config: StudyConfig) -> PrepareConfig:
    """Preparation settings of the study: its matting weights, its allowed reject share
    (``data.max_reject_share``), no progress bar (workflow logs)."""

    return PrepareConfig(progress=False, max_reject_share=config.data.max_reject_share,
                         background=BackgroundConfig(u2net_path=config.weights.u2net), pose=study_pose_config(config))


def prepare_study_images(inputs: Sequence[Path], output: Path, config: StudyConfig,
                         dataset: str | None = None, shard: Shard = Shard()) -> PrepareSummary:
    """Prepare photos into the dataset folder ``output``. ``inputs`` is one folder of photos
    (``source: photos``) or a list of photo files (``source: public_domain``); files are keyed by
    their own names, so the outputs do not depend on where the files live. For ``dataset``
    ``celebahq`` with ``data.celebahq_test_split`` set, only the test split's photos are prepared.
    With ``shard``, only that shard's photos (:class:`dualinv.data.prepare.Shard`)."""
    inputs = [Path(path) for path in inputs]
    settings = study_prepare_config(config)
    split = config.data.celebahq_test_split
    if dataset == "celebahq" and split is not None:
        if len(inputs) != 1 or not inputs[0].is_dir():
            raise DatasetFormatError(f"the CelebA-HQ test split selects photos from one folder, got {inputs}")
        inputs = celebahq_test_photos(inputs[0], split.mapping_file, split.partition_file)
    if len(inputs) == 1 and inputs[0].is_dir():
        return prepare_images(inputs[0], output, settings, shard)
    names = [path.name for path in inputs]
    if len(set(names)) != len(names):
        raise DatasetFormatError(f"photos {[str(path) for path in inputs]} share a file name; rename one")
    with tempfile.TemporaryDirectory(prefix="dualinv-photos-") as folder:
        for path in inputs:
            if not path.is_file():
                raise DatasetFormatError(f"{path}: no such photo")
            os.symlink(path.resolve(), Path(folder) / path.name)
        return prepare_images(folder, output, settings, shard)


def prepare_study_shard(inputs: Sequence[Path], work: Path, record: Path, config: StudyConfig, dataset: str,
                        index: int, count: int) -> PrepareSummary:
    """Workflow entry point (rule ``prepare_shard``): shard ``index`` of ``count`` of a photo dataset into the
    folder ``work``, then its ``record``. ``work`` is no declared output, so the photos a failed or timed-out
    try finished stay there and the retry skips them."""
    summary = prepare_study_images(inputs, work, config, dataset, Shard(index, count))
    write_json_atomic(record, {"work": str(work), "shard": index, "shards": count, "summary": asdict(summary)})
    return summary


def merge_study_shards(records: Sequence[Path], output: Path, config: StudyConfig) -> PrepareSummary:
    """Workflow entry point (rule ``prepare_images``): the dataset folder ``output`` from the finished shards'
    work folders named in their ``records`` (:func:`dualinv.data.prepare.merge_prepared_shards`)."""
    shard_records = [json.loads(Path(path).read_text(encoding="utf-8")) for path in records]
    counts = {record["shards"] for record in shard_records}
    if counts != {len(shard_records)} or sorted(record["shard"] for record in shard_records) != list(range(len(records))):
        raise DatasetFormatError(f"the preparation records {[str(path) for path in records]} are not one whole set "
                                 "of shards; prepare the dataset again")
    return merge_prepared_shards([record["work"] for record in shard_records], output,
                                 study_prepare_config(config).max_reject_share)


def extract_study_mead_frames(videos: Path, output: Path, config: StudyConfig):
    """The Table 2 frames of MEAD's videos with the study's choice (``data.mead_frames``;
    :func:`dualinv.data.mead_frames.extract_mead_frames`), no progress bar (workflow logs)."""

    choice = config.data.mead_frames
    return extract_mead_frames(videos, output, frames_per_clip=choice.frames_per_clip, max_clips=choice.max_clips,
                               seed=choice.seed, progress=False)


@dataclass(frozen=True)
class SplitSummary:
    """What :func:`split_dataset` wrote."""

    train: int
    """Training items, rebalancing copies included."""
    validation: int
    """Validation items."""
    rebalancing_copies: int
    """Extra training items added by the LPFF rebalancing."""


def _rebalancing_counts(labels: list[np.ndarray]) -> list[int]:
    """Copies of each item under LPFF's rule, the density taken over the items and their mirrors
    (spec encoders-baselines.md §5: every FFHQ + LPFF item and its mirror)."""
    if len(labels) < 3:  # a KDE needs more points than dimensions; nothing to rebalance
        return [1] * len(labels)
    both = np.stack(labels + [mirror_label(label) for label in labels])
    try:
        counts = duplication_counts(both)
    except np.linalg.LinAlgError:  # every camera on one curve (e.g. one pitch): no 2-D pose density
        logging.getLogger(__name__).warning("LPFF rebalancing skipped: the %d poses span no 2-D density", len(labels))
        return [1] * len(labels)
    return [int(count) for count in counts[: len(labels)]]


def _link(source: Path, target: Path) -> None:
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)


def _write_split(folder: Path, items: list[tuple[str, Path, str, np.ndarray]]) -> None:
    """Write a prepared dataset of ``(name, source root, source item, label)`` atomically."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
    try:
        (staging / IMAGES_DIR).mkdir()
        (staging / MASKS_DIR).mkdir()
        labels = {}
        for name, root, item, label in items:
            _link(root / item, staging / IMAGES_DIR / f"{name}.png")
            mask = root / MASKS_DIR / f"{Path(item).stem}.png"
            if mask.is_file():
                _link(mask, staging / MASKS_DIR / f"{name}.png")
            labels[f"{IMAGES_DIR}/{name}.png"] = label
        write_labels(staging, labels)
        if folder.exists():
            shutil.rmtree(folder)
        staging.rename(folder)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def split_dataset(inputs: Sequence[Path], train_output: Path, val_output: Path, config: StudyConfig) -> SplitSummary:
    """Merge the prepared source datasets ``inputs`` (folders named after their source: ``ffhq``,
    ``lpff``) and write the training and validation splits (see the module docstring)."""
    merged: dict[str, tuple[Path, str, np.ndarray]] = {}
    for root in map(Path, inputs):
        for item, label in read_labels(root).items():
            merged[f"{root.name}__{Path(item).stem}"] = (root, item, label)
    if not merged:
        raise DatasetFormatError(f"the training sources {[str(path) for path in inputs]} hold no images")
    split = split_names_by_count(merged, config.data.validation_images, seed=config.training.seed)
    counts = dict(zip(merged, _rebalancing_counts([label for _, _, label in merged.values()])))
    train: list[tuple[str, Path, str, np.ndarray]] = []
    copies = 0
    for name in split["train"]:
        train += [(name if copy == 0 else f"{name}__copy{copy}", *merged[name]) for copy in range(counts[name])]
        copies += counts[name] - 1
    validation = [(name, *merged[name]) for name in split["validation"]]
    _write_split(Path(train_output), train)
    _write_split(Path(val_output), validation)
    return SplitSummary(train=len(train), validation=len(validation), rebalancing_copies=copies)
