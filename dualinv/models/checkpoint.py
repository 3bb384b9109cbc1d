"""Full training state on disk: everything needed to continue a run bit for bit (STYLE.md item 15).

A checkpoint holds the encoder, the discriminator, both optimisers (Ranger keeps its RAdam moments
and Lookahead slow weights in its state dict), the step, the data-order position, every RNG state
(torch CPU and CUDA), the config and its hash, and the identity of the generator the encoder was
trained against; the config is the whole study config tree (dualinv.config) it was trained with.
It is written to a temporary file and renamed, so an interrupted job leaves the previous checkpoint
intact. It is read with ``torch.load(weights_only=True)``: nothing in it can run
code.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

import torch

from dualinv.config import from_mapping
from dualinv.errors import CheckpointError, ConfigError
from dualinv.fileio import torch_save_atomic
from dualinv.models.encoders import build_inversion_encoder
from dualinv.models.experiments import Experiment, get_experiment
from dualinv.models.generator import GeneratorIdentity, check_generator, study_generator
from dualinv.seeding import derive_seed
from dualinv.tensor_checks import check_zip_members

CHECKPOINT_FORMAT = "dualinv-encoder-training"
CHECKPOINT_VERSION = 2
"""Version 2: ``config`` is the whole study config tree it was trained with (1: flat training settings)."""


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


PUBLISHED_KEYS = ("experiment", "step", "data_position", "config", "config_hash", "generator", "encoder")
"""What a published encoder keeps of a training checkpoint: enough to invert, and to say what it is."""


def published_state(state: Mapping[str, Any]) -> dict[str, Any]:
    """The published form of a training checkpoint (``models/<experiment>/checkpoint.pt``): the encoder,
    its config tree, step and generator identity, marked ``published``; no optimiser, discriminator,
    baseline or RNG state, so it cannot resume a segment (:func:`dualinv.training.loop` says so)."""
    return {**{key: state[key] for key in PUBLISHED_KEYS}, "published": True}


def trained_config(state: Mapping[str, Any], path: str | Path):
    """The study config tree a checkpoint was trained with (validated as any config is)."""
    try:
        return from_mapping(state["config"], f"the config recorded in {path}")
    except ConfigError as error:
        raise CheckpointError(f"{path} records a config this dualinv cannot read ({error}); retrain it") from None


def load_trained_encoder(path: str | Path, generator: torch.nn.Module | None = None,
                         identity: GeneratorIdentity | None = None, device: torch.device | str = "cpu"):
    """An encoder from a training checkpoint, checked against the generator it was trained with.

    Returns ``(encoder, config, generator, identity)``; ``config`` is the study config tree the
    encoder was trained with. Without ``generator`` the one that config names is rebuilt (a stand-in
    from its seed, a network file from its recorded path). A different generator raises
    GeneratorMismatchError.
    """
    state = load_training_checkpoint(path)
    config = trained_config(state, path)
    if generator is None:
        generator, identity = study_generator(config, device)
    check_generator(state["generator"], identity, path)
    experiment = get_experiment(state["experiment"])
    encoder = build_inversion_encoder(config, experiment, generator, derive_seed(config.training.seed, experiment.name))
    encoder.load_state_dict(state["encoder"], strict=True)
    return encoder.to(device).eval().requires_grad_(False), config, generator, identity


def _recorded(path: str | Path) -> dict[str, Any]:
    """A training checkpoint with its tensors memory-mapped, not read: for what it records."""
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except Exception:  # noqa: BLE001 - not a readable zip checkpoint: the full reader below names why
        payload = None
    if not isinstance(payload, dict) or payload.get("format") != CHECKPOINT_FORMAT or "experiment" not in payload:
        payload = load_training_checkpoint(path)  # raises a CheckpointError naming the problem
    return payload


def recorded_experiment(path: str | Path) -> Experiment:
    """The registry experiment a training checkpoint records (its tensors memory-mapped, not read)."""
    return get_experiment(_recorded(path)["experiment"])


def recorded_config(path: str | Path):
    """The study config a training checkpoint was trained with (its tensors memory-mapped, not read);
    its generator section names the architecture a ``--network`` file is checked against."""
    return trained_config(_recorded(path), path)
