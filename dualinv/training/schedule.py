"""Everything random in training as a pure function of the step (STYLE.md item 15).

The data order and the per-step random draws (mirroring, Z+ samples, novel cameras, renderer
jitter) depend only on (seed, step); lazy R1 is ``dualinv.losses.r1_due(step)``. A run resumed at step k therefore draws
exactly what an uninterrupted run draws at step k, without replaying anything.
"""

from __future__ import annotations

import math

import torch

from dualinv.seeding import derive_seed, make_generator


def epoch_order(seed: int, epoch: int, dataset_size: int) -> torch.Tensor:
    """The permutation of the dataset used in ``epoch`` (a fresh shuffle every epoch)."""
    return torch.randperm(dataset_size, generator=make_generator(derive_seed(seed, "data-order", epoch)))


def batch_indices(seed: int, step: int, batch_size: int, dataset_size: int) -> list[int]:
    """Dataset indices of the batch taken at ``step``: positions ``step*batch .. +batch`` of the epoch stream."""
    if dataset_size < 1:
        raise ValueError("the training dataset is empty")
    indices = []
    for position in range(step * batch_size, (step + 1) * batch_size):
        epoch, offset = divmod(position, dataset_size)
        indices.append(int(epoch_order(seed, epoch, dataset_size)[offset]))
    return indices


def data_position(step: int, batch_size: int) -> int:
    """How many samples the run has consumed before ``step`` (recorded in checkpoints)."""
    return step * batch_size


def step_generator(seed: int, step: int, purpose: str, device: torch.device | str = "cpu") -> torch.Generator:
    """The ``torch.Generator`` for one purpose (``"mirror"``, ``"zplus"``, ``"render"``...) at one step."""
    return make_generator(derive_seed(seed, "step", step, purpose), device=device)



def learning_rate_factor(rampdown: float, iterations: int, step: int) -> float:
    """The share of the base learning rate used at ``step``: 1, then over the last ``rampdown`` of the run's
    ``iterations`` a half cosine down to 0 (``0.5 + 0.5 cos(pi u)``, u the position inside the ramp).
    ``rampdown = 0`` keeps the rate constant, as the paper trains. A pure function of the step, so a resumed
    run uses exactly the rates of an uninterrupted one."""
    if rampdown <= 0:
        return 1.0
    ramp_start = iterations * (1.0 - rampdown)
    position = min(1.0, max(0.0, (step - ramp_start) / (iterations * rampdown)))
    return 0.5 + 0.5 * math.cos(math.pi * position)
