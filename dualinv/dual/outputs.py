"""Everything a user gets for one inverted (or edited) head, in one folder with an ``index.html``.

Files in ``directory`` (all written atomically, ``index.html`` and ``outputs.json`` last so a folder
that has them is complete):

* ``input.png``: the aligned input crop the encoders saw (when given),
* ``reconstruction.png``: the head rendered at the input camera (paper Fig. 1/12, second column),
* ``depth.png``: that render's depth (expected ray distance, colour-mapped: near warm, far cool),
* ``turntable/``: 360° orbit (``turntable.gif``, ``turntable.mp4``, ``frames/``, ``depth/``,
  contact sheets; :func:`dualinv.views.write_turntable`),
* ``mesh.ply`` and ``mesh.obj``: marching cubes of the density with vertex colours (paper Fig. 9;
  skipped with ``HeadOutputOptions(mesh=False)``),
* extra panels the caller adds (occlusion mask, part masks, ...),
* ``outputs.json``: the file list, mesh iso-level and provenance; ``index.html``: all of it.

Mesh iso-level: PanoHead's σ = 10 (§4.5). Seeded stand-in generators have a faint density field
(raw σ below 1) that never reaches 10; with ``mesh_iso_level="auto"`` the level then falls back to
the 90th percentile of σ inside the border, so a newcomer still sees a mesh; the level used is
recorded in ``outputs.json`` and shown on the page.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Sequence

import numpy as np
import torch
from tqdm import tqdm

from dualinv.camera import orbit_cameras
from dualinv.errors import ConfigError
from dualinv.fileio import save_image, write_json_atomic
from dualinv.mesh import PANOHEAD_ISO_LEVEL, color_mesh, density_grid, mesh_from_grid, write_obj, write_ply
from dualinv.report_html import Section, Tile, write_index_html
from dualinv.seeding import make_generator
from dualinv.views import colorize_depth, depth_range, render_turntable, trigrid_fields, write_png, write_turntable

STAND_IN_BANNER = ("STAND-IN NETWORKS: no encoder checkpoints (and/or no generator) were given, so these "
                   "outputs come from untrained seeded encoders (and the demo generator's procedural heads). "
                   "They show the whole path, not a reconstruction of this photo.")
FALLBACK_PERCENTILE = 90.0
"""Percentile of σ used as the mesh level when the field never reaches PanoHead's level."""


@dataclass(frozen=True)
class HeadCode:
    """An inverted head: what renders it from any camera."""

    trigrid: torch.Tensor
    """[1, 3, C·D, H, W] tri-grid (stitched, for a dual inversion)."""
    ws: torch.Tensor
    """[1, num_ws, w_dim] codes driving background, raw ToRGB and super-resolution."""
    camera: torch.Tensor
    """[1, 25] the input photo's camera."""


@dataclass(frozen=True)
class HeadOutputOptions:
    """What to render and how much."""

    frames: int = 36
    """Turntable frames over 360°."""
    fps: float = 24.0
    """Turntable GIF/MP4 frame rate."""
    mesh: bool = True
    """Extract ``mesh.ply``/``mesh.obj`` (``--no-mesh``: skip the marching cubes)."""
    mesh_resolution: int = 64
    """Marching-cubes grid per side (PanoHead's script uses 512; 64 is seconds on a CPU)."""
    mesh_iso_level: float | Literal["auto"] = "auto"
    """σ level of the surface; ``auto``: 10 (PanoHead) if reached, else the fallback (module doc)."""
    seed: int = 0
    """Seed of the renderer's sample jitter."""
    progress: bool = True
    """tqdm bars on stderr: the turntable frames and the mesh of every head (and the photos of a batch)."""

    def __post_init__(self) -> None:
        for flag, value, fine in (("--frames", self.frames, self.frames >= 1), ("fps", self.fps, self.fps > 0),
                                  ("--mesh-resolution", self.mesh_resolution, self.mesh_resolution >= 8)):
            if not fine:
                raise ConfigError(f"{flag} {value}: must be {'at least 8' if 'mesh' in flag else 'positive'}")


@dataclass(frozen=True)
class Panel:
    """An extra image written beside the standard outputs and shown on the page."""

    name: str
    """File name (``.png``) in the output folder."""
    caption: str
    image: np.ndarray | None = None
    """[H, W, 3] or [H, W] uint8 (bool is scaled to 0/255); None: the file is already written."""


@dataclass(frozen=True)
class HeadReport:
    """What the page says besides the images."""

    title: str
    stand_in: bool = False
    """True when any network has seeded random weights: a banner says so."""
    notes: Sequence[str] = ()
    provenance: dict = field(default_factory=dict)
    """Networks, photo, camera, timings: copied into ``outputs.json``."""


def choose_iso_level(grid: np.ndarray, requested: float | Literal["auto"], border: int) -> float:
    """The σ level the mesh is cut at (see the module doc)."""

    if requested != "auto":
        return float(requested)
    if grid.max() > PANOHEAD_ISO_LEVEL:
        return PANOHEAD_ISO_LEVEL
    inner = grid[border:-border, border:-border, border:-border] if border > 0 else grid
    return float(np.percentile(inner, FALLBACK_PERCENTILE))


def head_mesh(generator: torch.nn.Module, trigrid: torch.Tensor, ws: torch.Tensor, resolution: int,
              iso_level: float | Literal["auto"], color: bool = True):
    """Marching cubes of one head's density at ``iso_level`` (see the module doc), vertex-coloured when
    ``color``; returns ``(mesh, level used)``."""

    density, color_field = trigrid_fields(generator, trigrid, ws)
    border = int(30 * resolution / 256)
    grid = density_grid(lambda points: density(points).reshape(-1), resolution, device=trigrid.device,
                        border_voxels=border)
    level = choose_iso_level(grid, iso_level, border)
    mesh = mesh_from_grid(grid, iso_level=level)
    return (color_mesh(mesh, color_field, device=trigrid.device) if color else mesh), level


def write_mesh_files(directory: Path, generator: torch.nn.Module, head: HeadCode, options: HeadOutputOptions
                     ) -> tuple[dict[str, Path], float, int]:
    """``mesh.ply`` and ``mesh.obj`` with vertex colours; returns (files, iso-level, face count)."""

    mesh, level = head_mesh(generator, head.trigrid, head.ws, options.mesh_resolution, options.mesh_iso_level)
    files = {"mesh_ply": directory / "mesh.ply", "mesh_obj": directory / "mesh.obj"}
    write_ply(files["mesh_ply"], mesh)
    write_obj(files["mesh_obj"], mesh)
    return files, level, len(mesh.faces)


@torch.no_grad()
def write_head_outputs(directory: str | Path, generator: torch.nn.Module, head: HeadCode, report: HeadReport, *,
                       input_image: torch.Tensor | None = None, panels: Sequence[Panel] = (),
                       options: HeadOutputOptions = HeadOutputOptions()) -> dict[str, Path]:
    """Write the files of the module doc for ``head``; ``input_image`` is [3, H, W] in [−1, 1]."""

    directory = Path(directory)
    device = head.trigrid.device
    files: dict[str, Path] = {}
    if input_image is not None:
        files["input"] = directory / "input.png"
        save_image(files["input"], input_image.clamp(-1, 1))
    same_view = generator.render_trigrid(head.trigrid, head.ws, head.camera.to(device),
                                         generator=make_generator(options.seed, device), noise_mode="const")
    files["reconstruction"] = directory / "reconstruction.png"
    save_image(files["reconstruction"], same_view["image"][0].clamp(-1, 1))
    depth, opacity = same_view["image_depth"].cpu(), same_view["image_mask"].cpu()
    near, far = depth_range(depth, opacity)
    files["depth"] = directory / "depth.png"
    foreground = opacity[0] if bool((opacity >= 0.5).any()) else None  # a faint stand-in head: show all depths
    write_png(files["depth"], colorize_depth(depth[0], near=near, far=far, mask=foreground))
    with tqdm(total=options.frames, desc=f"turntable {directory.name}", unit="frame", leave=False,
              disable=not options.progress) as bar:
        frames = render_turntable(generator, head.trigrid, head.ws, orbit_cameras(options.frames, device=device),
                                  rng=make_generator(options.seed, device), on_frames=bar.update)
    turntable = write_turntable(directory / "turntable", frames, fps=options.fps)
    files.update({f"turntable_{key}": path for key, path in turntable.items()})
    level = faces = None
    if options.mesh:
        with tqdm(total=1, desc=f"mesh {directory.name} ({options.mesh_resolution}³ grid)", unit="mesh", leave=False,
                  disable=not options.progress) as bar:
            mesh_files, level, faces = write_mesh_files(directory, generator, head, options)
            bar.update()
        files.update(mesh_files)
    for panel in panels:
        files[Path(panel.name).stem] = directory / panel.name
        if panel.image is not None:
            image = panel.image.astype(np.uint8) * 255 if panel.image.dtype == bool else panel.image
            write_png(directory / panel.name, np.repeat(image[..., None], 3, axis=2) if image.ndim == 2 else image)
    relative = {key: path.relative_to(directory).as_posix() for key, path in files.items()}
    write_json_atomic(directory / "outputs.json", {
        "title": report.title, "stand_in": report.stand_in, "files": relative, "mesh_iso_level": level,
        "mesh_faces": faces, "turntable_frames": options.frames, **report.provenance})
    files["index"] = write_index_html(directory / "index.html", report.title, _sections(relative, panels, level, faces),
                                      banner=STAND_IN_BANNER if report.stand_in else None, notes=report.notes)
    return files


def _sections(relative: dict[str, str], panels: Sequence[Panel], level: float | None, faces: int | None
              ) -> list[Section]:
    head_tiles = [Tile("aligned input", relative["input"])] if "input" in relative else []
    head_tiles += [Tile("same-view reconstruction", relative["reconstruction"]),
                   Tile("depth at the input view (near warm, far cool)", relative["depth"])]
    head_tiles += [Tile(panel.caption, relative[Path(panel.name).stem]) for panel in panels]
    sections = [
        Section("Input and reconstruction", head_tiles),
        Section("360° turntable", [Tile("turntable (GIF)", relative["turntable_gif"]),
                                   Tile("turntable (MP4)", relative["turntable_mp4"], "video"),
                                   Tile("all frames", relative["turntable_sheet"]),
                                   Tile("depth of all frames", relative["turntable_depth_sheet"])]),
    ]
    if level is not None:
        sections.append(Section(f"Mesh ({faces} triangles, σ level {level:.3g})",
                                [Tile("mesh with vertex colours (PLY)", relative["mesh_ply"], "link"),
                                 Tile("mesh with vertex colours (OBJ)", relative["mesh_obj"], "link")]))
    return sections
