"""Fuzz: a few hundred generated hostile pickles (random opcodes over the allow-list and a few
forbidden globals) through the loader, in a child process whose memory is measured.

Asserted: no marker file appeared (nothing ran), every load ended in a result or a named
``DualinvError`` (no crash), the shared state of the loader and a later load of the fixture are
unchanged (nothing leaked), and the child's peak memory grew by less than :data:`MEMORY_BUDGET`
over a warm baseline (every file is a few KB; a loader that allocates what a file merely declares
would show gigabytes).
"""

from __future__ import annotations

import json
import os
import pickle
import random
import resource
import struct
import subprocess
import sys
from pathlib import Path

COUNT = 300
SEED = 12
MEMORY_BUDGET = 256 << 20
"""Bytes of peak RSS growth allowed for the whole fuzz run."""

ALLOWED = [("torch_utils.persistence", "_reconstruct_persistent_obj"), ("collections", "OrderedDict"),
           ("dnnlib.util", "EasyDict"), ("torch._utils", "_rebuild_parameter"),
           ("torch._utils", "_rebuild_parameter_with_state"), ("torch._utils", "_rebuild_tensor_v2"),
           ("torch.storage", "_load_from_bytes"), ("numpy", "dtype"), ("numpy._core.multiarray", "scalar"),
           ("training.volumetric_rendering.ray_sampler", "RaySampler"), ("torch.nn.modules.container", "Sequential")]
FORBIDDEN = [("os", "system"), ("builtins", "exec"), ("builtins", "getattr"), ("subprocess", "call"),
             ("torch", "load"), ("numpy", "frombuffer")]


def _text(value: str) -> bytes:
    data = value.encode()
    return pickle.SHORT_BINUNICODE + bytes([len(data)]) + data if len(data) < 256 else \
        pickle.BINUNICODE + struct.pack("<I", len(data)) + data


def _bytes(data: bytes) -> bytes:
    return pickle.BINBYTES + struct.pack("<I", len(data)) + data


def _storage(count: int, declared: int | None = None) -> bytes:
    """A legacy storage payload of ``count`` floats that may declare another element count."""
    head = b"".join(pickle.dumps(part, protocol=2) for part in (0x1950A86A20F9469CFC6C, 1001, {"little_endian": True}))
    record = (pickle.PROTO + b"\x02" + pickle.MARK + _text("storage") + pickle.GLOBAL + b"torch\nFloatStorage\n"
              + _text("0") + _text("cpu") + pickle.BININT + struct.pack("<i", declared if declared is not None else count)
              + pickle.TUPLE + pickle.BINPERSID + pickle.STOP)
    return head + record + pickle.dumps(["0"], protocol=2) + struct.pack("<q", count) + b"\0" * (4 * count)


def fragments(marker: Path) -> list[bytes]:
    globals_ = [pickle.GLOBAL + f"{m}\n{n}\n".encode() for m, n in ALLOWED + FORBIDDEN]
    values = [pickle.NONE, pickle.NEWTRUE, pickle.NEWFALSE, pickle.BININT1 + b"\x03", pickle.BININT1 + b"\x00",
              pickle.BININT + struct.pack("<i", 1 << 30), pickle.BININT + struct.pack("<i", -5),
              _text("class_name"), _text("G_ema"), _text("HACKED"), _text("_parameters"), _text("state"),
              _text("__setstate__"), _text(f"touch {marker}"), _text("f4"), _bytes(_storage(4)),
              _bytes(_storage(1)), _bytes(_storage(2, declared=1 << 28)), _bytes(b"\0" * 4),
              pickle.BINBYTES8 + struct.pack("<Q", 1 << 40),
              pickle.MARK + pickle.BININT2 + struct.pack("<H", 16384) + pickle.BININT2 + struct.pack("<H", 16384)
              + pickle.TUPLE, pickle.MARK + pickle.BININT1 + b"\0" + pickle.BININT1 + b"\0" + pickle.TUPLE,
              pickle.BINFLOAT + struct.pack(">d", float("nan"))]
    structure = [pickle.EMPTY_DICT, pickle.EMPTY_LIST, pickle.EMPTY_TUPLE, pickle.EMPTY_SET, pickle.MARK,
                 pickle.TUPLE, pickle.TUPLE1, pickle.TUPLE2, pickle.TUPLE3, pickle.SETITEM, pickle.SETITEMS,
                 pickle.APPEND, pickle.APPENDS, pickle.ADDITEMS, pickle.REDUCE, pickle.REDUCE, pickle.BUILD,
                 pickle.BUILD, pickle.NEWOBJ, pickle.DUP, pickle.POP, pickle.MEMOIZE, pickle.BINGET + b"\0",
                 pickle.FROZENSET, pickle.STACK_GLOBAL, pickle.NEWOBJ_EX]
    return globals_ * 3 + values * 2 + structure * 2


def generate(folder: Path, marker: Path) -> list[Path]:
    rng = random.Random(SEED)
    pieces = fragments(marker)
    paths = []
    for index in range(COUNT):
        body = b"".join(rng.choice(pieces) for _ in range(rng.randint(3, 40)))
        if index % 3 == 1:  # BUILD with a random (dict state, slot state) on a bare global
            module, name = rng.choice(ALLOWED)
            keys = [rng.choice(["class_name", "state", "keys", "__qualname__", "__defaults__", "global_name",
                                "__setstate__", "meta"]) for _ in range(rng.randint(1, 3))]
            mapping = pickle.EMPTY_DICT + pickle.MARK + b"".join(_text(key) + rng.choice(pieces[-40:]) for key in keys) \
                + pickle.SETITEMS
            state = rng.choice([pickle.NONE + mapping + pickle.TUPLE2, mapping, mapping + pickle.NONE + pickle.TUPLE2])
            body = pickle.GLOBAL + f"{module}\n{name}\n".encode() + state + pickle.BUILD + body[:rng.randint(0, 6)]
        elif index % 6 == 2:  # a tensor view with random size/stride over a small storage
            size = rng.choice([(16384, 16384), (4,), (2, 2), (1 << 20,), (3, 1 << 16)])
            stride = tuple(rng.choice([0, 1, 2, 16384]) for _ in size)
            tuple_of = lambda values: pickle.MARK + b"".join(pickle.BININT + struct.pack("<i", v) for v in values) \
                + pickle.TUPLE
            body = (pickle.GLOBAL + b"torch._utils\n_rebuild_tensor_v2\n" + pickle.MARK + pickle.GLOBAL
                    + b"torch.storage\n_load_from_bytes\n" + _bytes(_storage(rng.choice([1, 4]))) + pickle.TUPLE1
                    + pickle.REDUCE + pickle.BININT1 + b"\0" + tuple_of(size) + tuple_of(stride) + pickle.NEWFALSE
                    + pickle.NONE + pickle.TUPLE + pickle.REDUCE)
        elif index % 3 == 0:  # a call with random arguments on an allow-listed or forbidden global
            module, name = rng.choice(ALLOWED + FORBIDDEN)
            body = (pickle.GLOBAL + f"{module}\n{name}\n".encode() + pickle.MARK + body + pickle.TUPLE
                    + pickle.REDUCE + rng.choice([b"", pickle.EMPTY_DICT + pickle.BUILD]))
        path = folder / f"fuzz{index:03d}.pkl"
        path.write_bytes(pickle.PROTO + b"\x04" + body + pickle.STOP)
        paths.append(path)
    return paths


def child(fixture: str, paths: list[str]) -> dict:
    """Runs in the child process: loads everything, reports outcomes, state and peak memory."""
    import torch

    from dualinv.errors import DualinvError
    from dualinv.panohead.checkpoint import read_network
    from tests.panohead.test_hostile_pickles import shared_state

    reference = read_network(fixture)
    state = repr(shared_state())
    baseline = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    crashes, outcomes = [], {"loaded": 0, "refused": 0}
    for path in paths:
        try:
            read_network(path)
            outcomes["loaded"] += 1
        except DualinvError:
            outcomes["refused"] += 1
        except BaseException as error:  # noqa: BLE001 - any other exception is a crash to report
            crashes.append(f"{Path(path).name}: {type(error).__name__}: {str(error)[:120]}")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    again = read_network(fixture)
    same = (list(again.state_dict) == list(reference.state_dict)
            and all(torch.equal(again.state_dict[k], reference.state_dict[k]) for k in reference.state_dict)
            and again.init_kwargs == reference.init_kwargs)
    return {"crashes": crashes, "outcomes": outcomes, "growth": peak - baseline,
            "state_unchanged": repr(shared_state()) == state, "fixture_unchanged": same}


def test_hostile_pickles_run_nothing_leak_nothing_and_stay_small(tmp_path: Path, tiny_fixture_dir: Path) -> None:
    marker = tmp_path / "MARKER"
    paths = generate(tmp_path, marker)
    listing = tmp_path / "paths.json"
    listing.write_text(json.dumps([str(tiny_fixture_dir / "network-tiny.pkl"), [str(p) for p in paths]]))
    result = subprocess.run([sys.executable, __file__, str(listing)], capture_output=True, text=True, timeout=300,
                            env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])})
    assert result.returncode == 0, result.stderr[-2000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert not marker.exists()
    assert report["crashes"] == []
    assert report["outcomes"]["refused"] > COUNT // 2  # the generator does reach the checks
    assert report["state_unchanged"] and report["fixture_unchanged"]
    assert report["growth"] < MEMORY_BUDGET, f"peak memory grew by {report['growth'] / 2**20:.0f} MiB"


if __name__ == "__main__":
    fixture_path, pickle_paths = json.loads(Path(sys.argv[1]).read_text())
    print(json.dumps(child(fixture_path, pickle_paths)))
