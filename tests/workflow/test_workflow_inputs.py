"""The input check asks a target only for the weights and datasets its own jobs read (dualinv.workflow_inputs)."""

from __future__ import annotations

import pytest
import yaml

from dualinv.config import from_mapping, merge_overrides, read_yaml
from dualinv.errors import MissingInputsError
from dualinv.workflow_inputs import RULE_WEIGHTS, check_rule_inputs, rule_input_problems, rule_weights

from tests.conftest import REPO_ROOT
from tests.workflow.snakemake_runs import MINI, copy_repository, snakemake


def _paper_values(tmp_path):
    """The paper config with every weights file missing under ``tmp_path``."""
    values = read_yaml(REPO_ROOT / "config.yaml")
    values["weights"] = {key: (None if path is None else str(tmp_path / "weights" / f"{key}.missing"))
                         for key, path in values["weights"].items()}
    return values


def _keys(problems):
    return sorted(problem.split(" = ")[0].split(". ")[-1] for problem in problems)


def test_each_rule_is_asked_only_for_the_weights_it_loads(tmp_path):
    config = from_mapping(_paper_values(tmp_path))
    assert _keys(rule_input_problems(config, "evaluate_method")) == [
        "weights.curricularface", "weights.inception", "weights.ir_se50", "weights.lpips_alex", "weights.panohead"]
    assert _keys(rule_input_problems(config, "train_segment")) == [
        "weights.ir_se50", "weights.lpips_alex", "weights.panohead"]
    assert _keys(rule_input_problems(config, "optimise_shard")) == ["weights.lpips_vgg", "weights.panohead"]
    assert _keys(rule_input_problems(config, "prepare_shard")) == ["weights.u2net"]
    for bookkeeping in ("split_dataset", "finalize_model", "make_table", "make_figures"):
        assert bookkeeping not in RULE_WEIGHTS and rule_input_problems(config, bookkeeping) == []


def test_the_training_lpips_trunk_follows_training_lpips_net(tmp_path):
    values = _paper_values(tmp_path)
    values["training"]["lpips_net"] = "vgg"
    assert "weights.lpips_vgg" in _keys(rule_input_problems(from_mapping(values), "train_segment"))
    assert "weights.lpips_alex" not in _keys(rule_input_problems(from_mapping(values), "train_segment"))


def test_a_generator_network_replaces_the_released_weights(tmp_path):
    values = _paper_values(tmp_path)
    values["generator"]["network"] = str(tmp_path / "mine.pkl")
    config = from_mapping(values)
    assert _keys(rule_input_problems(config, "invert_dataset")) == ["generator.network"]
    (tmp_path / "mine.pkl").write_bytes(b"pickle")
    assert rule_input_problems(config, "invert_dataset") == []
    assert rule_weights(config, "invert_dataset") == [str(tmp_path / "mine.pkl")]


def test_stand_ins_read_no_file_and_a_missing_dataset_is_named():
    values = merge_overrides(read_yaml(REPO_ROOT / "config.yaml"), read_yaml(REPO_ROOT / "presets" / "mini.yaml"))
    values["data"]["mead"] = {"source": "prepared", "path": "does/not/exist"}
    config = from_mapping(values)
    assert all(rule_weights(config, rule) == [] for rule in RULE_WEIGHTS)
    check_rule_inputs(config, "evaluate_method", ("val",))
    with pytest.raises(MissingInputsError, match=r"(?s)rule evaluate_method needs 1 input.*data\.mead\.path.*MEAD"):
        check_rule_inputs(config, "evaluate_method", ("mead",))


@pytest.fixture(scope="module")
def repo(tmp_path_factory):
    return copy_repository(tmp_path_factory.mktemp("repo"))


def _unused_inputs_missing(tmp_path, *, inception=False):
    """A mini config whose LPIPS-VGG, CelebA-HQ and MEAD inputs (and Inception file) are missing."""
    weights = {"lpips_vgg": str(tmp_path / "vgg16-397923af.pth")}
    if inception:
        weights["inception"] = str(tmp_path / "inception-2015-12-05.pt")
    overrides = {"weights": weights,
                 "data": {"celebahq": {"source": "photos", "path": str(tmp_path / "celebahq")},
                          "mead": {"source": "prepared", "path": str(tmp_path / "mead")}}}
    path = tmp_path / "missing.yaml"
    path.write_text(yaml.safe_dump(overrides))
    return (*MINI, str(path))


def test_table3_and_encoder2_dry_run_without_the_inputs_they_never_read(repo, tmp_path):
    """Table 3 (ablations on the validation split) reads neither MEAD, CelebA-HQ nor LPIPS-VGG;
    encoder2's checkpoint reads no test set and no Inception file, on Slurm as locally."""
    done = snakemake(repo, "-n", "table3", *_unused_inputs_missing(tmp_path))
    assert done.returncode == 0, done.stdout[-3000:]
    done = snakemake(repo, "-n", "--profile", "slurm", "encoder2", *_unused_inputs_missing(tmp_path, inception=True))
    assert done.returncode == 0, done.stdout[-3000:]


def test_a_target_that_reads_a_missing_input_names_it(repo, tmp_path):
    """Table 2 evaluates on MEAD: its dry run stops naming data.mead.path and where to get MEAD, and
    never names CelebA-HQ (Table 1's test set)."""
    done = snakemake(repo, "-n", "table2", *_unused_inputs_missing(tmp_path))
    assert done.returncode != 0
    assert "data.mead.path" in done.stdout and "wywu.github.io/projects/MEAD" in done.stdout, done.stdout[-3000:]
    assert "data.celebahq" not in done.stdout
