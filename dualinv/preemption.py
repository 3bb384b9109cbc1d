"""Stopping cleanly on the scheduler's warning before a time limit (Slurm ``--signal=USR1@<seconds>``).

A training segment or an inversion shard that is killed at its time limit loses everything since its
last checkpoint or record. Slurm can instead send a signal some minutes before the limit (the profile
asks for SIGUSR1, slurm/config.yaml); SIGTERM, what ``scancel`` and a preemption send first, counts too.
:func:`stop_requests` turns either into a flag that the loops read between two units of work: the
segment writes its partial checkpoint, the shard has its finished images' records already, and both
raise :class:`dualinv.errors.PreemptedError`, so the job fails and Snakemake's retry resumes there.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from dataclasses import dataclass, field
from typing import Iterator

STOP_SIGNALS = (signal.SIGUSR1, signal.SIGTERM)
"""Signals that ask a job to save its progress and stop: Slurm's early warning and termination."""


@dataclass
class StopRequest:
    """Set by a stop signal; read by a loop between two units of work."""

    signal_name: str | None = None
    handled: tuple[int, ...] = field(default_factory=tuple)

    @property
    def requested(self) -> bool:
        return self.signal_name is not None


@contextlib.contextmanager
def stop_requests(signals: tuple[int, ...] = STOP_SIGNALS) -> Iterator[StopRequest]:
    """Within the block, ``signals`` set the yielded :class:`StopRequest` instead of killing the process.

    Off the main thread (where Python cannot install handlers) nothing is installed and the request is
    never set. The previous handlers come back when the block ends."""
    request = StopRequest()
    if threading.current_thread() is not threading.main_thread():
        yield request
        return

    def note(number, _frame) -> None:
        request.signal_name = signal.Signals(number).name

    previous = {number: signal.signal(number, note) for number in signals}
    request.handled = tuple(previous)
    try:
        yield request
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
