"""``dualinv invert`` on raw photos with stand-in networks: outputs per photo, rejects, missing files, configs.

The photos are public-domain portraits (scikit-image's astronaut, matplotlib's Grace Hopper); the
networks are the seeded stand-ins (mini generator, tiny untrained encoders), so a run is seconds.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import matplotlib.cbook
import numpy as np
import pytest
import torch
from PIL import Image

from dualinv.cli import main
from dualinv.config import REPO_ROOT
from dualinv.data.rejects import read_rejects
from dualinv.mesh import read_ply
from tests.test_mesh import triangle_mesh_problems

SMALL = ["--frames", "2", "--mesh-resolution", "16"]
HEAD_FILES = ("input.png", "reconstruction.png", "depth.png", "occlusion.png", "mesh.ply", "mesh.obj",
              "turntable/turntable.gif", "turntable/turntable.mp4", "outputs.json", "index.html")


@pytest.fixture(scope="module")
def photos(tmp_path_factory) -> dict[str, Path]:
    from skimage.data import astronaut

    folder = tmp_path_factory.mktemp("photos")
    paths = {"astronaut": folder / "astronaut.png", "grace": folder / "grace_hopper.jpg",
             "blank": folder / "blank.png", "corrupt": folder / "corrupt.jpg", "crop": folder / "crop.png"}
    Image.fromarray(astronaut()).save(paths["astronaut"])
    shutil.copyfile(matplotlib.cbook.get_sample_data("grace_hopper.jpg", asfileobj=False), paths["grace"])
    Image.fromarray(np.full((256, 256, 3), 128, np.uint8)).save(paths["blank"])
    paths["corrupt"].write_bytes(b"\xff\xd8\xff\xe0 this is not a JPEG")
    Image.fromarray(astronaut()[:256, 128:384]).resize((128, 128)).save(paths["crop"])
    return paths


@pytest.mark.slow
def test_raw_photos_get_every_output_and_bad_photos_are_rejected_with_their_reason(photos, tmp_path, capsys):
    out = tmp_path / "out"
    code = main(["invert", "--mesh", str(photos["astronaut"]), str(photos["blank"]), str(photos["corrupt"]),
                 str(photos["grace"]), "--out", str(out), "--stand-in", *SMALL])  # issue 3's --mesh spelling
    assert code == 0
    printed = capsys.readouterr().out
    assert "2 of 4 photo(s) inverted" in printed and "2 rejected" in printed and "s/image" in printed
    assert "blank.png: rejected (no_face)" in printed and "corrupt.jpg: rejected (corrupt)" in printed
    assert [(r.source, r.reason) for r in read_rejects(out / "rejects.csv")] == [("blank.png", "no_face"),
                                                                                 ("corrupt.jpg", "corrupt")]
    assert sorted(path.name for path in out.iterdir() if path.name not in ("prepared", "rejects.csv")) == \
        ["astronaut", "grace_hopper"]
    for stem in ("astronaut", "grace_hopper"):
        folder = out / stem
        for name in HEAD_FILES:
            assert (folder / name).is_file() and (folder / name).stat().st_size > 0, f"{stem}/{name}"
        assert Image.open(folder / "input.png").size == (512, 512)  # the aligned crop, not the photo
        summary = json.loads((folder / "outputs.json").read_text())
        assert summary["stand_in"] is True and summary["generator"] == "stand-in:demo"
        assert summary["encoder1"].startswith("stand-in:encoder1") and summary["opacity_threshold"] == 0.5
        assert abs(summary["yaw"]) < 10 and summary["seconds"] > 0  # both portraits face the camera
        assert "STAND-IN NETWORKS" in (folder / "index.html").read_text()
        assert triangle_mesh_problems(read_ply(folder / "mesh.ply")) == []  # from a portrait's inversion


def test_missing_checkpoints_are_all_named_and_nothing_is_written(photos, tmp_path, capsys):
    out = tmp_path / "out"
    code = main(["invert", str(photos["astronaut"]), "--out", str(out), "--encoder1", str(tmp_path / "e1.pt"),
                 "--encoder2", str(tmp_path / "e2.pt"), "--network", str(tmp_path / "panohead.pkl")])
    assert code == 2
    error = capsys.readouterr().err
    assert "3 file(s) cannot be used" in error
    for name in ("e1.pt", "e2.pt", "panohead.pkl"):
        assert str(tmp_path / name) in error
    assert not out.exists()


def test_the_paper_config_names_the_workflow_checkpoints_and_weights_it_lacks(photos, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)  # the config's relative paths resolve here, where nothing exists
    code = main(["invert", str(photos["astronaut"]), "--out", "out", "--config", str(REPO_ROOT / "config.yaml")])
    assert code == 2
    error = capsys.readouterr().err
    for expected in ("--encoder1 results/models/encoder1/checkpoint.pt: missing file",
                     "--encoder2 results/models/encoder2/checkpoint.pt: missing file",
                     "weights.panohead"):
        assert expected in error
    assert "weights.u2net" not in error  # absent: preparation falls back to selfie matting with a warning
    assert not (tmp_path / "out").exists()


@pytest.mark.slow
def test_the_mini_preset_without_trained_encoders_runs_on_stand_ins_and_no_mesh_skips_the_mesh(
        photos, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    code = main(["invert", str(photos["crop"]), "--aligned", "--out", "out", "--no-mesh", "--frames", "2",
                 "--config", str(REPO_ROOT / "config.yaml"), "--config", str(REPO_ROOT / "presets/mini.yaml")])
    assert code == 0
    assert "STAND-IN" in capsys.readouterr().out
    folder = tmp_path / "out" / "crop"
    summary = json.loads((folder / "outputs.json").read_text())
    assert summary["stand_in"] is True and summary["mesh_iso_level"] is None and "mesh_ply" not in summary["files"]
    assert not (folder / "mesh.ply").exists() and (folder / "turntable/turntable.gif").is_file()
    assert abs(summary["yaw"]) < 1e-3  # --aligned without labels: the frontal camera
    assert not (tmp_path / "out" / "prepared").exists()  # --aligned skips the preparation


def test_a_batch_where_every_photo_is_rejected_fails_and_says_why(photos, tmp_path, capsys):
    code = main(["invert", str(photos["blank"]), "--out", str(tmp_path / "out"), "--stand-in", *SMALL])
    assert code == 2
    captured = capsys.readouterr()
    assert "blank.png: rejected (no_face)" in captured.out and "none of the 1 photo(s)" in captured.err


@pytest.mark.parametrize("argv, message", [
    (["--labels", "dataset.json"], "add --aligned"),
    (["--device", "tpu"], "--device must be 'cpu' or 'cuda[:N]'"),
    ([], "give both encoder checkpoints"),
    (["--stand-in", "--encoder1", "e1.pt"], "do not also give --encoder1"),
    (["--stand-in", "--network", "g.pkl"], "do not also give --encoder1/--encoder2/--network"),
])
def test_inconsistent_flags_are_refused_before_any_work(photos, tmp_path, capsys, argv, message):
    code = main(["invert", str(photos["astronaut"]), "--out", str(tmp_path / "out"), *argv])
    assert code == 2 and message in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_cuda_without_a_gpu_is_a_clear_error(photos, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    code = main(["invert", str(photos["astronaut"]), "--out", str(tmp_path / "out"), "--stand-in", "--device", "cuda"])
    assert code == 2 and "no CUDA device is available" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_mesh_is_on_by_default_and_both_mesh_flags_parse_before_a_photo():
    from dualinv.cli import build_parser

    parser = build_parser()
    assert parser.parse_args(["invert", "p.jpg", "--out", "o"]).mesh is True
    mesh = parser.parse_args(["invert", "--mesh", "p.jpg", "--out", "o"])
    assert mesh.mesh is True and mesh.photos == ["p.jpg"] and mesh.mesh_resolution == 64
    assert parser.parse_args(["invert", "--no-mesh", "p.jpg", "--out", "o"]).mesh is False
    assert parser.parse_args(["invert", "p.jpg", "--out", "o", "--mesh-resolution", "16"]).mesh_resolution == 16


def test_no_parser_accepts_an_abbreviated_flag(capsys):
    import argparse

    from dualinv.cli import build_parser

    def parsers(parser):
        yield parser
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for child in action.choices.values():
                    yield from parsers(child)

    every = list(parsers(build_parser()))
    assert len(every) > 5 and all(parser.allow_abbrev is False for parser in every)
    with pytest.raises(SystemExit):
        main(["invert", "p.jpg", "--out", "o", "--mesh-res", "16"])
    assert "unrecognized arguments: --mesh-res" in capsys.readouterr().err


@pytest.mark.parametrize("quiet", [False, True])
def test_progress_bars_cover_alignment_inversion_turntable_and_mesh_unless_no_progress(photos, tmp_path, capsys,
                                                                                       quiet):
    flags = ["--no-progress"] if quiet else []
    code = main(["invert", str(photos["astronaut"]), str(photos["grace"]), "--out", str(tmp_path / "out"),
                 "--stand-in", *SMALL, *flags])
    assert code == 0
    captured = capsys.readouterr()
    for bar in ("aligning", "inverting", "turntable astronaut", "mesh grace_hopper (16³ grid)"):
        assert (bar in captured.err) is not quiet, bar
    assert "2 of 2 photo(s) inverted" in captured.out  # results stay on stdout, bars or not
