"""The torch device a user asks for, checked once at the door (a missing GPU is a one-line error)."""

from __future__ import annotations

import platform

import torch

from dualinv.errors import ConfigError


def check_device(device: str | torch.device, flag: str = "--device") -> torch.device:
    """The torch device, or a ``ConfigError`` when it is malformed or CUDA is asked for and absent."""
    try:
        parsed = torch.device(device)
    except (RuntimeError, TypeError, ValueError):
        raise ConfigError(f"{flag} {device}: not a torch device; use cpu, cuda or cuda:N") from None
    if parsed.type == "cuda":
        if not torch.cuda.is_available():
            raise ConfigError(f"{flag} {device}: no CUDA device is available here; use {flag} cpu")
        if parsed.index is not None and parsed.index >= torch.cuda.device_count():
            raise ConfigError(f"{flag} {device}: only {torch.cuda.device_count()} CUDA device(s) here "
                              f"(cuda:0..cuda:{torch.cuda.device_count() - 1})")
    elif parsed.type not in ("cpu", "mps"):
        raise ConfigError(f"{flag} {device}: unsupported device type {parsed.type!r}; use cpu or cuda[:N]")
    return parsed


def device_name(device: str | torch.device) -> str:
    """The device a number was measured on, as Table 1's time column records it: the GPU model
    (``cuda:0 (NVIDIA H200)``) or the CPU and its torch threads (``cpu (x86_64, 2 threads)``)."""
    parsed = torch.device(device)
    if parsed.type == "cuda" and torch.cuda.is_available():
        index = parsed.index if parsed.index is not None else torch.cuda.current_device()
        return f"cuda:{index} ({torch.cuda.get_device_name(index)})"
    return f"{parsed.type} ({platform.processor() or platform.machine()}, {torch.get_num_threads()} threads)"
