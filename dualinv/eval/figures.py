"""The paper's qualitative figures from the inversion runner's folders, and the training loss curves.

Every grid has the input image in its first column, as in the paper, then the same-view
reconstruction, then novel views. A figure made from stand-in inversions (seeded generator or
stand-in method) carries a red banner saying so. Files (PNG, written atomically):

* ``fig5_dual_encoder.png``   Encoder 1 / Encoder 2 / Dual for the same inputs (Fig. 5, 22-24)
* ``fig6_comparison.png``     ours and the competing methods at novel views (Fig. 6, 13-20)
* ``fig7_discriminator.png``  the discriminator ablation of Table 3 (Fig. 7, 21)
* ``fig8_mead.png``           MEAD: input 0°, reconstruction 0°, ground truth ±60°, render ±60° (Fig. 8)
* ``fig9_meshes.png``         input, reconstruction, 360° renders of the mesh (Fig. 9)
* ``loss_curves.png``         every ``loss_*`` column of each training run's CSV log against the step

Meshes (Fig. 9) are drawn by :func:`render_mesh`, a painter's-algorithm rasteriser: faces are
projected by a pinhole camera on the orbit, sorted far to near and filled with Lambert shading in
grey, as the paper's mesh renders are. It needs no OpenGL and is exact for the closed marching-cubes
surfaces the runner writes.
"""

from __future__ import annotations

import csv
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
from PIL import Image

from dualinv.data.dataset import read_labels
from dualinv.data.manifests import mead_pairs
from dualinv.eval.gt360 import GT360_METRICS, METRIC_NAMES
from dualinv.eval.runners import MANIFEST_FILE, figure_view_name
from dualinv.fileio import atomic_path
from dualinv.mesh import read_ply
from dualinv.output_names import item_stem

STAND_IN_BANNER = "STAND-IN: seeded generator/method, not the paper's results"
THUMBNAIL = 128
DUAL_METHODS = (("encoder1", "Encoder 1"), ("encoder2", "Encoder 2"), ("dual", "Dual"))
"""Fig. 5 rows: "Encoder 1, Encoder 2, and Dual encoders", Dual in the last row (§3.4)."""
COMPARISON_METHODS = (("w_optim", "W+ optim."), ("pti", "PTI"), ("psp", "pSp"), ("e4e", "e4e"),
                      ("triplanenet_v2", "TriPlaneNet v2"), ("goae", "GOAE"), ("dual", "Ours"))
"""Fig. 6 and Fig. 8 rows: "ours and competing methods", the methods of Tables 1 and 2, in their order."""
DISCRIMINATOR_METHODS = (("encoder1", "No D"), ("d_image", "D image domain"),
                         ("d_triplane", "D triplane w/o occ."), ("encoder2", "D triplane w/ occ."))
"""Fig. 7 rows: the Table 3 ablation in its order ("first row" No D, "third row" D w/o triplane occ., §5.2)."""
MESH_METHODS = ("dual", "triplanenet_v2", "pti")
"""Fig. 9 rows per input. Its caption says "of our method", but §5.1 compares it: "Ours is better than the
most recent encoder-based method [7] and generally performs well compared to PTI. ... PTI ... (row 3) ...
(row 6)". [7] is TriPlaneNet, labelled "TriplaneNetv2[7]" in Table 1; PTI in rows 3 and 6 means three
rows per input, PTI last, two inputs: Ours, TriPlaneNet v2, PTI (``mesh_grid(items=2)``)."""
MESH_YAWS_DEG = (0.0, 45.0, 90.0, 180.0, -90.0)


def _pyplot():
    import matplotlib  # matplotlib loads only when this runs, not on CLI start-up

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # matplotlib loads only when this runs, not on CLI start-up

    return plt


def _read_image(path: Path) -> np.ndarray:
    with Image.open(path) as handle:
        return np.asarray(handle.convert("RGB").resize((THUMBNAIL, THUMBNAIL), Image.Resampling.BOX))


def _manifest(folder: Path) -> dict:
    return json.loads((folder / MANIFEST_FILE).read_text(encoding="utf-8"))


def _finish(figure, title: str, stand_in: bool) -> None:
    """Title, and the stand-in banner above it, over a figure whose axes sit below ``HEADER`` pixels."""
    height = figure.get_figheight() * figure.dpi
    if stand_in:
        figure.text(0.5, 1 - 3 / height, STAND_IN_BANNER, ha="center", va="top", color="white", fontsize=8,
                    bbox={"facecolor": "red", "edgecolor": "none", "pad": 2})
    # figure.text, not suptitle: tight_layout reserves extra room for a suptitle on top of its rect
    figure.text(0.5, 1 - _title_top(stand_in) / height, title, ha="center", va="top", fontsize=10)


def _title_top(stand_in: bool) -> int:
    return 24 if stand_in else 6


def _save(figure, path: Path) -> Path:
    with atomic_path(path) as temporary:
        figure.savefig(temporary, format="png", dpi=figure.dpi)
    _pyplot().close(figure)
    return path


@dataclass(frozen=True)
class GridLayout:
    """Pixel geometry of an :func:`image_grid` PNG: tiles are pasted unscaled, so tile (row, column) of
    the file holds exactly the image given for it."""

    rows: int
    columns: int
    stand_in: bool
    tile: int = THUMBNAIL
    gap: int = 4
    left: int = 40
    """Room for the rotated row labels."""
    margin: int = 8

    @property
    def top(self) -> int:
        """Banner, title and column titles above the first row."""
        return _title_top(self.stand_in) + 20 + 18

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) of the PNG in pixels."""
        return (self.left + self.columns * (self.tile + self.gap) - self.gap + self.margin,
                self.top + self.rows * (self.tile + self.gap) - self.gap + self.margin)

    def tile_origin(self, row: int, column: int) -> tuple[int, int]:
        """(y, x) of the top-left pixel of tile (row, column) in the PNG."""
        return self.top + row * (self.tile + self.gap), self.left + column * (self.tile + self.gap)


def image_grid(rows: Sequence[tuple[str, Sequence[np.ndarray]]], column_titles: Sequence[str], title: str,
               path: Path, stand_in: bool) -> Path:
    """Rows of [THUMBNAIL, THUMBNAIL, 3] uint8 images pasted pixel for pixel (:class:`GridLayout`), a label
    left of each row and titles above the columns."""
    from matplotlib.transforms import IdentityTransform  # matplotlib loads only when this runs, not on CLI start-up

    plt = _pyplot()
    layout = GridLayout(len(rows), max(len(images) for _, images in rows), stand_in)
    width, height = layout.size
    figure = plt.figure(figsize=(width / 100, height / 100), dpi=100)
    pixels = IdentityTransform()  # figure pixels, origin at the bottom left
    for row, (label, images) in enumerate(rows):
        for column, image in enumerate(images):
            y, x = layout.tile_origin(row, column)
            figure.figimage(np.asarray(image, dtype=np.uint8), xo=x, yo=height - y - layout.tile, origin="upper")
        y, _ = layout.tile_origin(row, 0)
        figure.text(layout.left / 2, height - y - layout.tile / 2, label, transform=pixels, rotation=90,
                    ha="center", va="center", fontsize=8, multialignment="center")
    for column, text in enumerate(column_titles[:layout.columns]):
        y, x = layout.tile_origin(0, column)
        figure.text(x + layout.tile / 2, height - y + 4, text, transform=pixels, ha="center", va="bottom", fontsize=8)
    _finish(figure, title, stand_in)
    return _save(figure, path)


def _novel_view_row(folder: Path, index: int) -> tuple[list[np.ndarray], list[str]] | None:
    """[input, reconstruction, figure views...] of item ``index`` of an inversion folder, and the titles."""
    manifest = _manifest(folder)
    if index >= len(manifest["figure_names"]):
        return None
    name = manifest["figure_names"][index]
    stem = item_stem(name)
    yaws = manifest["plan"]["figure_yaws_deg"]
    images = [_read_image(Path(manifest["dataset"]) / name), _read_image(folder / "same_view" / f"{stem}.png")]
    images += [_read_image(folder / "views" / stem / f"{figure_view_name(yaw)}.png") for yaw in yaws]
    return images, ["input", "reconstruction", *[f"yaw {yaw:+.0f}°" for yaw in yaws]]


def method_grid(inversions: Mapping[str, Path], methods: Sequence[tuple[str, str]], title: str, path: Path,
                items: int = 2) -> Path | None:
    """For each of the first ``items`` figure items, one row per method present (Fig. 5, 6, 7)."""
    present = [(method, label) for method, label in methods if method in inversions]
    rows, titles, stand_in = [], [], False
    for index in range(items):
        for method, label in present:
            row = _novel_view_row(inversions[method], index)
            if row is not None:
                rows.append((f"{label}\n#{index}", row[0]))
                titles = row[1]
                stand_in |= bool(_manifest(inversions[method])["stand_in"])
    return image_grid(rows, titles, title, path, stand_in) if rows else None


def mead_grid(inversions: Mapping[str, Path], path: Path, items: int = 2) -> Path | None:
    """Fig. 8: input (0°), reconstruction (0°), ground truth at ±60°, render at ±60° from the 0° inversion.

    For each of the first ``items`` figure items one row per method; item ``k`` is shown at ``left_60``
    when ``k`` is even and ``right_60`` when odd (the other side when a shot lacks it), so both sides appear.
    """

    present = [(method, label, inversions[method], _manifest(inversions[method]))
               for method, label in COMPARISON_METHODS if method in inversions]
    rows, stand_in = [], False
    for index in range(items):
        for method, label, folder, manifest in present:
            if index >= len(manifest["figure_names"]):
                continue
            dataset, name = Path(manifest["dataset"]), manifest["figure_names"][index]
            views = {pair["view"]: pair for pair in mead_pairs(list(read_labels(dataset))) if pair["input"] == name}
            sides = ("left_60", "right_60") if index % 2 == 0 else ("right_60", "left_60")
            pair = next((views[view] for view in sides if view in views), None)
            if pair is None:
                continue
            stem = item_stem(name)
            stand_in |= bool(manifest["stand_in"])
            rows.append((f"{label}\n#{index} {pair['view']}", [
                _read_image(dataset / name), _read_image(folder / "same_view" / f"{stem}.png"),
                _read_image(dataset / pair["target"]), _read_image(folder / "mead" / stem / f"{pair['view']}.png")]))
    titles = ["input (0°)", "reconstruction (0°)", "ground truth (±60°)", "render (±60°)"]
    return image_grid(rows, titles, "MEAD novel views (Fig. 8)", path, stand_in) if rows else None


def render_mesh(vertices: np.ndarray, faces: np.ndarray, yaw_deg: float, size: int = THUMBNAIL,
                radius: float = 2.7, focal: float = 4.2647) -> np.ndarray:
    """[size, size, 3] uint8 grey Lambert-shaded render of a mesh seen from a level camera at ``yaw_deg``.

    Painter's algorithm: faces projected by the dataset's pinhole camera (normalised focal 4.2647,
    looking at the origin from ``radius``), back faces culled, drawn far to near.
    """
    plt = _pyplot()
    from matplotlib.collections import PolyCollection  # matplotlib loads only when this runs, not on CLI start-up

    if len(faces) == 0:
        return _placeholder("no surface\nat σ = 10", size)

    yaw = math.radians(yaw_deg)
    eye = np.array([radius * math.sin(yaw), 0.0, radius * math.cos(yaw)])
    forward = -eye / np.linalg.norm(eye)
    right = np.cross(forward, [0.0, 1.0, 0.0])
    right /= np.linalg.norm(right)
    up = np.cross(right, forward)
    relative = vertices.astype(np.float64) - eye
    depth = relative @ forward
    screen = np.stack([relative @ right, relative @ up], axis=1) * (focal / np.maximum(depth, 1e-6))[:, None]
    triangles = vertices[faces]
    normals = np.cross(triangles[:, 1] - triangles[:, 0], triangles[:, 2] - triangles[:, 0])
    normals /= np.maximum(np.linalg.norm(normals, axis=1, keepdims=True), 1e-12)
    facing = (normals @ -forward) > 0
    shade = np.clip(normals @ (-forward * 0.8 + up * 0.4 + right * 0.2) / 0.916, 0.0, 1.0) * 0.75 + 0.2
    order = np.argsort(-depth[faces].mean(axis=1))
    order = order[facing[order]]
    figure = plt.figure(figsize=(1, 1), dpi=size)
    axis = figure.add_axes((0, 0, 1, 1))
    axis.set_xlim(-0.5, 0.5), axis.set_ylim(-0.5, 0.5), axis.axis("off")
    colors = np.repeat(shade[order, None], 3, axis=1)
    axis.add_collection(PolyCollection(screen[faces[order]], facecolors=colors, edgecolors=colors, linewidths=0.1))
    figure.canvas.draw()
    image = np.asarray(figure.canvas.buffer_rgba())[..., :3].copy()
    plt.close(figure)
    return image


def _placeholder(text: str, size: int) -> np.ndarray:
    """A light grey tile with ``text`` (an empty mesh: the density never crosses PanoHead's iso-level)."""
    plt = _pyplot()
    figure = plt.figure(figsize=(1, 1), dpi=size)
    figure.patch.set_facecolor("0.9")
    figure.text(0.5, 0.5, text, ha="center", va="center", fontsize=9)
    figure.canvas.draw()
    image = np.asarray(figure.canvas.buffer_rgba())[..., :3].copy()
    plt.close(figure)
    return image


def mesh_grid(inversions: Mapping[str, Path], path: Path, methods: Sequence[str] = MESH_METHODS,
              items: int = 2) -> Path | None:
    """Fig. 9: input, reconstruction and mesh renders around the head, one row per method for each input."""

    rows, stand_in = [], False
    labels = dict(COMPARISON_METHODS)
    for index in range(items):
        for method in methods:
            folder = inversions.get(method)
            if folder is None:
                continue
            manifest = _manifest(folder)
            if index >= len(manifest["figure_names"]):
                continue
            name = manifest["figure_names"][index]
            mesh_file = folder / "meshes" / f"{item_stem(name)}.ply"
            if not mesh_file.is_file():
                continue
            mesh = read_ply(mesh_file)
            stand_in |= bool(manifest["stand_in"])
            renders = [render_mesh(mesh.vertices, mesh.faces, yaw) for yaw in MESH_YAWS_DEG]
            rows.append((f"{labels.get(method, method)}\n#{index}", [
                _read_image(Path(manifest["dataset"]) / name),
                _read_image(folder / "same_view" / f"{item_stem(name)}.png"), *renders]))
    titles = ["input", "reconstruction", *[f"mesh {yaw:+.0f}°" for yaw in MESH_YAWS_DEG]]
    return image_grid(rows, titles, "360° mesh renders (Fig. 9)", path, stand_in) if rows else None


def read_loss_csv(paths: Sequence[Path]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """``{term: (steps, values)}`` from one run's CSV logs (segments concatenated; a repeated step keeps its last row)."""

    rows: dict[int, dict[str, float]] = {}
    for path in paths:
        with Path(path).open(newline="", encoding="utf-8") as handle:
            for row in csv.DictReader(handle):
                rows[int(float(row["step"]))] = {key: float(value) for key, value in row.items()
                                                 if key.startswith("loss_") and value not in ("", None)}
    curves: dict[str, tuple[list[int], list[float]]] = {}
    for step in sorted(rows):
        for term, value in rows[step].items():
            curves.setdefault(term, ([], []))
            curves[term][0].append(step)
            curves[term][1].append(value)
    return {term: (np.asarray(steps), np.asarray(values)) for term, (steps, values) in sorted(curves.items())}


TOTAL_LOSS_TERMS = ("loss_encoder", "loss_discriminator", "loss_f_encoder", "loss_w_discriminator")
"""The per-update totals of a training log, drawn bold; every other ``loss_*`` column is one of their terms."""


def drawn_loss_terms(curves: Mapping[str, tuple[np.ndarray, np.ndarray]]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """The terms :func:`loss_curves` draws: a term that stays zero is left out, and a lazily applied one
    (R1 every ``r1_interval`` steps, logged as 0 in between) keeps only the steps it was applied at."""
    return {term: (steps[values != 0], values[values != 0]) for term, (steps, values) in curves.items()
            if np.any(values != 0)}


def loss_curves(logs: Mapping[str, Sequence[Path]], path: Path, stand_in: bool = False) -> Path | None:
    """One panel per training run: every ``loss_*`` term against the step, totals bold, terms that stay
    zero left out (e.g. ``adv`` of a run without a discriminator) and a lazily applied term (R1 every
    ``r1_interval`` steps) drawn at the steps it was applied; log scale when all are positive; the legend
    beside the panel, so it never hides a curve."""
    runs = {name: read_loss_csv(files) for name, files in logs.items() if files}
    runs = {name: drawn_loss_terms(curves) for name, curves in runs.items()}
    runs = {name: curves for name, curves in runs.items() if curves}
    if not runs:
        return None
    plt = _pyplot()
    columns = min(2, len(runs))
    rows = math.ceil(len(runs) / columns)
    longest = max(len(curves) for curves in runs.values())
    figure, axes = plt.subplots(rows, columns, figsize=(6.6 * columns, max(2.4, 0.13 * longest + 0.8) * rows + 0.5),
                                squeeze=False)
    for axis, (name, curves) in zip(axes.flat, runs.items()):
        for term, (steps, values) in curves.items():
            total = term in TOTAL_LOSS_TERMS
            axis.plot(steps, values, label=term.removeprefix("loss_"), linewidth=2.2 if total else 0.9,
                      zorder=3 if total else 2)
        if all((values > 0).all() for _, values in curves.values()):
            axis.set_yscale("log")
        axis.set_title(name, fontsize=9), axis.set_xlabel("step", fontsize=8)
        axis.tick_params(labelsize=7)
        axis.legend(fontsize=6, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0, frameon=False,
                    ncol=2 if len(curves) > 12 else 1)
        axis.xaxis.get_major_locator().set_params(integer=True)
    for axis in list(axes.flat)[len(runs):]:
        axis.axis("off")
    _finish(figure, "Training losses (totals bold)", stand_in)
    figure.tight_layout(rect=(0, 0, 1, 1 - (_title_top(stand_in) + 22) / (figure.get_figheight() * figure.dpi)))
    return _save(figure, path)


def gt360_curves(results: Sequence, path: Path) -> Path:
    """``table_gt360``'s plot: one panel per metric, each method's mean against the yaw with its 95%
    interval shaded (up to six methods); the input view (0°) dashed, the far side (|yaw| ≥ 120°) grey; errors on a log scale.
    The 180° value is drawn at both ends, so the curve closes around the head. ``results``: :class:`dualinv.eval.gt360.Gt360Result`."""
    plt = _pyplot()
    metrics = [metric for metric in GT360_METRICS if any(result.summary.get(metric) for result in results)]
    columns = 2
    rows = math.ceil(len(metrics) / columns)
    stand_in = any(result.stand_in for result in results)
    figure, axes = plt.subplots(rows, columns, figsize=(11.0, 3.1 * rows + 0.9), squeeze=False)
    colours = plt.get_cmap("tab20" if len(results) > 10 else "tab10")
    for axis, metric in zip(axes.flat, metrics):
        axis.axvspan(-180, -120, color="0.92", zorder=0), axis.axvspan(120, 180, color="0.92", zorder=0)
        axis.axvline(0, color="0.4", linestyle="--", linewidth=0.8, zorder=1)
        for index, result in enumerate(results):
            points = sorted((yaw, result.value(metric, yaw)) for yaw in result.yaws
                            if result.value(metric, yaw) is not None)
            points += [(-180.0, value) for yaw, value in points if yaw == 180.0]
            points.sort(key=lambda point: point[0])
            if not points:
                continue
            yaws = np.array([yaw for yaw, _ in points])
            means = np.array([value.value for _, value in points])
            colour = colours(index % colours.N)
            axis.plot(yaws, means, marker="o", markersize=3, color=colour, label=result.method,
                      linewidth=2.4 if result.method == "dual" else 1.2, zorder=3 if result.method == "dual" else 2)
            if len(results) <= 6 and all(value.ci95 for _, value in points):  # more bands hide the lines
                axis.fill_between(yaws, [value.ci95[0] for _, value in points], [value.ci95[1] for _, value in points],
                                  color=colour, alpha=0.12, linewidth=0)
        drawn = [value for line in axis.get_lines()[1:] for value in line.get_ydata()]
        if metric != "id" and drawn and min(drawn) > 0:
            axis.set_yscale("log")  # errors spanning decades (an untrained method beside trained ones)
        axis.set_title(METRIC_NAMES[metric], fontsize=9)
        axis.set_xlim(-180, 180), axis.set_xticks(range(-180, 181, 60))
        axis.set_xlabel("yaw (°; 0 = input view, grey = far side)", fontsize=8)
        axis.tick_params(labelsize=7)
    for axis in list(axes.flat)[len(metrics):]:
        axis.axis("off")
    handles, labels = axes.flat[0].get_legend_handles_labels()
    figure.legend(handles, labels, loc="center right", fontsize=7, frameon=False)
    _finish(figure, "Ground-truth 360°: error against yaw (front view inverted)", stand_in)
    figure.tight_layout(rect=(0, 0, 0.86, 1 - (_title_top(stand_in) + 22) / (figure.get_figheight() * figure.dpi)))
    return _save(figure, Path(path))


def _pick(inversions: Mapping[str, Mapping[str, Path]], test_sets: Sequence[str]) -> dict[str, Path]:
    """For each method, its folder on the first of ``test_sets`` it has."""
    chosen = {}
    for method, folders in inversions.items():
        for test_set in test_sets:
            if test_set in folders:
                chosen[method] = Path(folders[test_set])
                break
    return chosen


def write_figures(inversions: Mapping[str, Mapping[str, Path]], output: str | Path,
                  loss_logs: Mapping[str, Sequence[Path]] | None = None, *, loss_stand_in: bool = False) -> list[Path]:
    """Every figure the inversions allow (``{method: {test set: folder}}``); returns the files written."""
    output = Path(output)
    output.mkdir(parents=True, exist_ok=True)
    same_view = _pick(inversions, ("val", "celebahq"))
    mead = _pick(inversions, ("mead",))
    made = [
        method_grid(same_view, DUAL_METHODS, "Encoder 1, Encoder 2 and Dual (Fig. 5)", output / "fig5_dual_encoder.png"),
        method_grid(same_view, COMPARISON_METHODS, "Ours and competing methods (Fig. 6)", output / "fig6_comparison.png"),
        method_grid(same_view, DISCRIMINATOR_METHODS, "Ablation on the discriminator (Fig. 7)",
                    output / "fig7_discriminator.png"),
        mead_grid(mead, output / "fig8_mead.png"),
        mesh_grid(same_view, output / "fig9_meshes.png"),
        loss_curves(loss_logs or {}, output / "loss_curves.png", loss_stand_in),
    ]
    return [path for path in made if path is not None]


def training_logs(results: str | Path) -> dict[str, list[Path]]:
    """``{experiment: [CSV logs of its segments]}`` under ``<results>/models/<experiment>/`` (``*.losses.csv``)."""
    models = Path(results) / "models"
    if not models.is_dir():
        return {}
    return {folder.name: sorted(folder.rglob("*.losses.csv")) for folder in sorted(models.iterdir()) if folder.is_dir()}


def make_figures(config, inversions: Mapping[str, Mapping[str, Path]], output: Path,
                 loss_logs: Mapping[str, Sequence[Path]] | None = None) -> list[Path]:
    """Workflow entry point (rule ``make_figures``): every figure into the folder ``output``. ``loss_logs``
    are the training logs the rule declares as inputs (``None``: those found under the results folder)."""
    stand_in = config.generator.network is None and (config.generator.preset != "released" or config.weights.panohead is None)
    logs = training_logs(config.output.results) if loss_logs is None else loss_logs
    return write_figures(inversions, output, logs, loss_stand_in=stand_in)
