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
from dualinv.data.alignment import PoseConfig
from dualinv.data.prepare import Shard, merge_prepared_shards
from dualinv.errors import ConfigError, DatasetFormatError, DatasetLossError

STAND_IN = PoseConfig(stand_in=True, min_face_size=64)
"""PanoHead's 3DDFA alignment with seeded stand-in TDDFA/BFM; the sample portraits' heads are under 256 px."""
CLI_STAND_IN = ["--pose-stand-in", "--min-face-size", "64"]


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
    summary = prepare_images(photo_folder, out, PrepareConfig(pose=STAND_IN, progress=False, max_reject_share=0.8))
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
    prepare_images(photo_folder, out, PrepareConfig(pose=STAND_IN, progress=False, max_reject_share=0.8))
    before = (out / "images" / "astronaut.png").stat().st_mtime_ns
    again = prepare_images(photo_folder, out, PrepareConfig(pose=STAND_IN, progress=False, max_reject_share=0.8))
    assert (again.prepared, again.already_prepared, again.rejected) == (0, 2, 3)
    assert (out / "images" / "astronaut.png").stat().st_mtime_ns == before
    with pytest.raises(DatasetLossError, match="3 of 5"):
        prepare_images(photo_folder, out, PrepareConfig(pose=STAND_IN, progress=False, max_reject_share=0.5))
    assert len(read_rejects(out / "rejects.csv")) == 3  # written before failing


def test_cli_prepare_and_pose(photo_folder, tmp_path, capsys):
    out = tmp_path / "cli"
    code = main(["prepare", str(photo_folder / "sub"), str(out), "--no-progress", "--background", "0,0,0", *CLI_STAND_IN])
    assert code == 0 and "1 prepared" in capsys.readouterr().out
    crop = np.asarray(Image.open(out / "images" / "grace.png"))
    mask = np.asarray(Image.open(out / "masks" / "grace.png"))
    assert (crop[mask == 0] == 0).all()
    assert main(["pose", str(photo_folder / "astronaut.png"), "--json", *CLI_STAND_IN]) == 0
    report = json.loads(capsys.readouterr().out)
    assert abs(report["yaw"]) < 20 and len(report["label"]) == 25
    assert main(["pose", str(photo_folder / "wall.png"), *CLI_STAND_IN]) == 2
    assert "no face" in capsys.readouterr().err
    assert main(["prepare", str(tmp_path / "missing"), str(out), "--no-progress", *CLI_STAND_IN]) == 2


@pytest.mark.slow
def test_two_workers_give_the_same_dataset(photo_folder, tmp_path):
    one = prepare_images(photo_folder, tmp_path / "one", PrepareConfig(pose=STAND_IN, progress=False, max_reject_share=0.8))
    two = prepare_images(photo_folder, tmp_path / "two", PrepareConfig(pose=STAND_IN, workers=2, progress=False, max_reject_share=0.8))
    assert (one.prepared, one.rejected) == (two.prepared, two.rejected)
    assert (tmp_path / "one" / "dataset.json").read_text() == (tmp_path / "two" / "dataset.json").read_text()
    assert (tmp_path / "one" / "rejects.csv").read_text() == (tmp_path / "two" / "rejects.csv").read_text()


def test_bad_u2net_file_stops_before_any_work(photo_folder, tmp_path):
    from dualinv.data.background import BackgroundConfig
    from dualinv.errors import MissingWeightsError

    fake = tmp_path / "weights" / "u2net.onnx"
    fake.parent.mkdir()
    fake.write_bytes(b"not the model")
    config = PrepareConfig(pose=STAND_IN, progress=False, background=BackgroundConfig(u2net_path=str(fake)))
    with pytest.raises(MissingWeightsError, match="weights.u2net"):
        prepare_images(photo_folder, tmp_path / "out", config)
    assert not (tmp_path / "out").exists()


def png_claiming(width: int, height: int) -> bytes:
    """A small PNG whose header claims ``width`` x ``height`` RGB pixels (a decompression bomb's header)."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"")) + chunk(b"IEND", b"")


@pytest.fixture()
def mixed_batch(tmp_path):
    """Two good portraits, a truncated JPEG, a PNG header claiming 9000² pixels (over the 64 MP guard,
    under Pillow's own bomb limit, so dualinv's check is the one that refuses it) and a 40² image."""
    import io

    import matplotlib.cbook
    import skimage.data

    folder = tmp_path / "mixed"
    folder.mkdir()
    Image.fromarray(skimage.data.astronaut()).save(folder / "astronaut.png")
    shutil.copy(matplotlib.cbook.get_sample_data("grace_hopper.jpg", asfileobj=False), folder / "grace.jpg")
    encoded = io.BytesIO()
    Image.fromarray(skimage.data.astronaut()).save(encoded, format="JPEG")
    (folder / "cut.jpg").write_bytes(encoded.getvalue()[: len(encoded.getvalue()) // 2])
    (folder / "huge.png").write_bytes(png_claiming(9000, 9000))
    Image.fromarray(np.full((40, 40, 3), 120, dtype=np.uint8)).save(folder / "tiny.png")
    return folder


def test_a_batch_rejects_exactly_its_bad_inputs_and_prepares_the_rest(mixed_batch, tmp_path):
    out = tmp_path / "prepared"
    summary = prepare_images(mixed_batch, out, PrepareConfig(pose=STAND_IN, progress=False, max_reject_share=0.8))
    rejects = {reject.source: reject for reject in read_rejects(out / "rejects.csv")}
    assert {source: reject.reason for source, reject in rejects.items()} == {
        "cut.jpg": "corrupt", "huge.png": "too_large", "tiny.png": "too_small"}
    assert "9000x9000" in rejects["huge.png"].detail and "40x40" in rejects["tiny.png"].detail
    assert (summary.prepared, summary.rejected) == (2, 3)
    assert summary.reasons == {"corrupt": 1, "too_large": 1, "too_small": 1}
    assert sorted(json.loads((out / "summary.json").read_text())["reasons"]) == ["corrupt", "too_large", "too_small"]
    assert sorted(path.name for path in (out / "images").iterdir()) == ["astronaut.png", "grace.png"]


def test_an_unexpected_error_in_one_photo_is_a_reject_and_the_batch_goes_on(mixed_batch, tmp_path, monkeypatch):
    import dualinv.data.prepare as prepare_module

    real_decode = prepare_module.decode_image

    def decode_failing_on_grace(path, limits):
        if path.name == "grace.jpg":
            raise RuntimeError("simulated failure inside a library")
        return real_decode(path, limits)

    monkeypatch.setattr(prepare_module, "decode_image", decode_failing_on_grace)
    out = tmp_path / "prepared"
    summary = prepare_images(mixed_batch, out, PrepareConfig(pose=STAND_IN, progress=False, max_reject_share=0.9))
    rejects = {reject.source: reject for reject in read_rejects(out / "rejects.csv")}
    assert rejects["grace.jpg"].reason == "error"
    assert "RuntimeError: simulated failure inside a library" in rejects["grace.jpg"].detail
    assert (summary.prepared, summary.rejected, summary.reasons["error"]) == (1, 4, 1)
    assert (out / "images" / "astronaut.png").is_file()  # the photo after it was still prepared


def test_fatal_errors_stop_the_batch(mixed_batch, tmp_path, monkeypatch):
    import dualinv.data.prepare as prepare_module

    def out_of_memory(path, limits):
        raise MemoryError("simulated")

    monkeypatch.setattr(prepare_module, "decode_image", out_of_memory)
    with pytest.raises(MemoryError):
        prepare_images(mixed_batch, tmp_path / "prepared", PrepareConfig(pose=STAND_IN, progress=False))
    assert not (tmp_path / "prepared" / "summary.json").exists()


def test_an_absent_u2net_file_falls_back_to_selfie_loudly(photo_folder, tmp_path):
    from dualinv.data.background import BackgroundConfig, MattingFallbackWarning
    from dualinv.weights import REGISTRY

    missing = tmp_path / "weights" / "u2net.onnx"
    config = PrepareConfig(pose=STAND_IN, progress=False, background=BackgroundConfig(u2net_path=str(missing)))
    with pytest.warns(MattingFallbackWarning) as caught:
        summary = prepare_images(photo_folder / "sub", tmp_path / "out", config)
    message = str(caught[0].message)
    assert str(missing) in message and REGISTRY["u2net"].url in message and "selfie" in message
    assert (summary.prepared, summary.matting, summary.matting_fallback) == (1, "selfie", message)
    assert "WARNING" in str(summary) and str(missing) in str(summary)
    recorded = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert recorded["matting"] == "selfie" and recorded["matting_fallback"] == message
    assert json.loads((tmp_path / "out" / "labels" / "grace.json").read_text())["matting"] == "selfie"


def test_an_absent_u2net_file_asked_for_explicitly_stops_before_any_work(photo_folder, tmp_path):
    from dualinv.data.background import BackgroundConfig
    from dualinv.errors import MissingWeightsError

    missing = tmp_path / "weights" / "u2net.onnx"
    config = PrepareConfig(pose=STAND_IN, progress=False, background=BackgroundConfig(matting="u2net", u2net_path=str(missing)))
    with pytest.raises(MissingWeightsError, match="missing file"):
        prepare_images(photo_folder, tmp_path / "out", config)
    assert not (tmp_path / "out").exists()


def test_an_image_preparer_used_directly_chooses_its_matting(photo_folder, tmp_path):
    """dualinv invert drives ImagePreparer itself with the unresolved ``auto`` setting."""
    from dualinv.data.background import BackgroundConfig, MattingFallbackWarning
    from dualinv.data.prepare import ImagePreparer

    config = PrepareConfig(pose=STAND_IN, progress=False, background=BackgroundConfig(u2net_path=str(tmp_path / "absent" / "u2net.onnx")))
    with pytest.warns(MattingFallbackWarning, match="absent"):
        preparer = ImagePreparer(tmp_path / "out", config)
    try:
        outcome = preparer.prepare(photo_folder / "sub" / "grace.jpg", "grace.jpg")
    finally:
        preparer.close()
    assert outcome.matting == "selfie" and preparer.matting_choice.kind == "selfie"


def test_sharded_preparation_merges_into_what_one_job_writes(photo_folder, tmp_path):
    (photo_folder / "readme.txt").write_text("not a photo")  # a listing reject: shard 0 carries it
    config = PrepareConfig(pose=STAND_IN, progress=False, max_reject_share=0.9)
    whole = tmp_path / "whole"
    one_job = prepare_images(photo_folder, whole, config)
    work = [tmp_path / "work" / str(index) for index in range(3)]
    shards = [prepare_images(photo_folder, folder, config, Shard(index, 3)) for index, folder in enumerate(work)]
    assert [shard.inputs for shard in shards] == [3, 2, 1]  # 5 photos at positions k, k+3 + the listing reject
    merged = tmp_path / "merged"
    summary = merge_prepared_shards(work, merged, max_reject_share=0.9)

    def files(root):
        return {path.relative_to(root).as_posix(): path.read_bytes() for path in root.rglob("*")
                if path.is_file() and path.name != "summary.json"}

    assert files(merged) == files(whole) and "dataset.json" in files(whole) and "rejects.csv" in files(whole)
    assert {"readme.txt": "unsupported_format"}.items() <= {r.source: r.reason for r in read_rejects(merged / "rejects.csv")}.items()
    counted = ("inputs", "prepared", "rejected", "reasons", "alignment", "matting")
    assert {key: getattr(summary, key) for key in counted} == {key: getattr(one_job, key) for key in counted}
    assert json.loads((merged / "summary.json").read_text())["prepared"] == 2
    with pytest.raises(DatasetLossError, match="4 of 6"):  # the share is judged over the whole dataset
        merge_prepared_shards(work, tmp_path / "strict", max_reject_share=0.5)


def test_a_retried_shard_keeps_its_finished_photos_and_an_unfinished_one_is_not_merged(photo_folder, tmp_path):
    config = PrepareConfig(pose=STAND_IN, progress=False, max_reject_share=0.9)
    folder = tmp_path / "work" / "0"
    first = prepare_images(photo_folder, folder, config, Shard(0, 2))
    (folder / "summary.json").unlink()  # a try that died after its photos, before its summary
    again = prepare_images(photo_folder, folder, config, Shard(0, 2))
    assert first.prepared >= 1 and (again.prepared, again.already_prepared) == (0, first.prepared)
    with pytest.raises(DatasetFormatError, match="has not finished"):
        merge_prepared_shards([folder, tmp_path / "work" / "1"], tmp_path / "merged")
    with pytest.raises(ConfigError, match="shard 2 of 2"):
        Shard(2, 2)
