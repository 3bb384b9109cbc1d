"""Data-parallel training over several processes (one per GPU) with ``torch.distributed``.

``torchrun`` starts the processes and tells each its place through the environment (``RANK``,
``WORLD_SIZE``, ``LOCAL_RANK``, ``MASTER_ADDR``, ``MASTER_PORT``): :func:`ranks_from_environment`.
The processes split each step's global batch into equal contiguous shares (:meth:`Ranks.rows`),
draw their randomness as one process would draw it for the whole batch
(:class:`dualinv.seeding.RowShard`), average their gradients before every optimiser step
(:func:`average_gradients`, what ``DistributedDataParallel`` computes) and normalise with the
statistics of the whole batch (:class:`GlobalBatchNorm`). A step of N processes with batch b each is
then the step of one process with batch N*b, up to the order of floating-point sums (docs/training.md,
"Multi-GPU training"). Without ``torchrun`` nothing here is used and training runs as one process.
"""

from __future__ import annotations

import contextlib
import datetime
import os
from dataclasses import dataclass
from typing import Iterable, Iterator, Mapping

import torch
import torch.distributed as dist
from torch import nn

from dualinv.errors import ConfigError
from dualinv.seeding import RowShard

ENVIRONMENT_KEYS = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")
"""What ``torchrun`` sets in every process it starts (the ``env://`` rendezvous reads the last two)."""
PROCESS_GROUP_TIMEOUT = datetime.timedelta(minutes=30)
"""How long a collective waits for a lagging process (a checkpoint write on rank 0) before failing."""


@dataclass(frozen=True)
class Ranks:
    """This process's place among the training processes."""

    rank: int
    """Global position, 0-based; rank 0 writes checkpoints, loss logs and progress."""
    world_size: int
    """Number of processes (GPUs) sharing each step's batch."""
    local_rank: int
    """Position on this node: the CUDA device this process uses."""

    @property
    def main(self) -> bool:
        return self.rank == 0

    def rows(self, global_batch: int) -> slice:
        """This process's contiguous share of a global batch: ``rank*b .. (rank+1)*b`` with b = global/world."""
        check_divisible(global_batch, self.world_size)
        local = global_batch // self.world_size
        return slice(self.rank * local, (self.rank + 1) * local)

    def generator(self, generator: torch.Generator) -> RowShard:
        """``generator`` drawing this process's rows of every whole-batch draw."""
        return RowShard(generator, self.rank, self.world_size)


def check_divisible(global_batch: int, world_size: int) -> None:
    """The global batch (``training.batch_size``) must split into equal shares, one per process."""
    if world_size < 1 or global_batch % world_size:
        raise ConfigError(f"training.batch_size {global_batch} does not split into {world_size} equal shares, one per "
                          f"GPU; set resources.train.gpus to a divisor of it, or change training.batch_size (the "
                          "global batch) to a multiple of the GPU count")


def ranks_from_environment(environment: Mapping[str, str] | None = None) -> Ranks | None:
    """The :class:`Ranks` that ``torchrun`` set in ``environment`` (default ``os.environ``); None for one process."""
    environment = os.environ if environment is None else environment
    if int(environment.get("WORLD_SIZE", "1")) <= 1:
        return None
    missing = [key for key in ENVIRONMENT_KEYS if key not in environment]
    if missing:
        raise ConfigError(f"WORLD_SIZE is {environment['WORLD_SIZE']} but {', '.join(missing)} are not set; "
                          "start multi-GPU training with torchrun (docs/training.md, Multi-GPU training)")
    ranks = Ranks(rank=int(environment["RANK"]), world_size=int(environment["WORLD_SIZE"]),
                  local_rank=int(environment["LOCAL_RANK"]))
    if not 0 <= ranks.rank < ranks.world_size:
        raise ConfigError(f"RANK {ranks.rank} lies outside WORLD_SIZE {ranks.world_size}")
    return ranks


def process_device(ranks: Ranks | None) -> torch.device:
    """The device a training process uses: its local GPU (``cuda:LOCAL_RANK``) when CUDA is there, else the CPU."""
    if not torch.cuda.is_available():
        return torch.device("cpu")
    return torch.device("cuda", 0 if ranks is None else ranks.local_rank)


@contextlib.contextmanager
def process_group(ranks: Ranks, device: torch.device) -> Iterator[None]:
    """The default process group for the duration of a run: NCCL between GPUs, gloo on the CPU."""
    if device.type == "cuda":
        torch.cuda.set_device(device)
    backend = "nccl" if device.type == "cuda" else "gloo"
    dist.init_process_group(backend, init_method="env://", rank=ranks.rank, world_size=ranks.world_size,
                            timeout=PROCESS_GROUP_TIMEOUT)
    try:
        yield
    finally:
        dist.destroy_process_group()


def barrier(ranks: Ranks | None) -> None:
    """Wait for every process (after rank 0 wrote a file the others may read); nothing for one process."""
    if ranks is not None:
        dist.barrier()


def average_gradients(parameters: Iterable[torch.Tensor], ranks: Ranks | None) -> None:
    """Replace every gradient by its mean over the processes (one flat all-reduce), as DDP does.

    A parameter without a gradient on every process keeps none: the processes run the same graph, so
    they agree on which parameters have one.
    """
    if ranks is None:
        return
    with_gradients = [parameter for parameter in parameters if parameter.grad is not None]
    if not with_gradients:
        return
    flat = torch.cat([parameter.grad.reshape(-1) for parameter in with_gradients])
    dist.all_reduce(flat)
    flat /= ranks.world_size
    offset = 0
    for parameter in with_gradients:
        count = parameter.grad.numel()
        parameter.grad.copy_(flat[offset:offset + count].view_as(parameter.grad))
        offset += count


def mean_over_ranks(values: dict[str, float], ranks: Ranks | None) -> dict[str, float]:
    """Each loss term averaged over the processes: the batch mean of the whole batch, the shares being equal."""
    if ranks is None or not values:
        return values
    names = sorted(values)
    summed = torch.tensor([values[name] for name in names], dtype=torch.float64, device=_collective_device())
    dist.all_reduce(summed)
    return {name: float(value) / ranks.world_size for name, value in zip(names, summed.tolist())}


def any_rank(flag: bool, ranks: Ranks | None) -> bool:
    """Whether ``flag`` holds on some process (so all stop at the same step when one got a stop signal)."""
    if ranks is None:
        return flag
    raised = torch.tensor([int(flag)], device=_collective_device())
    dist.all_reduce(raised, op=dist.ReduceOp.MAX)
    return bool(raised.item())


def _collective_device() -> torch.device:
    """NCCL reduces CUDA tensors only; gloo CPU tensors."""
    if dist.get_backend() == "nccl":
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device("cpu")


class _SumOverRanks(torch.autograd.Function):
    """All-reduce (sum) that autograd sees through: the gradient of a sum over processes is that sum
    of the processes' gradients, itself an all-reduce, so double backward (R1) works too."""

    @staticmethod
    def forward(ctx, tensor: torch.Tensor) -> torch.Tensor:
        summed = tensor.clone(memory_format=torch.contiguous_format)
        dist.all_reduce(summed)
        return summed

    @staticmethod
    def backward(ctx, gradient: torch.Tensor) -> torch.Tensor:
        return _SumOverRanks.apply(gradient)


def sum_over_ranks(tensor: torch.Tensor) -> torch.Tensor:
    """``tensor`` summed over the processes, differentiably (:class:`_SumOverRanks`)."""
    return _SumOverRanks.apply(tensor)


class GlobalBatchNorm(nn.modules.batchnorm._BatchNorm):
    """Batch normalisation with the statistics of the global batch, across processes (training mode).

    ``torch.nn.SyncBatchNorm`` would do this on GPUs only and without double backward, which R1 needs
    (the penalty's gradient goes through D's normalisation twice). Here the sums are all-reduced by
    the autograd-aware :func:`sum_over_ranks`, so gradients, R1's input
    gradient included, flow across processes as if the batch were whole. Names of parameters and
    buffers are those of ``BatchNorm*d``: state dicts are unchanged. One process (or eval mode):
    exactly ``BatchNorm*d``.
    """

    def _check_input_dim(self, input: torch.Tensor) -> None:
        if input.dim() < 2:
            raise ValueError(f"expected at least 2D input (got {input.dim()}D input)")

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        if not (self.training and dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1):
            return super().forward(input)
        self._check_input_dim(input)
        reduced = [0, *range(2, input.dim())]
        shape = [1, -1] + [1] * (input.dim() - 2)
        count = input.numel() // input.shape[1] * dist.get_world_size()  # equal shares (Ranks.rows)
        x = input.float()
        mean = sum_over_ranks(x.sum(reduced)) / count
        centred = x - mean.view(shape)
        variance = sum_over_ranks(centred.square().sum(reduced)) / count
        output = centred * torch.rsqrt(variance + self.eps).view(shape)
        if self.affine:
            output = output * self.weight.view(shape) + self.bias.view(shape)
        if self.track_running_stats:
            self._update_running_stats(mean.detach(), variance.detach(), count)
        return output.to(input.dtype)

    @torch.no_grad()
    def _update_running_stats(self, mean: torch.Tensor, variance: torch.Tensor, count: int) -> None:
        """As ``F.batch_norm``: an exponential (or, momentum None, cumulative) average, unbiased variance."""
        self.num_batches_tracked.add_(1)
        factor = 1.0 / float(self.num_batches_tracked) if self.momentum is None else self.momentum
        self.running_mean.mul_(1 - factor).add_(mean.to(self.running_mean.dtype), alpha=factor)
        unbiased = variance * (count / max(count - 1, 1))
        self.running_var.mul_(1 - factor).add_(unbiased.to(self.running_var.dtype), alpha=factor)


def with_global_batch_norm(module: nn.Module) -> nn.Module:
    """``module`` with every ``BatchNorm*d`` replaced in place by a :class:`GlobalBatchNorm` holding the
    same parameter and buffer tensors (an optimiser built on ``module.parameters()`` keeps working)."""
    for name, child in module.named_children():
        if isinstance(child, nn.modules.batchnorm._BatchNorm) and not isinstance(child, GlobalBatchNorm):
            setattr(module, name, _global_copy(child))
        else:
            with_global_batch_norm(child)
    return module


def _global_copy(norm: nn.modules.batchnorm._BatchNorm) -> GlobalBatchNorm:
    replacement = GlobalBatchNorm(norm.num_features, eps=norm.eps, momentum=norm.momentum, affine=norm.affine,
                                  track_running_stats=norm.track_running_stats,
                                  device=_device_of(norm), dtype=_dtype_of(norm))
    replacement.train(norm.training)
    if norm.affine:
        replacement.weight, replacement.bias = norm.weight, norm.bias
    if norm.track_running_stats:
        replacement.running_mean, replacement.running_var = norm.running_mean, norm.running_var
        replacement.num_batches_tracked = norm.num_batches_tracked
    return replacement


def _device_of(norm: nn.Module) -> torch.device | None:
    tensor = next(iter([*norm.parameters(), *norm.buffers()]), None)
    return None if tensor is None else tensor.device


def _dtype_of(norm: nn.Module) -> torch.dtype | None:
    tensor = next(iter(norm.parameters()), None)
    return None if tensor is None else tensor.dtype

