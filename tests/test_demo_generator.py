"""The demo generator (issue 14): its shipped weights render opaque textured heads that turn with the
camera, have a head-shaped depth and a mesh at σ = 10, differ with z, and are the procedural heads
of :func:`head_trigrid`."""

from __future__ import annotations

import pytest
import torch

from dualinv.camera import camera_at_yaw
from dualinv.demo_generator import (PARAMETER_MEAN, SURFACE_SIGMA, build_demo_generator, head_trigrid, identity_of,
                                    load_demo_generator)
from dualinv.errors import CheckpointError
from dualinv.mesh import PANOHEAD_ISO_LEVEL, extract_mesh
from dualinv.panohead.rendering import run_decoder


@pytest.fixture(scope="module")
def generator():
    return load_demo_generator()


@pytest.fixture(scope="module")
def heads(generator):
    """Two identities through the whole generator, rendered at yaw 0 (front), 90 (side) and 180 (back)."""
    z = torch.randn(2, generator.z_dim, generator=torch.Generator().manual_seed(123))
    cameras = camera_at_yaw(torch.tensor([0.0, 90.0, 180.0]))
    with torch.no_grad():
        ws = generator.mapping(z, cameras[:1].expand(2, -1))
        trigrid = generator.synthesize_trigrid(ws, noise_mode="const")
        renders = [generator.render_trigrid(trigrid, ws, cameras[i:i + 1].expand(2, -1), neural_rendering_resolution=32,
                                            noise_mode="const", generator=torch.Generator().manual_seed(i))
                   for i in range(3)]
    return ws, trigrid, renders


def test_surface_sits_at_panoheads_iso_level():
    assert SURFACE_SIGMA == PANOHEAD_ISO_LEVEL


def test_opaque_over_the_head_silhouette(heads):
    for render in heads[2]:
        mask = render["image_mask"]
        silhouette = mask > 0.5
        assert silhouette.float().mean() > 0.15
        assert mask[silhouette].mean() >= 0.9
        assert (mask < 0.05).float().mean() > 0.15  # empty space around the head stays empty


def test_views_differ(heads):
    images = [r["image"] for r in heads[2]]
    for a in range(3):
        for b in range(a + 1, 3):
            assert (images[a] - images[b]).abs().mean() > 0.05


def test_front_shows_skin_and_back_shows_hair(heads):
    ws, _, renders = heads
    params = identity_of(load_demo_generator(), ws)
    side = renders[0]["image_raw"].shape[-1]
    centre = slice(side // 2 - 2, side // 2 + 2)
    front = renders[0]["image_raw"][0, :, centre, centre].mean((1, 2))
    back = renders[2]["image_raw"][0, :, side // 4:side // 4 + 4, centre].mean((1, 2))  # upper back of the head
    assert (front - params.skin[0]).abs().max() < (front - params.hair[0]).abs().max()
    assert (back - params.hair[0]).abs().max() < (back - params.skin[0]).abs().max()


def test_depth_has_a_head_shape(heads):
    depth, mask = heads[2][0]["image_depth"][0, 0], heads[2][0]["image_mask"][0, 0]
    side = depth.shape[-1]
    centre = depth[side // 2 - 2:side // 2 + 2, side // 2 - 2:side // 2 + 2].mean()
    assert 2.3 < centre < 2.5  # the face is ~0.3 in front of the origin, the camera 2.7 behind it
    assert depth[mask > 0.9].max() - centre > 0.1  # the sides recede


def test_identities_differ_in_shape_and_colour(generator, heads):
    ws, _, renders = heads
    params = identity_of(generator, ws)
    assert (params.axes[0] - params.axes[1]).abs().max() > 0.005
    assert (params.skin[0] - params.skin[1]).abs().max() > 0.02
    assert (renders[2]["image"][0] - renders[2]["image"][1]).abs().mean() > 0.03


def test_trigrid_is_the_procedural_head_of_its_identity(generator, heads):
    ws, trigrid, _ = heads
    wanted = head_trigrid(identity_of(generator, ws))
    assert (trigrid - wanted).square().mean().sqrt() < 0.05 * wanted.square().mean().sqrt()


def test_truncation_to_w_avg_gives_the_average_head(generator):
    ws = generator.backbone.mapping.w_avg.view(1, 1, -1).expand(1, generator.num_ws, -1)
    assert torch.allclose(identity_of(generator, ws).vector()[0], PARAMETER_MEAN, atol=1e-4)


def test_mesh_at_sigma_10_is_a_head(generator, heads):
    ws, trigrid, _ = heads

    def density(points):
        return run_decoder(trigrid[:1], generator.decoder, points[None], torch.zeros_like(points[None]),
                           generator.config.rendering)["sigma"]

    with torch.no_grad():
        mesh = extract_mesh(density, resolution=32, iso_level=PANOHEAD_ISO_LEVEL)
    assert not mesh.is_empty
    extent = mesh.vertices.max(0) - mesh.vertices.min(0)
    axes = identity_of(generator, ws).axes[0].numpy()
    assert abs(extent[0] - 2 * axes[0]) < 0.06  # the head ellipsoid's width
    assert extent[1] > 2 * axes[1]  # head plus neck


def test_build_is_deterministic_and_missing_weights_are_named(tmp_path):
    first, summary = build_demo_generator(seed=3, feature_steps=5, progress=False)
    again, _ = build_demo_generator(seed=3, feature_steps=5, progress=False)
    for (name, a), b in zip(first.state_dict().items(), again.state_dict().values()):
        assert torch.equal(a, b), name
    assert summary["trigrid_rmse"] > 0
    with pytest.raises(CheckpointError, match="missing.pt"):
        load_demo_generator(tmp_path / "missing.pt")
