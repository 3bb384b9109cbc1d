"""TriPlaneNet v2 F stage: paper-size shapes, decoder channels, residual semantics, gradients."""

from __future__ import annotations

import pytest
import torch

from dualinv.encoders import BackboneConfig, FeatureStageConfig, build_encoder, feature_stage_input
from dualinv.encoders.feature_stage import TriPlaneFeatureEncoder
from dualinv.errors import ConfigError

TINY = FeatureStageConfig(backbone=BackboneConfig(units_per_stage=(1, 1, 1, 1), width=0.125, input_channels=9),
                          input_resolution=32, trigrid_channels=18, trigrid_resolution=32)


def test_paper_size_decoder_matches_triplanenet_v2_table():
    assert FeatureStageConfig().decoder_channels == (512, 384, 256, 96, 24)  # §3.1 table
    with torch.device("meta"):
        encoder = TriPlaneFeatureEncoder()
        out = encoder(torch.empty(1, 9, 256, 256), torch.empty(1, 3, 96, 256, 256))
    assert out.shape == (1, 3, 96, 256, 256)
    assert [encoder.up1.in_channels, encoder.up2.in_channels, encoder.up3.in_channels, encoder.up4.in_channels] \
        == [1024, 384, 224, 128]
    assert encoder.head[0].in_channels == 288 + 24 and encoder.head[-1].out_channels == 288


def test_output_is_trigrid_plus_residual():
    encoder = build_encoder(TINY, seed=2).eval()
    with torch.no_grad():
        encoder.head[-1].weight.zero_()
        encoder.head[-1].bias.zero_()
    trigrid = torch.randn(2, 3, 6, 32, 32)
    assert torch.equal(encoder(torch.randn(2, 9, 32, 32), trigrid), trigrid)


def test_gradients_reach_encoder_and_trigrid():
    encoder = build_encoder(TINY, seed=2)
    trigrid = torch.randn(2, 3, 6, 32, 32, requires_grad=True)
    encoder(torch.randn(2, 9, 32, 32), trigrid).square().mean().backward()
    assert trigrid.grad is not None
    assert all(p.grad is not None for p in encoder.parameters())


def test_input_stack_order_and_detach():
    image, render = torch.full((1, 3, 4, 4), 0.5), torch.full((1, 3, 4, 4), 0.25, requires_grad=True)
    mirrored, render_mirrored = torch.full((1, 3, 4, 4), -0.5), torch.full((1, 3, 4, 4), 0.5)
    stack = feature_stage_input(image, render, mirrored, render_mirrored)
    assert stack.shape == (1, 9, 4, 4) and not stack.requires_grad
    assert stack[:, :3].eq(0.25).all() and stack[:, 3:6].eq(0.25).all() and stack[:, 6:].eq(-1.0).all()


def test_width_that_pixelshuffle_cannot_split_is_refused():
    with pytest.raises(ConfigError, match="PixelShuffle"):
        FeatureStageConfig(backbone=BackboneConfig(width=1 / 16, input_channels=9))
