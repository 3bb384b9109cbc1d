"""Every file a job reads is one of its declared inputs: walked over the mini preset's whole DAG, so a figure
or table can neither be drawn before what it reads exists nor go stale when that changes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT
from tests.workflow.snakemake_runs import copy_repository


@pytest.fixture(scope="module")
def jobs(tmp_path_factory):
    repo = copy_repository(tmp_path_factory.mktemp("repo"))
    done = subprocess.run([sys.executable, str(REPO_ROOT / "tests" / "workflow" / "dag_jobs.py"), str(repo), "mini",
                           str(repo / "presets" / "mini.yaml")], capture_output=True, text=True, cwd=repo, timeout=300)
    line = next((line for line in done.stdout.splitlines() if line.startswith("JOBS-JSON ")), None)
    assert line, done.stdout[-3000:] + done.stderr[-3000:]
    return json.loads(line.removeprefix("JOBS-JSON "))


def _only(jobs, rule):
    chosen = [job for job in jobs if job["rule"] == rule]
    assert len(chosen) == 1, (rule, len(chosen))
    return chosen[0]


def test_the_figures_declare_every_training_loss_log(jobs):
    """loss_curves.png reads each segment's loss log: each is a train_segment output and a make_figures input."""
    logs = {path for job in jobs if job["rule"] == "train_segment" for path in job["output"] if path.endswith(".losses.csv")}
    trained = {job["output"][0].split("/models/")[1].split("/")[0] for job in jobs if job["rule"] == "finalize_model"}
    assert trained and {path.split("/models/")[1].split("/")[0] for path in logs} == trained
    figures = _only(jobs, "make_figures")
    assert logs <= set(figures["input"])
    handed = {path for paths in figures["params"]["losses"].values() for path in paths}
    assert handed == logs  # the library draws exactly the declared logs, no folder glob


def test_every_path_a_job_is_handed_is_declared(jobs):
    """A path under the results folder in a job's params is an input (or its own output's work folder)."""
    produced = {path for job in jobs for path in job["output"]}
    for job in jobs:
        flat = json.dumps(job["params"])
        for path in produced:
            if f'"{path}"' in flat:
                own = any(path == output or Path(output).is_relative_to(path) or Path(path).is_relative_to(output)
                          for output in job["output"])
                downstream_target = job["rule"] == "optimise_shard" and "/inversions/" in path  # its write target
                assert path in job["input"] or own or downstream_target, (job["rule"], path)


def test_every_job_reading_a_dataset_or_checkpoint_declares_it(jobs):
    """Test sets, checkpoints and inversions reach the scripts only through ``snakemake.input``."""
    by_output = {path: job["rule"] for job in jobs for path in job["output"]}
    for job in jobs:
        upstream = {by_output[path] for path in job["input"] if path in by_output}
        if job["rule"] in ("invert_dataset", "evaluate_method", "optimise_shard", "optimise_inversions"):
            assert upstream & {"split_dataset", "make_synthetic_dataset", "prepare_images"}, job
        if job["rule"] == "evaluate_method":
            assert upstream & {"invert_dataset", "optimise_inversions"}, job
