"""Dual-encoder inversion at tiny size: stitching by the occlusion mask, the CLI's outputs, refusals."""

from __future__ import annotations

import pytest
import torch

from dualinv.cli import main
from dualinv.dual.invert import DualInverter
from dualinv.fileio import save_image
from dualinv.occlusion import expand_mask

from tests.training.tiny import other_generator, rendered_heads, tiny_generator, train_tiny


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory):
    folder = tmp_path_factory.mktemp("encoders")
    train_tiny("encoder1", folder / "encoder1.pt", steps=1)
    train_tiny("encoder2", folder / "encoder2.pt", steps=1)
    return folder / "encoder1.pt", folder / "encoder2.pt"


@pytest.fixture(scope="module")
def head():
    return rendered_heads(tiny_generator()[0], 1, seed=5)[0]


@pytest.mark.slow
def test_stitched_trigrid_takes_visible_cells_from_encoder1_and_occluded_from_encoder2(checkpoints, head):
    inverter = DualInverter.from_checkpoints(*checkpoints)
    inversion = inverter.invert(head["image"][None], head["camera"][None])
    occluded = expand_mask(inversion.dual.occlusion_mask)  # [1,3,C*D,H,W]
    assert 0 < inversion.dual.occlusion_mask.float().mean() < 1  # a frontal view sees some cells, not all
    assert torch.equal(inversion.trigrid[~occluded], inversion.dual.trigrid_visible[~occluded])
    assert torch.equal(inversion.trigrid[occluded], inversion.dual.trigrid_occluded[occluded])
    assert not torch.equal(inversion.dual.trigrid_visible, inversion.dual.trigrid_occluded)
    render = inverter.render(inversion)
    assert render["image"].shape == (1, 3, 128, 128) and torch.isfinite(render["image"]).all()


@pytest.mark.slow
def test_invert_command_writes_every_output(checkpoints, head, tmp_path, capsys):
    photo = tmp_path / "inputs" / "head.png"
    save_image(photo, head["image"])
    encoder1, encoder2 = checkpoints
    code = main(["invert", str(photo), "--aligned", "--encoder1", str(encoder1), "--encoder2", str(encoder2),
                 "--out", str(tmp_path / "out"), "--frames", "3", "--mesh-resolution", "16"])
    assert code == 0
    folder = tmp_path / "out" / "head"
    for name in ("input.png", "reconstruction.png", "depth.png", "occlusion.png", "mesh.ply", "mesh.obj",
                 "turntable/turntable.gif", "turntable/turntable.mp4", "turntable/frames/frame_002.png",
                 "outputs.json", "index.html"):
        assert (folder / name).is_file() and (folder / name).stat().st_size > 0, name
    assert "s/image" in capsys.readouterr().out


@pytest.mark.slow
def test_invert_refuses_a_network_the_encoders_were_not_trained_with(checkpoints, head, tmp_path, capsys):
    from dualinv.panohead.checkpoint import save_network

    other = tmp_path / "other.pt"
    save_network(other_generator()[0], other)
    photo = tmp_path / "head.png"
    save_image(photo, head["image"])
    encoder1, encoder2 = checkpoints
    code = main(["invert", str(photo), "--aligned", "--encoder1", str(encoder1), "--encoder2", str(encoder2),
                 "--out", str(tmp_path / "out"), "--network", str(other)])
    assert code == 2
    assert "trained against generator" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_invert_refuses_a_crop_that_is_not_square(tmp_path, capsys):
    photo = tmp_path / "wide.png"
    save_image(photo, torch.zeros(3, 64, 96))
    code = main(["invert", str(photo), "--aligned", "--stand-in", "--out", str(tmp_path / "o")])
    assert code == 2 and "96x64 is not a square aligned crop" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def recorded_only(path, experiment: str):
    """A file with a training checkpoint's header and no tensors: enough for the role check."""
    from dualinv.models.checkpoint import CHECKPOINT_FORMAT, CHECKPOINT_VERSION

    torch.save({"format": CHECKPOINT_FORMAT, "version": CHECKPOINT_VERSION, "experiment": experiment}, path)
    return path


@pytest.mark.parametrize("first, second", [("encoder2", "encoder1"), ("d_image", "encoder1"),
                                           ("encoder2", "real_wplus")])
def test_a_swapped_encoder_pair_is_refused_before_loading(tmp_path, capsys, first, second):
    from dualinv.errors import ConfigError

    paths = recorded_only(tmp_path / "a.pt", first), recorded_only(tmp_path / "b.pt", second)
    with pytest.raises(ConfigError, match=f"swapped.*a.pt is '{first}'.*b.pt is '{second}'.*Give .*b.pt as "
                                          f"--encoder1 and .*a.pt as --encoder2"):
        DualInverter.from_checkpoints(*paths)
    code = main(["invert", str(tmp_path / "p.png"), "--out", str(tmp_path / "out"),
                 "--encoder1", str(paths[0]), "--encoder2", str(paths[1])])
    assert code == 2 and "swapped" in capsys.readouterr().err and not (tmp_path / "out").exists()


@pytest.mark.parametrize("first, second", [("encoder1", "encoder2"), ("encoder1", "d_image"),
                                           ("encoder1", "d_triplane"), ("real_wplus", "encoder2"),
                                           ("encoder1", "encoder1"), ("encoder2", "encoder2")])
def test_the_paper_pair_and_ablation_pairs_load_in_the_order_given(tmp_path, monkeypatch, first, second):
    from types import SimpleNamespace

    import dualinv.dual.invert as invert

    loaded = []

    def fake_load(path, generator=None, identity=None, device="cpu"):
        loaded.append(path)
        config = SimpleNamespace(encoder=SimpleNamespace(input_resolution=32),
                                 training=SimpleNamespace(occlusion_opacity_threshold=0.5))
        return f"encoder from {path.name}", config, "generator", SimpleNamespace(source="fake", stand_in=False)

    monkeypatch.setattr(invert, "load_trained_encoder", fake_load)
    paths = recorded_only(tmp_path / "a.pt", first), recorded_only(tmp_path / "b.pt", second)
    inverter = DualInverter.from_checkpoints(*paths)
    assert loaded == list(paths)
    assert (inverter.encoder_visible, inverter.encoder_occluded) == ("encoder from a.pt", "encoder from b.pt")


def test_a_file_that_is_not_a_training_checkpoint_is_named(tmp_path):
    from dualinv.errors import CheckpointError

    (tmp_path / "notes.pt").write_text("not a checkpoint")
    recorded_only(tmp_path / "e2.pt", "encoder2")
    with pytest.raises(CheckpointError, match="notes.pt is not a readable dualinv checkpoint"):
        DualInverter.from_checkpoints(tmp_path / "notes.pt", tmp_path / "e2.pt")
