"""Folder mode lists every entry (a row in rejects.csv for what is not a photo) and output names stay
inside the output folder (dualinv.output_names)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from dualinv.data.prepare import list_inputs_and_rejects, output_stem
from dualinv.errors import DatasetFormatError
from dualinv.output_names import inside, item_stem


def test_folder_mode_gives_every_non_photo_a_reject_row(tmp_path) -> None:
    folder = tmp_path / "raw"
    folder.mkdir()
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(folder / "face.png")
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(folder / "anim.gif")
    (folder / "x.jpg").mkdir()
    os.symlink(folder / "gone.png", folder / "link.png")
    (folder / "notes.txt").write_text("hello")
    photos, rejects = list_inputs_and_rejects(folder)
    assert [key for _, key in photos] == ["anim.gif", "face.png"]  # a GIF is read as its first frame
    assert {(reject.source, reject.reason) for reject in rejects} == {
        ("x.jpg", "not_a_file"), ("link.png", "broken_link"), ("notes.txt", "unsupported_format")}


def test_a_folder_run_writes_the_listing_rejects(tmp_path) -> None:
    from dualinv.data import PrepareConfig, prepare_images
    from dualinv.data.rejects import read_rejects

    folder = tmp_path / "raw"
    (folder / "x.jpg").mkdir(parents=True)
    os.symlink(folder / "gone.png", folder / "link.png")
    with pytest.raises(Exception):
        prepare_images(folder, tmp_path / "out", PrepareConfig(progress=False))  # everything lost: refused loudly
    assert {reject.reason for reject in read_rejects(tmp_path / "out" / "rejects.csv")} == {"not_a_file", "broken_link"}


@pytest.mark.parametrize("key", ["...png", "..png", ".png", "../../up.png", "a/../../b.png", "/etc/passwd.png",
                                 "." * 300 + ".png", "x\n.png"])
def test_output_names_are_one_component_inside_the_output_folder(tmp_path, key) -> None:
    out = tmp_path / "out"
    out.mkdir()
    for stem in (output_stem(key), item_stem(key)):
        assert "/" not in stem and not stem.startswith(".") and len(stem.encode()) <= 180
        assert inside(out, stem).resolve().parent == out.resolve()


def test_ordinary_names_are_unchanged() -> None:
    assert output_stem("sub/grace.jpg") == "sub__grace" and output_stem("00012.png") == "00012"
    assert item_stem("images/lpff__00012.png") == "lpff__00012"


def test_inside_refuses_an_escaping_name(tmp_path) -> None:
    with pytest.raises(DatasetFormatError):
        inside(tmp_path, "..")


def test_invert_of_a_photo_named_dots_writes_inside_out(tmp_path, monkeypatch, capsys) -> None:
    from dualinv.cli import main

    monkeypatch.chdir(tmp_path)
    photos = tmp_path / "photos"
    photos.mkdir()
    Image.fromarray(np.full((64, 64, 3), 120, np.uint8)).save(photos / "...png", format="PNG")
    (tmp_path / "index.html").write_text("precious")
    code = main(["invert", str(photos / "...png"), "--aligned", "--stand-in", "--out", str(tmp_path / "out"),
                 "--no-mesh", "--frames", "2"])
    assert code == 0, capsys.readouterr().err
    assert (tmp_path / "index.html").read_text() == "precious"
    assert sorted(path.name for path in tmp_path.iterdir()) == ["index.html", "out", "photos"]
    assert (tmp_path / "out" / output_stem("...png") / "index.html").is_file()


def test_invert_with_negative_frames_is_a_one_line_argparse_error(tmp_path, capsys) -> None:
    from dualinv.cli import main

    photo = tmp_path / "crop.png"
    Image.fromarray(np.full((64, 64, 3), 120, np.uint8)).save(photo)
    with pytest.raises(SystemExit) as exit_info:
        main(["invert", str(photo), "--aligned", "--stand-in", "--out", str(tmp_path / "out"), "--frames", "-3"])
    assert exit_info.value.code == 2
    error = capsys.readouterr().err
    assert error == "dualinv invert: error: argument --frames: must be an integer >= 1, got -3\n"  # one line
    assert not (tmp_path / "out").exists()
