"""Seeded stand-in generator: same seed, same weights; the mini architecture is the fast 128² variant."""

from __future__ import annotations

import pytest
import torch

from dualinv.errors import ConfigError
from dualinv.standin import standin_generator, standin_generator_config


def test_mini_config_is_tiny_with_the_2x_superresolution():
    config = standin_generator_config("mini")
    assert config.rendering.superresolution_class == "SuperresolutionHybrid2X" and config.img_resolution == 128
    assert (config.rendering.triplane_size, config.neural_rendering_resolution) == (32, 16)
    assert standin_generator_config("tiny").img_resolution == 512
    with pytest.raises(ConfigError, match="unknown"):
        standin_generator_config("huge")


def test_seeded_weights_are_reproducible_and_leave_the_global_rng_alone():
    torch.manual_seed(123)
    expected_next = torch.rand(3)
    torch.manual_seed(123)
    first, again, other = standin_generator(seed=0), standin_generator(seed=0), standin_generator(seed=1)
    assert torch.equal(torch.rand(3), expected_next)
    first_state, again_state, other_state = first.state_dict(), again.state_dict(), other.state_dict()
    assert all(torch.equal(first_state[key], again_state[key]) for key in first_state)
    assert not torch.equal(first_state["backbone.mapping.fc0.weight"], other_state["backbone.mapping.fc0.weight"])
    assert not first.training and not any(parameter.requires_grad for parameter in first.parameters())
