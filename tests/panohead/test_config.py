"""PanoHeadConfig: the official init_kwargs layout round-trips and bad input names its key."""

from __future__ import annotations

import json

import pytest

from dualinv.errors import ConfigError
from dualinv.panohead import PanoHeadConfig


def test_tiny_equals_the_fixture_init_kwargs_and_round_trips(tiny_fixture_dir):
    spec = json.loads((tiny_fixture_dir / "reference.json").read_text())
    config = PanoHeadConfig.from_init_kwargs(spec["init_kwargs"], neural_rendering_resolution=16)
    assert config == PanoHeadConfig.tiny()
    assert config.to_init_kwargs() == spec["init_kwargs"]
    assert json.loads(json.dumps(config.to_init_kwargs())) == spec["init_kwargs"]  # plain types


def test_released_values():
    config = PanoHeadConfig.released()
    assert config.neural_rendering_resolution == 64
    assert config.rendering.density_noise == 0
    assert config.rendering.triplane_depth == 3 and config.rendering.triplane_size == 256
    again = PanoHeadConfig.from_init_kwargs(config.to_init_kwargs(), dataset_label_std=True)
    assert again == config


@pytest.mark.parametrize(
    ("change", "key"),
    [
        (lambda kw: kw.update(typo_dim=3), "init_kwargs.typo_dim"),
        (lambda kw: kw["rendering_kwargs"].update(ray_strat=2.0), "rendering_kwargs.ray_strat"),
        (lambda kw: kw["rendering_kwargs"].update(triplane_depth="3"), "rendering_kwargs.triplane_depth"),
        (lambda kw: kw["rendering_kwargs"].update(decoder_activation="relu"), "rendering_kwargs.decoder_activation"),
        (lambda kw: kw["rendering_kwargs"].update(superresolution_module="x.Evil"), "rendering_kwargs.superresolution_module"),
        (lambda kw: kw["rendering_kwargs"].pop("box_warp"), "box_warp"),
        (lambda kw: kw["sr_kwargs"].update(architecture="resnet"), "sr_kwargs.architecture"),
        (lambda kw: kw["mapping_kwargs"].update(lr_multiplier=1), "mapping_kwargs.lr_multiplier"),
        (lambda kw: kw.update(architecture="resnet"), "architecture"),
        (lambda kw: kw.update(img_resolution=256), "img_resolution"),
    ],
)
def test_bad_input_raises_config_error_naming_the_key(change, key):
    kwargs = PanoHeadConfig.tiny().to_init_kwargs()
    change(kwargs)
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        PanoHeadConfig.from_init_kwargs(kwargs)


def test_rendering_overrides():
    config = PanoHeadConfig.from_init_kwargs(PanoHeadConfig.tiny().to_init_kwargs(), rendering_overrides={"ray_start": 2.35})
    assert config.rendering.ray_start == 2.35
    with pytest.raises(ConfigError, match="rendering_kwargs.nope"):
        PanoHeadConfig.from_init_kwargs(PanoHeadConfig.tiny().to_init_kwargs(), rendering_overrides={"nope": 1})
