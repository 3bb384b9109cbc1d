"""Load PanoHead networks safely: official ``.pkl`` files and dualinv's own checkpoint format.

Official pickles are read with the allowlist unpickler of :mod:`dualinv.panohead.safe_pickle`
(specs/panohead.md §7), which executes nothing. From the inert ``G_ema`` record this module takes
the state dict (§7.4), the constructor arguments ``_init_kwargs``, ``neural_rendering_resolution``
and the *live* ``rendering_kwargs`` (which, unlike ``init_kwargs``, carries ``density_noise``), checks
``renderer.plane_axes`` against §3.2, and rebuilds :class:`PanoHeadGenerator` with every state-dict
name and shape asserted (a missing, extra or misshapen entry is named in the error).

dualinv's own format is a ``torch.save`` zip read with ``torch.load(weights_only=True)``::

    {'format': 'dualinv-panohead', 'version': 1, 'init_kwargs': {...},
     'neural_rendering_resolution': 64, 'rendering_kwargs': {...}, 'state_dict': {...}}

:func:`load_network` reads either kind; :func:`save_network` writes the own format atomically.
"""

from __future__ import annotations

import collections
import pickle
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import torch

from dualinv.errors import CheckpointError, ConfigError, UnsafeCheckpointError
from dualinv.fileio import torch_save_atomic
from dualinv.panohead.config import PanoHeadConfig
from dualinv.panohead.generator import PanoHeadGenerator
from dualinv.panohead.safe_pickle import InertObject, PersistentRecord, read_network_pickle
from dualinv.panohead.trigrid import plane_axes as panohead_plane_axes
from dualinv.tensor_checks import check_tensor_values, check_zip_members

OWN_FORMAT = "dualinv-panohead"
OWN_FORMAT_VERSION = 1
PANOHEAD_CLASS_NAME = "TriPlaneGenerator"
TOLERATED_EXTRA_KEYS = frozenset({"dataset_label_std"})
"""Registered by the training loop after construction (§1.2); not used by the forward pass."""

_ZIP_MAGIC = b"PK\x03\x04"
MAX_GENERATOR_ELEMENTS = 400_000_000
"""Parameters and buffers a generator may have (the release: 55.5M); counted on the meta device,
before anything is allocated."""
_MAX_NAMED_KEYS = 8


@dataclass(frozen=True)
class NetworkRecord:
    """Everything needed to rebuild a generator, read from a file without executing anything."""

    source: str
    """The file it came from (for error messages)."""
    init_kwargs: dict
    """Constructor arguments of ``TriPlaneGenerator`` (§1.2), as plain dicts/lists/numbers."""
    neural_rendering_resolution: int
    """Resolution of the volume-rendered image (64 in the release); not in ``init_kwargs``."""
    rendering_kwargs: dict
    """The live rendering options (``init_kwargs['rendering_kwargs']`` plus e.g. ``density_noise``)."""
    state_dict: "collections.OrderedDict[str, torch.Tensor]"
    """Official parameter and buffer names → tensors, in state-dict order."""


def plain_value(value: Any, where: str) -> Any:
    """EasyDict/OrderedDict → dict, numpy scalars → Python numbers, recursively; anything else refused."""
    if isinstance(value, Mapping):
        return {str(key): plain_value(item, f"{where}.{key}") for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain_value(item, f"{where}[{index}]") for index, item in enumerate(value)]
    if isinstance(value, np.generic):
        return value.item()
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise CheckpointError(f"{where} holds a {type(value).__name__}, expected plain values")


def _module_state(node: Any, where: str) -> dict:
    if isinstance(node, (PersistentRecord, InertObject)):
        return node.state
    raise CheckpointError(f"{where} is a {type(node).__name__}, not a module")


def extract_state_dict(generator_state: dict, source: str) -> "collections.OrderedDict[str, torch.Tensor]":
    """The module tree's parameters and persistent buffers under their dotted names (§7.4)."""
    state_dict: collections.OrderedDict[str, torch.Tensor] = collections.OrderedDict()

    def visit(state: dict, prefix: str) -> None:
        non_persistent = state.get("_non_persistent_buffers_set") or set()
        for kind in ("_parameters", "_buffers"):
            entries = state.get(kind) or {}
            if not isinstance(entries, Mapping):
                raise CheckpointError(f"{source}: {prefix or 'G_ema.'}{kind} is not a mapping")
            for name, tensor in entries.items():
                if tensor is None or (kind == "_buffers" and name in non_persistent):
                    continue
                if not isinstance(tensor, torch.Tensor):
                    raise CheckpointError(f"{source}: {prefix}{name} is a {type(tensor).__name__}, not a tensor")
                state_dict[prefix + name] = tensor
        for child_name, child in (state.get("_modules") or {}).items():
            if child is not None:
                visit(_module_state(child, f"{source}: {prefix}{child_name}"), f"{prefix}{child_name}.")

    visit(generator_state, "")
    return state_dict


def _check_plane_axes(generator_state: dict, source: str) -> None:
    renderer = (generator_state.get("_modules") or {}).get("renderer")
    plane_axes = _module_state(renderer, f"{source}: G_ema.renderer").get("plane_axes") if renderer else None
    if not isinstance(plane_axes, torch.Tensor):
        raise CheckpointError(f"{source}: G_ema.renderer.plane_axes is missing; not a PanoHead network")
    expected = panohead_plane_axes()
    if plane_axes.shape != expected.shape or not torch.equal(plane_axes.float(), expected):
        raise CheckpointError(
            f"{source}: G_ema.renderer.plane_axes is {plane_axes.tolist()}, not PanoHead's XY/XZ/YZ axes "
            "(specs/panohead.md §3.2); this looks like a different generator (e.g. EG3D)"
        )


def read_official_network(path: str | Path) -> NetworkRecord:
    """Read ``G_ema`` from an official network pickle (§7), executing nothing."""
    source = str(path)
    network = read_network_pickle(path)
    if not isinstance(network, Mapping) or "G_ema" not in network:
        found = sorted(map(str, network.keys()))[:_MAX_NAMED_KEYS] if isinstance(network, Mapping) else type(network).__name__
        raise CheckpointError(f"{source}: not a PanoHead network pickle: no 'G_ema' entry (found {found})")
    record = network["G_ema"]
    if not isinstance(record, PersistentRecord) or record.class_name != PANOHEAD_CLASS_NAME:
        kind = record.class_name if isinstance(record, PersistentRecord) else type(record).__name__
        raise CheckpointError(f"{source}: G_ema is a {kind}, not a PanoHead {PANOHEAD_CLASS_NAME}")
    state = record.state
    for key in ("_init_kwargs", "neural_rendering_resolution", "rendering_kwargs"):
        if key not in state:
            raise CheckpointError(f"{source}: G_ema has no {key!r}; not a complete PanoHead network")
    _check_plane_axes(state, source)
    resolution = state["neural_rendering_resolution"]
    if isinstance(resolution, bool) or not isinstance(resolution, (int, np.integer)):
        raise CheckpointError(f"{source}: G_ema.neural_rendering_resolution is {resolution!r}, not an integer")
    return NetworkRecord(
        source=source,
        init_kwargs=plain_value(state["_init_kwargs"], f"{source}: G_ema._init_kwargs"),
        neural_rendering_resolution=int(resolution),
        rendering_kwargs=plain_value(state["rendering_kwargs"], f"{source}: G_ema.rendering_kwargs"),
        state_dict=extract_state_dict(state, source),
    )


def _weights_only_cause(message: str) -> str:
    """The informative line of a ``torch.load(weights_only=True)`` refusal (it names the global)."""
    lines = [line.strip() for line in message.splitlines() if line.strip()]
    named = [line for line in lines if "global" in line.lower() and "weights_only" not in line]
    return (named or lines or ["unknown error"])[0]


def read_own_network(path: str | Path) -> NetworkRecord:
    """Read dualinv's own checkpoint format with ``torch.load(weights_only=True)``."""
    source = str(path)
    check_zip_members(path, source)
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as error:
        cause = _weights_only_cause(str(error))
        if "global" in cause.lower():
            raise UnsafeCheckpointError(f"{source}: refused by the weights-only loader, nothing from the file "
                                        f"was executed: {cause}") from error
        raise CheckpointError(f"{source}: corrupt checkpoint ({cause})") from error
    except (RuntimeError, EOFError, zipfile.BadZipFile, ValueError, OSError) as error:
        raise CheckpointError(f"{source}: truncated or corrupt checkpoint ({str(error).splitlines()[0]})") from error
    if not isinstance(payload, Mapping) or payload.get("format") != OWN_FORMAT:
        raise CheckpointError(f"{source}: not a {OWN_FORMAT} checkpoint (no format: {OWN_FORMAT!r} entry)")
    if payload.get("version") != OWN_FORMAT_VERSION:
        raise CheckpointError(f"{source}: {OWN_FORMAT} version {payload.get('version')!r} is not supported "
                              f"(this dualinv reads version {OWN_FORMAT_VERSION})")
    missing = [key for key in ("init_kwargs", "neural_rendering_resolution", "rendering_kwargs", "state_dict")
               if key not in payload]
    if missing:
        raise CheckpointError(f"{source}: checkpoint lacks {missing}")
    resolution = payload["neural_rendering_resolution"]
    if isinstance(resolution, bool) or not isinstance(resolution, int):
        raise CheckpointError(f"{source}: neural_rendering_resolution is {resolution!r}, not an integer")
    state_dict = payload["state_dict"]
    if not isinstance(state_dict, Mapping) or not all(isinstance(t, torch.Tensor) for t in state_dict.values()):
        raise CheckpointError(f"{source}: 'state_dict' is not a mapping of names to tensors")
    return NetworkRecord(
        source=source,
        init_kwargs=plain_value(payload["init_kwargs"], f"{source}: init_kwargs"),
        neural_rendering_resolution=resolution,
        rendering_kwargs=plain_value(payload["rendering_kwargs"], f"{source}: rendering_kwargs"),
        state_dict=collections.OrderedDict(state_dict),
    )


def read_network(path: str | Path) -> NetworkRecord:
    """Read either format: a zip is dualinv's own checkpoint, anything else goes to the safe unpickler."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such file; give the path of a PanoHead .pkl or a dualinv .pt")
    with open(path, "rb") as handle:
        head = handle.read(4)
    return read_own_network(path) if head == _ZIP_MAGIC else read_official_network(path)


def _named(keys: list[str]) -> str:
    shown = ", ".join(keys[:_MAX_NAMED_KEYS])
    return shown + (f", ... ({len(keys)} in all)" if len(keys) > _MAX_NAMED_KEYS else "")


def check_state_dict(expected: Mapping[str, torch.Tensor], found: Mapping[str, torch.Tensor], source: str) -> None:
    """Names must match exactly (bar the tolerated extras) and every shape must agree; name each mismatch."""
    missing = [key for key in expected if key not in found]
    extra = [key for key in found if key not in expected and key not in TOLERATED_EXTRA_KEYS]
    problems = []
    if missing:
        problems.append(f"missing {len(missing)} entries: {_named(missing)}")
    if extra:
        problems.append(f"unexpected {len(extra)} entries: {_named(extra)}")
    wrong_shape = [f"{key} {tuple(found[key].shape)} (expected {tuple(expected[key].shape)})"
                   for key in expected if key in found and found[key].shape != expected[key].shape]
    if wrong_shape:
        problems.append(f"wrong shape: {_named(wrong_shape)}")
    if problems:
        raise CheckpointError(f"{source}: the state dict does not fit the PanoHead generator built from its "
                              f"init_kwargs: {'; '.join(problems)}")


def build_generator(record: NetworkRecord, *, device: str | torch.device = "cpu") -> "PanoHeadGenerator":
    """Construct the generator from the record's kwargs, then load its tensors strictly."""

    try:
        config = PanoHeadConfig.from_init_kwargs(
            record.init_kwargs,
            neural_rendering_resolution=record.neural_rendering_resolution,
            rendering_overrides=record.rendering_kwargs,
        )
    except ConfigError as error:
        raise CheckpointError(f"{record.source}: its constructor arguments are not a PanoHead config: {error}") from error
    with torch.device("meta"):  # shapes and sizes first, nothing allocated
        layout = PanoHeadGenerator(config)
    elements = sum(tensor.numel() for tensor in (*layout.parameters(), *layout.buffers()))
    if elements > MAX_GENERATOR_ELEMENTS:
        raise CheckpointError(f"{record.source}: its constructor arguments ask for a generator of {elements:,} "
                              f"elements, more than the {MAX_GENERATOR_ELEMENTS:,} supported; refused before building")
    check_state_dict(layout.state_dict(), record.state_dict, record.source)
    check_tensor_values(record.state_dict, record.source, layout.state_dict())
    generator = PanoHeadGenerator(config)
    generator.load_official_state_dict(record.state_dict)
    return generator.eval().requires_grad_(False).to(device)


def load_network(path: str | Path, *, device: str | torch.device = "cpu") -> "PanoHeadGenerator":
    """Load a PanoHead generator from an official ``.pkl`` or a dualinv ``.pt``, safely (§7)."""
    return build_generator(read_network(path), device=device)


def save_network(generator: "PanoHeadGenerator", path: str | Path) -> None:
    """Write ``generator`` in dualinv's own format (weights-only loadable), atomically."""
    payload = {
        "format": OWN_FORMAT,
        "version": OWN_FORMAT_VERSION,
        "init_kwargs": plain_value(generator.config.to_init_kwargs(), "init_kwargs"),
        "neural_rendering_resolution": int(generator.neural_rendering_resolution),
        "rendering_kwargs": plain_value(generator.rendering_kwargs, "rendering_kwargs"),
        "state_dict": {name: tensor.detach().cpu().clone() for name, tensor in generator.state_dict().items()},
    }
    torch_save_atomic(path, payload)
