"""Multi-GPU training on the CPU: two gloo processes with batch b each train as one process with batch 2b."""

from __future__ import annotations

import copy
import dataclasses
import json
import math
from pathlib import Path

import pytest
import torch

from dualinv.config import as_dict, from_mapping
from dualinv.distributed import GlobalBatchNorm, Ranks, ranks_from_environment, with_global_batch_norm
from dualinv.errors import ConfigError
from dualinv.models.checkpoint import load_training_checkpoint
from dualinv.models.experiments import get_experiment
from dualinv.seeding import RowShard, draw, in_parts, make_generator, normal, uniform
from dualinv.training import worker
from dualinv.training.launch import torchrun_command, train_segment_job
from dualinv.training.loop import check_distributable
from dualinv.training.monitor import read_loss_log

from .test_training_tiny import _assert_same
from .two_ranks import (WORLD_SIZE, Run, checkpoint_of, stopped_at, tiny_settings, train_in_one_process,
                        train_in_two_processes, write_heads)

GLOBAL_BATCH = 2
"""One sample per process: every batch statistic then needs the other process's sample."""
STEPS = 3
RELATIVE_TOLERANCE = 1e-5
"""Two processes add the same float32 numbers in another order (batch-norm sums, the gradient mean of
two halves), which moves a loss by a few float32 epsilons (1.2e-7) per step, compounded over the steps
(measured over the 3 steps: at most 5.7e-7 for Encoder 1, 1.2e-7 for Encoder 2). A sample given to the wrong process, a
batch statistic of half the batch or a gradient left unaveraged moves the losses by 1e-3 or more."""
ABSOLUTE_TOLERANCE = 1e-6
"""For terms near zero (R1 off its due steps is exactly 0 in both)."""


WEIGHT_TOLERANCE = 1e-2
"""Trained weights may differ by a hundredth of one step's update (Ranger moves a weight by about the
learning rate per step, and its adaptive step divides small gradient differences by small moments)."""


def _close(one: float, two: float) -> bool:
    return math.isclose(one, two, rel_tol=RELATIVE_TOLERANCE, abs_tol=ABSOLUTE_TOLERANCE)


def _losses(checkpoint) -> list[dict[str, float]]:
    return read_loss_log(f"{checkpoint}.losses.csv")


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """STEPS steps of Encoder 1 and of Encoder 2 (occlusion-aware D, lazy R1 due at step 0): in one
    process with the global batch, and in two processes (one start-up for all their runs), Encoder 2
    also cut after one step into two segments, and stopped by a signal to rank 1 during step 0 then
    run again."""
    folder = tmp_path_factory.mktemp("distributed")
    dataset = write_heads(folder / "train")
    settings = tiny_settings(GLOBAL_BATCH)
    whole = [(0, STEPS)]
    planned = {f"{experiment}/{kind}": Run(settings, experiment, tuple(segments), folder / experiment / kind)
               for experiment in ("encoder1", "encoder2")
               for kind, segments in (("one", whole), ("two", whole), ("resumed", [(0, 1), (1, STEPS)]))
               if experiment == "encoder2" or kind != "resumed"}
    planned["encoder2/stopped"] = Run(settings, "encoder2", tuple(whole), folder / "encoder2" / "stopped",
                                      stop_signal=(1, 0))
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as each of the two processes: a second thread only contends on a small machine
    try:
        for name in ("encoder1/one", "encoder2/one"):
            train_in_one_process(planned[name], dataset)
    finally:
        torch.set_num_threads(threads)
    train_in_two_processes([run for name, run in planned.items() if not name.endswith("/one")], dataset)
    return {"dataset": dataset, "settings": settings, **{name: run.checkpoint for name, run in planned.items()}}


def _assert_same_trajectory(one_process, two_processes) -> None:
    one, two = _losses(one_process), _losses(two_processes)
    assert [row["step"] for row in one] == [row["step"] for row in two] == list(range(STEPS))
    worst = 0.0
    for row_one, row_two in zip(one, two):
        assert row_one.keys() == row_two.keys()
        for name in row_one:
            assert _close(row_one[name], row_two[name]), (int(row_one["step"]), name, row_one[name], row_two[name])
            worst = max(worst, abs(row_one[name] - row_two[name]))
    weights_one = load_training_checkpoint(one_process)["encoder"]
    weights_two = load_training_checkpoint(two_processes)["encoder"]
    step_size = load_training_checkpoint(one_process)["config"]["training"]["learning_rate"]
    weights_worst = max(float((weights_one[name].double() - weights_two[name].double()).abs().max())
                        for name in weights_one if weights_one[name].is_floating_point())
    print(f"1 process x {GLOBAL_BATCH} vs {WORLD_SIZE} x {GLOBAL_BATCH // WORLD_SIZE}: largest loss difference "
          f"{worst:.3g}, largest weight difference {weights_worst:.3g}")
    assert weights_worst < WEIGHT_TOLERANCE * step_size


@pytest.mark.slow
def test_two_processes_train_encoder1_as_one_process_with_their_global_batch(runs):
    """Encoder 1 (no D; batch norms in the IR-SE encoder and its F stage): the logged loss terms and the
    trained weights of 2 processes x batch 1 match 1 process x batch 2."""
    _assert_same_trajectory(runs["encoder1/one"], runs["encoder1/two"])


@pytest.mark.slow
def test_two_processes_train_encoder2_as_one_process_with_their_global_batch(runs):
    """Encoder 2 adds the occlusion-aware D (batch norms) and R1 (double backward through them)."""
    assert _losses(runs["encoder2/one"])[0]["loss_r1"] > 0  # step 0 carries R1 (r1_due(0))
    _assert_same_trajectory(runs["encoder2/one"], runs["encoder2/two"])


@pytest.mark.slow
def test_resumed_two_process_run_equals_the_uninterrupted_one(runs):
    """Stopped after one step and resumed from rank 0's checkpoint: every tensor of the final
    checkpoint (encoder, D, both Ranger states) and every logged loss is bit-identical."""
    full, resumed = (load_training_checkpoint(runs[f"encoder2/{name}"]) for name in ("two", "resumed"))
    for part in ("encoder", "discriminator", "encoder_optimiser", "discriminator_optimiser", "step", "rng"):
        _assert_same(full[part], resumed[part], part)
    first = checkpoint_of(runs["encoder2/resumed"].parent, (0, 1))
    assert _losses(first) + _losses(runs["encoder2/resumed"]) == _losses(runs["encoder2/two"])


@pytest.mark.slow
def test_a_stop_signal_to_one_process_stops_both_and_the_retry_resumes_exactly(runs):
    """SIGUSR1 to rank 1 alone during step 0: both processes stop after that step, rank 0 saves the
    partial checkpoint, and the retry resumes from it to the checkpoint of the uninterrupted run."""
    stopped = runs["encoder2/stopped"]
    assert [stopped_at(stopped.parent, rank).read_text() for rank in range(WORLD_SIZE)] == ["1", "1"]
    assert not stopped.with_name(stopped.name + ".partial").exists()  # the retry finished and removed it
    full, resumed = (load_training_checkpoint(path) for path in (runs["encoder2/two"], stopped))
    for part in ("encoder", "discriminator", "encoder_optimiser", "discriminator_optimiser", "step", "rng"):
        _assert_same(full[part], resumed[part], part)
    assert _losses(stopped) == _losses(runs["encoder2/two"])


@pytest.mark.slow
def test_a_segment_on_two_gpus_runs_under_torchrun_as_one_process(runs, tmp_path, monkeypatch):
    """The workflow's entry point with resources.train.gpus = 2 starts torchrun (2 gloo processes on the
    CPU, built from the config and the dataset folder) and trains as one process with the global batch."""
    monkeypatch.setenv("OMP_NUM_THREADS", "1")  # not the config's 8 threads shared by 2: a small CI machine
    checkpoint = tmp_path / "segment.pt"
    result = train_segment_job(_on_gpus(runs["settings"], 2), "encoder1", 0, 2, None, checkpoint,
                               dataset=runs["dataset"], log_path=tmp_path / "losses.csv")
    assert result.checkpoint == checkpoint and checkpoint.is_file()
    assert not list(tmp_path.glob("*.launch.json"))  # the request file is removed
    two, one = read_loss_log(tmp_path / "losses.csv"), _losses(runs["encoder1/one"])[:2]
    assert [row["step"] for row in two] == [0, 1]
    for row_one, row_two in zip(one, two):
        assert row_one.keys() == row_two.keys()
        assert all(_close(row_one[name], row_two[name]) for name in row_one), (row_one, row_two)


@pytest.mark.parametrize("parts", [1, 2])
def test_the_rows_of_all_processes_are_the_draw_of_one(parts):
    """Each process keeps its rows of a whole-batch draw: put together in rank order (per stacked part),
    they are what one generator draws for the whole batch, and every generator ends in the same state."""
    local, seed = 3, 7
    for sampler in (torch.rand, torch.randn):
        reference = make_generator(seed)
        whole = sampler((parts * local * WORLD_SIZE, 4, 5), generator=reference)
        generators = [RowShard(make_generator(seed), rank, WORLD_SIZE).in_parts(parts) for rank in range(WORLD_SIZE)]
        shares = [draw(sampler, (parts * local, 4, 5), generator) for generator in generators]
        stacked = torch.stack([share.reshape(parts, local, 4, 5) for share in shares], dim=1)  # [P, W, b, 4, 5]
        assert torch.equal(stacked.reshape(whole.shape), whole)
        for generator in generators:
            assert torch.equal(generator.generator.get_state(), reference.get_state())


def test_a_plain_generator_draws_as_before():
    """One process: the draw helpers are the torch samplers themselves, bit for bit."""
    assert torch.equal(uniform((2, 3), make_generator(1)), torch.rand(2, 3, generator=make_generator(1)))
    assert torch.equal(normal((2, 3), make_generator(1)), torch.randn(2, 3, generator=make_generator(1)))
    plain = make_generator(1)
    assert in_parts(plain, 2) is plain


def test_a_scalar_draw_is_shared_by_the_processes():
    shares = [uniform((), RowShard(make_generator(3), rank, WORLD_SIZE)) for rank in range(WORLD_SIZE)]
    assert torch.equal(shares[0], shares[1]) and torch.equal(shares[0], torch.rand((), generator=make_generator(3)))


def test_the_global_batch_must_split_evenly():
    ranks = Ranks(rank=1, world_size=2, local_rank=1)
    assert ranks.rows(6) == slice(3, 6)
    with pytest.raises(ConfigError, match="batch_size 3 does not split into 2"):
        ranks.rows(3)
    with pytest.raises(ConfigError, match="baseline encoder"):
        check_distributable(tiny_settings(2), get_experiment("e4e"), ranks)


def test_ranks_come_from_the_torchrun_environment():
    assert ranks_from_environment({}) is None
    assert ranks_from_environment({"WORLD_SIZE": "1", "RANK": "0"}) is None
    environment = {"RANK": "3", "WORLD_SIZE": "4", "LOCAL_RANK": "1", "MASTER_ADDR": "node1", "MASTER_PORT": "29500"}
    assert ranks_from_environment(environment) == Ranks(rank=3, world_size=4, local_rank=1)
    with pytest.raises(ConfigError, match="MASTER_ADDR, MASTER_PORT"):
        ranks_from_environment({"RANK": "0", "WORLD_SIZE": "2", "LOCAL_RANK": "0"})


def test_global_batch_norm_keeps_the_state_dict_and_alone_is_batch_norm():
    """Converted in place, the parameters stay the same objects (an optimiser built before still holds
    them) and the names stay those of BatchNorm2d; without a process group it computes as BatchNorm2d."""
    torch.manual_seed(0)
    network = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.BatchNorm2d(4),
                                  torch.nn.Sequential(torch.nn.BatchNorm2d(4)))
    reference, parameters, inputs = copy.deepcopy(network), list(network.parameters()), torch.randn(5, 3, 8, 8)
    with_global_batch_norm(network)
    assert isinstance(network[1], GlobalBatchNorm) and isinstance(network[2][0], GlobalBatchNorm)
    assert all(a is b for a, b in zip(network.parameters(), parameters))
    assert torch.equal(network(inputs), reference(inputs))
    _assert_same(reference.state_dict(), network.state_dict(), "state_dict")


def _on_gpus(settings, gpus: int):
    resources = settings.resources
    return dataclasses.replace(settings, resources=dataclasses.replace(
        resources, train=dataclasses.replace(resources.train, gpus=gpus)))


def test_more_gpus_than_the_batch_splits_into_is_refused_at_the_door():
    settings = _on_gpus(tiny_settings(3), 2)
    with pytest.raises(ConfigError, match="resources.train.gpus: 2 GPUs share each step's training.batch_size 3"):
        from_mapping(as_dict(settings))
    assert torchrun_command(4, Path("r.json"))[1:6] == ["-m", "torch.distributed.run", "--standalone",
                                                         "--nproc_per_node=4", "-m"]


def test_the_worker_runs_only_under_torchrun(tmp_path, monkeypatch):
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    request = tmp_path / "request.json"
    request.write_text(json.dumps({"config": as_dict(tiny_settings(GLOBAL_BATCH))}))
    with pytest.raises(SystemExit, match="runs under torchrun"):
        worker.main([str(request)])
    with pytest.raises(SystemExit, match="usage"):
        worker.main([])
