"""``rejects.csv``: every input that could not be prepared, with a named reason.

A batch never stops on a bad photo; it records it here and goes on. The reasons are codes so that
a summary can count them, and the detail says what was wrong and what to do.
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from dualinv.fileio import write_text_atomic

REJECTS_FILE = "rejects.csv"
REASONS = ("unreadable", "empty", "not_an_image", "corrupt", "too_large", "too_small", "no_face", "pose_out_of_range",
           "alignment_failed", "error", "unsupported_format", "not_a_file", "broken_link")
"""Reason codes: the decoding ones of :mod:`dualinv.data.decode`, ``no_face``, PanoHead's alignment rejections
(``pose_out_of_range``, ``alignment_failed``, ``too_small`` for a head under 256 px; :mod:`.recrop`), ``error`` (an
unexpected exception while preparing the photo; the detail names its class and message), and the ones that come from
listing a folder (``unsupported_format``, ``not_a_file``, ``broken_link``: nothing in it is skipped silently)."""
COLUMNS = ("source", "reason", "detail")


@dataclass(frozen=True)
class Reject:
    """One input that was skipped."""

    source: str
    """The input's path, relative to the input folder when it was given as a folder."""
    reason: str
    """One of :data:`REASONS`."""
    detail: str
    """The error message (what went wrong, what to do)."""

    def __post_init__(self) -> None:
        if self.reason not in REASONS:
            raise ValueError(f"unknown reject reason {self.reason!r}; known: {REASONS}")


def read_rejects(path: str | Path) -> list[Reject]:
    """The rejects recorded in ``path`` (an empty list when the file does not exist)."""
    path = Path(path)
    if not path.is_file():
        return []
    with open(path, newline="", encoding="utf-8") as handle:
        return [Reject(row["source"], row["reason"], row["detail"]) for row in csv.DictReader(handle)]


def write_rejects(path: str | Path, rejects: Iterable[Reject]) -> None:
    """Write ``rejects`` (sorted by source) atomically, header included even when there are none."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(COLUMNS)
    for reject in sorted(rejects, key=lambda item: item.source):
        writer.writerow([reject.source, reject.reason, reject.detail])
    write_text_atomic(path, buffer.getvalue())


def count_reasons(rejects: Iterable[Reject]) -> dict[str, int]:
    """Number of rejects per reason, in :data:`REASONS` order, zero counts left out."""
    counts = Counter(reject.reason for reject in rejects)
    return {reason: counts[reason] for reason in REASONS if counts[reason]}
