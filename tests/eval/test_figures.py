"""Figures from stand-in inversions of the tiny generator, the mesh rasteriser, and loss curves from a CSV."""

from __future__ import annotations

import math

import numpy as np
import pytest
from PIL import Image

from dualinv.eval.fid import FidProtocol
from dualinv.eval.figures import STAND_IN_BANNER, loss_curves, read_loss_csv, render_mesh, write_figures
from dualinv.eval.inverters import StandInInverter
from dualinv.eval.runners import RenderPlan, run_inversions
from dualinv.mesh import mesh_from_grid
from tests.eval.standins import tiny128_generator, write_test_set


def _red_banner(path) -> bool:
    top = np.asarray(Image.open(path).convert("RGB"))[:12].astype(int)
    return bool(((top[..., 0] > 200) & (top[..., 1] < 60) & (top[..., 2] < 60)).any())


@pytest.mark.slow
def test_figures_from_stand_in_inversions(tmp_path):
    generator = tiny128_generator()
    names = [f"images/{index:05d}.png" for index in range(2)]
    dataset = write_test_set(tmp_path / "val", names, yaws_deg=[0, 25])
    plan = RenderPlan(fid=FidProtocol(num_images=2), figure_items=1, figure_yaws_deg=(-90.0, 90.0, 180.0),
                      mesh_resolution=48)
    inversions = {}
    for seed, method in enumerate(("encoder1", "encoder2", "dual")):
        folder = tmp_path / "inversions" / method / "val"
        run_inversions(StandInInverter(generator, seed=seed), dataset, folder, plan, method=method, progress=False)
        inversions[method] = {"val": folder}
    log = tmp_path / "encoder1.losses.csv"
    log.write_text("step,loss_l2,loss_lpips\n0,1.0,0.8\n1,0.5,0.6\n2,0.25,0.5\n")
    written = write_figures(inversions, tmp_path / "figures", {"encoder1": [log]}, loss_stand_in=True)
    assert sorted(path.name for path in written) == ["fig5_dual_encoder.png", "fig6_comparison.png",
                                                    "fig7_discriminator.png", "fig9_meshes.png", "loss_curves.png"]
    for path in written:
        assert _red_banner(path), f"{path.name} lacks the stand-in banner"
    grid = Image.open(tmp_path / "figures" / "fig5_dual_encoder.png")
    assert grid.width > grid.height  # 3 rows (methods) x 5 columns (input, reconstruction, 3 views)


def _sphere_mesh(radius: float = 0.3, resolution: int = 48):
    axis = np.linspace(-0.5, 0.5, resolution)
    x, y, z = np.meshgrid(axis, axis, axis, indexing="ij")
    density = 100.0 * (radius - np.sqrt(x**2 + y**2 + z**2))  # > 10 inside r - 0.1
    return mesh_from_grid(density.astype(np.float32)), radius - 0.1


def test_mesh_render_silhouette_matches_the_projected_sphere():
    mesh, radius = _sphere_mesh()
    size = 128
    image = render_mesh(mesh.vertices, mesh.faces, yaw_deg=30.0, size=size)
    covered = (image.astype(int).sum(axis=2) < 3 * 250).mean()
    # a sphere of radius r at distance d subtends a disc of angular radius asin(r/d): projected radius f·tan(asin(r/d))
    projected = 4.2647 * math.tan(math.asin(radius / 2.7))
    assert covered == pytest.approx(math.pi * projected**2, rel=0.08)
    lit, dark = image[size // 2, size // 2].mean(), image[size // 2, int(size * (0.5 + 0.95 * projected))].mean()
    assert lit > dark  # Lambert shading: brightest facing the light


def test_loss_csv_segments_concatenate_and_plot(tmp_path):
    first, second = tmp_path / "0.pt.losses.csv", tmp_path / "1.pt.losses.csv"
    first.write_text("step,loss_encoder,loss_r1\n0,2.0,\n1,1.5,0.1\n")
    second.write_text("step,loss_encoder,loss_r1\n1,1.4,0.2\n2,1.0,\n3,0.5,\n")
    curves = read_loss_csv([first, second])
    assert list(curves) == ["loss_encoder", "loss_r1"]
    assert curves["loss_encoder"][0].tolist() == [0, 1, 2, 3]
    assert curves["loss_encoder"][1].tolist() == [2.0, 1.4, 1.0, 0.5]  # the resumed segment's step 1 wins
    assert curves["loss_r1"][0].tolist() == [1]
    path = loss_curves({"encoder2": [first, second]}, tmp_path / "loss_curves.png")
    assert Image.open(path).size[0] > 100 and not _red_banner(path)
    assert loss_curves({}, tmp_path / "none.png") is None


def test_make_figures_reads_the_training_logs_of_the_study(tmp_path):
    from dataclasses import replace

    from dualinv.config import load_config
    from dualinv.eval.figures import make_figures
    from tests.conftest import REPO_ROOT

    config = load_config(REPO_ROOT / "config.yaml", (REPO_ROOT / "presets" / "mini.yaml",))
    config = replace(config, output=replace(config.output, results=str(tmp_path / "results")))
    log = tmp_path / "results" / "models" / "encoder1" / "segments" / "0.pt.losses.csv"
    log.parent.mkdir(parents=True)
    log.write_text("step,loss_encoder\n0,1.0\n1,0.5\n")
    written = make_figures(config=config, inversions={}, output=tmp_path / "figures")
    assert [path.name for path in written] == ["loss_curves.png"]
    assert _red_banner(written[0])  # the mini preset's generator is a seeded stand-in
