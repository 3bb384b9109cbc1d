"""The training sections of the one config tree: paper defaults, validation at the door, the hash
that guards resume, and the baseline recipes the loop runs."""

from __future__ import annotations

import copy
import dataclasses

import pytest

from dualinv.baselines.training_policies import baseline_policy, triplanenet_trains
from dualinv.config import REPO_ROOT, BaselinesConfig, TrainingConfig, from_mapping, load_config, read_yaml
from dualinv.errors import ConfigError
from dualinv.training.loop import training_hash

MINI = REPO_ROOT / "presets" / "mini.yaml"


def test_paper_defaults_match_a2():
    """§4.1: batch 3, 500k iterations, Ranger 1e-4; A.2: λ 0.8 / 1.0 / 0.5 / 0.001, D weight 0.5, R1 γ 10 every 16."""
    training = TrainingConfig()
    assert (training.batch_size, training.iterations, training.learning_rate) == (3, 500_000, 1e-4)
    assert (training.lambda_lpips, training.lambda_l2, training.lambda_id) == (0.8, 1.0, 0.5)
    assert (training.lambda_adv, training.lambda_discriminator, training.r1_gamma, training.r1_every) == (
        0.001, 0.5, 10.0, 16)


def test_bad_values_and_unknown_keys_are_named_at_the_door():
    values = read_yaml(REPO_ROOT / "config.yaml")
    for key, value in (("batch_size", 0), ("mirror_probability", 1.5), ("lerning_rate", 1e-3)):
        broken = copy.deepcopy(values)
        broken["training"][key] = value
        with pytest.raises(ConfigError, match=f"training.{key}"):
            from_mapping(broken)


def test_a_left_out_key_takes_its_dataclass_default():
    values = read_yaml(REPO_ROOT / "config.yaml")
    del values["training"]["lambda_id"], values["baselines"]["e4e"]
    config = from_mapping(values)
    assert config.training.lambda_id == TrainingConfig().lambda_id == 0.5
    assert config.baselines.e4e == BaselinesConfig().e4e


def test_hash_ignores_run_length_but_not_what_a_step_does():
    base = load_config()
    def with_training(**changes):
        return dataclasses.replace(base, training=dataclasses.replace(base.training, **changes))
    assert training_hash(with_training(iterations=10, segment_length=5, checkpoint_every=5)) == training_hash(base)
    assert training_hash(with_training(learning_rate=2e-4)) != training_hash(base)
    assert training_hash(with_training(bf16=True)) != training_hash(base)
    # a ramp-down places its decay by the run's length: then the length is part of the hash
    ramped = with_training(lr_rampdown=0.25)
    assert training_hash(ramped) != training_hash(base)
    assert training_hash(dataclasses.replace(ramped, training=dataclasses.replace(ramped.training, iterations=10))) \
        != training_hash(ramped)
    assert training_hash(dataclasses.replace(ramped, training=dataclasses.replace(ramped.training, segment_length=5))) \
        == training_hash(ramped)
    other_data = dataclasses.replace(base, data=dataclasses.replace(base.data, test_images=3))
    assert training_hash(other_data) == training_hash(base)  # test-set settings do not touch training


def test_baseline_schedules_default_to_the_published_recipes_and_follow_the_config():
    """Published: e4e deltas from 20k every 2k, GOAE groups at 10k/20k/30k, TPv2 F stage 20k, W+ frozen 500k."""
    published = BaselinesConfig()
    assert [baseline_policy("e4e", published, 14).stage(step) for step in (19_999, 20_000, 21_999, 22_000)] == [
        0, 1, 1, 2]
    assert [baseline_policy("goae", published, 14).stage(step) for step in (9_999, 10_000, 20_000, 30_000)] == [
        0, 1, 2, 3]
    assert triplanenet_trains(published.triplanenet_v2, 19_999) == {"w_plus": True, "feature_stage": False}
    short = dataclasses.replace(
        published, e4e=dataclasses.replace(published.e4e, progressive_start=3, progressive_step_every=2),
        goae=dataclasses.replace(published.goae, progressive_steps=(1, 2, 4)),
        triplanenet_v2=dataclasses.replace(published.triplanenet_v2, add_triplanenet=5, stop_psp=9))
    assert [baseline_policy("e4e", short, 14).stage(step) for step in (2, 3, 4, 5)] == [0, 1, 1, 2]
    assert baseline_policy("e4e", short, 3).stage(100) == 2  # capped at num_ws - 1
    assert [baseline_policy("goae", short, 14).stage(step) for step in (0, 1, 3, 4)] == [0, 1, 2, 3]
    assert triplanenet_trains(short.triplanenet_v2, 5) == {"w_plus": True, "feature_stage": True}
    assert triplanenet_trains(short.triplanenet_v2, 9)["w_plus"] is False
    assert baseline_policy("psp", short, 14).stage(5) is None
    with pytest.raises(ConfigError, match="no training policy"):
        baseline_policy("encoder1", short, 14)


def test_the_policy_runs_the_study_configs_own_recipe_section():
    study = load_config()
    for name in ("psp", "e4e", "triplanenet_v2", "goae"):
        assert baseline_policy(name, study.baselines, 14).recipe is getattr(study.baselines, name)


def test_the_mini_preset_switches_on_every_baselines_own_parts():
    """In the mini DAG's few steps, e4e's deltas, TriPlaneNet v2's F stage and GOAE's groups all switch on."""
    mini = load_config(presets=(MINI,))
    steps = range(mini.training.iterations)
    for name in ("e4e", "goae"):
        stages = [baseline_policy(name, mini.baselines, 14).stage(step) for step in steps]
        assert stages[0] < max(stages) and max(stages) >= 1, (name, stages)  # stages grow within the run
    phases = [triplanenet_trains(mini.baselines.triplanenet_v2, step) for step in steps]
    assert any(phase["feature_stage"] for phase in phases) and phases[0]["w_plus"]
    assert not phases[0]["feature_stage"]  # the W+-alone phase runs first, as in the recipe


def test_one_study_generator_for_data_training_and_evaluation():
    """Synthetic data and training/evaluation (dualinv.models.generator) build the same generator:
    the mini preset's demo generator."""
    import torch

    from dualinv.data.synthetic import generator_of
    from dualinv.models.generator import study_generator

    study = load_config(presets=(MINI,))
    from_data, _, name = generator_of(study)
    from_models, identity = study_generator(study, "cpu")
    assert name == "demo" and identity.source == "stand-in:demo" and identity.stand_in
    assert from_data.config == from_models.config
    assert from_models.neural_rendering_resolution == study.generator.neural_rendering_resolution
    reference = from_models.state_dict()
    state = from_data.state_dict()
    assert state.keys() == reference.keys()
    assert all(torch.equal(state[key], reference[key]) for key in reference)
