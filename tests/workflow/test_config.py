"""The study config: schema validation at the door, preset overlay, typed values, hash."""

from __future__ import annotations

import dataclasses
import typing

import pytest
import yaml
from snakemake.utils import update_config

from dualinv import config as study_config
from dualinv.config import (
    SCHEMA_PATH,
    StudyConfig,
    config_hash,
    from_mapping,
    load_config,
    merge_overrides,
    read_yaml,
)
from dualinv.errors import ConfigError
from dualinv.models.experiments import EXPERIMENTS
from dualinv.weights import REGISTRY

from tests.conftest import REPO_ROOT

CONFIG = REPO_ROOT / "config.yaml"
MINI = REPO_ROOT / "presets" / "mini.yaml"


def paper_values() -> dict:
    return read_yaml(CONFIG)


def rejected(values: dict) -> str:
    with pytest.raises(ConfigError) as caught:
        from_mapping(values)
    return str(caught.value)


def test_paper_config_loads_with_the_papers_hyperparameters():
    config = load_config(CONFIG)
    assert isinstance(config, StudyConfig)
    assert (config.training.batch_size, config.training.iterations, config.training.learning_rate) == (3, 500_000, 1e-4)
    assert (config.training.lambda_lpips, config.training.lambda_l2, config.training.lambda_id) == (0.8, 1.0, 0.5)
    assert (config.training.lambda_discriminator, config.training.lambda_adv) == (0.5, 0.001)
    assert (config.training.r1_gamma, config.training.r1_every) == (10.0, 16)
    assert config.evaluation.fid_images == 1000


def test_a_typo_key_is_rejected_with_its_path():
    values = paper_values()
    values["training"]["bach_size"] = 3
    message = rejected(values)
    assert "training.bach_size" in message and "was unexpected" in message


def test_a_typo_section_is_rejected_with_its_name():
    values = paper_values()
    values["trainig"] = {}
    assert "trainig" in rejected(values)


def test_a_wrong_type_is_rejected_with_its_path():
    values = paper_values()
    values["training"]["batch_size"] = "3"
    message = rejected(values)
    assert "training.batch_size" in message and "'3' is not of type 'integer'" in message


def test_a_bad_enum_value_is_rejected_with_its_path():
    values = paper_values()
    values["generator"]["preset"] = "huge"
    message = rejected(values)
    assert "generator.preset" in message and "huge" in message


def test_the_metric_protocol_is_one_of_the_two_and_defaults_to_the_authors():
    assert from_mapping(paper_values()).evaluation.protocol == "authors"
    values = paper_values()
    values["evaluation"]["protocol"] = "ours"
    assert from_mapping(values).evaluation.protocol == "ours"
    values["evaluation"]["protocol"] = "both"
    message = rejected(values)
    assert "evaluation.protocol" in message and "both" in message


def test_an_unknown_experiment_is_rejected():
    values = paper_values()
    values["experiments"] = ["encoder1", "encoder3"]
    assert "experiments.1" in rejected(values)


def test_every_problem_is_reported_at_once():
    values = paper_values()
    values["training"]["batch_size"] = 0
    values["data"]["mead"]["source"] = "video"
    message = rejected(values)
    assert "training.batch_size" in message and "data.mead.source" in message and "2 problem(s)" in message


def test_relations_between_keys_are_checked_at_the_door_with_the_keys_named():
    values = paper_values()
    values["baselines"]["goae"]["progressive_steps"] = [30000, 20000, 10000]
    values["baselines"]["triplanenet_v2"]["stop_psp"] = 10
    message = rejected(values)
    assert "baselines.goae.progressive_steps" in message and "baselines.triplanenet_v2.stop_psp" in message


def test_a_missing_key_takes_its_dataclass_default():
    values = paper_values()
    del values["training"]["seed"], values["evaluation"]["cameras"]
    config = from_mapping(values)
    assert config.training.seed == study_config.TrainingConfig().seed == 0
    assert config.evaluation.cameras == study_config.CameraConfig()


def test_yaml_tags_that_build_objects_are_refused(tmp_path):
    path = tmp_path / "evil.yaml"
    path.write_text("preset: !!python/object/apply:os.system ['true']\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        read_yaml(path)


def test_mini_preset_overrides_only_what_it_names():
    paper, mini = load_config(CONFIG), load_config(CONFIG, presets=(MINI,))
    assert mini.preset == "mini" and mini.generator.preset == "demo"
    assert mini.training.iterations == 2 and mini.training.segment_length == 1  # two segments: the chain runs
    assert all(path is None for path in vars(mini.weights).values())
    # Keys the preset does not name keep the paper's values, also inside overridden sections.
    assert mini.training.learning_rate == paper.training.learning_rate
    assert mini.training.lambda_lpips == paper.training.lambda_lpips
    assert mini.encoder.latent_truncation_psi == paper.encoder.latent_truncation_psi
    assert mini.experiments == paper.experiments
    assert mini.baselines.w_optim.steps == 5 and mini.baselines.w_optim.lambda_w_norm == paper.baselines.w_optim.lambda_w_norm
    assert mini.baselines.pti.learning_rate == paper.baselines.pti.learning_rate


def test_preset_overlay_merges_as_snakemake_configfile_does():
    """``snakemake --configfile presets/mini.yaml`` must give the same config as load_config."""
    paper, preset = paper_values(), read_yaml(MINI)
    expected = paper_values()
    update_config(expected, preset)  # Snakemake's own recursive merge, the independent reference
    assert merge_overrides(paper, preset) == expected
    assert merge_overrides({"a": {"b": 1, "c": [1, 2]}}, {"a": {"c": [3]}}) == {"a": {"b": 1, "c": [3]}}


def schema_properties(schema: dict, node: dict) -> dict:
    if "$ref" in node:
        node = {**schema["$defs"][node["$ref"].split("/")[-1]], **node}
    return node


def walk(schema: dict, node: dict, kind, path: str):
    """Yield (path, schema node, dataclass field type) for every key, checking names match."""
    node = schema_properties(schema, node)
    assert node.get("additionalProperties") is False, f"{path}: additionalProperties must be false"
    hints = typing.get_type_hints(kind)
    names = [item.name for item in dataclasses.fields(kind)]
    assert sorted(node["properties"]) == sorted(names), path
    assert "required" not in node, f"{path}: a left-out key takes its dataclass default"
    for name in names:
        child = schema_properties(schema, node["properties"][name])
        yield f"{path}{name}", child
        if dataclasses.is_dataclass(hints[name]):
            yield from walk(schema, child, hints[name], f"{path}{name}.")


def test_schema_and_dataclasses_name_the_same_keys_and_every_key_is_documented():
    schema = read_yaml(SCHEMA_PATH)
    for path, node in walk(schema, schema, StudyConfig, ""):
        assert node.get("description"), f"{path} has no description"
        assert "default" in node or "properties" in node, f"{path} has no default"


def test_every_schema_default_is_the_dataclass_default():
    """The defaults live in the dataclasses of dualinv.config; the schema's ``default:`` documents them."""
    schema, defaults = read_yaml(SCHEMA_PATH), study_config.as_dict(StudyConfig())
    checked, covered = 0, []  # sections whose default is given whole (the datasets, the resource groups)
    for path, node in walk(schema, schema, StudyConfig, ""):
        value = defaults
        for part in path.split("."):
            value = value[part]
        if any(path.startswith(prefix + ".") for prefix in covered):
            continue
        if "default" in node:
            assert value == node["default"], path
            covered.append(path)
            checked += 1
    assert checked > 90


def test_the_defaults_are_the_paper_study_of_config_yaml():
    """config.yaml writes the paper study out in full; it is what the dataclass defaults give."""
    assert study_config.as_dict(load_config(CONFIG)) == study_config.as_dict(StudyConfig())


def test_weights_keys_and_experiment_names_follow_the_registries():
    schema = read_yaml(SCHEMA_PATH)
    assert set(schema["properties"]["weights"]["properties"]) == set(REGISTRY)
    assert schema["properties"]["experiments"]["items"]["enum"] == list(EXPERIMENTS)


def test_config_hash_is_stable_and_sensitive():
    first, second = load_config(CONFIG), load_config(CONFIG)
    assert config_hash(first) == config_hash(second)
    assert config_hash(first).startswith("sha256:") and len(config_hash(first)) == 7 + 64
    values = paper_values()
    values["training"]["seed"] = 1
    assert config_hash(from_mapping(values)) != config_hash(first)


def test_resources_grow_with_each_attempt():
    train = load_config(CONFIG).resources.train
    assert train.for_attempt(1) == {"gpu": 1, "mem_mb": 32000, "runtime": 720}
    assert train.for_attempt(3) == {"gpu": 1, "mem_mb": 96000, "runtime": 2160}


def test_the_stop_warning_must_come_within_the_first_try_of_every_stopping_group():
    values = paper_values()
    values["resources"]["invert"]["runtime"] = 5
    values["resources"]["stop_warning_seconds"] = 300
    message = rejected(values)
    assert "resources.stop_warning_seconds: 300 s is not less than resources.invert.runtime (5 min)" in message
    values["resources"]["stop_warning_seconds"] = 0  # no early signal: any runtime goes
    assert from_mapping(values).resources.stop_warning_seconds == 0


def test_no_module_level_state_leaks_between_loads():
    assert not [name for name, value in vars(study_config).items()
                if isinstance(value, (dict, list, set)) and not name.startswith("__")]


def test_yaml_roundtrip_of_the_schema_is_plain_yaml():
    assert yaml.safe_load(SCHEMA_PATH.read_text())["additionalProperties"] is False
