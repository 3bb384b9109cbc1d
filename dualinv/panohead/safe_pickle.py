"""A restricted unpickler for official PanoHead network pickles (specs/panohead.md §7).

The official loader calls ``torch_utils.persistence._reconstruct_persistent_obj``, which ``exec``s
the module source embedded in the pickle: loading a ``.pkl`` that way runs whatever code it holds.
This reader maps every global the released file uses (§7.3) to an inert stand-in that only keeps
data, and refuses any other global with :class:`UnsafeCheckpointError` naming it. Nothing from the
file is ever executed: persistent objects become :class:`PersistentRecord` (their ``meta``, with the
source text kept as text), and storages are parsed by :func:`read_legacy_storage`, a second
restricted reader for the legacy ``torch.save`` payload of ``torch.storage._load_from_bytes`` (§7.5).

Nothing a pickle does can outlive its load (docs/security.md): both readers are the pure-Python
unpickler with ``BUILD`` taken over, so a pickle can set state only on the inert stand-ins created
for this one load (never on a class, a function or a tensor: ``BUILD`` with a slot state on a class
would set class attributes that later loads see), and every callable handed out is either immutable
or created afresh per load. Declared sizes are checked before anything is allocated: a read never
asks for more bytes than the file has left, and a tensor view may not hold more elements than its
storage (a stride-0 view of one float would otherwise be cloned into gigabytes).
"""

from __future__ import annotations

import collections
import io
import math
import pickle
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

from dualinv.errors import CheckpointError, UnsafeCheckpointError

STORAGE_DTYPES: dict[str, torch.dtype] = {
    "FloatStorage": torch.float32,
    "DoubleStorage": torch.float64,
    "HalfStorage": torch.float16,
    "BFloat16Storage": torch.bfloat16,
    "LongStorage": torch.int64,
    "IntStorage": torch.int32,
    "ShortStorage": torch.int16,
    "CharStorage": torch.int8,
    "ByteStorage": torch.uint8,
    "BoolStorage": torch.bool,
}
"""Legacy storage classes (global ``torch.<name>``) and the dtype of their elements (§7.5)."""

LEGACY_MAGIC_NUMBER = 0x1950A86A20F9469CFC6C
LEGACY_PROTOCOL_VERSION = 1001


@dataclass
class PersistentRecord:
    """What ``_reconstruct_persistent_obj(meta)`` stands for, kept inert (§7.2).

    ``meta`` holds ``type``, ``version``, ``module_src`` (text, never executed), ``class_name`` and
    ``state`` (the module's ``__dict__``: ``_parameters``, ``_buffers``, ``_modules``, attributes).
    """

    meta: dict

    @property
    def class_name(self) -> str:
        return str(self.meta.get("class_name", "?")) if isinstance(self.meta, dict) else "?"

    @property
    def state(self) -> dict:
        state = self.meta.get("state") if isinstance(self.meta, dict) else None
        return state if isinstance(state, dict) else {}


class InertObject:
    """Base of the stand-ins for non-persistent classes (``RaySampler``, ``Sequential``, ``Softplus``).

    Constructed with no effect; ``BUILD`` stores the pickled ``__dict__`` as :attr:`state`.
    """

    global_name: tuple[str, str] = ("?", "?")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.state: dict = {}

    def __setstate__(self, state: Any) -> None:
        if isinstance(state, tuple) and len(state) == 2:  # (dict_state, slots_state)
            state = state[0]
        self.state = state if isinstance(state, dict) else {}

    def __repr__(self) -> str:
        return f"<inert {'.'.join(self.global_name)}>"


class PickledEasyDict(dict):
    """Stand-in for ``dnnlib.util.EasyDict``: a plain dict subclass (NEWOBJ + SETITEMS)."""


INERT_CLASSES: frozenset[tuple[str, str]] = frozenset({
    ("training.volumetric_rendering.ray_sampler", "RaySampler"),
    ("torch.nn.modules.container", "Sequential"),
    ("torch.nn.modules.activation", "Softplus"),
})


def _rebuild_tensor(storage: torch.Tensor, storage_offset: int, size: Any, stride: Any,
                    requires_grad: Any = False, backward_hooks: Any = None, metadata: Any = None) -> torch.Tensor:
    """``torch._utils._rebuild_tensor_v2``: a view of the flat storage, copied into its own tensor."""
    if not isinstance(storage, torch.Tensor):
        raise CheckpointError(f"a tensor is built from {type(storage).__name__}, not from a storage")
    if not (isinstance(size, (tuple, list)) and isinstance(stride, (tuple, list)) and len(size) == len(stride)
            and all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in (*size, *stride))
            and isinstance(storage_offset, int) and storage_offset >= 0):
        raise CheckpointError("a tensor's size, stride or offset is not a list of non-negative integers")
    if math.prod(size) > storage.numel():
        raise CheckpointError(f"a tensor of size {tuple(size)} declares more elements than its storage holds "
                              f"({storage.numel()}); refused before allocating (e.g. a stride-0 view)")
    try:
        return torch.as_strided(storage, tuple(size), tuple(stride), int(storage_offset)).clone()
    except (RuntimeError, TypeError, ValueError) as error:
        raise CheckpointError(f"a tensor's size/stride/offset does not fit its storage ({error})") from error


def _rebuild_parameter(data: Any, requires_grad: Any = False, backward_hooks: Any = None,
                       state: Any = None) -> torch.Tensor:
    """``_rebuild_parameter`` and ``_rebuild_parameter_with_state``: the parameter's data tensor."""
    if not isinstance(data, torch.Tensor):
        raise CheckpointError(f"a parameter wraps {type(data).__name__}, not a tensor")
    return data


def _numpy_dtype(*args: Any) -> np.dtype:
    dtype = np.dtype(*args[:1])
    if dtype.hasobject:
        raise CheckpointError(f"numpy dtype {dtype} holds Python objects; refused")
    return dtype


def _numpy_scalar(dtype: Any, data: Any = None) -> Any:
    """``numpy.core.multiarray.scalar`` (numpy 1) / ``numpy._core.multiarray.scalar`` (numpy 2)."""
    if not isinstance(dtype, np.dtype) or dtype.hasobject or not isinstance(data, (bytes, bytearray)):
        raise CheckpointError("a numpy scalar in the pickle is not a plain number")
    if len(data) != dtype.itemsize:
        raise CheckpointError(f"a numpy {dtype} scalar has {len(data)} bytes, expected {dtype.itemsize}")
    return np.frombuffer(bytes(data), dtype=dtype)[0]


class _BoundedReader:
    """A file whose ``read(n)`` never asks for more than what is left of it: a pickle's declared
    length (BINBYTES8, FRAME) cannot make the reader allocate beyond the file's size."""

    def __init__(self, handle: Any) -> None:
        self.handle = handle
        position = handle.tell()
        handle.seek(0, io.SEEK_END)
        self.end = handle.tell()
        handle.seek(position)

    def read(self, size: int = -1) -> bytes:
        left = self.end - self.handle.tell()
        return self.handle.read(left if size is None or size < 0 else min(size, left))

    def readline(self, size: int = -1) -> bytes:
        return self.handle.readline(size)

    def readinto(self, buffer: Any) -> int:
        left = self.end - self.handle.tell()
        if len(buffer) > left:
            raise CheckpointError(f"a pickle declares {len(buffer)} bytes but only {left} are left in the file")
        return self.handle.readinto(buffer)


def _same_dtype_state(dtype: np.dtype, state: Any) -> bool:
    """Whether ``state`` is the state ``dtype`` pickles itself with (builtin dtypes are shared
    singletons: setting another state on one would change it for the whole process)."""
    if not isinstance(state, tuple):
        return False
    try:
        return bool(state == dtype.__reduce__()[2])
    except Exception:  # noqa: BLE001 - an odd comparison result is simply not the same state
        return False


class _GuardedUnpickler(pickle._Unpickler):
    """The pure-Python unpickler with ``BUILD`` restricted to :meth:`may_build` objects (module docstring)."""

    dispatch = dict(pickle._Unpickler.dispatch)
    source = "?"

    def may_build(self, instance: Any) -> bool:
        return False

    def load_build(self) -> None:
        state = self.stack.pop()
        instance = self.stack[-1]
        if isinstance(instance, np.dtype) and _same_dtype_state(instance, state):
            return  # numpy pickles a dtype as np.dtype(code) + BUILD(its own state): nothing to change
        if not self.may_build(instance):
            raise UnsafeCheckpointError(
                f"{self.source}: refused BUILD (set state) on a {type(instance).__name__}; a network pickle only "
                "sets the state of its plain objects. Nothing from the file was executed; do not use this file.")
        instance.__setstate__(state)

    dispatch[pickle.BUILD[0]] = load_build


class _StorageKey:
    """Placeholder for the BINPERSID tuple of a legacy storage (§7.5, pickle 4)."""

    def __init__(self, dtype: torch.dtype, key: str, numel: int) -> None:
        self.dtype, self.key, self.numel = dtype, key, numel


class _LegacyStorageUnpickler(_GuardedUnpickler):
    """Reads the small pickles of a legacy storage payload; only ``torch.<X>Storage`` globals, no BUILD."""

    def __init__(self, stream: io.BytesIO, source: str) -> None:
        super().__init__(stream)
        self.source = source

    def find_class(self, module: str, name: str) -> Any:
        if module == "torch" and name in STORAGE_DTYPES:
            return STORAGE_DTYPES[name]
        raise UnsafeCheckpointError(
            f"{self.source}: refused global {module}.{name} inside a tensor storage payload "
            f"(torch.storage._load_from_bytes); only torch.*Storage classes may appear there. "
            "Nothing from the file was executed; do not use this file."
        )

    def persistent_load(self, pid: Any) -> _StorageKey:
        if not (isinstance(pid, tuple) and len(pid) >= 5 and pid[0] == "storage"):
            raise CheckpointError(f"{self.source}: unexpected persistent id in a storage payload: {pid!r:.80}")
        _, dtype, key, _location, numel = pid[:5]
        if not isinstance(dtype, torch.dtype) or not isinstance(numel, int) or numel < 0:
            raise CheckpointError(f"{self.source}: malformed storage record in a storage payload")
        return _StorageKey(dtype, str(key), numel)


def read_legacy_storage(payload: bytes, source: str) -> torch.Tensor:
    """Parse the legacy ``torch.save`` bytes of one storage into a flat tensor (§7.5).

    Layout: five pickles (magic number, protocol version 1001, sys_info, the persistent-id storage
    record, the key list), then per key an int64 element count and the little-endian raw data.
    """
    if not isinstance(payload, (bytes, bytearray)):
        raise CheckpointError(f"{source}: a storage payload is {type(payload).__name__}, not bytes")
    stream = io.BytesIO(bytes(payload))
    reader = _LegacyStorageUnpickler(stream, source)
    try:
        magic = reader.load()
        protocol = reader.load()
        sys_info = reader.load()
        record = reader.load()
        keys = reader.load()
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, IndexError, struct.error) as error:
        raise CheckpointError(f"{source}: a tensor storage payload is truncated or corrupt ({error})") from error
    if magic != LEGACY_MAGIC_NUMBER or protocol != LEGACY_PROTOCOL_VERSION:
        raise CheckpointError(f"{source}: a tensor storage payload is not in the legacy torch.save format")
    if not isinstance(sys_info, dict) or sys_info.get("little_endian") is not True:
        raise CheckpointError(f"{source}: a tensor storage payload is not little-endian; unsupported")
    if not isinstance(record, _StorageKey) or keys != [record.key]:
        raise CheckpointError(f"{source}: a tensor storage payload does not hold exactly one storage")
    count_bytes = stream.read(8)
    if len(count_bytes) != 8:
        raise CheckpointError(f"{source}: a tensor storage payload is truncated (no element count)")
    (count,) = struct.unpack("<q", count_bytes)
    if count != record.numel:
        raise CheckpointError(f"{source}: a storage says {record.numel} elements but holds {count}")
    itemsize = torch.empty((), dtype=record.dtype).element_size()
    data = stream.read(count * itemsize)
    if len(data) != count * itemsize:
        raise CheckpointError(f"{source}: a tensor storage payload is truncated ({len(data)} of "
                              f"{count * itemsize} bytes)")
    if count == 0:
        return torch.empty(0, dtype=record.dtype)
    return torch.frombuffer(bytearray(data), dtype=record.dtype)


class NetworkUnpickler(_GuardedUnpickler):
    """The allowlist unpickler of §7.3: every global maps to a data-only stand-in, or is refused.

    What it hands out cannot carry state from one load to the next: ``collections.OrderedDict`` is
    an immutable built-in type, the other callables and classes are made for this load only, and
    ``BUILD`` only reaches this load's inert objects (:meth:`may_build`)."""

    def __init__(self, stream: Any, source: str) -> None:
        super().__init__(stream)
        self.source = source
        self._inert_classes: dict[tuple[str, str], type] = {}
        self._handed_out: dict[tuple[str, str], Any] = {}

    def may_build(self, instance: Any) -> bool:
        return type(instance) in self._inert_classes.values()

    def _allowed(self, module: str, name: str) -> Callable[..., Any] | type | None:
        if (module, name) not in self._handed_out:
            self._handed_out[module, name] = self._fresh(module, name)
        return self._handed_out[module, name]

    def _fresh(self, module: str, name: str) -> Callable[..., Any] | type | None:
        """A new callable for this load (a function object has a writable ``__dict__``/``__defaults__``)."""
        if (module, name) == ("torch_utils.persistence", "_reconstruct_persistent_obj"):
            return lambda meta: PersistentRecord(meta)
        if (module, name) == ("collections", "OrderedDict"):
            return collections.OrderedDict
        if (module, name) == ("dnnlib.util", "EasyDict"):
            return type("EasyDict", (PickledEasyDict,), {})
        if module == "torch._utils" and name in ("_rebuild_parameter", "_rebuild_parameter_with_state"):
            return lambda *args: _rebuild_parameter(*args)
        if (module, name) == ("torch._utils", "_rebuild_tensor_v2"):
            return lambda *args: _rebuild_tensor(*args)
        if (module, name) == ("torch.storage", "_load_from_bytes"):
            return lambda payload: read_legacy_storage(payload, self.source)
        if (module, name) == ("numpy", "dtype"):
            return lambda *args: _numpy_dtype(*args)
        if module in ("numpy.core.multiarray", "numpy._core.multiarray") and name == "scalar":
            return lambda *args: _numpy_scalar(*args)
        if (module, name) in INERT_CLASSES:
            if (module, name) not in self._inert_classes:
                self._inert_classes[module, name] = type(name, (InertObject,), {"global_name": (module, name)})
            return self._inert_classes[module, name]
        return None

    def find_class(self, module: str, name: str) -> Any:
        allowed = self._allowed(module, name)
        if allowed is None:
            raise UnsafeCheckpointError(
                f"{self.source}: refused global {module}.{name} (module {module!r}, name {name!r}); "
                "it is not one of the classes a PanoHead network pickle uses (specs/panohead.md §7.3). "
                "Nothing from the file was executed; do not use this file."
            )
        return allowed

    def persistent_load(self, pid: Any) -> Any:
        raise CheckpointError(f"{self.source}: unexpected persistent id {pid!r:.80}; not a network pickle")


def read_network_pickle(path: str | Path) -> Any:
    """Unpickle an official network ``.pkl`` into plain data and inert records; executes nothing."""
    path = Path(path)
    try:
        with open(path, "rb") as handle:
            return NetworkUnpickler(_BoundedReader(handle), str(path)).load()
    except CheckpointError:
        raise
    except FileNotFoundError as error:
        raise CheckpointError(f"{path}: no such file") from error
    except (pickle.UnpicklingError, EOFError) as error:
        raise CheckpointError(f"{path}: truncated or corrupt pickle ({error}); download the file again") from error
    except (ValueError, TypeError, IndexError, KeyError, AttributeError, struct.error, MemoryError,
            UnicodeDecodeError, OverflowError, RecursionError) as error:
        raise CheckpointError(f"{path}: not a readable network pickle ({type(error).__name__}: {error})") from error
