"""Network files that must be refused with a named error before anything large is built (docs/security.md)."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest
import torch

from dualinv.cli import main
from dualinv.errors import CheckpointError
from dualinv.panohead import PanoHeadConfig, PanoHeadGenerator
from dualinv.panohead.checkpoint import load_network, save_network


@pytest.fixture(scope="module")
def tiny_payload(tmp_path_factory) -> dict:
    path = tmp_path_factory.mktemp("net") / "tiny.pt"
    torch.manual_seed(0)
    save_network(PanoHeadGenerator(PanoHeadConfig.tiny()), path)
    return torch.load(path, weights_only=True)


def _write(path: Path, payload: dict) -> Path:
    torch.save(payload, path)
    return path


def _altered(payload: dict, **init_kwargs) -> dict:
    return {**payload, "init_kwargs": {**payload["init_kwargs"], **init_kwargs}}


@pytest.mark.parametrize("change, words", [
    ({"channel_base": 1 << 24}, "channel_base"),
    ({"z_dim": -5}, "z_dim"),
    ({"w_dim": 10 ** 9}, "w_dim"),
])
def test_absurd_constructor_values_are_refused_before_building(tmp_path, tiny_payload, change, words) -> None:
    path = _write(tmp_path / "absurd.pt", _altered(tiny_payload, **change))
    with pytest.raises(CheckpointError, match=words):
        load_network(path)


def test_absurd_render_resolution_is_refused(tmp_path, tiny_payload) -> None:
    path = _write(tmp_path / "res.pt", {**tiny_payload, "neural_rendering_resolution": 10 ** 6})
    with pytest.raises(CheckpointError, match="neural_rendering_resolution"):
        load_network(path)


@pytest.mark.parametrize("value", [float("nan"), float("inf")])
def test_non_finite_weights_are_refused(tmp_path, tiny_payload, value) -> None:
    state = dict(tiny_payload["state_dict"])
    name = next(name for name, tensor in state.items() if tensor.is_floating_point() and tensor.numel() > 1)
    state[name] = state[name].clone()
    state[name].view(-1)[1] = value
    path = _write(tmp_path / "nan.pt", {**tiny_payload, "state_dict": state})
    with pytest.raises(CheckpointError, match=f"NaN or infinite.*{name}"):
        load_network(path)


def test_integer_weights_are_refused(tmp_path, tiny_payload) -> None:
    state = dict(tiny_payload["state_dict"])
    name = next(name for name, tensor in state.items() if tensor.is_floating_point() and tensor.numel() > 1)
    state[name] = state[name].round().to(torch.int32)
    path = _write(tmp_path / "int.pt", {**tiny_payload, "state_dict": state})
    with pytest.raises(CheckpointError, match=f"integers.*{name}"):
        load_network(path)


def test_convert_fails_on_nan_weights(tmp_path, tiny_payload, capsys) -> None:
    state = {name: tensor.clone() for name, tensor in tiny_payload["state_dict"].items()}
    name = next(name for name, tensor in state.items() if tensor.is_floating_point() and tensor.numel() > 1)
    state[name].view(-1)[0] = float("nan")
    source = _write(tmp_path / "nan.pt", {**tiny_payload, "state_dict": state})
    assert main(["panohead", "convert", str(source), str(tmp_path / "out.pt")]) == 2
    assert "NaN" in capsys.readouterr().err and not (tmp_path / "out.pt").exists()


def test_a_zip_that_inflates_is_refused_before_reading(tmp_path, tiny_payload) -> None:
    buffer = io.BytesIO()
    torch.save(tiny_payload, buffer)
    bomb = tmp_path / "bomb.pt"
    with zipfile.ZipFile(io.BytesIO(buffer.getvalue())) as original, \
            zipfile.ZipFile(bomb, "w", compression=zipfile.ZIP_DEFLATED) as rewritten:
        for member in original.infolist():
            rewritten.writestr(member.filename, original.read(member.filename))
        rewritten.writestr("archive/data/999", b"\0" * (64 << 20))  # 64 MiB of zeros in ~64 KiB
    assert bomb.stat().st_size < 64 << 20  # the zip is smaller than what it declares
    with pytest.raises(CheckpointError, match="compressed"):
        load_network(bomb)


def test_render_on_a_missing_gpu_and_negative_frames_are_one_line_errors(tmp_path, capsys, monkeypatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)  # a machine without a GPU
    network = tmp_path / "absent.pt"
    assert main(["panohead", "render", "--network", str(network), "--out", str(tmp_path), "--device", "cuda"]) == 2
    error = capsys.readouterr().err.strip()
    assert error.count("\n") == 0 and "no CUDA device" in error
    with pytest.raises(SystemExit) as exit_info:
        main(["panohead", "render", "--network", str(network), "--out", str(tmp_path / "out"), "--frames", "-3"])
    assert exit_info.value.code == 2
    error = capsys.readouterr().err
    assert error == "dualinv panohead render: error: argument --frames: must be an integer >= 1, got -3\n"  # one line
    assert not (tmp_path / "out").exists()
