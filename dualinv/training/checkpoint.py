"""Full training state on disk: everything needed to continue a run bit for bit (STYLE.md item 15).

A checkpoint holds the encoder, the discriminator, both optimisers (Ranger keeps its RAdam moments
and Lookahead slow weights in its state dict), the step, the data-order position, every RNG state
(torch CPU and CUDA), the config and its hash, and the identity of the generator the encoder was
trained against. It is written to a temporary file and renamed, so an interrupted job leaves the
previous checkpoint intact. It is read with ``torch.load(weights_only=True)``: nothing in it can run
code.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import torch

from dualinv.errors import CheckpointError, GeneratorMismatchError
from dualinv.fileio import torch_save_atomic
from dualinv.tensor_checks import check_zip_members

CHECKPOINT_FORMAT = "dualinv-encoder-training"
CHECKPOINT_VERSION = 1


def state_dict_hash(state_dict: Mapping[str, torch.Tensor]) -> str:
    """sha256 over names, dtypes, shapes and bytes of a state dict, in sorted name order."""
    digest = hashlib.sha256()
    for name in sorted(state_dict):
        tensor = state_dict[name].detach().to("cpu").contiguous().reshape(-1)
        digest.update(name.encode("utf-8"))
        digest.update(f"{tensor.dtype}{tuple(state_dict[name].shape)}".encode("utf-8"))
        digest.update(tensor.view(torch.uint8).numpy().tobytes() if tensor.numel() else b"")
    return "sha256:" + digest.hexdigest()


@dataclass(frozen=True)
class GeneratorIdentity:
    """Which generator an encoder was trained against: its weights hash and where it came from."""

    weights_hash: str
    """``state_dict_hash`` of the generator."""
    source: str
    """The network file's path, or ``"stand-in"`` plus the preset and seed it was built from."""

    @classmethod
    def of(cls, generator: torch.nn.Module, source: str) -> "GeneratorIdentity":
        return cls(weights_hash=state_dict_hash(generator.state_dict()), source=source)

    def as_dict(self) -> dict[str, str]:
        return {"weights_hash": self.weights_hash, "source": self.source}


def check_generator(recorded: Mapping[str, str], current: GeneratorIdentity, checkpoint: str | Path) -> None:
    """Refuse a checkpoint trained against another generator (its tri-grids would mean nothing here)."""
    if recorded.get("weights_hash") != current.weights_hash:
        raise GeneratorMismatchError(
            f"{checkpoint} was trained against generator {recorded.get('source')!r} "
            f"({recorded.get('weights_hash')}), but the generator given now is {current.source!r} "
            f"({current.weights_hash}). Use the network the encoder was trained with "
            "(--network / weights.panohead), or retrain the encoder."
        )


def rng_states() -> dict[str, Any]:
    """The global torch RNG states (CPU and every CUDA device), for exact resume."""
    return {
        "torch_cpu": torch.get_rng_state(),
        "torch_cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
    }


def restore_rng_states(states: Mapping[str, Any]) -> None:
    torch.set_rng_state(states["torch_cpu"])
    cuda_states = list(states.get("torch_cuda") or [])
    if cuda_states and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(cuda_states[: torch.cuda.device_count()])


def save_training_checkpoint(path: str | Path, payload: dict[str, Any]) -> None:
    """Write ``payload`` (see :func:`dualinv.training.loop`) atomically, stamped with format and version."""
    torch_save_atomic(path, {"format": CHECKPOINT_FORMAT, "version": CHECKPOINT_VERSION, **payload})


def load_training_checkpoint(path: str | Path) -> dict[str, Any]:
    """Read a training checkpoint safely, or raise CheckpointError naming the file and the problem."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} does not exist; give the file written by the previous segment")
    check_zip_members(path)
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises several types for truncated or foreign files
        raise CheckpointError(f"{path} is not a readable dualinv checkpoint ({error}); "
                              "delete it and rerun the segment that wrote it") from None
    if not isinstance(payload, dict) or payload.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointError(f"{path} is not a dualinv encoder training checkpoint")
    if payload.get("version") != CHECKPOINT_VERSION:
        raise CheckpointError(f"{path} has checkpoint version {payload.get('version')}, "
                              f"this dualinv reads version {CHECKPOINT_VERSION}")
    return payload
