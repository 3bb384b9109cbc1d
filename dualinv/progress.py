"""Progress bars that read well both on a terminal and in a workflow job's log file.

On a terminal a bar redraws ten times a second. A workflow job's stderr is its log file (see
:func:`dualinv.jobs.logged_to`), where every redraw would be kept: there a bar writes a line at most
every 30 s, so a 25k-step training segment or a 14k-image evaluation leaves a readable log.
"""

from __future__ import annotations

import sys
from typing import Iterable

from tqdm.auto import tqdm

LOG_INTERVAL_S = 30.0
"""Seconds between two lines of a bar that writes into a file."""


def progress_bar(iterable: Iterable | None = None, *, total: int | None = None, desc: str, unit: str = "it",
                 enabled: bool = True, leave: bool = True) -> tqdm:
    """A tqdm bar on stderr: redrawn live on a terminal, a line every :data:`LOG_INTERVAL_S` into a log."""
    interactive = sys.stderr.isatty()
    return tqdm(iterable, total=total, desc=desc, unit=unit, disable=not enabled, leave=leave,
                dynamic_ncols=interactive, mininterval=0.1 if interactive else LOG_INTERVAL_S)
