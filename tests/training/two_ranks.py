"""Tiny training runs split over two CPU processes (gloo), as ``torchrun --nproc_per_node=2`` would run them."""

from __future__ import annotations

import os
import signal
import socket
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.multiprocessing

from dualinv.data import HeadDataset
from dualinv.data.dataset import write_labels
from dualinv.distributed import process_group, ranks_from_environment
from dualinv.errors import PreemptedError
from dualinv.fileio import save_image
from dualinv.models.checkpoint import load_training_checkpoint
from dualinv.models.experiments import get_experiment
from dualinv.training.build import build_components
from dualinv.training.loop import train_segment

from .tiny import rendered_heads, tiny_config, tiny_generator

WORLD_SIZE = 2
HEADS = 6
"""Dataset size of the runs: more than one global batch, so the data order wraps within a few steps."""


def tiny_settings(global_batch: int, **training):
    """The tiny study config with ``global_batch`` as ``training.batch_size`` (the batch of all processes)."""
    return tiny_config(encoder={"input_resolution": 32},
                       training={"batch_size": global_batch, "learning_rate": 1e-3, "checkpoint_every": 2,
                                 "loss_resolution": 32, **training})


def write_heads(folder: Path) -> Path:
    """The tiny generator's heads as a prepared dataset (PNG files and dataset.json), which every
    process, and a process torchrun starts, reads the same."""
    folder.mkdir(parents=True)
    heads = rendered_heads(tiny_generator()[0], HEADS)
    for index, head in enumerate(heads):
        save_image(folder / f"{index}.png", head["image"])
    write_labels(folder, {f"{index}.png": head["camera"].double().numpy() for index, head in enumerate(heads)})
    return folder


@dataclass(frozen=True)
class Run:
    """A chain of segments ``[(start, stop), ...]`` of one experiment, its checkpoints in ``folder``."""

    settings: object
    experiment: str
    segments: tuple[tuple[int, int], ...]
    folder: Path
    stop_signal: tuple[int, int] | None = None
    """(rank, step): that process alone gets SIGUSR1 (Slurm's warning) during the step; the segment
    stops, and is then run again, as Snakemake's retry would."""

    @property
    def checkpoint(self) -> Path:
        """The last segment's checkpoint (rank 0 writes it)."""
        return checkpoint_of(self.folder, self.segments[-1])


def checkpoint_of(folder: Path, segment: tuple[int, int]) -> Path:
    return Path(folder) / f"steps-{segment[0]}-{segment[1]}.pt"


def stopped_at(folder: Path, rank: int) -> Path:
    """Where process ``rank`` of a run with ``stop_signal`` notes the step of the partial checkpoint it stopped at."""
    return Path(folder) / f"stopped-rank-{rank}.txt"


def train_in_one_process(run: Run, dataset: Path) -> Path:
    """``run`` in this process; returns its last checkpoint."""
    _chain(run, dataset, ranks=None)
    return run.checkpoint


def train_in_two_processes(runs: list[Run], dataset: Path) -> None:
    """Each of ``runs`` in turn by two processes sharing each step's batch (one start-up for all)."""
    with socket.socket() as probe:  # a free port for the rendezvous
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    torch.multiprocessing.spawn(_rank_main, args=(port, runs, dataset), nprocs=WORLD_SIZE, join=True)


def _rank_main(rank: int, port: int, runs: list[Run], dataset: Path) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), WORLD_SIZE=str(WORLD_SIZE),
                      LOCAL_RANK=str(rank))
    torch.set_num_threads(1)  # two processes on a small CI machine
    ranks = ranks_from_environment()
    with process_group(ranks, torch.device("cpu")):
        for run in runs:
            _chain(run, dataset, ranks)


def _chain(run: Run, dataset: Path, ranks) -> None:
    run.folder.mkdir(parents=True, exist_ok=True)
    previous = None
    for segment in run.segments:
        checkpoint = checkpoint_of(run.folder, segment)
        signalled = run.stop_signal is not None and ranks is not None and ranks.rank == run.stop_signal[0]
        try:
            _train(run, segment, previous, checkpoint, dataset, ranks, run.stop_signal[1] if signalled else None)
        except PreemptedError:  # every process stops, the signalled one and the others: each notes where
            partial = checkpoint.with_name(checkpoint.name + ".partial")
            stopped_at(run.folder, ranks.rank).write_text(str(load_training_checkpoint(partial)["step"]))
            _train(run, segment, previous, checkpoint, dataset, ranks, None)
        previous = checkpoint


def _train(run: Run, segment, previous, checkpoint: Path, dataset: Path, ranks, signal_at: int | None) -> None:
    torch.manual_seed(12345)  # a resumed job starts with another global RNG state; the checkpoint restores it
    generator, identity = tiny_generator()
    components = build_components(run.settings, get_experiment(run.experiment), HeadDataset(dataset),
                                  generator=generator, identity=identity)
    if signal_at is not None:  # encode runs once per step (the encoder step), from step ``start`` on
        calls = iter(range(segment[0], segment[1]))

        def encode(*args, original=components.encode):
            if next(calls) == signal_at:
                os.kill(os.getpid(), signal.SIGUSR1)
            return original(*args)

        components.encode = encode
    train_segment(run.settings, run.experiment, *segment, previous, checkpoint, components=components, ranks=ranks)
