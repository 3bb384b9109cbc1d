"""Meshes from density fields: marching cubes over a cube, vertex colours, PLY/OBJ writers.

Works with any density function ``points [N,3] → sigma [N]`` (a generated or a stitched tri-grid
alike). PanoHead's shape extraction (specs/panohead.md §4.5) samples the raw density σ on a grid
spanning the tri-grid cube [−0.5, 0.5]³, sets a border of the grid to −1000 so the surface closes,
and takes the iso-surface σ = 10; those are the defaults here. Vertices are in world coordinates
(y up, the face towards +z).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from dualinv.fileio import atomic_path

DensityFunction = Callable[[torch.Tensor], torch.Tensor]
"""``points [N,3]`` float32 (world) → raw density ``[N]`` (or ``[N,1]``)."""
ColorFunction = Callable[[torch.Tensor], torch.Tensor]
"""``points [N,3]`` → colours ``[N,3]`` in [−1, 1] (the library's image convention)."""

PANOHEAD_ISO_LEVEL = 10.0
"""Iso-level of raw σ used by PanoHead's ``gen_samples.py`` (§4.5)."""
BORDER_VALUE = -1000.0


@dataclass(frozen=True)
class Mesh:
    """A triangle mesh with optional per-vertex colours."""

    vertices: np.ndarray
    """[V,3] float32 world coordinates."""
    faces: np.ndarray
    """[F,3] int64 vertex indices, counter-clockwise seen from outside."""
    vertex_colors: np.ndarray | None = None
    """[V,3] uint8 RGB, or None."""

    @property
    def is_empty(self) -> bool:
        return len(self.faces) == 0


def grid_points(resolution: int, bound: float = 0.5) -> torch.Tensor:
    """[R³,3] points of a regular grid over [−bound, bound]³, x slowest, z fastest (``indexing='ij'``)."""
    axis = torch.linspace(-bound, bound, resolution)
    x, y, z = torch.meshgrid(axis, axis, axis, indexing="ij")
    return torch.stack([x, y, z], dim=-1).reshape(-1, 3)


@torch.no_grad()
def evaluate_in_chunks(function: Callable[[torch.Tensor], torch.Tensor], points: torch.Tensor,
                       chunk_size: int = 65536, device: str | torch.device = "cpu") -> torch.Tensor:
    """Apply ``function`` to ``points`` in chunks (bounded memory); results on the CPU, concatenated."""
    outputs = [function(points[start:start + chunk_size].to(device)).detach().float().cpu()
               for start in range(0, points.shape[0], chunk_size)]
    return torch.cat(outputs, dim=0)


def density_grid(density: DensityFunction, resolution: int, *, bound: float = 0.5, chunk_size: int = 65536,
                 device: str | torch.device = "cpu", border_voxels: int | None = None) -> np.ndarray:
    """[R,R,R] raw density indexed [x, y, z]; the outer ``border_voxels`` (default 30·R/256) set to −1000."""
    values = evaluate_in_chunks(density, grid_points(resolution, bound), chunk_size, device)
    grid = values.reshape(resolution, resolution, resolution).numpy().astype(np.float32)
    border = int(30 * resolution / 256) if border_voxels is None else border_voxels
    if border > 0:
        for axis in range(3):
            index = [slice(None)] * 3
            index[axis] = slice(0, border)
            grid[tuple(index)] = BORDER_VALUE
            index[axis] = slice(resolution - border, resolution)
            grid[tuple(index)] = BORDER_VALUE
    return grid


def colors_to_uint8(colors: torch.Tensor) -> np.ndarray:
    """[N,3] colours in [−1, 1] → uint8 with the official rounding (x·127.5 + 128, clamped)."""
    return (colors.float() * 127.5 + 128).clamp(0, 255).to(torch.uint8).numpy()


def mesh_from_grid(grid: np.ndarray, *, bound: float = 0.5, iso_level: float = PANOHEAD_ISO_LEVEL) -> Mesh:
    """Marching cubes of the iso-surface ``grid = iso_level``, in world coordinates; empty if never crossed.

    The faces are oriented so that normals point from high density (inside) to low (outside).
    """
    from skimage.measure import marching_cubes  # scikit-image loads only when this runs, not on CLI start-up

    if not (grid.min() < iso_level < grid.max()):
        return Mesh(np.zeros((0, 3), np.float32), np.zeros((0, 3), np.int64))
    resolution = grid.shape[0]
    spacing = 2 * bound / (resolution - 1)
    vertices, faces, _, _ = marching_cubes(grid, level=iso_level, spacing=(spacing,) * 3)
    outward_faces = faces[:, ::-1]  # skimage winds them facing higher values, i.e. inwards for a density
    return Mesh((vertices - bound).astype(np.float32), np.ascontiguousarray(outward_faces, dtype=np.int64))


def extract_mesh(density: DensityFunction, *, resolution: int = 64, bound: float = 0.5,
                 iso_level: float = PANOHEAD_ISO_LEVEL, color: ColorFunction | None = None,
                 chunk_size: int = 65536, device: str | torch.device = "cpu",
                 border_voxels: int | None = None) -> Mesh:
    """Marching cubes of ``density`` over [−bound, bound]³ (§4.5), coloured by ``color`` at each vertex."""
    if resolution < 2:
        raise ValueError(f"mesh grid resolution must be at least 2, got {resolution}")
    grid = density_grid(lambda points: density(points).reshape(-1), resolution, bound=bound,
                        chunk_size=chunk_size, device=device, border_voxels=border_voxels)
    mesh = mesh_from_grid(grid, bound=bound, iso_level=iso_level)
    return mesh if color is None else color_mesh(mesh, color, chunk_size=chunk_size, device=device)


def color_mesh(mesh: Mesh, color: ColorFunction, *, chunk_size: int = 65536,
               device: str | torch.device = "cpu") -> Mesh:
    """``mesh`` with per-vertex colours ``color(vertices)`` (unchanged if it has no vertices)."""
    if mesh.is_empty:
        return mesh
    vertex_colors = evaluate_in_chunks(color, torch.from_numpy(mesh.vertices), chunk_size, device)
    return Mesh(mesh.vertices, mesh.faces, colors_to_uint8(vertex_colors.reshape(-1, 3)))


def write_ply(path: str | Path, mesh: Mesh) -> None:
    """Binary little-endian PLY with float xyz, optional uchar red/green/blue, and triangle faces; atomic."""
    has_colors = mesh.vertex_colors is not None
    header = ["ply", "format binary_little_endian 1.0", "comment written by dualinv",
              f"element vertex {len(mesh.vertices)}", "property float x", "property float y", "property float z"]
    if has_colors:
        header += ["property uchar red", "property uchar green", "property uchar blue"]
    header += [f"element face {len(mesh.faces)}", "property list uchar int vertex_indices", "end_header"]
    vertex_fields = [("xyz", "<f4", (3,))] + ([("rgb", "u1", (3,))] if has_colors else [])
    vertices = np.zeros(len(mesh.vertices), dtype=vertex_fields)
    vertices["xyz"] = mesh.vertices
    if has_colors:
        vertices["rgb"] = mesh.vertex_colors
    faces = np.zeros(len(mesh.faces), dtype=[("count", "u1"), ("indices", "<i4", (3,))])
    faces["count"] = 3
    faces["indices"] = mesh.faces
    with atomic_path(path) as temporary:
        with open(temporary, "wb") as handle:
            handle.write(("\n".join(header) + "\n").encode("ascii"))
            handle.write(vertices.tobytes())
            handle.write(faces.tobytes())


def write_obj(path: str | Path, mesh: Mesh) -> None:
    """Wavefront OBJ; vertex colours (if any) as the common ``v x y z r g b`` extension in [0, 1]; atomic."""
    lines = ["# written by dualinv"]
    if mesh.vertex_colors is not None:
        colors = mesh.vertex_colors.astype(np.float32) / 255.0
        lines += [f"v {x:.6f} {y:.6f} {z:.6f} {r:.4f} {g:.4f} {b:.4f}"
                  for (x, y, z), (r, g, b) in zip(mesh.vertices, colors)]
    else:
        lines += [f"v {x:.6f} {y:.6f} {z:.6f}" for x, y, z in mesh.vertices]
    lines += [f"f {a + 1} {b + 1} {c + 1}" for a, b, c in mesh.faces]
    with atomic_path(path) as temporary:
        temporary.write_text("\n".join(lines) + "\n", encoding="ascii")


def read_ply(path: str | Path) -> Mesh:
    """Read back a PLY written by :func:`write_ply` (used by tests and by tools that post-process meshes)."""
    data = Path(path).read_bytes()
    end = data.index(b"end_header\n") + len(b"end_header\n")
    header = data[:end].decode("ascii").splitlines()
    if header[:2] != ["ply", "format binary_little_endian 1.0"]:
        raise ValueError(f"{path}: not a binary little-endian PLY")
    counts = {line.split()[1]: int(line.split()[2]) for line in header if line.startswith("element")}
    has_colors = "property uchar red" in header
    vertex_fields = [("xyz", "<f4", (3,))] + ([("rgb", "u1", (3,))] if has_colors else [])
    vertices = np.frombuffer(data, dtype=vertex_fields, count=counts["vertex"], offset=end)
    face_offset = end + vertices.nbytes
    faces = np.frombuffer(data, dtype=[("count", "u1"), ("indices", "<i4", (3,))], count=counts["face"],
                          offset=face_offset)
    if face_offset + faces.nbytes != len(data) or np.any(faces["count"] != 3):
        raise ValueError(f"{path}: PLY body does not match its header")
    return Mesh(vertices["xyz"].copy(), faces["indices"].astype(np.int64),
                vertices["rgb"].copy() if has_colors else None)

