"""Splits and evaluation manifests over prepared datasets.

* Train/validation split (paper §4.1: ~140k / ~14k of FFHQ + LPFF): each item has a hash of
  (seed, name); :func:`split_names` sends items below a share to validation, and
  :func:`split_names_by_count` (the workflow's, ``data.validation_images``) the N lowest-ranked ones.
  Either is the same on every machine. Mirrors are made at training time, so an image and its
  mirror are always on the same side.
* CelebA-HQ: every prepared image, or the official test partition when the CelebA-HQ-to-CelebA
  mapping and CelebA's ``list_eval_partition.txt`` are given.
* MEAD (paper Table 2): pairs of a frontal frame with the ±30° and ±60° views of the same actor,
  emotion, intensity, clip and frame. docs/data.md gives each dataset's expected input layout.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable, Mapping, Sequence

import numpy as np

from dualinv.data.celebahq import celebahq_partition_indices
from dualinv.errors import ConfigError, DatasetFormatError
from dualinv.seeding import derive_seed

SPLIT_FILE = "splits.json"
VALIDATION_SHARE = 14 / 154
"""The paper's ~14k validation images out of ~154k (§4.1)."""
MEAD_FRONT = "front"
MEAD_NOVEL_VIEWS = ("left_30", "left_60", "right_30", "right_60")
"""MEAD camera folders of the Table 2 targets."""
MEAD_KEY_PARTS = ("actor", "view", "emotion", "level", "clip", "frame")
"""A prepared MEAD frame is named ``actor__view__emotion__level__clip__frame`` (the input path
``actor/view/emotion/level/clip/frame.jpg`` with its folders joined by ``__``)."""


def split_names(names: Iterable[str], validation_share: float = VALIDATION_SHARE, seed: int = 0) -> dict[str, list[str]]:
    """``{"train": [...], "validation": [...]}``, each sorted; see the module docstring."""
    if not 0.0 < validation_share < 1.0:
        raise ConfigError(f"validation_share must be in (0, 1), got {validation_share}")
    threshold = validation_share * 2**63
    split: dict[str, list[str]] = {"train": [], "validation": []}
    for name in sorted(set(names)):
        side = "validation" if derive_seed(seed, "split", name) < threshold else "train"
        split[side].append(name)
    return split


def split_names_by_count(names: Iterable[str], validation_images: int, seed: int = 0) -> dict[str, list[str]]:
    """``{"train": [...], "validation": [...]}`` with exactly ``validation_images`` validation items: those
    whose hash of (seed, name) ranks lowest, the hash :func:`split_names` thresholds. An item's side never
    depends on the order of ``names``; when the dataset grows, items only move from validation to train."""
    unique = sorted(set(names))
    if not 0 < validation_images < len(unique):
        raise ConfigError(f"data.validation_images = {validation_images} must lie between 1 and the "
                          f"{len(unique)} prepared FFHQ + LPFF images minus one")
    ranked = sorted(unique, key=lambda name: (derive_seed(seed, "split", name), name))
    validation = set(ranked[:validation_images])
    return {"train": [name for name in unique if name not in validation],
            "validation": [name for name in unique if name in validation]}


def celebahq_test_names(
    labels: Mapping[str, np.ndarray],
    mapping_file: str | Path | None = None,
    partition_file: str | Path | None = None,
) -> list[str]:
    """Prepared CelebA-HQ images to evaluate: all of them, or those whose CelebA original is in the
    test partition (``2``) when both files are given. Prepared names are ``images/<hq index>.png``."""

    names = sorted(labels)
    if mapping_file is None and partition_file is None:
        return names
    if mapping_file is None or partition_file is None:
        raise ConfigError("give both the CelebA-HQ-to-CelebA mapping and list_eval_partition.txt, or neither")
    test_hq = celebahq_partition_indices(mapping_file, partition_file)
    return [name for name in names if Path(name).stem in test_hq]


def parse_mead_name(name: str) -> dict[str, str] | None:
    """The parts of a prepared MEAD frame name (see :data:`MEAD_KEY_PARTS`), or ``None``."""
    parts = Path(name).stem.split("__")
    if len(parts) != len(MEAD_KEY_PARTS):
        return None
    return dict(zip(MEAD_KEY_PARTS, parts))


def mead_pairs(names: Sequence[str]) -> list[dict[str, str]]:
    """Each frontal frame with every novel view of the same actor, emotion, level, clip and frame:
    ``[{"input": name, "target": name, "view": "left_30" | ...}]``, sorted. A name that does not
    follow the MEAD layout is an error (it would be silently left out otherwise)."""
    by_shot: dict[tuple[str, ...], dict[str, str]] = {}
    for name in names:
        parts = parse_mead_name(name)
        if parts is None:
            raise DatasetFormatError(
                f"{name!r} is not a MEAD frame name actor__view__emotion__level__clip__frame; see docs/data.md"
            )
        shot = tuple(parts[key] for key in MEAD_KEY_PARTS if key != "view")
        by_shot.setdefault(shot, {})[parts["view"]] = name
    pairs = []
    for shot in sorted(by_shot):
        views = by_shot[shot]
        if MEAD_FRONT not in views:
            continue
        for view in MEAD_NOVEL_VIEWS:
            if view in views:
                pairs.append({"input": views[MEAD_FRONT], "target": views[view], "view": view})
    return pairs
