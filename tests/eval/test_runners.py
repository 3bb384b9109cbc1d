"""The inversion runner writes every render the protocols need, resumes without recomputing, and
evaluate_method turns its output into a metrics file the table makers accept."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import pytest
import torch

from dualinv.errors import ConfigError, PreemptedError
from dualinv.eval.fid import FidProtocol
from dualinv.devices import device_name
from dualinv.eval.inverters import StandInInverter
from dualinv.eval.metrics import time_protocol
from dualinv.models.inversion import timed_per_image
from dualinv.eval.runners import RenderPlan, figure_view_name, plan_items, run_inversions
from dualinv.fileio import load_image
from dualinv.mesh import PANOHEAD_ISO_LEVEL, read_ply
from tests.eval.standins import tiny128_generator, write_test_set

NAMES = [f"images/{index:05d}.png" for index in range(3)]


@pytest.fixture(scope="module")
def generator():
    return tiny128_generator()


def _plan(**changes):
    values = dict(fid=FidProtocol(num_images=2, seed=1), figure_items=1, figure_yaws_deg=(90.0, 180.0),
                  mesh_resolution=16)
    values.update(changes)
    return RenderPlan(**values)


@pytest.mark.slow
def test_runner_writes_every_render_and_resumes_without_recomputing(tmp_path, generator):
    dataset = write_test_set(tmp_path / "val", NAMES, yaws_deg=[0, 30, -30])
    output = tmp_path / "inversions" / "standin" / "val"
    inverter = StandInInverter(generator, seed=3)
    manifest = run_inversions(inverter, dataset, output, _plan(), method="standin", batch_size=2, progress=False)

    assert manifest["complete"] and manifest["stand_in"] and manifest["protocol"] == "same_view"
    assert inverter.images_inverted == 2 + 3  # a warm-up batch of 2, then every item once
    stems = ["00000", "00001", "00002"]
    assert sorted(path.stem for path in (output / "same_view").glob("*.png")) == stems
    # FID: num_images of the items, a seeded sample listed in camera order (tests/eval/test_sampling.py)
    fid_stems = [Path(name).stem for name in manifest["fid_names"]]
    assert len(fid_stems) == 2 and sorted(path.stem for path in (output / "fid").glob("*.png")) == sorted(fid_stems)
    assert [json.loads((output / "items" / f"{stem}.json").read_text())["fid_slot"] for stem in fid_stems] == [0, 1]
    (figure,) = [Path(name).stem for name in manifest["figure_names"]]
    others = [stem for stem in stems if stem != figure]
    assert sorted(path.name for path in (output / "views" / figure).iterdir()) == ["yaw+090.png", "yaw+180.png"]
    assert not (output / "views" / others[0]).exists()  # only the figure items get novel views and meshes
    assert (output / "meshes" / f"{figure}.ply").is_file() and not (output / "meshes" / f"{others[0]}.ply").exists()
    # a stand-in's faint density never reaches σ = 10: its figure mesh is cut at the recorded fallback level
    level = json.loads((output / "items" / f"{figure}.json").read_text())["mesh_iso_level"]
    assert level < PANOHEAD_ISO_LEVEL and len(read_ply(output / "meshes" / f"{figure}.ply").faces) > 0
    assert load_image(output / "same_view" / "00000.png").shape == (3, 128, 128)
    latents = torch.load(output / "latents" / f"{others[0]}.pt")
    assert latents["ws"].shape == (generator.num_ws, generator.w_dim) and "trigrid" not in latents
    assert torch.load(output / "latents" / f"{figure}.pt")["trigrid"].dtype == torch.float16
    record = json.loads((output / "items" / "00002.json").read_text())
    assert record["name"] == NAMES[2] and record["seconds"] > 0
    assert not list(output.rglob("*.tmp"))  # atomic writes leave no temporaries

    # The same-view render is a render of the stand-in's codes at the input camera (independent check).
    same_view = load_image(output / "same_view" / "00001.png")
    assert same_view.std() > 0.01

    # Resume: a finished run recomputes nothing; a lost item record recomputes only that item (plus its
    # untimed warm-up call).
    again = StandInInverter(generator, seed=3)
    run_inversions(again, dataset, output, _plan(), method="standin", batch_size=2, progress=False)
    assert again.images_inverted == 0
    (output / "items" / "00001.json").unlink()
    before = load_image(output / "same_view" / "00001.png")
    run_inversions(again, dataset, output, _plan(), method="standin", batch_size=2, progress=False)
    assert again.images_inverted == 2
    # the same item re-rendered in another batch: equal up to float reordering and uint8 rounding
    assert (load_image(output / "same_view" / "00001.png") - before).abs().max() <= 2 / 127.5

    with pytest.raises(ConfigError, match="another plan"):
        run_inversions(again, dataset, output, _plan(figure_items=2), method="standin", progress=False)


def test_an_items_same_view_render_does_not_depend_on_its_other_renders(tmp_path, generator):
    """Tables 1-5 read the same-view renders: being also a figure item or an FID image must not change one
    (the renders of an item once shared one jitter stream, so extra cameras shifted its draws)."""
    dataset = write_test_set(tmp_path / "val", NAMES, yaws_deg=[0, 30, -30])
    bare, full = tmp_path / "bare", tmp_path / "full"
    run_inversions(StandInInverter(generator, seed=3), dataset, bare,
                   _plan(figure_items=0, mesh_resolution=0),
                   method="standin", progress=False)
    manifest = run_inversions(StandInInverter(generator, seed=3), dataset, full,
                              _plan(fid=FidProtocol(num_images=3, seed=1), figure_items=3, mesh_resolution=0),
                              method="standin", progress=False)
    assert len(manifest["figure_names"]) == 3 and len(manifest["fid_names"]) == 3  # bare: 2 FID images, no figures
    for stem in ("00000", "00001", "00002"):
        assert torch.equal(load_image(bare / "same_view" / f"{stem}.png"), load_image(full / "same_view" / f"{stem}.png"))


@pytest.mark.slow
def test_mead_items_render_at_the_target_cameras(tmp_path, generator):
    shots = ["M003__{view}__angry__level_1__001__000010.png".format(view=view)
             for view in ("front", "left_30", "right_60")]
    dataset = write_test_set(tmp_path / "mead", [f"images/{name}" for name in shots], yaws_deg=[0, 30, -60])
    output = tmp_path / "out"
    manifest = run_inversions(StandInInverter(generator), dataset, output, _plan(figure_items=0, mesh_resolution=0),
                              method="standin", progress=False)
    assert manifest["protocol"] == "mead" and manifest["names"] == [f"images/{shots[0]}"]
    front = shots[0].removesuffix(".png")
    assert sorted(path.name for path in (output / "mead" / front).iterdir()) == ["left_30.png", "right_60.png"]
    left, right = (load_image(output / "mead" / front / f"{view}.png") for view in ("left_30", "right_60"))
    assert (left - right).abs().mean() > 0.01  # different cameras, different renders


def test_plan_items_caps_and_names():
    kept = [item.stem for item in plan_items(NAMES, _plan(), limit=2)]
    assert len(kept) == 2 and kept == sorted(kept) and set(kept) < {"00000", "00001", "00002"}
    with pytest.raises(Exception, match="unique file stems"):
        plan_items(["a/x.png", "b/x.png"], _plan())
    assert figure_view_name(-90) == "yaw-090" and figure_view_name(45) == "yaw+045"


@pytest.mark.slow
def test_invert_dataset_follows_the_study_config(tmp_path, generator, monkeypatch):
    """The workflow entry point: mini preset caps the items (data.test_images) and sets the FID protocol."""
    from dualinv.config import load_config
    from dualinv.eval.inverters import invert_dataset
    from dualinv.models.generator import GeneratorIdentity
    from tests.conftest import REPO_ROOT

    config = load_config(REPO_ROOT / "config.yaml", (REPO_ROOT / "presets" / "mini.yaml",))
    monkeypatch.setattr("dualinv.eval.inverters.study_generator",
                        lambda config, device: (generator, GeneratorIdentity.of(generator, "stand-in:tiny")))
    built = {}

    def build(experiment, checkpoints, generator, identity, **kwargs):
        built.update(kind=experiment.kind, checkpoints=checkpoints, label=identity.source)
        return StandInInverter(generator)

    monkeypatch.setattr("dualinv.eval.inverters.build_method_inverter", build)
    names = [f"images/{index:05d}.png" for index in range(config.data.test_images + 1)]
    dataset = write_test_set(tmp_path / "val", names)
    manifest = invert_dataset(config, "dual", dataset, [tmp_path / "e1.pt", tmp_path / "e2.pt"], tmp_path / "out")
    assert built == {"kind": "dual", "checkpoints": [tmp_path / "e1.pt", tmp_path / "e2.pt"], "label": "stand-in:tiny"}
    assert len(manifest["names"]) == config.data.test_images
    assert manifest["plan"]["fid"]["num_images"] == config.evaluation.fid_images
    assert manifest["provenance"]["generator"] == "stand-in:tiny"
    # Table 1's time column: per image at batch 1 after a warm-up, with the device named (issue #13, point 7)
    assert manifest["timing"]["batch_size"] == 1 and manifest["timing"]["warm_up"] is True
    assert manifest["timing"]["device"].startswith("cpu (") and "threads" in manifest["timing"]["device"]


class _SleepingInverter(StandInInverter):
    """A stand-in whose first call costs WARMUP_S (a cold start) and every later call BATCH_S."""

    WARMUP_S, BATCH_S = 1.5, 0.2

    def __init__(self, generator) -> None:
        super().__init__(generator)
        self.calls = 0

    def invert(self, images, cameras):
        self.calls += 1
        time.sleep(self.WARMUP_S if self.calls == 1 else self.BATCH_S)
        return super().invert(images, cameras)


@pytest.mark.slow
def test_seconds_per_image_exclude_the_warm_up_and_divide_by_the_batch(tmp_path, generator):
    dataset = write_test_set(tmp_path / "val", NAMES)
    output = tmp_path / "out"
    inverter = _SleepingInverter(generator)
    manifest = run_inversions(inverter, dataset, output, _plan(figure_items=0, mesh_resolution=0), method="standin",
                              batch_size=2, progress=False)
    assert inverter.calls == 3  # warm-up on the first batch, then batches of 2 and 1
    timing = manifest["timing"]
    assert timing["batch_size"] == 2 and timing["device"] == device_name("cpu") and timing["device"].startswith("cpu (")
    assert timing["warmup_seconds_per_image"] >= _SleepingInverter.WARMUP_S / 2
    seconds = {Path(name).stem: json.loads((output / "items" / f"{Path(name).stem}.json").read_text())["seconds"]
               for name in NAMES}
    # the batch of two shares its call; the last item is a batch of one; none carries the warm-up's cost
    assert _SleepingInverter.BATCH_S / 2 <= seconds["00000"] == seconds["00001"] < _SleepingInverter.WARMUP_S / 2
    assert _SleepingInverter.BATCH_S <= seconds["00002"] < _SleepingInverter.WARMUP_S / 2


def test_a_method_without_warm_up_inverts_each_item_once(tmp_path, generator):
    """Per-image optimisation (``warm_up = False``): no untimed repeat of a whole optimisation."""
    dataset = write_test_set(tmp_path / "val", NAMES)
    inverter = _SleepingInverter(generator)
    inverter.warm_up = False
    manifest = run_inversions(inverter, dataset, tmp_path / "out", _plan(figure_items=0, mesh_resolution=0),
                              method="standin", batch_size=2, progress=False)
    assert inverter.calls == 2 and manifest["complete"]
    assert manifest["timing"] == {"batch_size": 2, "device": device_name("cpu"), "warm_up": False, "warmup_seconds_per_image": None}
    assert "no warm-up batch" in time_protocol(2, "cpu", warm_up=False)
    assert "after one untimed warm-up batch" in time_protocol(2, "cpu")


def test_timed_per_image_reads_the_clock_after_synchronising_cuda(monkeypatch):
    """On CUDA, work still queued when the call returns (here: a synchronize that takes 0.3 s) is counted."""
    events = []

    def synchronize(device=None):
        events.append("synchronize")
        if events.count("synchronize") == 2:
            time.sleep(0.3)

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "synchronize", synchronize)
    result, seconds = timed_per_image(lambda: events.append("call") or "done", batch_size=3, device="cuda")
    assert result == "done" and events == ["synchronize", "call", "synchronize"]
    assert seconds >= 0.3 / 3


def test_a_stop_signal_ends_the_shard_between_batches_and_the_retry_does_the_rest(tmp_path, generator):
    """A stop signal (here SIGUSR1; Slurm's warning before the time limit is SIGTERM) during a batch: that batch is
    written, the job stops with PreemptedError, and the retry inverts only what was left."""
    dataset = write_test_set(tmp_path / "val", NAMES)
    output = tmp_path / "out"
    plan = _plan(figure_items=0, mesh_resolution=0)

    class Warned(StandInInverter):
        def invert(self, images, cameras):
            os.kill(os.getpid(), signal.SIGUSR1)  # arrives while the first batch runs
            return super().invert(images, cameras)

    warned = Warned(generator, seed=3)
    warned.warm_up = False
    with pytest.raises(PreemptedError, match="SIGUSR1 received; stopped with 1 of 3 images left"):
        run_inversions(warned, dataset, output, plan, method="standin", batch_size=2, progress=False)
    assert sorted(path.stem for path in (output / "items").glob("*.json")) == ["00000", "00001"]
    retry = StandInInverter(generator, seed=3)
    retry.warm_up = False
    manifest = run_inversions(retry, dataset, output, plan, method="standin", batch_size=2, progress=False)
    assert manifest["complete"] and retry.images_inverted == 1
