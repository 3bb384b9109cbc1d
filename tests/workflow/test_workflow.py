"""The Snakemake workflow: lint, dry runs of every named target, rule shape, envs, profiles."""

from __future__ import annotations

import json
import sys
import tomllib
from pathlib import Path

import pytest
import yaml

from dualinv.study import TABLES
from dualinv.models.experiments import EXPERIMENTS

from tests.conftest import REPO_ROOT
from tests.workflow.snakemake_runs import MINI, copy_repository, job_counts, snakemake

NAMED_TARGETS = ["all", "mini", "figures", *(f"table{table}" for table in TABLES), *EXPERIMENTS]


@pytest.fixture(scope="module")
def repo(tmp_path_factory):
    return copy_repository(tmp_path_factory.mktemp("repo"))


@pytest.fixture(scope="module")
def rules(repo):
    import subprocess

    done = subprocess.run([sys.executable, str(REPO_ROOT / "tests" / "workflow" / "rule_table.py"), str(repo),
                           str(repo / "presets" / "mini.yaml")], capture_output=True, text=True, cwd=repo)
    line = next((line for line in done.stdout.splitlines() if line.startswith("RULES-JSON ")), None)
    assert line, done.stdout + done.stderr
    return json.loads(line.removeprefix("RULES-JSON "))


def test_lint_is_clean(repo):
    done = snakemake(repo, "--lint", *MINI)
    assert done.returncode == 0 and "Congratulations" in done.stdout, done.stdout


def test_every_named_target_dry_runs_together(repo):
    done = snakemake(repo, "-n", *NAMED_TARGETS, *MINI)
    assert done.returncode == 0, done.stdout
    counts = job_counts(done.stdout)
    assert counts["make_table"] == 5 and counts["make_figures"] == 1
    assert counts["train_segment"] == 2 * sum(experiment.trains for experiment in EXPERIMENTS.values())


# Alone, each kind of target: the study targets, and one experiment per branch of experiment_target
# (trained, assembled from others, per-image optimisation); the test above covers every name together.
@pytest.mark.slow
@pytest.mark.parametrize("target", ["all", "mini", "figures", *(f"table{table}" for table in TABLES),
                                    "encoder2", "dual", "pti"])
def test_each_kind_of_named_target_dry_runs_alone(repo, target):
    done = snakemake(repo, "-n", target, *MINI)
    assert done.returncode == 0, done.stdout


def test_named_targets_exist(rules):
    assert set(NAMED_TARGETS) <= set(rules)


def test_every_rule_with_an_action_has_log_benchmark_env_and_script(rules):
    acting = {name: rule for name, rule in rules.items() if rule["has_action"]}
    assert len(acting) >= 10
    for name, rule in acting.items():
        assert rule["log"] and f"/logs/{name}/" in rule["log"][0], name
        assert rule["benchmark"] and f"/benchmarks/{name}/" in rule["benchmark"], name
        assert rule["script"] and Path(rule["script"]).is_file(), (name, rule["script"])  # resolved from the rule file
        assert rule["conda"] and Path(rule["conda"]).is_file(), (name, rule["conda"])  # a typo passes -n and --lint


def test_every_rule_has_a_docstring(rules):
    undocumented = [name for name, rule in rules.items() if not (rule["docstring"] or "").strip()]
    assert not undocumented


def test_bookkeeping_rules_run_locally_with_small_resources(rules):
    """Splits, links and tables take seconds: they run beside Snakemake, never as cluster jobs."""
    for name in ("prepare_images", "split_dataset", "finalize_model", "make_table"):
        assert rules[name]["localrule"] and rules[name]["threads"] == 1, name
        assert rules[name]["resources"]["mem_mb"] <= 1000 and rules[name]["resources"]["runtime"] <= 10, name
    compute = ("train_segment", "invert_dataset", "evaluate_method", "optimise_shard", "prepare_shard")
    assert not any(rules[name]["localrule"] for name in compute)


def test_every_referenced_env_exists_and_follows_pyproject(repo, rules):
    pins = {dependency.split("=")[0].split(">")[0].split("<")[0]: dependency
            for dependency in tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]["dependencies"]}
    referenced = {Path(rule["conda"]).resolve().relative_to(repo.resolve()) for rule in rules.values() if rule["conda"]}
    assert referenced == {Path("envs/torch.yaml"), Path("envs/prep.yaml")}
    for name in referenced:
        env = yaml.safe_load((repo / name).read_text())
        assert set(env) == {"channels", "dependencies"}, name
        pip = next(item["pip"] for item in env["dependencies"] if isinstance(item, dict))
        for requirement in pip:
            if requirement.startswith("-e"):
                continue
            package = requirement.split("=")[0].split(">")[0].split("<")[0]
            assert pins.get(package) == requirement, f"{name}: {requirement} differs from pyproject {pins.get(package)}"


def test_slurm_profile_resources_name_real_rules(rules):
    profile = yaml.safe_load((REPO_ROOT / "slurm" / "config.yaml").read_text())
    assert profile["executor"] == "slurm" and profile["jobs"] >= 1 and profile["retries"] >= 1
    assert set(profile.get("set-resources") or {}) <= {name for name, rule in rules.items() if rule["has_action"]}


class _Resources(dict):
    """A job's resources as the Slurm plugin reads them (``.get`` and attribute access)."""

    __getattr__ = dict.__getitem__


def test_slurm_jobs_ask_for_the_cpus_the_config_gives_each_rule(rules):
    """Each job's CPUs are its rule's threads (``resources.<group>.threads``), with or without a GPU: no
    cpus_per_gpu or cpus_per_task in the profile overrides them (the plugin's own flag function decides)."""
    from snakemake_executor_plugin_slurm_jobstep import get_cpu_setting

    profile = yaml.safe_load((REPO_ROOT / "slurm" / "config.yaml").read_text())
    acting = {name: rule for name, rule in rules.items() if rule["has_action"]}
    assert all(isinstance(rule["threads"], int) for rule in acting.values()), acting
    for name, rule in acting.items():
        resources = _Resources({**profile["default-resources"], **(profile.get("set-resources") or {}).get(name, {})})
        job = type("Job", (), {"threads": rule["threads"], "resources": resources})()
        for gpu in (False, True):
            assert get_cpu_setting(job, gpu) == f"--cpus-per-task={rule['threads']}", (name, gpu)


def test_the_jobs_that_save_and_stop_ask_slurm_for_sigterm_before_their_time_limit(rules):
    """Training segments, inversions, optimisation shards and ground-truth 360° jobs get
    ``--signal=TERM@<resources.stop_warning_seconds>``
    (docs/workflow.md, "Stopping before the limit"), a flag the Slurm plugin lets through; no other job does,
    and the profile sets no slurm_extra that would replace it."""
    from snakemake_executor_plugin_slurm.validation import validate_slurm_extra

    stopping = {"train_segment", "invert_dataset", "optimise_shard", "optimise_inversions", "gt360_method"}
    asking = {name for name, rule in rules.items() if "slurm_extra" in rule["resources"]}
    assert asking == stopping
    for name in stopping:
        assert rules[name]["resources"]["slurm_extra"] == "--signal=TERM@300", name
        validate_slurm_extra(type("Job", (), {"resources": _Resources(rules[name]["resources"])})())
    profile = yaml.safe_load((REPO_ROOT / "slurm" / "config.yaml").read_text())
    assert "slurm_extra" not in profile["default-resources"]
    assert not any("slurm_extra" in rule for rule in (profile.get("set-resources") or {}).values())


def test_the_shipped_slurm_profile_dry_runs(repo):
    done = snakemake(repo, "table5", "-n", "--profile", "slurm", *MINI)
    assert done.returncode == 0, done.stdout[-3000:]


def test_a_plain_run_reads_the_default_profile_and_schedules_greedily(repo):
    assert yaml.safe_load((REPO_ROOT / "profiles" / "default" / "config.yaml").read_text()) == {"scheduler": "greedy"}
    done = snakemake(repo, "table5", "-n", *MINI)
    assert done.returncode == 0, done.stdout[-3000:]
    assert "Using workflow specific profile profiles/default" in done.stdout


def test_test_cluster_profile_only_overrides_test_settings():
    overrides = yaml.safe_load((REPO_ROOT / "ci" / "slurm-test" / "config.yaml").read_text())
    assert "default-resources" not in overrides and "executor" not in overrides
    assert overrides["slurm-status-command"] == "squeue"
    assert overrides["scheduler"] == "greedy"  # it replaces profiles/default, so it repeats that line


def test_the_ci_gpu_overlay_is_a_valid_mini_config_that_asks_for_a_gpu():
    """CI's mini run on the test cluster adds ci/gpu-request.yaml (.ci/run): it must validate on top of the
    mini preset and make a GPU rule group ask for one of the cluster's fake GPUs."""
    from dualinv.config import load_config

    config = load_config(presets=(REPO_ROOT / "presets" / "mini.yaml", REPO_ROOT / "ci" / "gpu-request.yaml"))
    assert config.preset == "mini" and config.resources.invert.gpus == 1
    assert "ci/gpu-request.yaml" in (REPO_ROOT / ".ci" / "run").read_text()


def test_a_bad_config_fails_the_dry_run_with_the_key_named(repo):
    (repo / "typo.yaml").write_text("training: {bach_size: 3}\ngenerator: {preset: huge}\n")
    done = snakemake(repo, "-n", *MINI, "typo.yaml")
    assert done.returncode != 0
    assert "training.bach_size" in done.stdout and "generator.preset" in done.stdout, done.stdout


def test_mini_target_needs_the_mini_preset(repo):
    done = snakemake(repo, "-n", "mini", *MINI, "--config", "preset=custom")
    assert done.returncode != 0 and "--configfile presets/mini.yaml" in done.stdout, done.stdout


def test_proof_target_dry_runs_on_both_presets_and_names_them_when_one_is_missing(repo):
    done = snakemake(repo, "-n", "proof", *MINI, "presets/proof.yaml")
    assert done.returncode == 0, done.stdout
    assert job_counts(done.stdout)["train_segment"] == 4  # Encoder 1 and 2, two segments each
    for alone in (("--configfile", "presets/proof.yaml"), ("--configfile", "presets/mini.yaml", "--configfile",
                                                           "presets/proof.yaml")):  # the second flag replaces the first
        done = snakemake(repo, "-n", "proof", *alone)
        assert done.returncode != 0 and "--configfile presets/mini.yaml presets/proof.yaml" in done.stdout, done.stdout


def test_training_runs_as_a_chain_of_segments(repo):
    (repo / "five_steps.yaml").write_text("training: {iterations: 5, segment_length: 2}\n")
    done = snakemake(repo, "-n", "encoder1", *MINI, "five_steps.yaml")
    assert done.returncode == 0, done.stdout
    assert job_counts(done.stdout)["train_segment"] == 3 and job_counts(done.stdout)["finalize_model"] == 1
    models = "results/mini/models/encoder1"
    assert f"input: results/mini/data/train, results/mini/data/val, {models}/segments/1.pt\n" \
           f"    output: {models}/segments/2.pt" in done.stdout
    assert f"input: {models}/segments/2.pt\n    output: {models}/checkpoint.pt" in done.stdout


def test_the_reports_figure_caption_lists_every_figure_the_library_makes():
    import re

    import dualinv.eval.figures

    made = re.findall(r"``(\w+\.png)``", dualinv.eval.figures.__doc__)
    assert len(made) >= 6, made
    caption = (REPO_ROOT / "report" / "figures.rst").read_text()
    assert set(re.findall(r"``(\w+\.png)``", caption)) == set(made)


def test_mead_videos_become_frames_then_a_prepared_test_set(repo, tmp_path):
    for view in ("front", "left_30", "left_60", "right_30", "right_60"):
        video = tmp_path / "mead" / "M003" / "video" / view / "angry" / "level_1" / "001.mp4"
        video.parent.mkdir(parents=True)
        video.write_bytes(b"mp4")
    (repo / "mead_videos.yaml").write_text(f"data: {{mead: {{source: videos, path: {tmp_path / 'mead'}}}}}\n")
    done = snakemake(repo, "-n", "results/mini/data/mead", *MINI, "mead_videos.yaml")
    assert done.returncode == 0, done.stdout
    assert job_counts(done.stdout) == {"extract_mead_frames": 1, "prepare_shard": 2, "prepare_images": 1}
    assert "input: results/mini/data/mead_frames\n    output: results/mini/preparation_shards/mead/0.json" in done.stdout
    assert ("input: results/mini/preparation_shards/mead/0.json, results/mini/preparation_shards/mead/1.json\n"
            "    output: results/mini/data/mead\n") in done.stdout, done.stdout


def test_the_ci_requeue_overlay_is_one_segment_that_only_the_stop_signal_checkpoints():
    """ci/requeue-test.sh (.ci/run) needs a single segment without periodic checkpoints, so that a resumed
    try can only have started from the partial checkpoint the signal made, and a first try that reaches its
    training loop (~15 s) before Slurm's warning, which came up to 70 s earlier than asked on the test cluster."""
    from dualinv.config import load_config

    config = load_config(presets=(REPO_ROOT / "presets" / "mini.yaml", REPO_ROOT / "ci" / "requeue-test.yaml"))
    training, resources = config.training, config.resources
    assert training.iterations == training.segment_length == training.checkpoint_every
    assert 60 * resources.train.runtime - resources.stop_warning_seconds - 70 >= 45
    assert config.output.results != "results/mini"  # the mini run's results stay
    assert "ci/requeue-test.sh" in (REPO_ROOT / ".ci" / "run").read_text()
