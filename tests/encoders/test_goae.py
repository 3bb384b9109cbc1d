import pytest
import torch

from dualinv.encoders import GOAEConfig, build_encoder
from dualinv.encoders.goae import goae_stage
from dualinv.encoders.goae_fusion import (goae_visibility_mask, mix_fusion, rasterise_points,
                                          synthesize_with_feature_edit)
from dualinv.config import REPO_ROOT, GOAESettings, from_mapping, merge_overrides, read_yaml
from dualinv.errors import ConfigError
from dualinv.panohead import PanoHeadConfig, PanoHeadGenerator
from dualinv.standin import build_seeded

TINY = GOAEConfig(input_resolution=64, embed_dim=16, depths=(1, 1, 1, 1), heads=(1, 1, 2, 2), window=4,
                  pretrained_windows=(0, 0, 0, 0), group_sizes=(3, 3, 1), w_dim=32, attention_heads=4,
                  feedforward=32, afa_channels=(8, 8, 8), afa_resolution=16, feature_channels=64)


def test_rasterise_points_uses_goae_pixel_rule():
    points = torch.tensor([[[0.0, 0.0, 0.3],      # centre -> (row 16, col 16) of 32
                            [-0.5, -0.5, 0.0],    # corner -> (0, 0)
                            [0.49, -0.2, -0.4],   # col int(0.99*32)=31, row int(0.3*32)=9
                            [2.0, 0.1, 0.0]]])    # clamped col 31, row int(0.6*32)=19
    coverage = rasterise_points(points, 32)
    expected = torch.zeros(1, 1, 32, 32)
    for row, col in ((16, 16), (0, 0), (9, 31), (19, 31)):
        expected[0, 0, row, col] = 1
    torch.testing.assert_close(coverage, expected)
    # box_warp scales coordinates first: x = 0.25 with box_warp 2 lands where 0.125 does with 1
    assert torch.equal(rasterise_points(torch.tensor([[[0.25, 0.0, 0.0]]]), 32, box_warp=2.0),
                       rasterise_points(torch.tensor([[[0.125, 0.0, 0.0]]]), 32))


def test_visibility_mask_covers_the_seen_square_and_not_the_far_corner():
    from dualinv.camera import canonical_cameras
    from dualinv.panohead.rendering import rays_from_cameras

    camera = canonical_cameras()["front"]
    origins, directions = rays_from_cameras(camera, 16)
    # depth that puts every ray's surface point on the plane z = 0 (front camera looks along -z or +z)
    depth = (-origins[..., 2] / directions[..., 2]).reshape(1, 1, 16, 16)
    points = origins + depth.reshape(1, -1, 1) * directions
    assert points[..., 2].abs().max() < 1e-5
    mask = goae_visibility_mask(depth, camera, 32, torch.Generator().manual_seed(0))
    coverage = rasterise_points(points, 32)
    rows, cols = coverage[0, 0].nonzero(as_tuple=True)
    inside = mask[0, 0, rows.min():rows.max() + 1, cols.min():cols.max() + 1]
    # 16² rays leave gaps between hit cells of a 32² plane; blur + threshold 0.35 + blur closes them
    assert coverage[0, 0, rows.min():rows.max() + 1, cols.min():cols.max() + 1].mean() < 1.0
    assert inside[2:-2, 2:-2].min() > 0.75
    # box_warp 4 squeezes the points into cells 12..19: the plane's border stays invisible
    centre = goae_visibility_mask(depth, camera, 32, torch.Generator().manual_seed(0), box_warp=4.0)
    assert centre[0, 0, :, 26:].max() < 1e-3 and centre[0, 0, :6].max() < 1e-3
    assert centre[0, 0, 14:18, 14:18].min() > 0.5
    assert mask.min() >= 0 and mask.max() <= 1
    # sigma is drawn from the generator: same seed, same mask; another seed, a different blur
    again = goae_visibility_mask(depth, camera, 32, torch.Generator().manual_seed(0))
    other = goae_visibility_mask(depth, camera, 32, torch.Generator().manual_seed(1))
    assert torch.equal(mask, again) and not torch.equal(mask, other)


def test_mix_fusion_mixes_plane_zero_only():
    trigrid_f, trigrid_w = torch.ones(2, 3, 6, 4, 4), torch.zeros(2, 3, 6, 4, 4)
    mask = torch.zeros(2, 1, 4, 4)
    mask[:, :, :2] = 1.0
    mixed = mix_fusion(trigrid_f, trigrid_w, mask)
    assert torch.equal(mixed[:, 0, :, :2], torch.ones(2, 6, 2, 4))
    assert torch.equal(mixed[:, 0, :, 2:], torch.zeros(2, 6, 2, 4))
    assert torch.equal(mixed[:, 1:], trigrid_f[:, 1:])


def test_split_synthesis_without_edit_equals_the_backbone():
    generator = build_seeded(lambda: PanoHeadGenerator(PanoHeadConfig.tiny()), 0).eval()
    ws = generator.mapping(torch.randn(2, 512), torch.zeros(2, 25))
    planes, features = synthesize_with_feature_edit(generator.backbone.synthesis, ws, 16)
    torch.testing.assert_close(planes, generator.backbone.synthesis(ws, noise_mode="const"))
    assert features.shape == (2, 64, 16, 16)
    edited, _ = synthesize_with_feature_edit(generator.backbone.synthesis, ws, 16, lambda f: f * 0)
    assert not torch.allclose(edited, planes)
    with pytest.raises(ValueError, match="split_resolution"):
        synthesize_with_feature_edit(generator.backbone.synthesis, ws, 12)


def test_encoder_progressive_groups_and_w_avg():
    goae = build_encoder(TINY, seed=0, w_avg=torch.full((32,), 0.5)).eval()
    image = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        goae.set_stage(0)
        base_only = goae.encoder(image)
        goae.set_stage(1)
        coarse = goae.encoder(image)
        goae.set_stage(3)
        full = goae.encoder(image)
    assert base_only.shape == (2, 8, 32)
    assert torch.allclose(base_only, base_only[:, :1].expand_as(base_only))  # one base code everywhere
    torch.testing.assert_close(coarse[:, 4:], base_only[:, 4:])       # mid and fine still off
    assert not torch.allclose(coarse[:, 1:4], base_only[:, 1:4])
    torch.testing.assert_close(full[:, 0], base_only[:, 0])           # position 0 never gets a delta
    assert not torch.allclose(full[:, 7:], base_only[:, 7:])


def test_stage_schedule_and_config_checks():
    assert [goae_stage(s, GOAESettings()) for s in (0, 9_999, 10_000, 25_000, 30_000, 10**6)] == [0, 0, 1, 2, 3, 3]
    assert GOAEConfig().num_ws == 14 and GOAEConfig().top_tokens == 64
    with pytest.raises(ConfigError, match="multiple of 32"):
        GOAEConfig(input_resolution=48)
    # the query-group schedule is the study config's baselines.goae, checked at the config door
    values = merge_overrides(read_yaml(REPO_ROOT / "config.yaml"), {"baselines": {"goae": {"progressive_steps": [3, 2, 1]}}})
    with pytest.raises(ConfigError, match=r"baselines\.goae\.progressive_steps"):
        from_mapping(values)
