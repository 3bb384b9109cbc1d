"""Turntable helpers: depth colouring, contact sheets, GIF/MP4 writing, tri-grid fields."""

from __future__ import annotations

from pathlib import Path

import imageio.v2 as imageio
import imageio.v3 as iio
import numpy as np
import pytest
import torch
from PIL import Image

from dualinv.views import (
    TurntableFrames,
    colorize_depth,
    contact_sheet,
    depth_range,
    trigrid_fields,
    write_turntable,
)


def test_colorize_depth_orders_near_to_far_and_blanks_background() -> None:
    depth = torch.tensor([[[2.0, 2.5], [3.0, 2.5]]])
    mask = torch.tensor([[[1.0, 1.0], [1.0, 0.0]]])
    rgb = colorize_depth(depth, near=2.0, far=3.0, mask=mask, colormap="gray")
    assert rgb[0, 0].tolist() == [255, 255, 255] and rgb[1, 0].tolist() == [0, 0, 0]  # near white, far black
    assert rgb[0, 1, 0] in (127, 128) and rgb[1, 1].tolist() == [0, 0, 0]  # middle grey; background black


def test_depth_range_uses_foreground_only() -> None:
    depths = torch.tensor([[[[2.4, 9.0]]], [[[2.8, 1.0]]]])
    masks = torch.tensor([[[[1.0, 0.0]]], [[[1.0, 0.0]]]])
    assert depth_range(depths, masks) == pytest.approx((2.4, 2.8))
    assert depth_range(depths, torch.zeros_like(masks)) == pytest.approx((1.0, 9.0))


def test_contact_sheet_places_frames_row_major() -> None:
    frames = [np.full((8, 8, 3), value, dtype=np.uint8) for value in (10, 20, 30, 40, 50)]
    sheet = contact_sheet(frames, columns=3, thumbnail=4)
    assert sheet.shape == (8, 12, 3)
    assert sheet[0, 0, 0] == 10 and sheet[0, 4, 0] == 20 and sheet[0, 8, 0] == 30 and sheet[4, 0, 0] == 40
    assert sheet[4, 4, 0] == 50 and sheet[4, 8, 0] == 0  # the unused cell stays black


def test_write_turntable_writes_every_file(tmp_path: Path) -> None:
    count = 3
    ramp = torch.linspace(-1, 1, 32)
    images = torch.stack([torch.stack([ramp.expand(32, 32) * (k + 1) / count] * 3) for k in range(count)])
    depths = torch.full((count, 1, 8, 8), 2.7)
    masks = torch.ones((count, 1, 8, 8))
    written = write_turntable(tmp_path, TurntableFrames(images, depths, masks), fps=10, thumbnail=16)
    for index in range(count):
        assert Image.open(tmp_path / "frames" / f"frame_{index:03d}.png").size == (32, 32)
        assert Image.open(tmp_path / "depth" / f"depth_{index:03d}.png").size == (8, 8)
    gif = iio.imread(written["gif"], index=None)
    assert gif.shape[0] == count and gif.shape[1:3] == (32, 32)
    assert written["mp4"].read_bytes()[4:8] == b"ftyp"  # an MP4 container
    with imageio.get_reader(written["mp4"], format="FFMPEG") as reader:
        decoded = [frame for frame in reader]
    assert len(decoded) == count and decoded[0].shape == (32, 32, 3)
    assert Image.open(written["sheet"]).size == (32, 32)  # 2×2 grid of 16² thumbnails
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []


def test_trigrid_density_matches_official_sample_mixed(tiny_fixture_dir: Path) -> None:
    """The mesh density of a tri-grid equals the fixture's ``G.sample_mixed`` σ (§4.5)."""
    from dualinv.panohead.checkpoint import load_network

    generator = load_network(tiny_fixture_dir / "network-tiny.pkl")
    reference = torch.load(tiny_fixture_dir / "reference.pt", weights_only=True)["inputs_outputs"]
    ws = reference["ws_psi07"][:1]
    with torch.no_grad():
        trigrid = generator.synthesize_trigrid(ws, noise_mode="const")
        density, color = trigrid_fields(generator, trigrid, ws)
        points = reference["sample_coordinates"][0]
        assert torch.allclose(density(points), reference["sample_sigma"][0].reshape(-1), atol=1e-5)
        colours = color(points)
    assert colours.shape == (points.shape[0], 3) and torch.isfinite(colours).all()
