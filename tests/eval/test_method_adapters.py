"""The eval inverters of our encoders, the dual inverter and the optimisation baselines
(``build_method_inverter``), on step-0 checkpoints of the tiny training setup."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
import torch

from dualinv.baselines import PivotalTuning
from dualinv.config import REPO_ROOT, load_config
from dualinv.dual.invert import DualInverter
from dualinv.dual.stitch import stitch_trigrids
from dualinv.errors import ConfigError
from dualinv.eval.inverters import build_method_inverter
from dualinv.training.build import build_components
from dualinv.models.checkpoint import load_training_checkpoint, save_training_checkpoint
from dualinv.models.experiments import get_experiment
from dualinv.models.generator import GeneratorIdentity
from dualinv.models.inversion import EncoderInverter
from dualinv.training.loop import training_state
from tests.training.tiny import rendered_heads, tiny_config, tiny_generator

# Distinct settings per encoder, none of them a default, so a mixed-up setting cannot pass unnoticed.
SETTINGS = {"encoder1": {"occlusion_opacity_threshold": 0.23, "input_resolution": 32},
            "encoder2": {"occlusion_opacity_threshold": 0.37, "input_resolution": 64}}


def _step0_checkpoint(name: str, path: Path) -> Path:
    """A training checkpoint of ``name`` before any step (the weights training starts from)."""
    generator, identity = tiny_generator()
    settings = SETTINGS[name]
    config = tiny_config(training={"batch_size": 1, "occlusion_opacity_threshold": settings["occlusion_opacity_threshold"]},
                         encoder={"input_resolution": settings["input_resolution"]})
    components = build_components(config, get_experiment(name), dataset=rendered_heads(generator, 1),
                                  generator=generator, identity=identity)
    save_training_checkpoint(path, training_state(components, 0))
    return path


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory):
    folder = tmp_path_factory.mktemp("checkpoints")
    return {name: _step0_checkpoint(name, folder / f"{name}.pt") for name in SETTINGS}


@pytest.fixture(scope="module")
def batch():
    heads = rendered_heads(tiny_generator()[0], 2, seed=5)  # 128² renders: every encoder must resize them
    return torch.stack([h["image"] for h in heads]), torch.stack([h["camera"] for h in heads])


def _spy_sides(encoder) -> list[int]:
    sides, encode = [], encoder.encode
    encoder.encode = lambda image, *args, **kwargs: (sides.append(image.shape[-1]), encode(image, *args, **kwargs))[1]
    return sides


@pytest.mark.slow
def test_dual_takes_encoder_1s_opacity_threshold_and_the_given_seed(checkpoints, batch):
    generator, identity = tiny_generator()
    dual = build_method_inverter(get_experiment("dual"), [checkpoints["encoder1"], checkpoints["encoder2"]],
                                 generator, identity, seed=5)
    assert isinstance(dual, DualInverter) and dual.stand_in
    configured = load_training_checkpoint(checkpoints["encoder1"])["config"]["training"]["occlusion_opacity_threshold"]
    assert configured == 0.23 and dual.opacity_threshold == configured  # Encoder 1's, not Encoder 2's 0.37 nor 0.5
    assert dual.seed == 5 and dual.encoder_resolution == (32, 64)
    assert dual.generator_source == identity.source
    visible, occluded = _spy_sides(dual.encoder_visible), _spy_sides(dual.encoder_occluded)

    images, cameras = batch
    inversion = dual.invert(images, cameras)
    assert visible == [32] and occluded == [64]
    assert inversion.generators == (generator, generator)
    # the result is the stitched tri-grid of the two encoders' tri-grids, with the parts kept beside it
    parts = inversion.dual
    assert parts is not None
    torch.testing.assert_close(inversion.trigrid,
                               stitch_trigrids(parts.trigrid_visible, parts.trigrid_occluded, parts.occlusion_mask))


def test_encoder_adapter_loads_the_checkpoint_and_reads_its_input_side(checkpoints, batch):
    generator, identity = tiny_generator()
    method = build_method_inverter(get_experiment("encoder2"), [checkpoints["encoder2"]], generator, identity,
                                   seed=3)
    assert isinstance(method, EncoderInverter) and method.stand_in and method.seed == 3
    trained = load_training_checkpoint(checkpoints["encoder2"])["encoder"]
    assert all(torch.equal(tensor, trained[key]) for key, tensor in method.encoder.state_dict().items())
    sides = _spy_sides(method.encoder)
    images, cameras = batch
    first, again = method.invert(images, cameras), method.invert(images, cameras)
    assert sides == [64, 64]
    assert first.ws.shape == (2, generator.num_ws, generator.w_dim) and first.generators == (generator, generator)
    torch.testing.assert_close(first.trigrid, again.trigrid)  # seeded: the same images invert the same way


def test_a_method_with_the_wrong_number_of_checkpoints_is_refused(checkpoints):
    generator, identity = tiny_generator()
    with pytest.raises(ConfigError, match="needs 2 checkpoint"):
        build_method_inverter(get_experiment("dual"), [checkpoints["encoder1"]], generator, identity)
    with pytest.raises(ConfigError, match="needs 0 checkpoint"):
        build_method_inverter(get_experiment("pti"), [checkpoints["encoder1"]], generator, identity)


@pytest.mark.slow
def test_optimisation_baseline_adapter_uses_the_study_settings(batch):
    generator, _ = tiny_generator()
    config = load_config(presets=(REPO_ROOT / "presets" / "mini.yaml",))
    baselines = config.baselines  # one step each: the adapter's wiring, not the optimisation
    config = replace(config, baselines=replace(baselines, w_optim=replace(baselines.w_optim, steps=1, w_avg_samples=16),
                                               pti=replace(baselines.pti, pivot_steps=1, steps=1)))
    # a label that is not a stand-in: the missing LPIPS-VGG file alone must still mark the method stand-in
    identity = GeneratorIdentity.of(generator, "released.pkl")
    assert not identity.stand_in
    method = build_method_inverter(get_experiment("pti"), [], generator, identity, config=config, seed=1)
    assert isinstance(method, PivotalTuning) and method.stand_in and method.max_batch_size == 1 and not method.warm_up
    assert method.config == config.baselines.pti
    assert method.pivot_config == replace(config.baselines.w_optim, steps=config.baselines.pti.pivot_steps)
    assert method.lpips_loss.net_name == "vgg"

    images, cameras = batch
    inversion = method.invert(images[:1], cameras[:1])
    assert inversion.ws.shape == (1, generator.num_ws, generator.w_dim) and not inversion.ws.requires_grad
    assert inversion.generators[0] is not generator  # PTI renders through its own tuned copy
    assert len(inversion.seconds_per_image) == 1 and inversion.seconds_per_image[0] > 0
