"""Marching cubes and mesh writers against analytic shapes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from dualinv.mesh import Mesh, density_grid, extract_mesh, mesh_from_grid, read_ply, write_obj, write_ply


def triangle_mesh_problems(mesh: Mesh) -> list[str]:
    """Why ``mesh`` is not a valid (closed or open) coloured triangle mesh; empty when it is.

    Valid: at least one face, three vertex indices per face, all in range, three distinct corners
    per face (no degenerate triangle), no face listed twice, every undirected edge in at most two
    faces (edge-manifold), finite vertices and one uint8 RGB colour per vertex. Used on the meshes
    the outputs write (tests/dual).
    """
    vertices, faces, problems = np.asarray(mesh.vertices), np.asarray(mesh.faces), []
    if faces.ndim != 2 or faces.shape[1:] != (3,) or len(faces) == 0:
        return [f"faces must be a non-empty [F, 3] array, got shape {faces.shape}"]
    if faces.min() < 0 or faces.max() >= len(vertices):
        problems.append(f"indices span [{faces.min()}, {faces.max()}], outside [0, {len(vertices) - 1}]")
    degenerate = (faces[:, 0] == faces[:, 1]) | (faces[:, 1] == faces[:, 2]) | (faces[:, 2] == faces[:, 0])
    if degenerate.any():
        problems.append(f"{int(degenerate.sum())} degenerate face(s) repeat a corner, e.g. {faces[degenerate][0]}")
    if len(np.unique(np.sort(faces, axis=1), axis=0)) != len(faces):
        problems.append("a face is listed twice")
    edges = np.sort(faces[:, [[0, 1], [1, 2], [2, 0]]].reshape(-1, 2), axis=1)
    shared, counts = np.unique(edges, axis=0, return_counts=True)
    if (counts > 2).any():
        problems.append(f"{int((counts > 2).sum())} edge(s) in more than two faces, e.g. {shared[counts > 2][0]}")
    if not np.isfinite(vertices).all():
        problems.append("non-finite vertex coordinates")
    colors = mesh.vertex_colors
    if colors is None or colors.shape != (len(vertices), 3) or colors.dtype != np.uint8:
        problems.append("no uint8 RGB colour per vertex" if colors is None else
                        f"colours {colors.dtype} {colors.shape} != uint8 ({len(vertices)}, 3)")
    return problems


def sphere_density(radius: float, center: tuple[float, float, float] = (0.0, 0.0, 0.0)):
    """σ = 10 + 100·(radius − |p − center|): the iso-level 10 is the sphere of that radius."""
    center_tensor = torch.tensor(center)
    return lambda points: 10 + 100 * (radius - (points - center_tensor).norm(dim=-1))


def position_color(points: torch.Tensor) -> torch.Tensor:
    """Colour = position scaled to [−1, 1], so every vertex's colour is predictable."""
    return (points * 2).clamp(-1, 1)


@pytest.mark.parametrize("radius, center", [(0.3, (0.0, 0.0, 0.0)), (0.2, (0.1, -0.05, 0.08))])
def test_sphere_vertices_lie_at_the_radius(radius: float, center: tuple) -> None:
    mesh = extract_mesh(sphere_density(radius, center), resolution=48)
    distances = np.linalg.norm(mesh.vertices - np.array(center, dtype=np.float32), axis=1)
    spacing = 1.0 / 47
    assert len(mesh.faces) > 100
    assert np.abs(distances - radius).max() < 0.05 * spacing  # a linear field is interpolated exactly
    assert mesh.vertices.mean(axis=0) == pytest.approx(center, abs=spacing)
    # Closed surface: Euler characteristic 2, each edge shared by two faces.
    edges = np.sort(mesh.faces[:, [[0, 1], [1, 2], [2, 0]]].reshape(-1, 2), axis=1)
    _, counts = np.unique(edges, axis=0, return_counts=True)
    assert np.all(counts == 2)
    assert len(mesh.vertices) - len(counts) + len(mesh.faces) == 2


def test_faces_point_outwards() -> None:
    mesh = extract_mesh(sphere_density(0.3), resolution=32)
    corners = mesh.vertices[mesh.faces]
    normals = np.cross(corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0])
    assert np.all(np.sum(normals * corners.mean(axis=1), axis=1) > 0)


def test_border_closes_a_field_that_fills_the_cube() -> None:
    mesh = extract_mesh(lambda points: torch.full((points.shape[0],), 50.0), resolution=32)
    extent = np.abs(mesh.vertices).max()
    assert 0.5 - 4 / 31 < extent < 0.5  # the border of 30·32/256 = 3 voxels is outside the surface
    assert extract_mesh(lambda points: torch.zeros(points.shape[0]), resolution=16).is_empty


def test_vertex_colours_follow_the_colour_function() -> None:
    mesh = extract_mesh(sphere_density(0.3), resolution=24, color=position_color)
    expected = np.clip(mesh.vertices * 2 * 127.5 + 128, 0, 255).astype(np.uint8)
    assert mesh.vertex_colors is not None and np.abs(mesh.vertex_colors.astype(int) - expected).max() <= 1


def test_ply_round_trip(tmp_path: Path) -> None:
    mesh = extract_mesh(sphere_density(0.25), resolution=20, color=position_color)
    write_ply(tmp_path / "mesh.ply", mesh)
    header = (tmp_path / "mesh.ply").read_bytes().split(b"end_header\n")[0].decode()
    assert f"element vertex {len(mesh.vertices)}" in header and f"element face {len(mesh.faces)}" in header
    assert "property uchar red" in header
    loaded = read_ply(tmp_path / "mesh.ply")
    assert np.array_equal(loaded.vertices, mesh.vertices) and np.array_equal(loaded.faces, mesh.faces)
    assert np.array_equal(loaded.vertex_colors, mesh.vertex_colors)
    assert loaded.faces.max() < len(loaded.vertices)
    write_ply(tmp_path / "plain.ply", Mesh(mesh.vertices, mesh.faces))
    assert read_ply(tmp_path / "plain.ply").vertex_colors is None
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temporary left behind


def test_obj_lists_every_vertex_and_face(tmp_path: Path) -> None:
    mesh = extract_mesh(sphere_density(0.25), resolution=16, color=position_color)
    write_obj(tmp_path / "mesh.obj", mesh)
    lines = (tmp_path / "mesh.obj").read_text().splitlines()
    vertices = [line.split() for line in lines if line.startswith("v ")]
    faces = [line.split() for line in lines if line.startswith("f ")]
    assert len(vertices) == len(mesh.vertices) and all(len(v) == 7 for v in vertices)
    assert len(faces) == len(mesh.faces)
    assert [int(i) for i in faces[0][1:]] == list(mesh.faces[0] + 1)


def test_the_validity_check_finds_each_kind_of_broken_mesh() -> None:
    vertices = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 1, 1]], np.float32)
    colors = np.zeros((5, 3), np.uint8)
    fan = np.array([[0, 1, 2], [0, 2, 3], [0, 3, 1]])  # open: three triangles around vertex 0
    assert triangle_mesh_problems(Mesh(vertices, fan, colors)) == []
    cases = {
        "outside [0, 4]": Mesh(vertices, np.array([[0, 1, 5]]), colors),
        "degenerate": Mesh(vertices, np.array([[0, 1, 2], [3, 4, 3]]), colors),
        "listed twice": Mesh(vertices, np.array([[0, 1, 2], [2, 0, 1]]), colors),
        "more than two faces": Mesh(vertices, np.array([[0, 1, 2], [1, 0, 3], [0, 1, 4]]), colors),
        "no uint8 RGB colour": Mesh(vertices, fan),
        "colours float32": Mesh(vertices, fan, colors.astype(np.float32)),
        "non-empty [F, 3]": Mesh(vertices, np.zeros((0, 3), np.int64), colors),
    }
    for expected, mesh in cases.items():
        problems = triangle_mesh_problems(mesh)
        assert len(problems) == 1 and expected in problems[0], (expected, problems)


def test_extracted_meshes_are_valid_closed_or_open() -> None:
    closed = extract_mesh(sphere_density(0.3), resolution=24, color=position_color)
    assert triangle_mesh_problems(closed) == []
    # A sphere cut by the cube's faces, without the border that closes it: an open mesh.
    opened = mesh_from_grid(density_grid(sphere_density(0.6), resolution=24, border_voxels=0), iso_level=10.0)
    opened = Mesh(opened.vertices, opened.faces, np.zeros_like(opened.vertices, dtype=np.uint8))
    edges = np.sort(opened.faces[:, [[0, 1], [1, 2], [2, 0]]].reshape(-1, 2), axis=1)
    assert (np.unique(edges, axis=0, return_counts=True)[1] == 1).any()  # it has a boundary
    assert triangle_mesh_problems(opened) == []
