"""Tiny training runs split over two CPU processes (gloo), as ``torchrun --nproc_per_node=2`` would run them."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import torch
import torch.multiprocessing

from dualinv.distributed import process_group, ranks_from_environment
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
                       training={"batch_size": global_batch, "learning_rate": 1e-3, "checkpoint_every": 2, **training})


def tiny_components(settings, experiment: str):
    generator, identity = tiny_generator()
    return build_components(settings, get_experiment(experiment), rendered_heads(generator, HEADS),
                            generator=generator, identity=identity)


def train_in_one_process(settings, experiment: str, segments: list[tuple[int, int]], folder: Path) -> Path:
    """The segments ``[(start, stop), ...]`` chained in this process; returns the last checkpoint."""
    return _chain(settings, experiment, segments, folder, ranks=None)


def train_in_two_processes(settings, experiment: str, segments: list[tuple[int, int]], folder: Path) -> Path:
    """The same chain run by two processes sharing each step's batch; returns rank 0's last checkpoint."""
    with socket.socket() as probe:  # a free port for the rendezvous
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    torch.multiprocessing.spawn(_rank_main, args=(port, settings, experiment, segments, folder),
                                nprocs=WORLD_SIZE, join=True)
    return _checkpoint(folder, segments[-1])


def _rank_main(rank: int, port: int, settings, experiment: str, segments, folder: Path) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), WORLD_SIZE=str(WORLD_SIZE),
                      LOCAL_RANK=str(rank))
    torch.set_num_threads(1)  # two processes on a small CI machine
    ranks = ranks_from_environment()
    with process_group(ranks, torch.device("cpu")):
        _chain(settings, experiment, segments, folder, ranks)


def _chain(settings, experiment, segments, folder: Path, ranks) -> Path:
    previous = None
    for segment in segments:
        checkpoint = _checkpoint(folder, segment)
        torch.manual_seed(12345)  # a resumed job starts with another global RNG state; the checkpoint restores it
        train_segment(settings, experiment, *segment, previous, checkpoint,
                      components=tiny_components(settings, experiment), ranks=ranks)
        previous = checkpoint
    return previous


def _checkpoint(folder: Path, segment: tuple[int, int]) -> Path:
    return Path(folder) / f"steps-{segment[0]}-{segment[1]}.pt"
