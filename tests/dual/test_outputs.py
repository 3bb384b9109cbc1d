"""Per-head outputs: every file written, a valid coloured mesh, and an index.html a browser renders.

The browser test needs Debian's ``chromium`` package (CI installs it); it is skipped only where the
binary is absent.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import imageio.v3 as iio
import numpy as np
import pytest
import torch
from PIL import Image

from dualinv.dual.outputs import HeadOutputOptions, HeadReport, Panel, choose_iso_level, write_head_outputs
from dualinv.fileio import uint8_to_tensor
from dualinv.mesh import read_ply
from tests.standin_heads import random_head, tiny128_generator
from tests.test_mesh import triangle_mesh_problems

FRAMES = 3


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    from skimage.data import astronaut

    generator = tiny128_generator()
    head = random_head(generator, 1)
    directory = tmp_path_factory.mktemp("head")
    photo = np.asarray(Image.fromarray(astronaut()).resize((128, 128)))
    part = np.zeros((128, 128), dtype=bool)
    part[10:40, 30:100] = True
    files = write_head_outputs(directory, generator, head, HeadReport("astronaut <test>", stand_in=True,
                                                                      provenance={"photo": "astronaut"}),
                               input_image=uint8_to_tensor(photo), panels=[Panel("part_mask.png", "part", part)],
                               options=HeadOutputOptions(frames=FRAMES, mesh_resolution=24))
    return directory, files


def test_every_output_is_written(written) -> None:
    directory, files = written
    for name in ("input.png", "reconstruction.png", "depth.png", "part_mask.png", "mesh.ply", "mesh.obj",
                 "outputs.json", "index.html", "turntable/turntable.gif", "turntable/turntable.mp4"):
        assert (directory / name).is_file(), name
    assert Image.open(directory / "reconstruction.png").size == (128, 128)
    assert iio.imread(directory / "turntable/turntable.gif", index=None).shape[0] == FRAMES
    summary = json.loads((directory / "outputs.json").read_text())
    assert summary["stand_in"] is True and summary["photo"] == "astronaut"
    assert all((directory / path).is_file() for path in summary["files"].values())
    assert not [p for p in directory.rglob(".*")]  # no temporary files left behind


def test_mesh_is_a_valid_coloured_triangle_mesh(written) -> None:
    directory, _ = written
    mesh = read_ply(directory / "mesh.ply")
    # In range, three distinct corners per face, each edge in at most two faces, a colour per vertex.
    assert triangle_mesh_problems(mesh) == []
    assert np.abs(mesh.vertices).max() <= 0.5 + 1e-6  # inside the tri-grid cube
    obj = (directory / "mesh.obj").read_text().splitlines()
    vertices = [line for line in obj if line.startswith("v ")]
    faces = [line for line in obj if line.startswith("f ")]
    assert len(vertices) == len(mesh.vertices) and len(faces) == len(mesh.faces)
    assert len(vertices[0].split()) == 7  # x y z r g b


def test_iso_level_is_panoheads_when_reached_else_the_fallback_percentile() -> None:
    grid = np.zeros((10, 10, 10), np.float32)
    grid[3:7, 3:7, 3:7] = 20.0
    assert choose_iso_level(grid, "auto", border=1) == 10.0
    faint = np.arange(1000, dtype=np.float32).reshape(10, 10, 10) / 1000
    assert choose_iso_level(faint, "auto", border=0) == pytest.approx(np.percentile(faint, 90))
    assert choose_iso_level(faint, 0.25, border=0) == 0.25


def test_index_html_links_every_output_and_escapes_text(written) -> None:
    directory, _ = written
    page = (directory / "index.html").read_text()
    links = set(re.findall(r'(?:src|href)="([^"]+)"', page))
    assert {"input.png", "reconstruction.png", "depth.png", "turntable/turntable.gif", "turntable/turntable.mp4",
            "mesh.ply", "mesh.obj", "part_mask.png"} <= links
    assert all((directory / link).is_file() for link in links)
    assert "astronaut &lt;test&gt;" in page and "STAND-IN" in page


CHROMIUM = ["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--allow-file-access-from-files",
            "--virtual-time-budget=5000", "--window-size=1400,1600", "--enable-logging=stderr", "--v=0"]
needs_chromium = pytest.mark.skipif(shutil.which("chromium") is None,
                                    reason="needs Debian's chromium package (apt-get install chromium)")


def rendered_dom(page: Path) -> subprocess.CompletedProcess:
    """The DOM headless Chromium has after loading ``page`` and running its scripts."""
    dom = subprocess.run(CHROMIUM + ["--dump-dom", page.resolve().as_uri()], capture_output=True, text=True,
                         timeout=120)
    assert dom.returncode == 0, dom.stderr[-2000:]
    return dom


@pytest.mark.slow
@needs_chromium
def test_index_html_renders_in_headless_chromium(written, tmp_path) -> None:
    directory, _ = written
    dom = rendered_dom(directory / "index.html")
    images = len(re.findall(r"<img ", dom.stdout))
    assert images >= 7
    assert f'data-images-loaded="{images}"' in dom.stdout and 'data-images-broken="0"' in dom.stdout
    assert "Uncaught" not in dom.stderr  # no script error on the page
    # The turntable video is on the page, and every file the rendered page refers to exists.
    videos = re.findall(r'<video [^>]*src="([^"]+)"', dom.stdout)
    assert videos == ["turntable/turntable.mp4"]
    assert iio.imread(directory / videos[0], index=None).shape[0] == FRAMES  # a decodable MP4 of every frame
    referenced = set(re.findall(r'(?:src|href)="([^"]+)"', dom.stdout))
    assert referenced and all((directory / link).is_file() for link in referenced), referenced
    screenshot = tmp_path / "page.png"
    shot = subprocess.run(CHROMIUM + [f"--screenshot={screenshot}", (directory / "index.html").resolve().as_uri()],
                          capture_output=True, text=True, timeout=120)
    assert shot.returncode == 0 and screenshot.is_file(), shot.stderr[-2000:]
    pixels = np.asarray(Image.open(screenshot).convert("RGB")).astype(np.int16)
    # The aligned input is shown as the first tile: the astronaut's orange suit must appear on the page.
    orange = (pixels[..., 0] > 180) & (pixels[..., 1] > 60) & (pixels[..., 1] < 150) & (pixels[..., 2] < 90)
    assert orange.sum() > 2000
    keep = Path("/tmp/dualinv_index_screenshot.png")
    if keep.parent.is_dir():
        shutil.copyfile(screenshot, keep)  # for a human look; not part of the assertion


VIDEO_PROBE = """<script>
window.addEventListener('load', function () {
  var videos = Array.prototype.slice.call(document.querySelectorAll('video'));
  function mark() {
    var ready = videos.filter(function (video) { return video.readyState >= 1; });
    document.body.setAttribute('data-videos-ready', String(ready.length));
  }
  videos.forEach(function (video) {
    video.addEventListener('loadedmetadata', mark);
    video.addEventListener('error', function () { document.body.setAttribute('data-video-error', 'yes'); });
    video.load();
  });
  mark();
});
</script></body>"""
"""Appended to a copy of the page: counts the <video> elements whose metadata Chromium decoded."""


@pytest.mark.slow
@needs_chromium
def test_the_turntable_video_loads_in_headless_chromium_and_a_broken_one_is_seen(written, tmp_path) -> None:
    directory, _ = written
    copy = shutil.copytree(directory, tmp_path / "page")
    probe = copy / "probe.html"
    probe.write_text((copy / "index.html").read_text().replace("</body>", VIDEO_PROBE))
    body = re.search(r"<body[^>]*>", rendered_dom(probe).stdout).group(0)
    assert 'data-videos-ready="1"' in body and "data-video-error" not in body
    (copy / "turntable" / "turntable.mp4").write_bytes(b"not an mp4")  # the probe can fail
    body = re.search(r"<body[^>]*>", rendered_dom(probe).stdout).group(0)
    assert 'data-videos-ready="0"' in body and 'data-video-error="yes"' in body
