"""What a training run reports: a progress bar and a CSV row of every loss term per step.

No control flow lives here. Every line ends in ``\n`` (the csv module's default is ``\r\n``; the
rewritten header and kept rows are joined with ``\n``, so a resumed log would mix both). On resume the log is cut back to the rows before the resume step, so a
segment that died after logging but before checkpointing does not leave duplicated steps behind.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Mapping

from dualinv.fileio import write_text_atomic
from dualinv.progress import progress_bar


class LossLog:
    """``step,<term>,...`` rows in a CSV file, one per optimisation step."""

    def __init__(self, path: str | Path, resume_step: int) -> None:
        self.path = Path(path)
        self.columns: list[str] | None = None
        if self.path.is_file():
            self._truncate_to(resume_step)

    def _truncate_to(self, resume_step: int) -> None:
        with self.path.open(newline="") as handle:
            rows = list(csv.reader(handle))
        if not rows:
            return
        header, body = rows[0], [row for row in rows[1:] if row and int(row[0]) < resume_step]
        self.columns = header[1:]
        lines = [",".join(header)] + [",".join(row) for row in body]
        write_text_atomic(self.path, "\n".join(lines) + "\n")

    def write(self, step: int, terms: Mapping[str, float]) -> None:
        if self.columns is None or not set(terms) <= set(self.columns):
            self._widen(sorted(set(terms) | set(self.columns or ())))
        with self.path.open("a", newline="") as handle:
            csv.writer(handle, lineterminator="\n").writerow([step, *(_format(terms.get(name)) for name in self.columns)])

    def _widen(self, columns: list[str]) -> None:
        """Rewrite the header (and earlier rows) when a term first appears, e.g. lazy R1 mid-segment."""
        rows = read_loss_log(self.path) if self.path.is_file() else []
        lines = [",".join(["step", *columns])]
        lines += [",".join([str(int(row["step"])), *(_format(row.get(name)) for name in columns)]) for row in rows]
        write_text_atomic(self.path, "\n".join(lines) + "\n")
        self.columns = columns


def _format(value: float | None) -> str:
    """A term absent at this step (e.g. lazy R1) is an empty cell."""
    return "" if value is None else repr(float(value))


def read_loss_log(path: str | Path) -> list[dict[str, float]]:
    """The rows of a loss log as dicts (``step`` included; terms absent at a step are left out)."""
    with Path(path).open(newline="") as handle:
        return [{key: float(value) for key, value in row.items() if value != ""} for row in csv.DictReader(handle)]


def segment_progress(start: int, stop: int, description: str, enabled: bool = True):
    """A bar over the steps ``start..stop`` of a segment (:func:`dualinv.progress.progress_bar`)."""
    return progress_bar(range(start, stop), total=stop - start, desc=description, unit="step", enabled=enabled)
