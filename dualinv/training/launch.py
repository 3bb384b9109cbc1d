"""A training segment on ``resources.train.gpus`` GPUs: in this process for one, under ``torchrun`` for more.

The workflow's job calls :func:`train_segment_job`. With one GPU (or none) it is
:func:`dualinv.training.loop.train_segment` in the job's own process, as always. With more, the job
writes what the segment needs (the validated config and the arguments) to a request file beside the
checkpoint and starts ``python -m torch.distributed.run --standalone --nproc_per_node=<gpus>`` on
:mod:`dualinv.training.worker`; every process it starts reads the request, joins the process group and
trains its share (:mod:`dualinv.distributed`). The job waits for them, forwards a stop signal (Slurm's warning, SIGTERM)
to them as SIGTERM, and fails with their failure.
"""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

from dualinv.config import StudyConfig, as_dict
from dualinv.distributed import check_divisible
from dualinv.errors import ConfigError, PreemptedError, TrainingProcessError
from dualinv.preemption import stop_requests
from dualinv.training.loop import SegmentResult, train_segment
from dualinv.training.monitor import read_loss_log

POLL_SECONDS = 1.0
"""How often the job looks at its training processes (and at a stop signal to forward)."""


def train_segment_job(config: StudyConfig, experiment: str, start: int, stop: int, checkpoint_in: str | Path | None,
                      checkpoint_out: str | Path, *, dataset: str | Path, log_path: str | Path,
                      progress: bool = False) -> SegmentResult:
    """Steps ``[start, stop)`` of ``experiment`` on ``config.resources.train.gpus`` GPUs (see the module docstring)."""
    gpus = config.resources.train.gpus
    if gpus <= 1:
        return train_segment(config, experiment, start, stop, checkpoint_in, checkpoint_out, dataset=dataset,
                             log_path=log_path, progress=progress)
    check_divisible(config.training.batch_size, gpus)
    checkpoint_out = Path(checkpoint_out)
    request = checkpoint_out.with_name(checkpoint_out.name + ".launch.json")
    request.write_text(json.dumps({
        "config": as_dict(config), "experiment": experiment, "start": start, "stop": stop,
        "checkpoint_in": None if checkpoint_in is None else str(checkpoint_in), "checkpoint_out": str(checkpoint_out),
        "dataset": str(dataset), "log_path": str(log_path), "progress": progress}))
    try:
        _run_processes(torchrun_command(gpus, request), experiment,
                       _process_environment(max(1, config.resources.train.threads // gpus)))
    finally:
        request.unlink(missing_ok=True)
    rows = read_loss_log(log_path)
    last = {name: value for name, value in rows[-1].items() if name != "step"} if rows else {}
    return SegmentResult(checkpoint=checkpoint_out, start=start, stop=stop, last_terms=last)


def torchrun_command(gpus: int, request: Path) -> list[str]:
    """``torchrun`` (as ``python -m torch.distributed.run``, the job's interpreter) with one process per GPU of
    this node, each running :mod:`dualinv.training.worker` on ``request``; ``--standalone`` picks a free local rendezvous port."""
    if gpus < 2:
        raise ConfigError(f"torchrun is for two or more GPUs per segment (got {gpus})")
    return [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={gpus}",
            "-m", "dualinv.training.worker", str(request)]


def _run_processes(command: list[str], experiment: str, environment: dict[str, str]) -> None:
    """Run ``command`` to its end; a stop signal to this process reaches the training processes as SIGTERM
    (torchrun passes it on to each; they save their partial checkpoint and stop, preemption.py)."""
    with stop_requests() as stop_request:
        # its own session: a signal to the job's process group reaches torchrun only through the forward below
        sys.stdout.flush(), sys.stderr.flush()
        child = subprocess.Popen(command, start_new_session=True, env=environment,
                                 stdout=_file_of(sys.stdout), stderr=_file_of(sys.stderr))
        forwarded = False
        while True:
            try:
                code = child.wait(timeout=POLL_SECONDS)
                break
            except subprocess.TimeoutExpired:
                if stop_request.requested and not forwarded:
                    child.send_signal(signal.SIGTERM)
                    forwarded = True
    if code == 0:
        return
    if stop_request.requested:
        raise PreemptedError(f"{experiment}: {stop_request.signal_name} received; the training processes saved their "
                             "partial checkpoint and stopped; the retry resumes there")
    raise TrainingProcessError(f"{experiment}: the multi-GPU training processes failed (torchrun exit code {code}); "
                               "their error is printed above in this job's log")


def _file_of(stream) -> int | None:
    """The descriptor behind ``stream`` (the job log, which jobs.logged_to made sys.stdout), so the training
    processes write there too; None (inherit) for a stream without one."""
    try:
        return stream.fileno()
    except (AttributeError, io.UnsupportedOperation):
        return None


def _process_environment(threads: int) -> dict[str, str]:
    """This environment for the processes torchrun starts: this dualinv checkout first on ``PYTHONPATH``, and
    the job's CPU threads (``resources.train.threads``) shared among them unless ``OMP_NUM_THREADS`` is set."""
    package_root = str(Path(__file__).resolve().parents[2])
    paths = [package_root, *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
    return {"OMP_NUM_THREADS": str(threads), **os.environ, "PYTHONPATH": os.pathsep.join(paths)}
