"""A refused pickle leaves nothing behind (issue: BUILD on allow-listed classes) and declared sizes
are checked before anything is allocated (specs/panohead.md §7, docs/security.md)."""

from __future__ import annotations

import collections
import io
import pickle
import struct
from pathlib import Path

import numpy as np
import pytest
import torch

from dualinv.errors import CheckpointError
from dualinv.panohead import safe_pickle
from dualinv.panohead.checkpoint import read_network
from dualinv.panohead.safe_pickle import InertObject, PersistentRecord, PickledEasyDict, read_network_pickle

from tests.panohead.test_checkpoint import Call, Global, crafted

PROTO4 = pickle.PROTO + b"\x04"


def _global(module: str, name: str) -> bytes:
    return pickle.GLOBAL + f"{module}\n{name}\n".encode()


def _text(value: str) -> bytes:
    data = value.encode()
    return pickle.SHORT_BINUNICODE + bytes([len(data)]) + data


def build_on_global(module: str, name: str, slot_state: dict[str, str] | None = None, dict_state: dict | None = None) -> bytes:
    """``GLOBAL module.name``, then BUILD with (dict state, slot state): slot state is setattr on the object."""
    def mapping(values):
        if values is None:
            return pickle.NONE
        return pickle.EMPTY_DICT + pickle.MARK + b"".join(_text(k) + _text(v) for k, v in values.items()) + pickle.SETITEMS
    return PROTO4 + _global(module, name) + mapping(dict_state) + mapping(slot_state) + pickle.TUPLE2 + pickle.BUILD + pickle.STOP


def shared_state() -> dict[str, object]:
    """What a poisoning pickle could change: the stand-ins' class dicts, the functions' writable parts,
    numpy's shared float dtypes."""
    functions = [safe_pickle._rebuild_tensor, safe_pickle._rebuild_parameter, safe_pickle._numpy_dtype,
                 safe_pickle._numpy_scalar, safe_pickle.read_legacy_storage]
    return {
        **{cls.__name__: dict(vars(cls)) for cls in (PersistentRecord, InertObject, PickledEasyDict,
                                                      collections.OrderedDict)},
        **{fn.__name__: (dict(fn.__dict__), fn.__defaults__, fn.__kwdefaults__, fn.__code__) for fn in functions},
        "dtypes": [(np.dtype(code).byteorder, np.dtype(code).str) for code in ("f4", "f8", "i8")],
    }


POISONS = [
    pytest.param(build_on_global("torch_utils.persistence", "_reconstruct_persistent_obj", {"class_name": "HACKED"}),
                 id="class-attribute-of-PersistentRecord"),
    pytest.param(build_on_global("dnnlib.util", "EasyDict", {"keys": "HACKED"}), id="class-attribute-of-EasyDict"),
    pytest.param(build_on_global("torch._utils", "_rebuild_tensor_v2", None, {"poisoned": "yes"}), id="function-dict"),
    pytest.param(build_on_global("torch._utils", "_rebuild_parameter", {"__qualname__": "HACKED"}), id="function-attribute"),
    pytest.param(build_on_global("collections", "OrderedDict", {"HACKED": "yes"}), id="builtin-type"),
    pytest.param(build_on_global("training.volumetric_rendering.ray_sampler", "RaySampler", {"global_name": "HACKED"}),
                 id="inert-class"),
    pytest.param(PROTO4 + _global("numpy", "dtype") + _text("f8") + pickle.NEWFALSE + pickle.NEWTRUE + pickle.TUPLE3
                 + pickle.REDUCE + pickle.MARK + pickle.BININT1 + b"\x03" + _text(">") + pickle.NONE + pickle.NONE
                 + pickle.NONE + pickle.BININT1 + b"\xff" + pickle.BININT1 + b"\xff" + pickle.BININT1 + b"\x00"
                 + pickle.TUPLE + pickle.BUILD + pickle.STOP, id="numpy-float64-byteorder"),
]


@pytest.mark.parametrize("payload", POISONS)
def test_a_refused_pickle_leaves_the_next_load_identical(tmp_path: Path, tiny_fixture_dir: Path, payload: bytes) -> None:
    before_state = shared_state()
    before = read_network(tiny_fixture_dir / "network-tiny.pkl")
    poisoned = tmp_path / "poisoned.pkl"
    poisoned.write_bytes(payload)
    with pytest.raises(CheckpointError):
        read_network_pickle(poisoned)
    after = read_network(tiny_fixture_dir / "network-tiny.pkl")
    assert shared_state() == before_state
    assert list(after.state_dict) == list(before.state_dict)
    assert all(torch.equal(after.state_dict[name], before.state_dict[name]) for name in before.state_dict)
    assert after.init_kwargs == before.init_kwargs and after.rendering_kwargs == before.rendering_kwargs


def _float_storage(count: int) -> bytes:
    record = crafted(("storage", Global("torch", "FloatStorage"), "0", "cpu", count))
    data = struct.pack("<q", count) + struct.pack(f"<{count}f", *range(count))
    header = b"".join(pickle.dumps(part, protocol=2) for part in (safe_pickle.LEGACY_MAGIC_NUMBER, 1001,
                                                                  {"little_endian": True}))
    return header + _persid(record) + pickle.dumps(["0"], protocol=2) + data


def _persid(record_pickle: bytes) -> bytes:
    """A pickle whose result is the persistent id ``record`` (BINPERSID over the crafted tuple)."""
    return record_pickle[:-1] + pickle.BINPERSID + pickle.STOP


def test_a_stride_zero_view_is_refused_before_it_is_allocated(tmp_path: Path) -> None:
    storage = Call(Global("torch.storage", "_load_from_bytes"), (_float_storage(1),))
    tensor = Call(Global("torch._utils", "_rebuild_tensor_v2"), (storage, 0, (16384, 16384), (0, 0), False, None))
    path = tmp_path / "stride0.pkl"
    path.write_bytes(crafted({"G_ema": tensor}))
    assert path.stat().st_size < 1000
    with pytest.raises(CheckpointError, match="more elements than its storage"):
        read_network_pickle(path)


def test_a_declared_length_beyond_the_file_is_not_read(tmp_path: Path) -> None:
    path = tmp_path / "long.pkl"
    path.write_bytes(PROTO4 + pickle.BINBYTES8 + struct.pack("<Q", 1 << 40) + b"x" * 10)
    with pytest.raises(CheckpointError):
        read_network_pickle(path)
