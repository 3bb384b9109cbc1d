"""Table 6 discriminator: layer-by-layer architecture, kinds, masking and folding."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from dualinv.discriminators import DiscriminatorConfig, build_discriminator, mask_and_fold
from dualinv.errors import ConfigError

TABLE6_CONVS = [(288, 64, 3, 1, 1), (64, 128, 3, 1, 1), (128, 256, 3, 1, 1), (256, 512, 3, 1, 1), (512, 1, 3, 1, 0)]
TABLE6_ORDER = ["Conv2d", "LeakyReLU",
                "Conv2d", "BatchNorm2d", "LeakyReLU",
                "Conv2d", "BatchNorm2d", "LeakyReLU",
                "Conv2d", "BatchNorm2d", "LeakyReLU",
                "Conv2d", "AdaptiveAvgPool2d", "Flatten"]


def conv_rows(model):
    return [(m.in_channels, m.out_channels, m.kernel_size[0], m.stride[0], m.padding[0])
            for m in model.modules() if isinstance(m, nn.Conv2d)]


@pytest.mark.parametrize("kind", ["triplane_occlusion", "triplane"])
def test_triplane_kinds_are_table6_layer_by_layer(kind):
    with torch.device("meta"):
        model = build_discriminator(kind)
    assert conv_rows(model) == TABLE6_CONVS
    assert [type(m).__name__ for m in model.layers] == TABLE6_ORDER
    assert all(m.bias is None for m in model.modules() if isinstance(m, nn.Conv2d))
    assert [m.num_features for m in model.modules() if isinstance(m, nn.BatchNorm2d)] == [128, 256, 512]
    assert all(m.negative_slope == 0.2 for m in model.modules() if isinstance(m, nn.LeakyReLU))
    assert not any(isinstance(m, nn.Sigmoid) for m in model.modules())


def test_paper_size_output_is_batch_by_one():
    with torch.device("meta"):
        model = build_discriminator("triplane_occlusion")
        logits = model(torch.empty(2, 3, 96, 256, 256), torch.empty(2, 3, 96, 256, 256))
    assert logits.shape == (2, 1)


def test_image_kind_changes_only_the_input_channels():
    with torch.device("meta"):
        model = build_discriminator("image")
        assert model(torch.empty(2, 3, 64, 64)).shape == (2, 1)
    assert conv_rows(model) == [(3, 64, 3, 1, 1)] + TABLE6_CONVS[1:]


def test_mask_and_fold_is_plane_major():
    trigrid = torch.randn(2, 3, 6, 4, 5)
    mask = torch.zeros(2, 3, 1, 4, 5)
    mask[:, 1] = 1.0  # keep plane 1 only, every channel
    folded = mask_and_fold(trigrid, mask)
    assert folded.shape == (2, 18, 4, 5)
    assert torch.equal(folded[:, 6:12], trigrid[:, 1]) and folded[:, :6].eq(0).all() and folded[:, 12:].eq(0).all()
    assert torch.equal(mask_and_fold(trigrid, None)[:, 13], trigrid[:, 2, 1])  # channel p*6 + j


def tiny(kind):
    return build_discriminator(DiscriminatorConfig(kind=kind, input_channels=18, hidden_channels=(4, 8, 8, 8)), seed=1)


def test_occluded_discriminator_ignores_visible_cells():
    model = tiny("triplane_occlusion").eval()
    trigrid = torch.randn(2, 3, 6, 8, 8)
    mask = (torch.rand(2, 3, 6, 8, 8) > 0.5).float()
    changed = trigrid + 5.0 * (1 - mask) * torch.randn_like(trigrid)
    assert torch.allclose(model(trigrid, mask), model(changed, mask), atol=1e-6)


def test_mask_is_required_or_refused_by_kind():
    with pytest.raises(ValueError, match="occlusion_mask"):
        tiny("triplane_occlusion")(torch.randn(1, 3, 6, 8, 8))
    with pytest.raises(ValueError, match="no occlusion_mask"):
        tiny("triplane")(torch.randn(1, 3, 6, 8, 8), torch.ones(1, 3, 6, 8, 8))


def test_tiny_gradients_flow_to_parameters_and_input():
    model = tiny("triplane")
    trigrid = torch.randn(2, 3, 6, 8, 8, requires_grad=True)
    model(trigrid).sum().backward()
    assert trigrid.grad is not None and all(p.grad is not None for p in model.parameters())


def test_unknown_kind_is_a_config_error():
    with pytest.raises(ConfigError, match="kind"):
        build_discriminator("stylegan")
