"""Long trainings as a chain of resumable segments, one scheduler job each (DESIGN.md, Slurm).

A job time limit or a preemption then costs at most one segment: segment ``k`` starts from the
checkpoint segment ``k - 1`` wrote. The workflow asks this module how many segments an experiment
has and which steps each covers, so the arithmetic is tested here and not in a rule file.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from dualinv.models.checkpoint import load_training_checkpoint, published_state, save_training_checkpoint


@dataclass(frozen=True)
class Segment:
    """Steps ``[start, stop)`` of one training job."""

    index: int
    """Position in the chain, from 0."""
    start: int
    """First step (the previous segment's checkpoint holds step ``start``)."""
    stop: int
    """One past the last step; the segment's checkpoint is saved at ``stop``."""


def segments(iterations: int, segment_length: int) -> list[Segment]:
    """The chain covering ``iterations`` steps in pieces of ``segment_length`` (the last may be shorter)."""
    if iterations < 1 or segment_length < 1:
        raise ValueError(f"iterations and segment_length must be >= 1 (got {iterations}, {segment_length})")
    return [Segment(index, start, min(start + segment_length, iterations))
            for index, start in enumerate(range(0, iterations, segment_length))]


def previous_segment(index: int) -> int | None:
    """The segment whose checkpoint segment ``index`` resumes from; ``None`` for the first."""
    if index < 0:
        raise ValueError(f"segment index must be >= 0 (got {index})")
    return index - 1 if index > 0 else None


def finalize_checkpoint(segment_checkpoint: str | Path, checkpoint: str | Path) -> None:
    """Publish the last segment's checkpoint as the experiment's ``checkpoint.pt``: the trained encoder
    (:func:`dualinv.models.checkpoint.published_state`), without the optimiser and discriminator state
    that only a resumed segment needs (three quarters of the file: Ranger keeps two moments and the
    Lookahead weights per parameter). Written atomically."""
    save_training_checkpoint(checkpoint, published_state(load_training_checkpoint(segment_checkpoint)))
