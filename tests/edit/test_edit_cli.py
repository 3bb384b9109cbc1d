"""``dualinv edit`` through the CLI with stand-in networks on public-domain portraits.

That the edited tri-grid equals the source outside the lifted cells and the reference inside is
tested exactly on the library (tests/edit/test_transfer.py, test_blend.py); here: the wiring
(outputs, flags reaching ``EditConfig``, the stand-in opacity threshold, refusals).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import matplotlib.cbook
import numpy as np
import pytest
from PIL import Image

from dualinv.cli import main
from dualinv.config import REPO_ROOT

SMALL = ["--frames", "2", "--mesh-resolution", "16"]


@pytest.fixture(scope="module")
def photos(tmp_path_factory) -> dict[str, Path]:
    from skimage.data import astronaut

    folder = tmp_path_factory.mktemp("photos")
    paths = {"astronaut": folder / "astronaut.png", "grace": folder / "grace_hopper.jpg", "blank": folder / "blank.png"}
    Image.fromarray(astronaut()).save(paths["astronaut"])
    shutil.copyfile(matplotlib.cbook.get_sample_data("grace_hopper.jpg", asfileobj=False), paths["grace"])
    Image.fromarray(np.full((256, 256, 3), 128, np.uint8)).save(paths["blank"])
    return paths


@pytest.mark.slow
def test_edit_writes_the_edited_head_and_the_part_panels(photos, tmp_path, capsys):
    out = tmp_path / "edit"
    code = main(["edit", "--source", str(photos["grace"]), "--reference", str(photos["astronaut"]), "--part", "hair",
                 str(out), "--stand-in", "--feather", "1", "--extra-yaw", "90", "--extra-yaw", "-90", *SMALL])
    assert code == 0
    assert "index.html" in capsys.readouterr().out
    for name in ("input.png", "reconstruction.png", "depth.png", "mesh.ply", "mesh.obj", "turntable/turntable.gif",
                 "turntable/turntable.mp4", "reference.png", "reference_part.png", "part_cells.png", "index.html"):
        assert (out / name).is_file() and (out / name).stat().st_size > 0, name
    summary = json.loads((out / "outputs.json").read_text())
    assert summary["stand_in"] is True and "STAND-IN NETWORKS" in (out / "index.html").read_text()
    assert summary["part"] == "hair" and summary["feather"] == 1 and summary["extra_yaws"] == [90.0, -90.0]
    assert summary["source"].endswith("grace_hopper.jpg") and summary["reference"].endswith("astronaut.png")
    # Stand-in heads are faint: lifted at the stand-in inverter's 0.1, the part has cells (at 0.5 it has none).
    assert summary["opacity_threshold"] == 0.5 and summary["part_cells"] > 0


def test_edit_names_the_rejected_photo(photos, tmp_path, capsys):
    code = main(["edit", "--source", str(photos["astronaut"]), "--reference", str(photos["blank"]), "--part", "eyes",
                 str(tmp_path / "edit"), "--stand-in", *SMALL])
    assert code == 2
    assert "reference photo" in (error := capsys.readouterr().err) and "blank.png" in error and "no_face" in error
    assert not (tmp_path / "edit" / "index.html").exists()


def test_edit_refuses_missing_checkpoints_and_unknown_parts_before_any_work(photos, tmp_path, capsys):
    out = tmp_path / "edit"
    code = main(["edit", "--source", str(photos["astronaut"]), "--reference", str(photos["grace"]), "--part", "hair",
                 str(out), "--encoder1", str(tmp_path / "e1.pt"), "--encoder2", str(tmp_path / "e2.pt")])
    assert code == 2
    error = capsys.readouterr().err
    assert str(tmp_path / "e1.pt") in error and str(tmp_path / "e2.pt") in error and not out.exists()
    with pytest.raises(SystemExit):
        main(["edit", "--source", "a.jpg", "--reference", "b.jpg", "--part", "ears", str(out), "--stand-in"])
    assert "invalid choice: 'ears'" in capsys.readouterr().err


def all_hair_parser_file(path: Path) -> str:
    """A seeded stand-in BiSeNet whose main head labels every pixel hair (17), saved as a checkpoint."""
    import torch

    from dualinv.edit.face_parsing import standin_face_parser

    state = standin_face_parser(seed=1).state_dict()
    state["conv_out.conv.bn.bias"] = torch.ones_like(state["conv_out.conv.bn.bias"])  # every ReLU input > 0
    state["conv_out.conv.bn.weight"] = torch.zeros_like(state["conv_out.conv.bn.weight"])
    weight = torch.zeros_like(state["conv_out.conv_out.weight"])
    weight[17] = 1.0
    state["conv_out.conv_out.weight"] = weight
    torch.save(state, path)
    return str(path)


@pytest.mark.slow
def test_edit_localises_the_part_with_the_face_parser_file_it_is_given(photos, tmp_path):
    out = tmp_path / "edit"
    parser = all_hair_parser_file(tmp_path / "79999_iter.pth")
    code = main(["edit", "--source", str(photos["grace"]), "--reference", str(photos["astronaut"]), "--part", "hair",
                 str(out), "--stand-in", "--face-parsing", parser, *SMALL])
    assert code == 0
    summary = json.loads((out / "outputs.json").read_text())
    assert summary["part_segmenter"].startswith(f"BiSeNet face parser {parser} (sha256:")
    # The parser labels the whole reference hair, so the overlay tints every pixel (mediapipe's hair would not).
    reference = np.asarray(Image.open(out / "reference.png").convert("RGB")).astype(np.float32)
    overlay = np.asarray(Image.open(out / "reference_part.png").convert("RGB")).astype(np.float32)
    assert np.abs(overlay[..., 1] - 0.5 * reference[..., 1]).max() <= 1.0
    assert summary["part_cells"] > 0


def test_a_missing_or_foreign_face_parser_is_refused_before_any_work(photos, tmp_path, capsys):
    import torch

    out = tmp_path / "edit"
    base = ["edit", "--source", str(photos["grace"]), "--reference", str(photos["astronaut"]), "--part", "hair",
            str(out), "--stand-in", *SMALL]
    assert main([*base, "--face-parsing", str(tmp_path / "absent.pth")]) == 2
    error = capsys.readouterr().err
    assert "absent.pth" in error and "79999_iter.pth" in error and "zllrunning/face-parsing.PyTorch" in error
    torch.save({"conv.weight": torch.zeros(3, 3, 1, 1)}, tmp_path / "other.pth")
    assert main([*base, "--face-parsing", str(tmp_path / "other.pth")]) == 2
    error = capsys.readouterr().err
    assert "other.pth" in error and "not the BiSeNet face-parsing checkpoint" in error and "zllrunning" in error
    preset = tmp_path / "parser.yaml"
    preset.write_text(f"weights: {{face_parsing: {tmp_path / 'configured.pth'}}}\n")
    assert main(["edit", "--source", str(photos["grace"]), "--reference", str(photos["astronaut"]), "--part", "hair",
                 str(out), *SMALL, "--config", str(REPO_ROOT / "config.yaml"),
                 "--config", str(REPO_ROOT / "presets/mini.yaml"), "--config", str(preset)]) == 2
    assert "weights.face_parsing" in (error := capsys.readouterr().err) and "configured.pth" in error
    assert not out.exists()
