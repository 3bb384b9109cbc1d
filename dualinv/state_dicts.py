"""Reading a configured weights file as tensors, and matching it to a module by name and shape.

One place for what every loader of a published state dict does (IR-SE50, LPIPS trunks, the BiSeNet
face parser): read with ``torch.load(weights_only=True)`` after the registry check, so nothing in
the file is run; then compare names and shapes exactly before a ``strict=True`` load, naming what
differs (STYLE.md §13).
"""

from __future__ import annotations

from pathlib import Path
from typing import Mapping

import torch
from torch import nn

from dualinv.errors import CheckpointError
from dualinv.tensor_checks import check_tensor_values, check_zip_members
from dualinv.weights import require_weights

EXAMPLES = 5
"""How many names of each kind of mismatch an error shows."""


def read_state_dict(key: str, path: str | Path | None, checksum: str | None = None,
                    hint: str = "") -> dict[str, torch.Tensor]:
    """Tensors of the configured file ``weights.<key>``, read safely after the registry check;
    ``hint`` (what the file is, where to get it) ends the error of an unreadable or foreign file."""
    checked = require_weights(key, path, checksum)
    suffix = f". {hint}" if hint else ""
    check_zip_members(checked, f"weights.{key} = {str(path)!r}")
    try:
        state = torch.load(checked, map_location="cpu", weights_only=True)
    except Exception as error:  # noqa: BLE001 - any failure of the weights-only unpickler is a bad file
        first_line = (str(error).splitlines() or [""])[0]
        raise CheckpointError(f"weights.{key} = {str(path)!r} cannot be read as a state dict by "
                              f"torch.load(weights_only=True) ({type(error).__name__}: {first_line}; nothing in "
                              f"it was run){suffix}") from error
    if not isinstance(state, dict) or not all(isinstance(value, torch.Tensor) for value in state.values()):
        raise CheckpointError(f"weights.{key} = {str(path)!r} is not a flat state dict of tensors{suffix}")
    check_tensor_values(state, f"weights.{key} = {str(path)!r}")
    return state


def with_batch_counters(module: nn.Module, state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """``state`` plus the module's own ``num_batches_tracked`` where the file lacks them (files saved
    before PyTorch 0.4.1; the counters are unused in eval mode), as PyTorch's loader tolerates."""
    counters = {name: value for name, value in module.state_dict().items() if name.endswith("num_batches_tracked")}
    return {**counters, **state}


def layout_problem(module: nn.Module, state: Mapping[str, torch.Tensor]) -> str | None:
    """What keeps ``state`` from loading into ``module`` by exact name and shape, or ``None``."""
    own = module.state_dict()
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    wrong = sorted(name for name in set(own) & set(state) if tuple(own[name].shape) != tuple(state[name].shape))
    integer = sorted(name for name in set(own) & set(state)
                     if own[name].is_floating_point() and not state[name].is_floating_point())
    parts = [f"{len(missing)} missing (e.g. {missing[:EXAMPLES]})" if missing else "",
             f"{len(unexpected)} unexpected (e.g. {unexpected[:EXAMPLES]})" if unexpected else "",
             "shape mismatch " + ", ".join(f"{name} {tuple(state[name].shape)} != {tuple(own[name].shape)}"
                                           for name in wrong[:EXAMPLES]) if wrong else "",
             f"{len(integer)} integer tensor(s) where weights are real numbers (e.g. {integer[:EXAMPLES]})"
             if integer else ""]
    return "; ".join(part for part in parts if part) or None
