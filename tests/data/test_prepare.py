"""prepare_images end to end on the public-domain photos plus odd files: outputs, rejects,
summary, resume, the loss guard and the CLI."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from PIL import Image

from dualinv.cli import main
from dualinv.data import HeadDataset, PrepareConfig, prepare_images
from dualinv.data.rejects import read_rejects
from dualinv.errors import DatasetLossError


@pytest.fixture()
def photo_folder(tmp_path):
    import matplotlib.cbook
    import skimage.data

    folder = tmp_path / "raw"
    (folder / "sub").mkdir(parents=True)
    Image.fromarray(skimage.data.astronaut()).save(folder / "astronaut.png")
    shutil.copy(matplotlib.cbook.get_sample_data("grace_hopper.jpg", asfileobj=False), folder / "sub" / "grace.jpg")
    (folder / "empty.jpg").write_bytes(b"")
    (folder / "notes.jpg").write_text("not an image")
    Image.fromarray(np.full((200, 200, 3), 90, dtype=np.uint8)).save(folder / "wall.png")
    return folder


def test_prepare_writes_crops_masks_labels_and_rejects(photo_folder, tmp_path):
    out = tmp_path / "prepared"
    summary = prepare_images(photo_folder, out, PrepareConfig(progress=False, max_reject_share=0.8))
    assert (summary.inputs, summary.prepared, summary.rejected) == (5, 2, 3)
    assert summary.reasons == {"empty": 1, "not_an_image": 1, "no_face": 1}
    rejects = {reject.source: reject.reason for reject in read_rejects(out / "rejects.csv")}
    assert rejects == {"empty.jpg": "empty", "notes.jpg": "not_an_image", "wall.png": "no_face"}
    labels = json.loads((out / "dataset.json").read_text())["labels"]
    assert [name for name, _ in labels] == ["images/astronaut.png", "images/sub__grace.png"]
    for _, values in labels:
        assert len(values) == 25
        assert np.linalg.norm(values[3:12:4]) == pytest.approx(2.7, abs=1e-5)
        assert values[16:] == [4.2647, 0.0, 0.5, 0.0, 4.2647, 0.5, 0.0, 0.0, 1.0]
    crop = np.asarray(Image.open(out / "images" / "astronaut.png"))
    mask = np.asarray(Image.open(out / "masks" / "astronaut.png"))
    assert crop.shape == (512, 512, 3) and mask.shape == (512, 512)
    # Background composited on white where the matte is empty; the face centre is foreground.
    assert (crop[mask == 0] == 255).all() and mask[256, 256] > 200
    dataset = HeadDataset(out, mirror=True)
    assert len(dataset) == 4 and dataset[0]["mask"].shape == (1, 512, 512)


def test_prepare_resumes_and_guards_losses(photo_folder, tmp_path):
    out = tmp_path / "prepared"
    prepare_images(photo_folder, out, PrepareConfig(progress=False, max_reject_share=0.8))
    before = (out / "images" / "astronaut.png").stat().st_mtime_ns
    again = prepare_images(photo_folder, out, PrepareConfig(progress=False, max_reject_share=0.8))
    assert (again.prepared, again.already_prepared, again.rejected) == (0, 2, 3)
    assert (out / "images" / "astronaut.png").stat().st_mtime_ns == before
    with pytest.raises(DatasetLossError, match="3 of 5"):
        prepare_images(photo_folder, out, PrepareConfig(progress=False, max_reject_share=0.5))
    assert len(read_rejects(out / "rejects.csv")) == 3  # written before failing


def test_cli_prepare_and_pose(photo_folder, tmp_path, capsys):
    out = tmp_path / "cli"
    code = main(["prepare", str(photo_folder / "sub"), str(out), "--no-progress", "--background", "0,0,0"])
    assert code == 0 and "1 prepared" in capsys.readouterr().out
    crop = np.asarray(Image.open(out / "images" / "grace.png"))
    mask = np.asarray(Image.open(out / "masks" / "grace.png"))
    assert (crop[mask == 0] == 0).all()
    assert main(["pose", str(photo_folder / "astronaut.png"), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert abs(report["yaw"]) < 20 and len(report["label"]) == 25
    assert main(["pose", str(photo_folder / "wall.png")]) == 2
    assert "no face" in capsys.readouterr().err
    assert main(["prepare", str(tmp_path / "missing"), str(out), "--no-progress"]) == 2


@pytest.mark.slow
def test_two_workers_give_the_same_dataset(photo_folder, tmp_path):
    one = prepare_images(photo_folder, tmp_path / "one", PrepareConfig(progress=False, max_reject_share=0.8))
    two = prepare_images(photo_folder, tmp_path / "two", PrepareConfig(workers=2, progress=False, max_reject_share=0.8))
    assert (one.prepared, one.rejected) == (two.prepared, two.rejected)
    assert (tmp_path / "one" / "dataset.json").read_text() == (tmp_path / "two" / "dataset.json").read_text()
    assert (tmp_path / "one" / "rejects.csv").read_text() == (tmp_path / "two" / "rejects.csv").read_text()


def test_bad_u2net_file_stops_before_any_work(photo_folder, tmp_path):
    from dualinv.data.background import BackgroundConfig
    from dualinv.errors import MissingWeightsError

    fake = tmp_path / "weights" / "u2net.onnx"
    fake.parent.mkdir()
    fake.write_bytes(b"not the model")
    config = PrepareConfig(progress=False, background=BackgroundConfig(u2net_path=str(fake)))
    with pytest.raises(MissingWeightsError, match="weights.u2net"):
        prepare_images(photo_folder, tmp_path / "out", config)
    assert not (tmp_path / "out").exists()
