"""The study-level data entry points: photos prepared from a config, FFHQ + LPFF merged and split."""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from dualinv.camera import camera_at_yaw
from dualinv.config import REPO_ROOT, from_mapping, load_config, read_yaml
from dualinv.data import HeadDataset, prepare_study_images, split_dataset
from dualinv.data.dataset import read_labels, write_labels
from dualinv.errors import ConfigError, DatasetLossError
from dualinv.study import public_domain_photos


@pytest.fixture(scope="module")
def mini_study():
    return load_config(presets=(REPO_ROOT / "presets" / "mini.yaml",))


def fake_source(root: Path, yaws_deg: list[float], pitch_offsets: list[float] | None = None) -> Path:
    """A prepared dataset of flat 8² images (value = index) with LookAt cameras at ``yaws_deg`` and
    vertical angles π/2 + ``pitch_offsets`` (level when omitted)."""
    (root / "images").mkdir(parents=True)
    (root / "masks").mkdir()
    labels = {}
    offsets = pitch_offsets if pitch_offsets is not None else [0.0] * len(yaws_deg)
    for index, (yaw, offset) in enumerate(zip(yaws_deg, offsets)):
        Image.fromarray(np.full((8, 8, 3), index, dtype=np.uint8)).save(root / "images" / f"{index:03d}.png")
        Image.fromarray(np.full((8, 8), 255, dtype=np.uint8)).save(root / "masks" / f"{index:03d}.png")
        labels[f"images/{index:03d}.png"] = camera_at_yaw(yaw, vertical=math.pi / 2 + offset)[0].numpy().astype(np.float64)
    write_labels(root, labels)
    return root


def original(name: str) -> str:
    return Path(name).stem.split("__copy")[0]


def lpff_copies_by_the_spec(positions: np.ndarray) -> np.ndarray:
    """Copies per item, computed here from spec encoders-baselines.md §5 alone: (θ, φ) of each camera
    position and of its mirror (x negated), one Scott's-rule KDE over all of them, then
    clip(round(0.24/d), 1, 4), 5 below d = 0.03, 6 below d = 0.02."""
    from scipy.stats import gaussian_kde

    both = np.concatenate([positions, positions * [-1.0, 1.0, 1.0]])
    phi = np.arctan2(both[:, 2], both[:, 1])
    theta = np.arctan2(both[:, 1] / np.cos(phi), both[:, 0])
    angles = np.stack([theta, phi])
    density = gaussian_kde(angles, bw_method="scott")(angles)[: len(positions)]
    rounded = np.clip([round(0.24 / value) for value in density], 1, 4)
    return np.where(density < 0.02, 6, np.where(density < 0.03, 5, rounded))


def test_split_covers_every_item_once_links_files_and_rebalances_ffhq_and_lpff(tmp_path, mini_study):
    wobble = [0.05 * math.sin(index) for index in range(23)]  # pitches vary: the pose density is 2-D
    # FFHQ: mostly near-frontal, two rare profiles; LPFF: a crowd of near-frontal faces and rare large poses.
    ffhq = fake_source(tmp_path / "ffhq", [float(yaw) for yaw in np.linspace(-20, 20, 18)] + [95.0, -110.0], wobble[:20])
    lpff = fake_source(tmp_path / "lpff", [float(yaw) for yaw in np.linspace(-10, 10, 20)] + [150.0, 100.0, -170.0], wobble)
    summary = split_dataset([ffhq, lpff], tmp_path / "train", tmp_path / "val", mini_study)

    train, val = read_labels(tmp_path / "train"), read_labels(tmp_path / "val")
    train_originals = {original(name) for name in train}
    val_names = {Path(name).stem for name in val}
    everything = {f"ffhq__{index:03d}" for index in range(20)} | {f"lpff__{index:03d}" for index in range(23)}
    assert train_originals | val_names == everything and not train_originals & val_names
    assert summary.train == len(train) and summary.validation == len(val)
    assert len(val) == mini_study.data.validation_images == 9  # exactly data.validation_images of 43 items
    # Every training item, FFHQ included, is repeated as the spec's rule says; the density is taken
    # over all FFHQ + LPFF items (validation included) and their mirrors.
    sources = {"ffhq": read_labels(ffhq), "lpff": read_labels(lpff)}
    names = sorted(everything)
    positions = np.stack([sources[name[:4]][f"images/{name[6:]}.png"][[3, 7, 11]] for name in names])
    expected = dict(zip(names, lpff_copies_by_the_spec(positions)))
    copies = {name: sum(original(other) == name for other in train) for name in train_originals}
    assert copies == {name: expected[name] for name in train_originals}
    assert all(Path(name).stem in expected and "__copy" not in name for name in val)  # validation: once each
    assert max(copies[name] for name in copies if name.startswith("ffhq")) > 1  # FFHQ's rare poses too
    assert summary.rebalancing_copies == sum(count - 1 for count in copies.values())

    some = next(name for name in train if name.startswith("images/lpff__"))
    source_item = tmp_path / "lpff" / "images" / f"{original(some).split('__')[1]}.png"
    assert (tmp_path / "train" / some).stat().st_ino == source_item.stat().st_ino  # a hard link, no copy
    np.testing.assert_allclose(train[some], read_labels(lpff)[f"images/{source_item.name}"], atol=1e-6)
    item = HeadDataset(tmp_path / "train")[0]
    assert item["image"].shape == (3, 8, 8) and item["mask"].shape == (1, 8, 8)


def test_split_is_deterministic_and_replaces_an_old_split(tmp_path, mini_study):
    ffhq = fake_source(tmp_path / "ffhq", [0.0] * 12)
    lpff = fake_source(tmp_path / "lpff", [float(yaw) for yaw in range(-60, 60, 10)])
    split_dataset([ffhq, lpff], tmp_path / "a" / "train", tmp_path / "a" / "val", mini_study)
    split_dataset([ffhq, lpff], tmp_path / "b" / "train", tmp_path / "b" / "val", mini_study)
    split_dataset([ffhq, lpff], tmp_path / "b" / "train", tmp_path / "b" / "val", mini_study)  # rerun over it
    for side in ("train", "val"):
        assert (tmp_path / "a" / side / "dataset.json").read_bytes() == (tmp_path / "b" / side / "dataset.json").read_bytes()
    assert not [path for path in (tmp_path / "b").iterdir() if path.name.startswith(".")]  # no staging left


@pytest.mark.slow
def test_public_domain_portraits_are_prepared_under_their_own_names(tmp_path, mini_study):
    summary = prepare_study_images([Path(path) for path in public_domain_photos()], tmp_path / "celebahq", mini_study)
    assert summary.prepared == 2 and summary.rejected == 0
    assert sorted(read_labels(tmp_path / "celebahq")) == ["images/astronaut.png", "images/grace_hopper.png"]


def test_poses_on_one_curve_are_not_rebalanced(tmp_path, mini_study):
    """Cameras that all share one pitch have no 2-D pose density; the split keeps one copy each."""
    lpff = fake_source(tmp_path / "lpff", [float(yaw) for yaw in range(-60, 60, 10)])
    summary = split_dataset([lpff], tmp_path / "train", tmp_path / "val", mini_study)
    assert summary.rebalancing_copies == 0 and summary.train + summary.validation == 12


def test_the_allowed_reject_share_comes_from_the_config(tmp_path, mini_study):
    """``data.max_reject_share`` reaches preparation: 2 of 3 photos rejected passes at 0.7, fails at 0.6."""
    import skimage.data

    photos = tmp_path / "photos"
    photos.mkdir()
    Image.fromarray(skimage.data.astronaut()).save(photos / "astronaut.png")
    (photos / "empty.jpg").write_bytes(b"")
    (photos / "notes.png").write_text("not an image")
    lenient = replace(mini_study, data=replace(mini_study.data, max_reject_share=0.7))
    summary = prepare_study_images([photos], tmp_path / "lenient", lenient)
    assert (summary.prepared, summary.rejected) == (1, 2)
    strict = replace(mini_study, data=replace(mini_study.data, max_reject_share=0.6))
    with pytest.raises(DatasetLossError, match="2 of 3 inputs rejected"):
        prepare_study_images([photos], tmp_path / "strict", strict)


@pytest.mark.parametrize("share, accepted", [(0.0, True), (1.0, True), (-0.1, False), (1.5, False)])
def test_max_reject_share_is_validated_at_the_door(share, accepted):
    values = read_yaml(REPO_ROOT / "config.yaml")
    assert values["data"]["max_reject_share"] == 0.5  # the documented default
    values["data"]["max_reject_share"] = share
    if accepted:
        assert from_mapping(values).data.max_reject_share == share
    else:
        with pytest.raises(ConfigError, match="data.max_reject_share"):
            from_mapping(values)


def test_celebahq_prepares_only_its_test_split(tmp_path, mini_study, monkeypatch):
    import dualinv.data.study_sets as study_sets
    from dualinv.config import CelebAHQSplitConfig

    photos = tmp_path / "CelebA-HQ-img"
    photos.mkdir()
    for index in range(3):
        (photos / f"{index}.jpg").write_bytes(b"jpeg")
    (tmp_path / "partition.txt").write_text("000001.jpg 2\n000002.jpg 0\n000003.jpg 2\n", encoding="utf-8")
    (tmp_path / "mapping.txt").write_text("idx orig_idx orig_file\n0 1 000002.jpg\n1 0 000001.jpg\n2 2 000003.jpg\n",
                                          encoding="utf-8")
    split = CelebAHQSplitConfig(partition_file=str(tmp_path / "partition.txt"), mapping_file=str(tmp_path / "mapping.txt"))
    study = replace(mini_study, data=replace(mini_study.data, celebahq_test_split=split))
    seen = []
    monkeypatch.setattr(study_sets, "prepare_images", lambda folder, output, settings, shard: seen.append(
        sorted(path.name for path in Path(folder).iterdir())))
    prepare_study_images([photos], tmp_path / "celebahq", study, dataset="celebahq")
    prepare_study_images([photos], tmp_path / "ffhq", study, dataset="ffhq")  # other datasets: every photo
    assert seen == [["1.jpg", "2.jpg"], ["0.jpg", "1.jpg", "2.jpg"]]
