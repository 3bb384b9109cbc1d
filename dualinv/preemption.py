"""Stopping cleanly on the scheduler's warning before a time limit (Slurm ``--signal=TERM@<seconds>``).

A training segment or an inversion shard that is killed at its time limit loses everything since its
last checkpoint or record. Slurm can instead send a signal some minutes before the limit: the rules of
the :data:`STOPPING_GROUPS` ask for SIGTERM ``resources.stop_warning_seconds`` early
(:func:`stop_warning_resources`); SIGTERM is also what ``scancel``, a preemption and the limit itself send
first, and SIGUSR1 counts too. :func:`stop_requests` turns either into a flag that the loops read between
two units of work: the segment writes its partial checkpoint, the shard has its finished images' records
already, and both raise :class:`dualinv.errors.PreemptedError`, so the job fails and Snakemake's retry
resumes there.

Why SIGTERM and not the customary SIGUSR1: Slurm signals every process of the job step, and in a job of
the Slurm executor the step runs ``python -m snakemake --executor slurm-jobstep``, the rule's script its
child. That Snakemake handles SIGTERM by letting the running job finish; SIGUSR1 kills it, orphaning the
script while it writes its checkpoint (measured on the one-node test cluster, ci/slurm-cluster.sh).
"""

from __future__ import annotations

import contextlib
import signal
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Iterator

if TYPE_CHECKING:
    from dualinv.config import ResourcesConfig

STOP_SIGNALS = (signal.SIGUSR1, signal.SIGTERM)
"""Signals that ask a job to save its progress and stop: Slurm's early warning and termination."""

STOPPING_GROUPS = ("train", "invert", "optimise")
"""Rule groups (config ``resources``) whose jobs save their progress and stop on a stop signal: training
segments (:mod:`dualinv.training.loop`), encoder inversions and optimisation shards (:mod:`dualinv.eval.runners`)."""


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


def stop_warning_resources(resources: ResourcesConfig, group: str) -> dict[str, str]:
    """The Slurm resource asking for SIGTERM ``resources.stop_warning_seconds`` before the time limit, for a
    rule of ``group``: ``{"slurm_extra": "--signal=TERM@<seconds>"}``, or nothing for a group whose jobs would
    only die earlier (:data:`STOPPING_GROUPS`) or when the warning is off (0 seconds)."""
    seconds = resources.stop_warning_seconds
    if group not in STOPPING_GROUPS or not seconds:
        return {}
    return {"slurm_extra": f"--signal=TERM@{seconds}"}
