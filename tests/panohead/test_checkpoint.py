"""Safe loading of PanoHead network pickles (specs/panohead.md §7) and dualinv's own format.

Hostile pickles are assembled here with a pickler that can name any global without importing it,
so each test controls exactly which opcodes the loader meets. Every hostile payload would leave a
marker file if any of it ran; each test checks the marker is absent.
"""

from __future__ import annotations

import collections
import io
import json
import pickle
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from dualinv.errors import CheckpointError, UnsafeCheckpointError
from dualinv.panohead.checkpoint import read_network
from dualinv.panohead.safe_pickle import (
    LEGACY_MAGIC_NUMBER,
    InertObject,
    PersistentRecord,
    PickledEasyDict,
    read_network_pickle,
)


class Global:
    """A global reference, written as ``GLOBAL module\\nname`` without importing anything."""

    def __init__(self, module: str, name: str) -> None:
        self.module, self.name = module, name


class Call:
    """``func(*args)`` via REDUCE, optionally followed by BUILD(state)."""

    def __init__(self, func: Global, args: tuple, state: Any = None) -> None:
        self.func, self.args, self.state = func, args, state


class CraftingPickler(pickle._Pickler):  # the pure-Python pickler lets us override ``save``
    def __init__(self, stream: io.BytesIO, numpy_module: str = "numpy._core.multiarray") -> None:
        super().__init__(stream, protocol=4)
        self.numpy_module = numpy_module

    def save(self, obj: Any, save_persistent_id: bool = True) -> None:
        if isinstance(obj, Global):
            self.write(pickle.GLOBAL + f"{obj.module}\n{obj.name}\n".encode())
        elif isinstance(obj, Call):
            self.save(obj.func)
            self.save(tuple(obj.args))
            self.write(pickle.REDUCE)
            if obj.state is not None:
                self.save(obj.state)
                self.write(pickle.BUILD)
        elif isinstance(obj, np.generic):
            self.save(Call(Global(self.numpy_module, "scalar"), (obj.dtype, obj.tobytes())))
        else:
            super().save(obj, save_persistent_id)


def crafted(obj: Any, numpy_module: str = "numpy._core.multiarray") -> bytes:
    stream = io.BytesIO()
    CraftingPickler(stream, numpy_module).dump(obj)
    return stream.getvalue()


def marker_call(marker: Path) -> tuple[Global, tuple]:
    return Global("os", "system"), (f"touch {marker}",)


def expect_refusal(tmp_path: Path, payload: bytes, error: type, *words: str) -> str:
    path = tmp_path / "hostile.pkl"
    path.write_bytes(payload)
    with pytest.raises(error) as caught:
        read_network(path)
    message = str(caught.value)
    assert str(path) in message
    for word in words:
        assert word in message
    return message


# ----------------------------------------------------------------------------------- the fixture


def test_fixture_state_dict_equals_reference(tiny_fixture_dir: Path) -> None:
    record = read_network(tiny_fixture_dir / "network-tiny.pkl")
    reference = torch.load(tiny_fixture_dir / "reference.pt", weights_only=True)["state_dict"]
    assert list(record.state_dict) == list(reference)  # same names, same order
    assert len(record.state_dict) == 238
    for name, tensor in reference.items():
        assert record.state_dict[name].dtype == tensor.dtype, name
        assert torch.equal(record.state_dict[name], tensor), name


def test_fixture_kwargs_equal_reference_json(tiny_fixture_dir: Path) -> None:
    record = read_network(tiny_fixture_dir / "network-tiny.pkl")
    reference = json.loads((tiny_fixture_dir / "reference.json").read_text())
    assert record.init_kwargs == reference["init_kwargs"]
    assert record.neural_rendering_resolution == reference["neural_rendering_resolution"]
    assert record.rendering_kwargs == reference["init_kwargs"]["rendering_kwargs"]


def test_fixture_module_source_is_kept_as_text(tiny_fixture_dir: Path) -> None:
    network = read_network_pickle(tiny_fixture_dir / "network-tiny.pkl")
    assert isinstance(network["G_ema"], PersistentRecord)
    assert network["G_ema"].meta["module_src"].startswith("# module source omitted")


# ------------------------------------------------------------------------- hostile globals


@pytest.mark.parametrize("module, name, args", [
    ("os", "system", lambda marker: (f"touch {marker}",)),
    ("posix", "system", lambda marker: (f"touch {marker}",)),
    ("builtins", "eval", lambda marker: (f"open({str(marker)!r}, 'w')",)),
    ("builtins", "exec", lambda marker: (f"open({str(marker)!r}, 'w')",)),
    ("subprocess", "Popen", lambda marker: (["touch", str(marker)],)),
    ("torch", "load", lambda marker: (str(marker),)),
])
def test_foreign_global_is_refused_by_name(tmp_path: Path, module: str, name: str, args: Any) -> None:
    marker = tmp_path / "executed"
    payload = crafted({"G_ema": Call(Global(module, name), args(marker))})
    message = expect_refusal(tmp_path, payload, UnsafeCheckpointError, f"{module}.{name}", "Nothing")
    assert f"module {module!r}" in message and f"name {name!r}" in message
    assert not marker.exists()


def test_foreign_global_at_protocol_zero_is_refused(tmp_path: Path) -> None:
    marker = tmp_path / "executed"
    payload = f"cos\nsystem\n(S'touch {marker}'\ntR.".encode()
    expect_refusal(tmp_path, payload, UnsafeCheckpointError, "os.system")
    assert not marker.exists()


def legacy_storage_payload(record_pickle: bytes, data: bytes = b"") -> bytes:
    """The five pickles of §7.5 with a caller-made fourth one, then the raw data."""
    sys_info = {"protocol_version": 1001, "little_endian": True, "type_sizes": {"short": 2, "int": 4, "long": 4}}
    head = b"".join(pickle.dumps(item, protocol=2) for item in (LEGACY_MAGIC_NUMBER, 1001, sys_info))
    return head + record_pickle + pickle.dumps(["0"], protocol=2) + data


def test_foreign_global_inside_storage_payload_is_refused(tmp_path: Path) -> None:
    marker = tmp_path / "executed"
    inner = crafted(Call(*marker_call(marker)))
    storage = Call(Global("torch.storage", "_load_from_bytes"), (legacy_storage_payload(inner),))
    tensor = Call(Global("torch._utils", "_rebuild_tensor_v2"), (storage, 0, (1,), (1,), False, {}))
    expect_refusal(tmp_path, crafted({"G_ema": tensor}), UnsafeCheckpointError, "os.system", "storage payload")
    assert not marker.exists()


def test_real_torch_storage_payload_is_read(tmp_path: Path) -> None:
    """The control for the test above: the genuine torch writer's payload passes the same reader."""
    tensor = torch.arange(6, dtype=torch.float32).reshape(2, 3)
    path = tmp_path / "tensor.pkl"
    path.write_bytes(pickle.dumps({"t": tensor, "p": torch.nn.Parameter(tensor.double())}, protocol=4))
    loaded = read_network_pickle(path)
    assert torch.equal(loaded["t"], tensor) and torch.equal(loaded["p"], tensor.double())


def test_storage_class_of_another_module_is_refused(tmp_path: Path) -> None:
    record = crafted(Call(Global("builtins", "tuple"), ((),)))  # any non-storage global
    storage = Call(Global("torch.storage", "_load_from_bytes"), (legacy_storage_payload(record),))
    expect_refusal(tmp_path, crafted({"G_ema": storage}), UnsafeCheckpointError, "builtins.tuple")


def evil_source(marker: Path) -> str:
    return f"import pathlib\npathlib.Path({str(marker)!r}).write_text('executed')\n"


def test_persistent_meta_source_is_never_executed(tmp_path: Path, tiny_fixture_dir: Path) -> None:
    marker = tmp_path / "executed"
    exec(compile(evil_source(tmp_path / "control"), "control", "exec"), {})  # what official loading would do
    assert (tmp_path / "control").exists()
    meta = {"type": "class", "version": 6, "module_src": evil_source(marker), "class_name": "Backdoor", "state": {}}
    payload = crafted({"G_ema": Call(Global("torch_utils.persistence", "_reconstruct_persistent_obj"), (meta,))})
    expect_refusal(tmp_path, payload, CheckpointError, "Backdoor", "not a PanoHead TriPlaneGenerator")
    assert not marker.exists()


# ------------------------------------------------------------------------ broken or foreign files


def test_truncated_pickle_is_refused(tmp_path: Path, tiny_fixture_dir: Path) -> None:
    data = (tiny_fixture_dir / "network-tiny.pkl").read_bytes()
    message = expect_refusal(tmp_path, data[: len(data) // 2], CheckpointError, "truncated")
    assert "Unsafe" not in message


def test_random_bytes_are_refused(tmp_path: Path) -> None:
    noise = np.random.default_rng(0).integers(0, 256, size=4096, dtype=np.uint8).tobytes()
    expect_refusal(tmp_path, b"\x80\x04" + noise, CheckpointError)
    expect_refusal(tmp_path, noise, CheckpointError)


def test_pickle_without_g_ema_is_refused(tmp_path: Path) -> None:
    payload = pickle.dumps({"G": None, "D": None, "training_set_kwargs": {}}, protocol=4)
    expect_refusal(tmp_path, payload, CheckpointError, "no 'G_ema'", "'D'")
    expect_refusal(tmp_path, pickle.dumps([1, 2, 3], protocol=4), CheckpointError, "no 'G_ema'")


def test_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match="no such file"):
        read_network(tmp_path / "absent.pkl")


TORCH_2_HOOK_DICTS = ("_forward_hooks_with_kwargs", "_forward_hooks_always_called", "_forward_pre_hooks_with_kwargs",
                      "_backward_pre_hooks", "_state_dict_pre_hooks", "_load_state_dict_post_hooks")


def recraft(node: Any, *, torch2: bool) -> Any:
    """Turn the inert records of a loaded pickle back into opcodes, the torch-2.x way or the 1.11 way.

    torch 2.x: ``_rebuild_parameter_with_state`` (a parameter carrying a Python attribute), plain
    dicts and the extra hook OrderedDicts; torch 1.11: ``_rebuild_parameter``, OrderedDicts, no extra
    hook dicts.
    """
    if isinstance(node, PersistentRecord):
        return Call(Global("torch_utils.persistence", "_reconstruct_persistent_obj"), (recraft(node.meta, torch2=torch2),))
    if isinstance(node, InertObject):
        return Call(Global(*node.global_name), (), recraft(node.state, torch2=torch2))
    if isinstance(node, (list, tuple)):
        return type(node)(recraft(item, torch2=torch2) for item in node)
    if not isinstance(node, dict):
        return node
    items = {key: recraft(value, torch2=torch2) for key, value in node.items()
             if torch2 or key not in TORCH_2_HOOK_DICTS}
    if "_parameters" in node:
        items["_parameters"] = collections.OrderedDict(
            (name, as_parameter(tensor, torch2)) for name, tensor in node["_parameters"].items())
    if isinstance(node, collections.OrderedDict) or not torch2:
        return collections.OrderedDict(items)
    return dict(items)  # also for EasyDict: any dict subclass will do (§7.3)


def as_parameter(tensor: torch.Tensor | None, torch2: bool) -> torch.nn.Parameter | None:
    if tensor is None:
        return None
    parameter = torch.nn.Parameter(tensor, requires_grad=False)
    if torch2:
        parameter.pickled_by = "torch 2"  # a Python attribute makes torch emit _rebuild_parameter_with_state
    return parameter


@pytest.mark.parametrize("torch2, numpy_module", [
    (True, "numpy._core.multiarray"),   # torch 2.x + numpy 2
    (False, "numpy.core.multiarray"),   # torch 1.11 era + numpy 1
])
def test_repickled_fixture_loads_the_same(tmp_path: Path, tiny_fixture_dir: Path,
                                          torch2: bool, numpy_module: str) -> None:
    original = read_network(tiny_fixture_dir / "network-tiny.pkl")
    network = read_network_pickle(tiny_fixture_dir / "network-tiny.pkl")
    payload = crafted(recraft(network, torch2=torch2), numpy_module=numpy_module)
    assert (b"_rebuild_parameter_with_state" in payload) == torch2 and b"_rebuild_parameter" in payload
    assert numpy_module.encode() + b"\nscalar" in payload
    path = tmp_path / "repickled.pkl"
    path.write_bytes(payload)
    record = read_network(path)
    assert list(record.state_dict) == list(original.state_dict)
    assert all(torch.equal(record.state_dict[key], original.state_dict[key]) for key in original.state_dict)
    assert record.init_kwargs == original.init_kwargs
    layer = read_network_pickle(path)["G_ema"].state["_modules"]["decoder"].state["_modules"]["net"]
    assert isinstance(layer.state["_modules"]["0"].state["weight_gain"], np.float64)


def test_live_rendering_kwargs_and_plane_axes(tmp_path: Path, tiny_fixture_dir: Path) -> None:
    network = read_network_pickle(tiny_fixture_dir / "network-tiny.pkl")
    network["G_ema"].state["rendering_kwargs"]["density_noise"] = 0
    path = tmp_path / "live.pkl"
    path.write_bytes(crafted(recraft(network, torch2=True)))
    record = read_network(path)
    assert record.rendering_kwargs["density_noise"] == 0 and "density_noise" not in record.init_kwargs["rendering_kwargs"]

    renderer = network["G_ema"].state["_modules"]["renderer"]
    renderer.state["plane_axes"] = torch.tensor([[[1.0, 0, 0], [0, 1, 0], [0, 0, 1]],
                                                 [[1.0, 0, 0], [0, 0, 1], [0, 1, 0]],
                                                 [[0.0, 0, 1], [1, 0, 0], [0, 1, 0]]])  # EG3D's axes
    path.write_bytes(crafted(recraft(network, torch2=True)))
    with pytest.raises(CheckpointError, match="plane_axes"):
        read_network(path)
