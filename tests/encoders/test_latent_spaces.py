"""GradualStyleEncoder (W+), Z+ and Z encoders: shapes, head layout, w_avg offset, mapping use."""

from __future__ import annotations

import pytest
import torch

from dualinv.encoders import (
    BackboneConfig,
    EncoderConfig,
    GradualStyleEncoder,
    WPlusEncoder,
    build_encoder,
    map_z_codes,
)
from dualinv.errors import ConfigError
from dualinv.shapes import ShapeError

TINY = BackboneConfig(units_per_stage=(1, 1, 1, 1), width=0.125)


def tiny(kind="w_plus", num_ws=14):
    return EncoderConfig(kind=kind, backbone=TINY, input_resolution=64, num_ws=num_ws, w_dim=16, z_dim=12)


def test_paper_size_w_plus_encoder_shapes_and_heads():
    with torch.device("meta"):
        encoder = WPlusEncoder(EncoderConfig())
        ws = encoder(torch.empty(1, 3, 256, 256))
    assert ws.shape == (1, 14, 512)
    # 3 coarse heads at 16x16 (4 convs), 4 middle at 32x32 (5), 7 fine at 64x64 (6) (§1.2)
    assert [len(head.convs) // 2 for head in encoder.styles] == [4] * 3 + [5] * 4 + [6] * 7
    assert encoder.w_avg.shape == (512,)
    assert {tuple(conv.weight.shape[:2]) for head in encoder.styles for conv in head.convs[2::2]} == {(512, 512)}


def test_narrow_style_heads_keep_the_code_width():
    narrow = build_encoder(EncoderConfig(backbone=TINY, input_resolution=64, num_ws=14, head_channels=8), seed=0)
    full = build_encoder(EncoderConfig(backbone=TINY, input_resolution=64, num_ws=14), seed=0)
    head = narrow.styles[7]
    assert [tuple(conv.weight.shape[:2]) for conv in head.convs[::2]] == [(8, 64)] + [(8, 8)] * 3
    assert tuple(head.linear.weight.shape) == (512, 8)
    assert narrow(torch.rand(1, 3, 64, 64)).shape == (1, 14, 512)
    count = lambda module: sum(p.numel() for p in module.parameters())  # noqa: E731
    assert count(narrow) * 20 < count(full)


def test_w_plus_is_offset_from_w_avg():
    w_avg = torch.linspace(-1, 1, 16)
    with_avg = build_encoder(tiny(), seed=4, w_avg=w_avg).eval()
    raw = build_encoder(tiny(), seed=4).eval()
    image = torch.rand(2, 3, 64, 64) * 2 - 1
    assert torch.allclose(with_avg(image) - raw(image), w_avg.expand(2, 14, 16), atol=1e-6)


def test_tiny_encoder_gradients_reach_every_parameter():
    encoder = build_encoder(tiny(), seed=1)
    encoder(torch.rand(2, 3, 64, 64)).square().sum().backward()
    missing = [n for n, p in encoder.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0]
    assert missing == []


def test_fewer_ws_than_fine_heads_uses_only_the_needed_maps():
    encoder = build_encoder(tiny(num_ws=5), seed=1)
    assert encoder(torch.rand(1, 3, 64, 64)).shape == (1, 5, 16)


def test_wrong_image_size_is_named():
    with pytest.raises(ShapeError, match="image"):
        build_encoder(tiny())(torch.rand(1, 3, 32, 32))


def test_seeded_build_is_deterministic_and_leaves_global_rng_alone():
    state = torch.random.get_rng_state()
    first, second = build_encoder(tiny(), seed=7), build_encoder(tiny(), seed=7)
    assert torch.equal(torch.random.get_rng_state(), state)
    for a, b in zip(first.parameters(), second.parameters()):
        assert torch.equal(a, b)


def fake_mapping(z, c, truncation_psi, truncation_cutoff):
    """ws[:, j] = psi * z + j + sum(c): distinguishes rows, psi and the camera."""
    assert truncation_cutoff is None
    rows = torch.arange(3, dtype=z.dtype)[None, :, None]
    return truncation_psi * z[:, None, :] + rows + c.sum(dim=1)[:, None, None]


def test_map_z_codes_keeps_row_i_of_code_i():
    zs = torch.randn(2, 3, 4)
    camera = torch.ones(25) * 0.01
    ws = map_z_codes(zs, fake_mapping, camera, truncation_psi=0.85)
    expected = 0.85 * zs + torch.arange(3.0)[None, :, None] + 0.25
    assert torch.allclose(ws, expected, atol=1e-6)


def test_map_z_codes_refuses_a_count_mismatch():
    with pytest.raises(ConfigError, match="num_ws"):
        map_z_codes(torch.randn(1, 2, 4), fake_mapping, torch.zeros(25), 0.85)


def test_z_plus_and_z_encoders_end_in_ws():
    camera = torch.zeros(1, 25)
    zplus = build_encoder(tiny("z_plus", num_ws=3))
    assert isinstance(zplus, GradualStyleEncoder) and not hasattr(zplus, "w_avg")
    assert zplus(torch.rand(2, 3, 64, 64)).shape == (2, 3, 12)
    assert zplus.to_ws(torch.rand(2, 3, 64, 64), fake_mapping, camera).shape == (2, 3, 12)
    z_encoder = build_encoder(tiny("z", num_ws=3)).eval()
    image = torch.rand(2, 3, 64, 64)
    z = z_encoder(image)
    assert z.shape == (2, 12)
    assert torch.allclose(z_encoder.to_ws(image, fake_mapping, camera),
                          fake_mapping(z, camera.expand(2, 25), 0.85, None), atol=1e-6)


def test_paper_size_z_encoder_is_the_last_layer_into_w_design():
    with torch.device("meta"):
        z = build_encoder(EncoderConfig(kind="z"))(torch.empty(1, 3, 256, 256))
    assert z.shape == (1, 512)


@pytest.mark.parametrize("bad", [dict(kind="e4e"), dict(input_resolution=100), dict(num_ws=0), dict(head_channels=0)])
def test_encoder_config_is_validated(bad):
    with pytest.raises(ConfigError):
        EncoderConfig(**bad)
