"""load_network / save_network / ``dualinv panohead convert``: official pkl and the own format."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from dualinv.cli import main
from dualinv.errors import CheckpointError, UnsafeCheckpointError
from dualinv.panohead.checkpoint import OWN_FORMAT, load_network, save_network


@pytest.fixture(scope="module")
def tiny_generator(tiny_fixture_dir: Path):
    return load_network(tiny_fixture_dir / "network-tiny.pkl")


@pytest.fixture(scope="module")
def reference(tiny_fixture_dir: Path) -> dict:
    return torch.load(tiny_fixture_dir / "reference.pt", weights_only=True)


def test_load_network_holds_the_reference_tensors(tiny_generator, reference: dict, tiny_fixture_dir: Path) -> None:
    state = tiny_generator.state_dict()
    assert set(state) == set(reference["state_dict"])
    assert all(torch.equal(state[name], tensor) for name, tensor in reference["state_dict"].items())
    init_kwargs = json.loads((tiny_fixture_dir / "reference.json").read_text())["init_kwargs"]
    assert tiny_generator.config.to_init_kwargs()["rendering_kwargs"]["triplane_size"] == init_kwargs["rendering_kwargs"]["triplane_size"]
    assert tiny_generator.neural_rendering_resolution == 16
    assert not tiny_generator.training and not any(p.requires_grad for p in tiny_generator.parameters())


def test_loaded_network_maps_like_the_official_one(tiny_generator, reference: dict) -> None:
    io = reference["inputs_outputs"]
    with torch.no_grad():
        ws = tiny_generator.mapping(io["z"], io["c_cond"], truncation_psi=0.7, truncation_cutoff=14)
    assert torch.allclose(ws, io["ws_psi07"], atol=1e-5)


def test_convert_round_trip(tmp_path: Path, tiny_fixture_dir: Path, tiny_generator) -> None:
    output = tmp_path / "tiny.pt"
    assert main(["panohead", "convert", str(tiny_fixture_dir / "network-tiny.pkl"), str(output)]) == 0
    payload = torch.load(output, weights_only=True)
    assert payload["format"] == OWN_FORMAT and payload["version"] == 1
    converted = load_network(output)
    original, loaded = tiny_generator.state_dict(), converted.state_dict()
    assert list(loaded) == list(original)
    assert all(torch.equal(loaded[name], original[name]) for name in original)
    assert converted.config == tiny_generator.config
    assert converted.rendering_kwargs == tiny_generator.rendering_kwargs


def test_save_network_keeps_live_density_noise(tmp_path: Path, tiny_fixture_dir: Path) -> None:
    from dualinv.panohead.checkpoint import build_generator, read_network

    record = read_network(tiny_fixture_dir / "network-tiny.pkl")
    live = dict(record.rendering_kwargs, density_noise=0.25)
    generator = build_generator(type(record)(record.source, record.init_kwargs, 16, live, record.state_dict))
    save_network(generator, tmp_path / "noisy.pt")
    assert load_network(tmp_path / "noisy.pt").config.rendering.density_noise == 0.25


def tampered(tmp_path: Path, tiny_generator, change) -> Path:
    path = tmp_path / "tampered.pt"
    save_network(tiny_generator, path)
    payload = torch.load(path, weights_only=True)
    change(payload)
    torch.save(payload, path)
    return path


def test_own_format_with_missing_keys_names_them(tmp_path: Path, tiny_generator) -> None:
    def drop(payload: dict) -> None:
        del payload["state_dict"]["decoder.net.0.weight"]
        del payload["state_dict"]["backbone.mapping.w_avg"]

    path = tampered(tmp_path, tiny_generator, drop)
    with pytest.raises(CheckpointError, match="missing 2 entries") as caught:
        load_network(path)
    assert "decoder.net.0.weight" in str(caught.value) and "backbone.mapping.w_avg" in str(caught.value)
    assert str(path) in str(caught.value)


def test_own_format_with_wrong_shape_or_extra_key_names_it(tmp_path: Path, tiny_generator) -> None:
    def reshape(payload: dict) -> None:
        payload["state_dict"]["torgb.bias"] = torch.zeros(4)
        payload["state_dict"]["spare.weight"] = torch.zeros(1)

    with pytest.raises(CheckpointError) as caught:
        load_network(tampered(tmp_path, tiny_generator, reshape))
    message = str(caught.value)
    assert "torgb.bias (4,) (expected (3,))" in message and "unexpected 1 entries: spare.weight" in message


def test_own_format_header_is_checked(tmp_path: Path, tiny_generator) -> None:
    path = tampered(tmp_path, tiny_generator, lambda payload: payload.update(version=99))
    with pytest.raises(CheckpointError, match="version 99"):
        load_network(path)
    torch.save({"state_dict": {}}, path)
    with pytest.raises(CheckpointError, match="not a dualinv-panohead checkpoint"):
        load_network(path)


def test_own_format_with_foreign_global_is_refused(tmp_path: Path) -> None:
    marker = tmp_path / "executed"

    class Hostile:
        def __reduce__(self):
            import os
            return os.system, (f"touch {marker}",)

    path = tmp_path / "hostile.pt"
    torch.save({"format": OWN_FORMAT, "version": 1, "payload": Hostile()}, path)
    with pytest.raises(UnsafeCheckpointError, match="system"):
        load_network(path)
    assert not marker.exists()


def test_truncated_own_format_is_refused(tmp_path: Path, tiny_generator) -> None:
    path = tmp_path / "whole.pt"
    save_network(tiny_generator, path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 3])
    with pytest.raises(CheckpointError, match="truncated or corrupt"):
        load_network(path)


def test_convert_reports_errors_without_traceback(tmp_path: Path, capsys) -> None:
    (tmp_path / "bad.pkl").write_bytes(b"cos\nsystem\n(S'true'\ntR.")
    assert main(["panohead", "convert", str(tmp_path / "bad.pkl"), str(tmp_path / "out.pt")]) == 2
    assert "refused global os.system" in capsys.readouterr().err
    assert not (tmp_path / "out.pt").exists()
