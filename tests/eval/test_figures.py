"""Figures from stand-in inversions of the tiny generator, the mesh rasteriser, and loss curves from a CSV."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from dualinv.eval.fid import FidProtocol
from dualinv.eval.figures import (
    THUMBNAIL,
    GridLayout,
    drawn_loss_terms,
    loss_curves,
    read_loss_csv,
    render_mesh,
    write_figures,
)
from dualinv.eval.inverters import StandInInverter
from dualinv.eval.runners import RenderPlan, run_inversions
from dualinv.mesh import mesh_from_grid
from tests.eval.standins import tiny128_generator, write_test_set


def _red_banner(path) -> bool:
    top = np.asarray(Image.open(path).convert("RGB"))[:12].astype(int)
    return bool(((top[..., 0] > 200) & (top[..., 1] < 60) & (top[..., 2] < 60)).any())


def _thumbnail(path) -> np.ndarray:
    with Image.open(path) as image:
        return np.asarray(image.convert("RGB").resize((THUMBNAIL, THUMBNAIL), Image.Resampling.BOX))


def _tile(figure, layout: GridLayout, row: int, column: int) -> np.ndarray:
    y, x = layout.tile_origin(row, column)
    return np.asarray(Image.open(figure).convert("RGB"))[y:y + layout.tile, x:x + layout.tile]


@pytest.mark.slow
def test_figures_from_stand_in_inversions(tmp_path):
    generator = tiny128_generator()
    names = [f"images/{index:05d}.png" for index in range(2)]
    dataset = write_test_set(tmp_path / "val", names, yaws_deg=[0, 25])
    shots = [f"images/M003__{view}__angry__level_1__001__000010.png" for view in ("front", "left_60", "right_60")]
    mead = write_test_set(tmp_path / "mead", shots, yaws_deg=[0, 60, -60], seed=1)
    plan = RenderPlan(fid=FidProtocol(num_images=2), figure_items=1, figure_yaws_deg=(-90.0, 90.0, 180.0),
                      mesh_resolution=48)
    inversions = {}
    for seed, method in enumerate(("encoder1", "encoder2", "dual")):
        folder = tmp_path / "inversions" / method / "val"
        run_inversions(StandInInverter(generator, seed=seed), dataset, folder, plan, method=method, progress=False)
        inversions[method] = {"val": folder}
    mead_folder = tmp_path / "inversions" / "dual" / "mead"
    run_inversions(StandInInverter(generator, seed=2), mead, mead_folder, plan, method="dual", progress=False)
    inversions["dual"]["mead"] = mead_folder
    log = tmp_path / "encoder1.losses.csv"
    log.write_text("step,loss_l2,loss_lpips\n0,1.0,0.8\n1,0.5,0.6\n2,0.25,0.5\n")
    written = write_figures(inversions, tmp_path / "figures", {"encoder1": [log]}, loss_stand_in=True)
    assert sorted(path.name for path in written) == ["fig5_dual_encoder.png", "fig6_comparison.png",
                                                    "fig7_discriminator.png", "fig8_mead.png", "fig9_meshes.png",
                                                    "loss_curves.png"]
    for path in written:
        assert _red_banner(path), f"{path.name} lacks the stand-in banner"

    # Fig. 5: rows Encoder 1, Encoder 2, Dual for the one figure item; columns input, reconstruction, 3 views.
    figure = tmp_path / "figures" / "fig5_dual_encoder.png"
    layout = GridLayout(rows=3, columns=5, stand_in=True)
    assert Image.open(figure).size == layout.size
    (item,) = json.loads((inversions["dual"]["val"] / "inversion.json").read_text())["figure_names"]
    for row, method in enumerate(("encoder1", "encoder2", "dual")):
        assert np.array_equal(_tile(figure, layout, row, 0), _thumbnail(dataset / item))  # the input, first
        same_view = inversions[method]["val"] / "same_view" / f"{Path(item).stem}.png"
        assert np.array_equal(_tile(figure, layout, row, 1), _thumbnail(same_view))  # then its reconstruction
    # Fig. 8: input (0°), reconstruction (0°), ground truth at -60° or +60°, the render at that camera.
    figure = tmp_path / "figures" / "fig8_mead.png"
    layout = GridLayout(rows=1, columns=4, stand_in=True)
    stem = Path(shots[0]).stem
    assert Image.open(figure).size == layout.size
    assert np.array_equal(_tile(figure, layout, 0, 0), _thumbnail(mead / shots[0]))
    assert np.array_equal(_tile(figure, layout, 0, 1), _thumbnail(mead_folder / "same_view" / f"{stem}.png"))
    assert np.array_equal(_tile(figure, layout, 0, 2), _thumbnail(mead / shots[1]))  # figure item 0: left_60
    assert np.array_equal(_tile(figure, layout, 0, 3), _thumbnail(mead_folder / "mead" / stem / "left_60.png"))


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
    silent = tmp_path / "silent.losses.csv"  # a term that stays zero (adv without a D) is not drawn
    silent.write_text("step,loss_adv\n0,0.0\n1,0.0\n")
    assert loss_curves({"encoder1": [silent]}, tmp_path / "silent.png") is None


def test_a_lazy_term_is_drawn_at_the_steps_it_was_applied_and_a_silent_one_not_at_all():
    steps = np.arange(8)
    curves = {"loss_encoder": (steps, np.linspace(1.0, 0.3, 8)), "loss_r1": (steps, np.where(steps % 4 == 0, 0.5, 0.0)),
              "loss_adv": (steps, np.zeros(8))}
    drawn = drawn_loss_terms(curves)
    assert list(drawn) == ["loss_encoder", "loss_r1"]
    assert drawn["loss_r1"][0].tolist() == [0, 4] and drawn["loss_r1"][1].tolist() == [0.5, 0.5]
    assert drawn["loss_encoder"][0].tolist() == steps.tolist()


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
