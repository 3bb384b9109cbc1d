"""Synthetic multi-view data: layout, cameras, exact ground truth, determinism, resume, MEAD pairing.

Expected cameras are computed here from the spec (panohead.md §6.1–6.2): the frontal label is the
spec's matrix, and a camera's yaw is read from its position (x, z) as atan2(x, z) (the face looks
toward +z, the subject's left is +x), independently of dualinv.camera.
"""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from dualinv.data.dataset import HeadDataset, read_labels
from dualinv.data.manifests import mead_pairs
from dualinv.data.synthetic import make_synthetic_dataset, render_synthetic_dataset
from dualinv.errors import DatasetFormatError
from dualinv.fileio import tensor_to_uint8
from dualinv.standin import standin_generator

IDENTITIES, VIEWS, TEST_IDENTITIES, SEED = 2, 3, 1, 7
PSI = 0.85
"""Any ψ: the test follows the rendering; the study sets it (``training.zplus_truncation_psi``)."""
FRONT_LABEL = [1, 0, 0, 0, 0, -1, 0, 0, 0, 0, -1, 2.7, 0, 0, 0, 1, 4.2647, 0, 0.5, 0, 4.2647, 0.5, 0, 0, 1]


def position_yaw(label: np.ndarray) -> float:
    """Yaw in degrees from the camera position (label slots 3, 11 = x, z)."""
    return math.degrees(math.atan2(label[3], label[11]))


def pixels(path: Path) -> np.ndarray:
    with Image.open(path) as handle:
        return np.asarray(handle)


@pytest.fixture(scope="module")
def generator():
    return standin_generator("mini", seed=0)


@pytest.fixture(scope="module")
def dataset(generator, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("synthetic") / "set"
    summary = render_synthetic_dataset(generator, out, num_identities=IDENTITIES, views=VIEWS, seed=SEED,
                                       truncation_psi=PSI, test_identities=TEST_IDENTITIES, progress=False)
    assert (summary.images, summary.rendered, summary.already_rendered) == (5 + VIEWS, 5 + VIEWS, 0)
    return out


def test_files_labels_and_metadata(dataset, generator):
    labels = read_labels(dataset)
    assert len(labels) == 5 * TEST_IDENTITIES + VIEWS * (IDENTITIES - TEST_IDENTITIES)
    for name, label in labels.items():
        stem = Path(name).stem
        assert (dataset / name).is_file() and (dataset / "masks" / f"{stem}.png").is_file()
        assert pixels(dataset / name).shape == (generator.img_resolution,) * 2 + (3,)
        assert pixels(dataset / "masks" / f"{stem}.png").shape == (generator.img_resolution,) * 2
        np.testing.assert_allclose(label[16:], FRONT_LABEL[16:])
        assert np.linalg.norm(label[[3, 7, 11]]) == pytest.approx(2.7, abs=1e-5)
        assert label[7] == pytest.approx(0.0, abs=1e-6)  # level cameras
    item = HeadDataset(dataset)[0]
    assert item["image"].shape == (3, 128, 128) and item["mask"].shape == (1, 128, 128)
    metadata = json.loads((dataset / "synthetic.json").read_text())
    assert metadata["synthetic"] is True and metadata["stand_in"] is True and metadata["generator"] == "stand-in"
    splits = json.loads((dataset / "splits.json").read_text())
    assert sorted(splits["train"] + splits["test"]) == sorted(labels)
    train_ids = {Path(name).stem.split("__")[0] for name in splits["train"]}
    test_ids = {Path(name).stem.split("__")[0] for name in splits["test"]}
    assert not train_ids & test_ids and len(test_ids) == TEST_IDENTITIES


def test_train_yaws_cover_the_circle(dataset):
    labels = read_labels(dataset)
    splits = json.loads((dataset / "splits.json").read_text())
    yaws = np.sort([position_yaw(labels[name]) for name in splits["train"]])
    gaps = np.diff(np.concatenate([yaws, yaws[:1] + 360.0]))
    assert gaps.max() <= 360.0 / VIEWS + 1e-3
    for sidecar in (dataset / "labels").glob("*orbit*.json"):  # reported yaw (get_poseangle) = position yaw
        record = json.loads(sidecar.read_text())
        difference = (record["yaw"] - position_yaw(np.asarray(record["label"])) + 180.0) % 360.0 - 180.0
        assert difference == pytest.approx(0.0, abs=1e-3)


def test_mead_manifest_pairs_the_right_views(dataset):
    labels = read_labels(dataset)
    test_names = json.loads((dataset / "splits.json").read_text())["test"]
    pairs = mead_pairs(test_names)
    assert sorted(pair["view"] for pair in pairs) == ["left_30", "left_60", "right_30", "right_60"]
    expected = {"left_30": 30.0, "left_60": 60.0, "right_30": -30.0, "right_60": -60.0}
    for pair in pairs:
        assert "__front__" in pair["input"] and position_yaw(labels[pair["input"]]) == pytest.approx(0.0, abs=1e-4)
        assert position_yaw(labels[pair["target"]]) == pytest.approx(expected[pair["view"]], abs=1e-4)
        assert pair["input"].split("__")[0] == pair["target"].split("__")[0]  # same identity
    np.testing.assert_allclose(labels[pairs[0]["input"]], FRONT_LABEL, atol=1e-6)


def test_ground_truth_is_the_generators_render_at_that_camera(dataset, generator):
    """Z+ recomputed with the official mapping API and the spec's front camera; the stored novel view
    equals G.synthesis(ws, dataset.json camera) pixel for pixel, and the mask is its upsampled opacity."""
    latents = torch.load(dataset / "latents" / "synth00000.pt")
    front = torch.tensor([FRONT_LABEL], dtype=torch.float32)
    with torch.no_grad():
        ws = torch.stack([generator.mapping(latents["zs"][:, i], front, truncation_psi=PSI)[:, i]
                          for i in range(generator.num_ws)], dim=1)
    torch.testing.assert_close(ws, latents["ws"], atol=1e-5, rtol=1e-5)
    name = "images/synth00000__left_60__neutral__level_1__001__000000.png"
    sidecar = json.loads((dataset / "labels" / f"{Path(name).stem}.json").read_text())
    camera = torch.tensor(read_labels(dataset)[name], dtype=torch.float32)[None]
    with torch.no_grad():
        output = generator.synthesis(latents["ws"], camera, noise_mode="const",
                                     generator=torch.Generator().manual_seed(sidecar["render_seed"]))
    np.testing.assert_array_equal(pixels(dataset / name), tensor_to_uint8(output["image"][0]))
    mask = F.interpolate(output["image_mask"], size=(128, 128), mode="bilinear", align_corners=False)[0, 0]
    expected_mask = np.rint(mask.clamp(0, 1).numpy() * 255).astype(np.uint8)
    np.testing.assert_array_equal(pixels(dataset / "masks" / f"{Path(name).stem}.png"), expected_mask)
    other = pixels(dataset / "images/synth00000__front__neutral__level_1__001__000000.png")
    assert not np.array_equal(other, pixels(dataset / name))


def test_rerun_skips_and_rerendered_files_are_identical(dataset, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(dataset, copy)
    before = {path: path.stat().st_mtime_ns for path in (copy / "images").glob("*.png")}
    removed = ["synth00001__orbit01__neutral__level_1__001__000000", "synth00000__right_30__neutral__level_1__001__000000"]
    for stem in removed:
        (copy / "images" / f"{stem}.png").unlink()
    fresh = standin_generator("mini", seed=0)  # a new instance: same seeded weights
    summary = render_synthetic_dataset(fresh, copy, num_identities=IDENTITIES, views=VIEWS, seed=SEED,
                                       truncation_psi=PSI, test_identities=TEST_IDENTITIES, progress=False)
    assert (summary.rendered, summary.already_rendered) == (2, summary.images - 2)
    for stem in removed:  # rendered again, out of the original order, bit for bit the same
        np.testing.assert_array_equal(pixels(copy / "images" / f"{stem}.png"), pixels(dataset / "images" / f"{stem}.png"))
    untouched = {path: path.stat().st_mtime_ns for path in (copy / "images").glob("*.png") if path.stem not in removed}
    assert untouched == {path: mtime for path, mtime in before.items() if path.stem not in removed}
    assert (copy / "dataset.json").read_text() == (dataset / "dataset.json").read_text()
    with pytest.raises(DatasetFormatError, match="other settings"):
        render_synthetic_dataset(fresh, copy, num_identities=IDENTITIES, views=VIEWS, seed=SEED + 1,
                                 truncation_psi=PSI, test_identities=TEST_IDENTITIES, progress=False)


def test_workflow_adapter_names_layout_and_seed_per_dataset(tmp_path, monkeypatch):
    """``make_synthetic_dataset(output, config)``: MEAD-like test views for ``mead``, training views
    otherwise, a seed per dataset name, the fast stand-in at the configured rendering resolution."""
    import dualinv.data.synthetic as synthetic

    calls = {}
    monkeypatch.setattr(synthetic, "render_synthetic_dataset",
                        lambda generator, out, **kwargs: calls.setdefault(Path(out).name, (generator, kwargs)))
    config = SimpleNamespace(
        data=SimpleNamespace(synthetic=SimpleNamespace(identities=4, views=2, seed=0)),
        generator=SimpleNamespace(preset="mini", network=None, neural_rendering_resolution=32),
        weights=SimpleNamespace(panohead=None), training=SimpleNamespace(seed=0, zplus_truncation_psi=PSI),
    )
    for name in ("ffhq", "mead"):
        make_synthetic_dataset(tmp_path / name, config)
    (ffhq_generator, ffhq), (_, mead) = calls["ffhq"], calls["mead"]
    assert (ffhq["test_identities"], mead["test_identities"]) == (0, 4)
    assert ffhq["num_identities"] == mead["num_identities"] == 4 and ffhq["views"] == 2
    assert ffhq["seed"] != mead["seed"]
    assert ffhq["generator_provenance"] == "stand-in" and ffhq["generator_config"] == "mini"
    assert ffhq_generator.neural_rendering_resolution == 32 and ffhq_generator.img_resolution == 128
    reference = standin_generator("mini", seed=0).state_dict()
    assert all(torch.equal(value, reference[key]) for key, value in ffhq_generator.state_dict().items())
