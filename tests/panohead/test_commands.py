"""``dualinv panohead render`` on the tiny fixture network, end to end."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from dualinv.cli import main
from dualinv.errors import ConfigError
from dualinv.mesh import read_ply
from dualinv.commands.panohead import parse_seeds


def test_parse_seeds() -> None:
    assert parse_seeds("0-3") == [0, 1, 2, 3]
    assert parse_seeds("1,5,7-8") == [1, 5, 7, 8]
    assert parse_seeds("42") == [42]
    for bad in ("", "a-b", "-1", "3-x"):
        with pytest.raises(ConfigError, match="--seeds"):
            parse_seeds(bad)


@pytest.mark.slow
def test_render_writes_turntable_depth_and_mesh(tmp_path: Path, tiny_fixture_dir: Path) -> None:
    out = tmp_path / "renders"
    # The tiny network's random density stays far below the official iso-level 10; σ = 1 crosses it.
    status = main(["panohead", "render", "--network", str(tiny_fixture_dir / "network-tiny.pkl"), "--seeds", "3",
                   "--out", str(out), "--frames", "2", "--mesh", "--mesh-resolution", "20", "--iso-level", "1",
                   "--no-progress"])
    assert status == 0
    seed_dir = out / "seed0003"
    names = sorted(str(path.relative_to(seed_dir)) for path in seed_dir.rglob("*") if path.is_file())
    assert names == ["depth/depth_000.png", "depth/depth_001.png", "depth_sheet.png", "frames/frame_000.png",
                     "frames/frame_001.png", "mesh.ply", "render.json", "sheet.png", "turntable.gif",
                     "turntable.mp4"]
    front, back = (np.asarray(Image.open(seed_dir / "frames" / f"frame_00{k}.png")) for k in (0, 1))
    assert front.shape == (512, 512, 3) and not np.array_equal(front, back)  # front and back views differ
    assert Image.open(seed_dir / "depth" / "depth_000.png").size == (16, 16)  # neural rendering resolution
    mesh = read_ply(seed_dir / "mesh.ply")
    assert len(mesh.faces) > 0 and mesh.faces.max() < len(mesh.vertices)
    assert mesh.vertex_colors is not None and mesh.vertex_colors.shape == mesh.vertices.shape
    assert np.abs(mesh.vertices).max() <= 0.5
    record = json.loads((seed_dir / "render.json").read_text())
    assert record["seed"] == 3 and record["truncation_psi"] == 0.7 and record["iso_level"] == 1.0


def test_render_refuses_a_hostile_network(tmp_path: Path, capsys) -> None:
    (tmp_path / "evil.pkl").write_bytes(b"cbuiltins\neval\n(S'1'\ntR.")
    assert main(["panohead", "render", "--network", str(tmp_path / "evil.pkl"), "--out", str(tmp_path / "o")]) == 2
    assert "builtins.eval" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()
