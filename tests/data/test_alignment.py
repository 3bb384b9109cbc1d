"""The alignment choice: PanoHead's 3DDFA pipeline by default, files checked before any work,
stand-ins and the face-mesh method labelled in dataset.json and summary.json."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from dualinv.cli import main
from dualinv.config import REPO_ROOT, load_config
from dualinv.data import PrepareConfig, prepare_images
from dualinv.data.alignment import Aligner, PoseConfig, study_pose_config
from dualinv.errors import ConfigError, MissingWeightsError



@pytest.fixture()
def portrait(tmp_path):
    import matplotlib.cbook

    folder = tmp_path / "raw"
    folder.mkdir()
    Image.open(matplotlib.cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)).save(folder / "grace.png")
    return folder


def test_default_is_panohead_alignment_and_missing_files_stop_before_work(portrait, tmp_path):
    assert PoseConfig().method == "3ddfa" and PoseConfig().tddfa_width == 1.0
    with pytest.raises(MissingWeightsError, match="mb1_120x120.pth.*param_mean_std_62d_120x120.pkl.*bfm_noneck_v3.pkl.*3DDFA_V2"):
        prepare_images(portrait, tmp_path / "out", PrepareConfig(progress=False))
    assert not (tmp_path / "out").exists()
    with pytest.raises(MissingWeightsError, match="mb05_120x120.pth"):
        PoseConfig(tddfa=str(tmp_path / "absent.pth"), tddfa_width=0.5, stand_in=True).check()
    with pytest.raises(ConfigError):
        PoseConfig(tddfa_width=0.75)


def test_cli_names_the_missing_file(portrait, tmp_path, capsys):
    assert main(["prepare", str(portrait), str(tmp_path / "out"), "--no-progress"]) == 2
    assert "mb1_120x120.pth" in capsys.readouterr().err


@pytest.mark.parametrize("pose,label", [
    (PoseConfig(stand_in=True), "3ddfa-mb1-stand-in+bfm-stand-in+mediapipe-68+landmark-roi"),
    (PoseConfig(method="mediapipe"), "mediapipe-mesh"),
])
def test_dataset_json_and_summary_name_the_alignment(portrait, tmp_path, pose, label):
    out = tmp_path / "out"
    summary = prepare_images(portrait, out, PrepareConfig(progress=False, pose=pose))
    assert summary.prepared == 1 and summary.alignment == label
    assert json.loads((out / "dataset.json").read_text())["alignment"] == label
    assert json.loads((out / "summary.json").read_text())["alignment"] == label
    assert len(json.loads((out / "dataset.json").read_text())["labels"][0][1]) == 25


def test_small_heads_are_rejected_with_their_reason(tmp_path):
    import skimage.data

    folder = tmp_path / "raw"
    folder.mkdir()
    Image.fromarray(skimage.data.astronaut()).save(folder / "astronaut.png")  # head quad ~175 px
    summary = prepare_images(folder, tmp_path / "out", PrepareConfig(progress=False, max_reject_share=1.0,
                                                                    pose=PoseConfig(stand_in=True)))
    assert summary.reasons == {"too_small": 1}
    assert "256 px" in (tmp_path / "out" / "rejects.csv").read_text()


def test_study_config_reads_data_pose_and_weights():
    paper = study_pose_config(load_config(REPO_ROOT / "config.yaml"))
    assert (paper.method, paper.tddfa, paper.bfm, paper.min_face_size) == ("3ddfa", "weights/mb1_120x120.pth",
                                                                           "weights/bfm_noneck_v3.pkl", 256.0)
    mini = study_pose_config(load_config(REPO_ROOT / "config.yaml", (REPO_ROOT / "presets" / "mini.yaml",)))
    assert mini.tddfa is None and mini.bfm is None and mini.stand_in and mini.min_face_size == 64.0
    assert Aligner.describe(mini).startswith("3ddfa-mb1-stand-in")


def test_stand_in_labels_stay_near_frontal(portrait):
    from dualinv.data.pose import FaceFinder, pose_angles

    photo = np.asarray(Image.open(portrait / "grace.png").convert("RGB"))
    with FaceFinder() as faces:
        aligned = Aligner(faces, PoseConfig(stand_in=True)).align(photo)
    angles = pose_angles(aligned.label)
    assert max(abs(angles.yaw), abs(angles.pitch), abs(angles.roll)) < 10
    assert aligned.crop.shape == (512, 512, 3)
