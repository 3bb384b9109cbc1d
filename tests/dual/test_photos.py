"""Raw photos through preparation, an inverter and the output writer; a rejected photo does not stop the batch.

The inverter here is a seeded stand-in with DualInverter's interface (a random head per image, on
the tiny 128² generator); DualInverter itself is tested with the training code.
"""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import matplotlib.cbook
import numpy as np
import pytest
import torch
from PIL import Image

from dualinv.data.alignment import PoseConfig
from dualinv.data.prepare import PrepareConfig
from dualinv.data.rejects import read_rejects
from dualinv.dual.outputs import HeadOutputOptions
from dualinv.dual.photos import invert_photos
from dualinv.edit import EditConfig, PartSegmenter
from dualinv.edit.photos import edit_photos
from dualinv.errors import NoFaceError
from dualinv.mesh import read_ply
from tests.standin_heads import random_head, tiny128_generator

OPTIONS = HeadOutputOptions(frames=2, mesh_resolution=16)
PREPARE = PrepareConfig(progress=False, pose=PoseConfig(stand_in=True, min_face_size=64))
"""PanoHead's 3DDFA alignment with seeded stand-in TDDFA/BFM; the sample portraits' heads are under 256 px."""


class StandInInverter:
    """DualInverter's interface: a seeded random head per image (seed from the image's mean colour)."""

    def __init__(self) -> None:
        self.generator = tiny128_generator()
        self.calls: list[torch.Tensor] = []

    def invert(self, images: torch.Tensor, cameras: torch.Tensor) -> SimpleNamespace:
        self.calls.append(cameras)
        head = random_head(self.generator, int(images.mean().abs() * 1e4), cameras)
        mask = torch.zeros(1, 3, 3, 32, 32, dtype=torch.bool)
        return SimpleNamespace(trigrid=head.trigrid, ws=head.ws, cameras=cameras, dual=SimpleNamespace(occlusion_mask=mask))


@pytest.fixture(scope="module")
def photos(tmp_path_factory) -> dict[str, Path]:
    from skimage.data import astronaut

    folder = tmp_path_factory.mktemp("photos")
    paths = {"astronaut": folder / "astronaut.png", "grace": folder / "grace_hopper.jpg", "blank": folder / "blank.png"}
    Image.fromarray(astronaut()).save(paths["astronaut"])
    Path(paths["grace"]).write_bytes(Path(matplotlib.cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)).read_bytes())
    Image.fromarray(np.full((256, 256, 3), 128, np.uint8)).save(paths["blank"])
    return paths


@pytest.mark.slow
def test_raw_photos_are_prepared_inverted_and_written_and_a_reject_does_not_stop_the_batch(photos, tmp_path) -> None:
    inverter = StandInInverter()
    lines: list[str] = []
    batch = invert_photos([photos["blank"], photos["astronaut"], photos["grace"]], tmp_path, inverter,
                          stand_in=True, options=OPTIONS, log=lines.append, prepare=PREPARE)
    assert sorted(batch.written) == ["astronaut", "grace_hopper"]
    assert [(r.source, r.reason) for r in read_rejects(tmp_path / "rejects.csv")] == [("blank.png", "no_face")]
    assert any("blank.png: rejected (no_face)" in line for line in lines)
    for stem, directory in batch.written.items():
        for name in ("input.png", "reconstruction.png", "depth.png", "occlusion.png", "mesh.ply", "mesh.obj",
                     "index.html", "turntable/turntable.gif", "turntable/turntable.mp4"):
            assert (directory / name).is_file(), f"{stem}/{name}"
        assert Image.open(directory / "input.png").size == (512, 512)  # the aligned crop
        summary = json.loads((directory / "outputs.json").read_text())
        assert summary["stand_in"] and abs(summary["yaw"]) < 10  # both portraits are frontal
        assert read_ply(directory / "mesh.ply").vertex_colors is not None
        page = (directory / "index.html").read_text()
        assert "STAND-IN" in page
        title = page.split("<title>")[1].split("</title>")[0]  # the photo's name, not where it lives
        assert title.endswith(": dual-encoder inversion") and str(Path(photos["astronaut"]).parent) not in title
        assert Path(photos["astronaut"]).name in title or Path(photos["grace"]).name in title
    # The inverter got the cameras estimated by the preparation, not a default.
    label = json.loads((tmp_path / "prepared/labels/astronaut.json").read_text())["label"]
    assert torch.allclose(inverter.calls[0][0].double(), torch.tensor(label, dtype=torch.float64), atol=1e-6)


@pytest.mark.slow
def test_edit_copies_the_reference_cells_into_the_source_and_writes_the_outputs(photos, tmp_path) -> None:
    inverter = StandInInverter()
    with PartSegmenter() as segmenter:
        files = edit_photos(photos["grace"], photos["astronaut"], tmp_path, inverter, segmenter,
                            EditConfig(part="hair", feather=0, opacity_threshold=0.1), stand_in=True, options=OPTIONS,
                            prepare=PREPARE)
    for name in ("reference.png", "reference_part.png", "part_cells.png", "reconstruction.png", "mesh.ply", "index.html"):
        assert (tmp_path / name).is_file(), name
    summary = json.loads((tmp_path / "outputs.json").read_text())
    assert summary["part"] == "hair" and summary["part_cells"] > 0 and summary["source"].endswith("grace_hopper.jpg")
    assert files["index"] == tmp_path / "index.html"


def test_edit_names_a_rejected_photo(photos, tmp_path) -> None:
    with pytest.raises(NoFaceError, match="reference photo .*blank.png.*no_face"):
        edit_photos(photos["astronaut"], photos["blank"], tmp_path, StandInInverter(), segmenter=None,
                    stand_in=True, options=OPTIONS, prepare=PREPARE)


class KnownMaskInverter(StandInInverter):
    """A seeded head and a known occlusion mask O: plane XY occluded for v ≥ 0 (rows h ≥ 16), the rest visible."""

    def invert(self, images: torch.Tensor, cameras: torch.Tensor) -> SimpleNamespace:
        inversion = super().invert(images, cameras)
        inversion.dual.occlusion_mask[0, 0, :, 16:, :] = True
        return inversion


def test_occlusion_png_is_white_where_occluded_as_its_caption_says_and_seconds_come_from_the_timer(
        tmp_path, monkeypatch) -> None:
    import dualinv.models.inversion as metrics
    from dualinv.dual.photos import AlignedPhoto, invert_aligned
    from tests.standin_heads import FRONT_CAMERA

    timed, real = [], metrics.timed_per_image

    def recording_timer(function, batch_size, device="cpu"):
        result, _ = real(function, batch_size, device)
        timed.append((batch_size, torch.device(device)))
        return result, 12.5

    monkeypatch.setattr(metrics, "timed_per_image", recording_timer)
    photo = AlignedPhoto("crop", "crop.png", torch.zeros(3, 128, 128), FRONT_CAMERA[0], 0.0, 0.0)
    batch = invert_aligned([photo], tmp_path, KnownMaskInverter(), stand_in=True, log=lambda line: None,
                           options=HeadOutputOptions(frames=1, mesh=False))
    assert timed == [(1, torch.device("cpu"))] and batch.seconds == {"crop": 12.5}
    picture = np.asarray(Image.open(tmp_path / "crop" / "occlusion.png").convert("L"))
    assert picture.shape == (32, 32 * 3 + 2 * 2)  # XY | XZ | YZ with 2-pixel separators
    assert (picture[:16, :32] == 255).all() and (picture[16:, :32] == 0).all()  # v up: the occluded half on top
    assert (picture[:, 34:66] == 0).all() and (picture[:, 68:] == 0).all()
    page = (tmp_path / "crop" / "index.html").read_text()
    assert "white = occluded" in page and "white = visible" not in page


def test_inversion_timing_synchronises_cuda_before_each_clock_reading(monkeypatch) -> None:
    import time

    from dualinv.models.inversion import timed_per_image

    events: list[str] = []
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "synchronize", lambda device=None: events.append("synchronize"))
    clock = iter([10.0, 10.25])
    monkeypatch.setattr(time, "perf_counter", lambda: events.append("clock") or next(clock))
    result, seconds = timed_per_image(lambda: events.append("invert") or "inversion", 1, "cuda")
    assert events == ["synchronize", "clock", "invert", "synchronize", "clock"]
    assert result == "inversion" and seconds == 0.25
