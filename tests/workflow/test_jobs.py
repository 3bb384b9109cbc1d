"""The glue around each workflow job (dualinv.jobs) and the workflow scripts that use it."""

from __future__ import annotations

import json
import runpy
from pathlib import Path
from types import SimpleNamespace

import pytest

from dualinv import jobs
from dualinv.config import StudyConfig, merge_overrides, read_yaml
from dualinv.errors import MissingEntryPointError
from dualinv.provenance import read_provenance

from tests.conftest import REPO_ROOT

MINI_VALUES = merge_overrides(read_yaml(REPO_ROOT / "config.yaml"), read_yaml(REPO_ROOT / "presets" / "mini.yaml"))


class Names(dict):
    """Snakemake's Namedlist, as far as the scripts use it: attributes and ``get``."""

    __getattr__ = dict.__getitem__


def fake_snakemake(tmp_path, **fields):
    return SimpleNamespace(config=MINI_VALUES, log=[str(tmp_path / "job.log")], rule="test_rule", **fields)


def test_a_missing_module_names_the_function():
    with pytest.raises(MissingEntryPointError, match=r"dualinv\.no_such_package\.run.*module dualinv\.no_such_package"):
        jobs.entry_point("dualinv.no_such_package.run")


def test_a_missing_function_names_the_function():
    with pytest.raises(MissingEntryPointError, match=r"dualinv\.study\.no_such_function"):
        jobs.entry_point("dualinv.study.no_such_function")


def test_an_existing_function_is_returned():
    from dualinv.training.segments import segments

    assert jobs.entry_point("dualinv.training.segments.segments") is segments


def test_a_broken_dependency_is_not_disguised(tmp_path, monkeypatch):
    (tmp_path / "brokenpkg").mkdir()
    (tmp_path / "brokenpkg" / "__init__.py").write_text("import not_installed_anywhere\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(ModuleNotFoundError, match="not_installed_anywhere"):
        jobs.entry_point("brokenpkg.run")


def test_job_logs_and_writes_provenance(tmp_path):
    artifact = tmp_path / "out.json"
    snakemake = fake_snakemake(tmp_path)
    with jobs.job(snakemake, artifact, seeds={"segment": 1}) as config:
        assert isinstance(config, StudyConfig)
        print("to stdout")
        artifact.write_text("{}")
    log = (tmp_path / "job.log").read_text()
    assert "to stdout" in log and "test_rule" in log
    record = read_provenance(artifact)
    assert record["seeds"] == {"training": 0, "evaluation": 0, "synthetic": 0, "segment": 1}
    assert record["stand_in"] is True


def test_a_failed_job_logs_the_traceback_and_writes_no_provenance(tmp_path):
    artifact = tmp_path / "out.json"
    with pytest.raises(RuntimeError):
        with jobs.job(fake_snakemake(tmp_path), artifact):
            raise RuntimeError("boom in the library")
    assert "RuntimeError: boom in the library" in (tmp_path / "job.log").read_text()
    assert not (tmp_path / "out.json.provenance.json").exists()


def run_script(name, snakemake, monkeypatch):
    """Run a workflow script with its library call replaced by a recorder; returns (dotted name, kwargs)."""
    calls = []

    def recorder(dotted_name):
        return lambda **kwargs: calls.append((dotted_name, kwargs))

    monkeypatch.setattr(jobs, "entry_point", recorder)
    runpy.run_path(str(REPO_ROOT / "workflow_scripts" / name), init_globals={"snakemake": snakemake})
    assert len(calls) == 1, "a workflow script calls exactly one library function"
    return calls[0]


def test_train_segment_script_passes_typed_arguments(tmp_path, monkeypatch):
    from dualinv.training.segments import Segment

    snakemake = fake_snakemake(
        tmp_path, input=Names(resume=[str(tmp_path / "0.pt")], train=str(tmp_path / "train")),
        output=Names(checkpoint=str(tmp_path / "1.pt"), losses=str(tmp_path / "1.losses.csv")),
        params=Names(segment=Segment(1, 2, 4)), wildcards=Names(experiment="encoder2", segment="1"))
    (tmp_path / "1.losses.csv.partial").write_text("step,loss_encoder\n2,1.0\n")  # as the training writes it
    name, kwargs = run_script("train_segment.py", snakemake, monkeypatch)
    assert name == "dualinv.training.train_segment_job"
    assert isinstance(kwargs.pop("config"), StudyConfig)
    assert kwargs == {"experiment": "encoder2", "start": 2, "stop": 4, "checkpoint_in": tmp_path / "0.pt",
                      "checkpoint_out": tmp_path / "1.pt", "dataset": tmp_path / "train",
                      "log_path": tmp_path / "1.losses.csv.partial", "progress": True}
    # the log is written beside the declared output (a failed try's rows survive) and published on success
    assert (tmp_path / "1.losses.csv").read_text() == "step,loss_encoder\n2,1.0\n"
    assert json.loads((tmp_path / "1.pt.provenance.json").read_text())["seeds"]["segment"] == 1


def test_first_segment_starts_from_nothing(tmp_path, monkeypatch):
    from dualinv.training.segments import Segment

    snakemake = fake_snakemake(
        tmp_path, input=Names(resume=[], train=str(tmp_path / "train")), output=Names(checkpoint=str(tmp_path / "0.pt"), losses=str(tmp_path / "0.csv")),
        params=Names(segment=Segment(0, 0, 2)), wildcards=Names(experiment="encoder1", segment="0"))
    (tmp_path / "0.csv.partial").write_text("step\n")
    _, kwargs = run_script("train_segment.py", snakemake, monkeypatch)
    assert kwargs["checkpoint_in"] is None and kwargs["start"] == 0


def test_invert_script_without_checkpoints(tmp_path, monkeypatch):
    snakemake = fake_snakemake(
        tmp_path, input=Names(test_set=str(tmp_path / "val")), output=Names(inversions=str(tmp_path / "inv")),
        wildcards=Names(method="pti", test_set="val"))
    name, kwargs = run_script("invert_dataset.py", snakemake, monkeypatch)
    assert name == "dualinv.inversion_jobs.invert_resumably"
    assert kwargs["checkpoints"] == [] and kwargs["method"] == "pti" and kwargs["output"] == tmp_path / "inv"


def test_shard_script_passes_its_shard_and_the_final_inversions_folder(tmp_path, monkeypatch):
    snakemake = fake_snakemake(
        tmp_path, input=Names(test_set=str(tmp_path / "val")), output=Names(record=str(tmp_path / "3.json")),
        params=Names(inversions=str(tmp_path / "inv")), wildcards=Names(method="w_optim", test_set="val", shard="3"))
    name, kwargs = run_script("optimise_shard.py", snakemake, monkeypatch)
    assert name == "dualinv.inversion_jobs.optimise_shard"
    assert kwargs["shard"] == 3 and kwargs["inversions"] == tmp_path / "inv" and kwargs["record"] == tmp_path / "3.json"


def test_table_script_writes_under_its_prefix(tmp_path, monkeypatch):
    snakemake = fake_snakemake(
        tmp_path, input=Names(metrics=[str(tmp_path / "a.json")]),
        output=Names(csv=str(tmp_path / "table3.csv"), md="", tex=""), wildcards=Names(table="3"))
    name, kwargs = run_script("make_table.py", snakemake, monkeypatch)
    assert name == "dualinv.eval.tables.write_table"
    assert kwargs == {"table_number": 3, "metric_files": [tmp_path / "a.json"], "output_prefix": tmp_path / "table3"}


def test_gt360_scripts_pass_the_method_its_checkpoints_and_the_score_files(tmp_path, monkeypatch):
    snakemake = fake_snakemake(tmp_path, input=Names(checkpoints=[str(tmp_path / "e1.pt"), str(tmp_path / "e2.pt")]),
                               output=Names(scores=str(tmp_path / "dual.json")), wildcards=Names(method="dual"))
    name, kwargs = run_script("gt360_method.py", snakemake, monkeypatch)
    assert name == "dualinv.eval.gt360.gt360_method"
    assert kwargs["method"] == "dual" and kwargs["checkpoints"] == [tmp_path / "e1.pt", tmp_path / "e2.pt"]
    assert kwargs["output"] == tmp_path / "dual.json"
    snakemake = fake_snakemake(tmp_path, input=Names(scores=[str(tmp_path / "dual.json")]),
                               output=Names(csv=str(tmp_path / "table_gt360.csv")))
    name, kwargs = run_script("make_table_gt360.py", snakemake, monkeypatch)
    assert name == "dualinv.eval.gt360_table.write_gt360_table"
    assert kwargs == {"score_files": [tmp_path / "dual.json"], "output_prefix": tmp_path / "table_gt360"}


def test_mead_frames_script_passes_the_videos_and_the_frames_folder(tmp_path, monkeypatch):
    snakemake = fake_snakemake(tmp_path, input=Names(videos=str(tmp_path / "mead")),
                               output=Names(frames=str(tmp_path / "mead_frames")), wildcards=Names(source_dataset="mead"))
    name, kwargs = run_script("extract_mead_frames.py", snakemake, monkeypatch)
    assert name == "dualinv.data.study_sets.extract_study_mead_frames"
    assert isinstance(kwargs.pop("config"), StudyConfig)
    assert kwargs == {"videos": tmp_path / "mead", "output": tmp_path / "mead_frames"}


def test_prepare_shard_script_names_its_dataset_shard_and_work_folder(tmp_path, monkeypatch):
    snakemake = fake_snakemake(tmp_path, input=Names(photos=[str(tmp_path / "photos")], split=[]),
                               output=Names(record=str(tmp_path / "shards" / "1.json")),
                               params=Names(work=str(tmp_path / "work" / "1"), shards=3),
                               wildcards=Names(source_dataset="celebahq", shard="1"))
    name, kwargs = run_script("prepare_shard.py", snakemake, monkeypatch)
    assert name == "dualinv.data.prepare_study_shard"
    assert (kwargs["dataset"], kwargs["index"], kwargs["count"]) == ("celebahq", 1, 3)
    assert kwargs["work"] == tmp_path / "work" / "1" and kwargs["record"] == tmp_path / "shards" / "1.json"


def test_prepare_script_merges_the_shard_records(tmp_path, monkeypatch):
    records = [str(tmp_path / "shards" / f"{shard}.json") for shard in range(2)]
    snakemake = fake_snakemake(tmp_path, input=Names(shards=records), output=Names(dataset=str(tmp_path / "celebahq")),
                               wildcards=Names(source_dataset="celebahq"))
    name, kwargs = run_script("prepare_images.py", snakemake, monkeypatch)
    assert name == "dualinv.data.merge_study_shards" and kwargs["records"] == [Path(path) for path in records]


def test_every_script_is_glue_around_one_planned_call():
    planned = {
        "prepare_shard.py": "dualinv.data.prepare_study_shard",
        "prepare_images.py": "dualinv.data.merge_study_shards",
        "make_synthetic_dataset.py": "dualinv.data.synthetic.make_synthetic_dataset",
        "split_dataset.py": "dualinv.data.split_dataset",
        "extract_mead_frames.py": "dualinv.data.study_sets.extract_study_mead_frames",
        "train_segment.py": "dualinv.training.train_segment_job",
        "invert_dataset.py": "dualinv.inversion_jobs.invert_resumably",
        "optimise_shard.py": "dualinv.inversion_jobs.optimise_shard",
        "evaluate_method.py": "dualinv.eval.evaluate_method",
        "make_table.py": "dualinv.eval.tables.write_table",
        "gt360_method.py": "dualinv.eval.gt360.gt360_method",
        "make_table_gt360.py": "dualinv.eval.gt360_table.write_gt360_table",
        "make_figures.py": "dualinv.eval.figures.make_figures",
        "finalize_model.py": None,
    }
    scripts = sorted(path.name for path in (REPO_ROOT / "workflow_scripts").glob("*.py"))
    assert scripts == sorted(planned)
    for script, dotted_name in planned.items():
        text = (REPO_ROOT / "workflow_scripts" / script).read_text()
        assert "with job(snakemake" in text, script
        assert len(text.splitlines()) <= 15, script
        if dotted_name:
            assert text.count("entry_point(") == 1 and f'entry_point("{dotted_name}")' in text, script
