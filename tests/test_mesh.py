"""Marching cubes and mesh writers against analytic shapes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from dualinv.mesh import Mesh, extract_mesh, read_ply, write_obj, write_ply


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
