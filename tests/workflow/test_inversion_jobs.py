"""Inversion jobs keep their progress when they fail (dualinv.inversion_jobs).

Snakemake deletes a failed job's declared outputs; these tests fail a job in the middle of a test set,
delete its declared output as Snakemake would, run it again and count what the method recomputes.
The runner, the renders and the publishing are real; only the method is a counting stand-in.
"""

from __future__ import annotations

import json
import shutil

import pytest

from dualinv.config import REPO_ROOT, from_mapping, merge_overrides, read_yaml
from dualinv.eval.inverters import StandInInverter
from dualinv.models.generator import GeneratorIdentity
from dualinv.inversion_jobs import (PARTIAL_SUFFIX, inversion_fingerprint, invert_resumably, optimise_shard,
                                    partial_root)
from tests.eval.standins import tiny128_generator, write_test_set

IMAGES = 5


class TimeLimit(Exception):
    """Stands for the job being killed (time limit, preemption, node failure)."""


class CountingInverter(StandInInverter):
    """The stand-in method; counts the images it inverts and can be 'killed' after some of them. It stands
    for W+ optimisation / PTI, which invert each image once (no untimed warm-up batch)."""

    warm_up = False

    def __init__(self, generator, fail_after: int | None = None):
        super().__init__(generator, seed=0)
        self.fail_after = fail_after

    def invert(self, images, cameras):
        if self.fail_after is not None and self.images_inverted + images.shape[0] > self.fail_after:
            raise TimeLimit(f"killed after {self.images_inverted} images")
        return super().invert(images, cameras)


def _study(**overrides):
    values = merge_overrides(read_yaml(REPO_ROOT / "config.yaml"), read_yaml(REPO_ROOT / "presets" / "mini.yaml"))
    values = merge_overrides(values, {"data": {"test_images": None},
                                      "evaluation": {"fid_images": 2, "figure_items": 0, "mesh_resolution": 0}})
    return from_mapping(merge_overrides(values, overrides))


@pytest.fixture(scope="module")
def generator():
    return tiny128_generator()


@pytest.fixture
def method(monkeypatch, generator):
    """Every job builds a fresh method (as a new process would); ``method.next_fail_after`` kills the next one."""
    made = []

    def build(experiment, checkpoints, generator_, label, **kwargs):
        made.append(CountingInverter(generator, fail_after=state["next_fail_after"]))
        state["next_fail_after"] = None
        return made[-1]

    state = {"next_fail_after": None}
    monkeypatch.setattr("dualinv.eval.inverters.study_generator",
                        lambda config, device: (generator, GeneratorIdentity.of(generator, "stand-in:mini")))
    monkeypatch.setattr("dualinv.eval.inverters.build_method_inverter", build)
    return type("Methods", (), {"made": made, "state": state})


def _dataset(tmp_path):
    return write_test_set(tmp_path / "data" / "val", [f"images/{index:05d}.png" for index in range(IMAGES)])


def test_a_failed_job_resumes_and_recomputes_only_the_images_it_had_not_finished(tmp_path, method):
    study, dataset = _study(), _dataset(tmp_path)
    output = tmp_path / "results" / "inversions" / "w_optim" / "val"
    method.state["next_fail_after"] = 3  # one image per call (TIMING_BATCH_SIZE): killed on the fourth
    with pytest.raises(TimeLimit):
        invert_resumably(study, "w_optim", dataset, [], output)
    finished = sorted(path.stem for path in partial_root(output).glob("*/items/*.json"))
    assert finished == ["00000", "00001", "00002"] and method.made[0].images_inverted == 3
    shutil.rmtree(output, ignore_errors=True)  # Snakemake deletes a failed job's declared output

    manifest = invert_resumably(study, "w_optim", dataset, [], output)  # the retry
    assert method.made[1].images_inverted == IMAGES - len(finished)
    assert manifest["complete"] and json.loads((output / "inversion.json").read_text())["complete"]
    assert sorted(path.stem for path in (output / "same_view").glob("*.png")) == [f"{i:05d}" for i in range(IMAGES)]
    assert not partial_root(output).exists()  # the work folder became the output


def test_shards_share_the_work_and_the_publishing_job_only_fills_gaps(tmp_path, method):
    study, dataset = _study(resources={"optimise_shards": 2}), _dataset(tmp_path)
    inversions = tmp_path / "results" / "inversions" / "pti" / "val"
    records = [tmp_path / "shards" / f"{shard}.json" for shard in range(2)]
    method.state["next_fail_after"] = 2  # shard 0 (images 0, 2, 4) dies after its first two images
    with pytest.raises(TimeLimit):
        optimise_shard(study, "pti", dataset, 0, inversions, records[0])
    optimise_shard(study, "pti", dataset, 0, inversions, records[0])  # its retry
    optimise_shard(study, "pti", dataset, 1, inversions, records[1])
    assert [made.images_inverted for made in method.made] == [2, 1, 2]
    assert json.loads(records[0].read_text())["items"] == [f"images/{index:05d}.png" for index in (0, 2, 4)]
    assert json.loads(records[1].read_text())["items"] == ["images/00001.png", "images/00003.png"]

    manifest = invert_resumably(study, "pti", dataset, [], inversions)
    assert method.made[-1].images_inverted == 0 and manifest["complete"]
    assert len(list((inversions / "items").glob("*.json"))) == IMAGES


def test_progress_made_under_another_config_or_checkpoint_is_never_mixed_in(tmp_path):
    study, dataset = _study(), _dataset(tmp_path)
    base = inversion_fingerprint(study, "w_optim", dataset, [])
    # scheduling settings do not change an inversion: the work is reused
    assert inversion_fingerprint(_study(resources={"optimise": {"runtime": 99}, "optimise_shards": 7}),
                                 "w_optim", dataset, []) == base
    assert inversion_fingerprint(_study(baselines={"w_optim": {"steps": 6}}), "w_optim", dataset, []) != base
    assert inversion_fingerprint(study, "pti", dataset, []) != base
    checkpoint = tmp_path / "encoder.pt"
    checkpoint.write_bytes(b"one")
    first = inversion_fingerprint(study, "psp", dataset, [checkpoint])
    checkpoint.write_bytes(b"two")  # retrained
    assert inversion_fingerprint(study, "psp", dataset, [checkpoint]) != first
    assert partial_root(tmp_path / "inversions" / "psp" / "val").name == f".val{PARTIAL_SUFFIX}"


KILLED_ONCE = '''

def invert_dataset(config, method, dataset, checkpoints, output, shard=None):
    """Stub: the publishing job of w_optim/val is killed once after finishing one item."""
    items = output / "items"
    if shard is None and method == "w_optim" and dataset.name == "val":
        killed = output.parent / "killed-once"
        if not killed.exists():
            items.mkdir(parents=True, exist_ok=True)
            (items / "first.json").write_text("{}")
            killed.write_text("")
            raise RuntimeError("simulated time limit")
        assert (items / "first.json").is_file(), "the first try's progress was lost"
    _stub_record(output, "invert_dataset", method=method, dataset=dataset, checkpoints=checkpoints, config=config,
                 shard=shard)
    return {"names": [], "complete": shard is None}
'''


@pytest.mark.slow
def test_snakemake_retries_a_failed_inversion_job_from_its_progress(tmp_path):
    """Through Snakemake (stub library): the retry of a failed job finds the first try's finished items."""
    from tests.workflow.snakemake_runs import MINI, copy_repository, snakemake
    from tests.workflow.stub_library import install_stubs

    repo = install_stubs(copy_repository(tmp_path))
    runners = repo / "dualinv" / "eval" / "inverters.py"
    runners.write_text(runners.read_text() + KILLED_ONCE)
    done = snakemake(repo, "results/mini/inversions/w_optim/val", "--cores", "1", "--retries", "1", *MINI,
                     timeout=600)
    assert done.returncode == 0, done.stdout[-5000:]
    assert "Error in rule optimise_inversions" in done.stdout and "Trying to restart job" in done.stdout
    inversions = repo / "results" / "mini" / "inversions" / "w_optim" / "val"
    assert (inversions / "items" / "first.json").is_file() and (inversions / "call.json").is_file()
    assert not partial_root(inversions).exists()
    shards = sorted((repo / "results/mini/optimisation_shards/w_optim/val").glob("[0-9].json"))
    assert [path.name for path in shards] == [f"{shard}.json" for shard in range(_study().resources.optimise_shards)]
