"""Training settings: validation at the door, the hash that guards resume, the study-config bridge."""

from __future__ import annotations

import dataclasses

import pytest

from dualinv.errors import ConfigError
from dualinv.training.config import TrainingSettings, settings_from_study


def test_paper_defaults_match_a2():
    settings = TrainingSettings()
    assert (settings.batch_size, settings.iterations, settings.learning_rate) == (3, 500_000, 1e-4)
    assert (settings.lambda_lpips, settings.lambda_l2, settings.lambda_id) == (0.8, 1.0, 0.5)
    assert (settings.lambda_adv, settings.lambda_discriminator, settings.r1_gamma, settings.r1_every) == (
        0.001, 0.5, 10.0, 16)


def test_bad_values_and_unknown_keys_are_named():
    with pytest.raises(ConfigError, match="batch_size"):
        TrainingSettings(batch_size=0)
    with pytest.raises(ConfigError, match="mirror_probability"):
        TrainingSettings(mirror_probability=1.5)
    with pytest.raises(ConfigError, match="lerning_rate"):
        TrainingSettings.from_dict({"lerning_rate": 1e-3})
    with pytest.raises(ConfigError, match="generator"):
        TrainingSettings.from_dict({"generator": {"seeds": 1}})


def test_hash_ignores_run_length_and_device_but_not_what_a_step_does():
    base = TrainingSettings()
    same = dataclasses.replace(base, iterations=10, device="cuda", progress=False, checkpoint_every=5)
    assert same.hash() == base.hash()
    assert dataclasses.replace(base, learning_rate=2e-4).hash() != base.hash()
    assert dataclasses.replace(base, bf16=True).hash() != base.hash()


def test_study_config_becomes_training_settings():
    from dualinv.config import REPO_ROOT, load_config

    paper = settings_from_study(load_config())
    study = load_config()
    assert paper.batch_size == study.training.batch_size and paper.iterations == study.training.iterations
    assert paper.encoder_preset == "paper" and paper.encoder_resolution == study.encoder.input_resolution
    assert paper.generator.network == study.weights.panohead
    assert paper.dataset == f"{study.output.results}/data/train"
    mini = settings_from_study(load_config(presets=(REPO_ROOT / "presets" / "mini.yaml",)), dataset="x")
    assert mini.encoder_preset == "tiny" and mini.generator.network is None and mini.dataset == "x"


def test_baseline_schedules_default_to_the_published_recipes_and_follow_the_settings():
    from dualinv.baselines.training_policies import BASELINE_POLICIES
    from dualinv.training.baseline_parts import configured_policy
    from dualinv.training.config import TrainingSettings

    for name, policy in BASELINE_POLICIES.items():  # paper defaults: e4e 20k/2k, GOAE 10k/20k/30k, TPv2 20k/500k
        assert configured_policy(name, TrainingSettings()) == policy
    short = TrainingSettings(e4e_progressive_start=3, e4e_progressive_step_every=2, goae_progressive_steps=[1, 2, 4],
                             triplanenet_add_feature_stage=5, triplanenet_stop_wplus=9)
    assert [configured_policy("e4e", short).stage(step) for step in (2, 3, 4, 5)] == [0, 1, 1, 2]
    assert [configured_policy("goae", short).stage(step) for step in (0, 1, 3, 4)] == [0, 1, 2, 3]
    assert configured_policy("triplanenet_v2", short).triplanenet.trains(5) == {"w_plus": True, "feature_stage": True}
    assert configured_policy("triplanenet_v2", short).triplanenet.trains(9)["w_plus"] is False
    with pytest.raises(ConfigError, match="goae_progressive_steps"):
        TrainingSettings(goae_progressive_steps=(3, 2, 1))
    with pytest.raises(ConfigError, match="triplanenet_stop_wplus"):
        TrainingSettings(triplanenet_add_feature_stage=10, triplanenet_stop_wplus=5)
    with pytest.raises(ConfigError, match="e4e_delta_norm_lambda"):
        TrainingSettings(e4e_delta_norm_lambda=-1.0)


# Where each value of the config's `baselines` encoder sections lands in the policy the loop runs.
BASELINE_KEYS_IN_POLICY = {
    "psp": {"lambda_lpips": "reconstruction.lpips", "lambda_l2": "reconstruction.l2",
            "lambda_id": "reconstruction.identity"},
    "e4e": {"lambda_lpips": "reconstruction.lpips", "lambda_l2": "reconstruction.l2",
            "lambda_id": "reconstruction.identity", "progressive_start": "e4e.progressive_start",
            "progressive_step_every": "e4e.progressive_step_every", "delta_norm_lambda": "e4e_losses.delta_norm",
            "delta_norm_p": "e4e_losses.delta_norm_p", "w_discriminator_lambda": "e4e_losses.latent_adversarial",
            "w_discriminator_lr": "e4e_losses.discriminator_learning_rate", "w_pool_size": "e4e_losses.w_pool_size",
            "r1_gamma": "e4e_losses.r1_gamma", "r1_every": "e4e_losses.r1_interval"},
    "triplanenet_v2": {"lambda_lpips": "reconstruction.lpips", "lambda_l2": "reconstruction.l2",
                       "lambda_id": "reconstruction.identity", "add_triplanenet": "triplanenet.add_triplanenet",
                       "stop_psp": "triplanenet.stop_psp", "mirror_lambda": "triplanenet.mirror_lambda"},
    "goae": {"lambda_lpips": "reconstruction.lpips", "lambda_l2": "reconstruction.l2",
             "lambda_id": "reconstruction.identity", "progressive_steps": "goae.progressive_steps"},
}


def _attribute(policy, dotted):
    for name in dotted.split("."):
        policy = getattr(policy, name)
    return policy


def _changed(value):
    if isinstance(value, list):
        return [item + 1 + index for index, item in enumerate(value)]
    return value + 3 if isinstance(value, int) else value * 3 + 0.25


def test_every_baseline_recipe_value_of_the_study_config_reaches_the_policy():
    from dualinv.baselines.training_policies import BASELINE_POLICIES
    from dualinv.config import REPO_ROOT, from_mapping, read_yaml
    from dualinv.training.baseline_parts import configured_policy

    values = read_yaml(REPO_ROOT / "config.yaml")
    for name, keys in BASELINE_KEYS_IN_POLICY.items():
        assert set(keys) == set(values["baselines"][name]), name  # a new config key needs a row here
        published = configured_policy(name, settings_from_study(from_mapping(values)))
        assert published == BASELINE_POLICIES[name]  # config.yaml and the library's defaults agree
        for key, where in keys.items():  # config.yaml holds the published recipe, i.e. the library defaults
            assert _attribute(published, where) == pytest.approx(values["baselines"][name][key]), (name, key)
        changed = {key: _changed(value) for key, value in values["baselines"][name].items()}
        study = from_mapping({**values, "baselines": {**values["baselines"], name: changed}})
        policy = configured_policy(name, settings_from_study(study))
        for key, where in keys.items():
            expected = changed[key]
            got = _attribute(policy, where)
            assert (list(got) if isinstance(got, tuple) else got) == pytest.approx(expected), (name, key)


def test_the_mini_preset_switches_on_every_baselines_own_parts():
    """In the mini DAG's few steps, e4e's deltas, TriPlaneNet v2's F stage and GOAE's groups all switch on."""
    from dualinv.config import REPO_ROOT, load_config
    from dualinv.training.baseline_parts import configured_policy

    mini = load_config(presets=(REPO_ROOT / "presets" / "mini.yaml",))
    settings = settings_from_study(mini, dataset="x")
    steps = range(mini.training.iterations)
    for name in ("e4e", "goae"):
        stages = [configured_policy(name, settings).stage(step) for step in steps]
        assert stages[0] < max(stages) and max(stages) >= 1, (name, stages)  # stages grow within the run
    phases = [configured_policy("triplanenet_v2", settings).triplanenet.trains(step) for step in steps]
    assert any(phase["feature_stage"] for phase in phases) and phases[0]["w_plus"]
    assert not phases[0]["feature_stage"]  # the W+-alone phase runs first, as in the recipe


def test_one_study_generator_for_data_training_and_evaluation():
    """Synthetic data, encoder training and evaluation build the same mini stand-in (weights and config)."""
    import torch

    from dualinv.config import REPO_ROOT, load_config
    from dualinv.data.synthetic import study_generator as data_generator
    from dualinv.eval.inverters import study_generator as eval_generator
    from dualinv.training.build import build_generator

    study = load_config(presets=(REPO_ROOT / "presets" / "mini.yaml",))
    from_data, _, name = data_generator(study)
    from_eval, label = eval_generator(study, "cpu")
    from_training, _ = build_generator(settings_from_study(study).generator)
    assert name == "mini" and label.startswith("stand-in:mini")
    assert from_data.config == from_eval.config == from_training.config
    assert from_training.neural_rendering_resolution == study.generator.neural_rendering_resolution
    reference = from_training.state_dict()
    for other in (from_data, from_eval):
        state = other.state_dict()
        assert state.keys() == reference.keys()
        assert all(torch.equal(state[key], reference[key]) for key in reference)
