"""The loop's contract on small stand-ins: exact resume, partial checkpoints, NaN stop, generator check."""

from __future__ import annotations

import os
import signal

import pytest
import torch

from dualinv.errors import CheckpointError, GeneratorMismatchError, NonFiniteLossError, PreemptedError
from dualinv.models.checkpoint import load_training_checkpoint
from dualinv.models.generator import GeneratorIdentity
from dualinv.training.loop import train_segment
from dualinv.training.monitor import read_loss_log

from .doubles import toy_components
from .tiny import tiny_config

SETTINGS = tiny_config(training={"learning_rate": 1e-2, "checkpoint_every": 2})


def _weights(path):
    state = load_training_checkpoint(path)
    return state["encoder"], state["discriminator"], state["encoder_optimiser"]


@pytest.mark.parametrize("experiment", ["encoder2", "d_image"])
def test_resumed_run_is_bit_identical_to_uninterrupted(tmp_path, experiment):
    train_segment(SETTINGS, experiment, 0, 7, None, tmp_path / "full.pt", components=toy_components(SETTINGS, experiment))
    train_segment(SETTINGS, experiment, 0, 3, None, tmp_path / "a.pt", components=toy_components(SETTINGS, experiment))
    torch.manual_seed(12345)  # a resumed job starts with a different global RNG state; the checkpoint restores it
    train_segment(SETTINGS, experiment, 3, 7, tmp_path / "a.pt", tmp_path / "b.pt",
                  components=toy_components(SETTINGS, experiment))
    full, resumed = _weights(tmp_path / "full.pt"), _weights(tmp_path / "b.pt")
    for name, tensor in full[0].items():
        assert torch.equal(tensor, resumed[0][name]), name
    for name, tensor in full[1].items():
        assert torch.equal(tensor, resumed[1][name]), name
    assert load_training_checkpoint(tmp_path / "b.pt")["data_position"] == 7 * SETTINGS.training.batch_size
    # the loss log of the chained run equals the uninterrupted one, row for row
    chained = read_loss_log(tmp_path / "a.pt.losses.csv") + read_loss_log(tmp_path / "b.pt.losses.csv")
    assert chained == read_loss_log(tmp_path / "full.pt.losses.csv")


def test_killed_segment_restarts_from_its_partial_checkpoint(tmp_path):
    components = toy_components(SETTINGS, "encoder1")
    calls = []
    original = components.encode

    def encode_then_die(*args):
        calls.append(1)
        if len(calls) == 6:
            raise KeyboardInterrupt  # the job is killed during step 5
        return original(*args)

    components.encode = encode_then_die
    with pytest.raises(KeyboardInterrupt):
        train_segment(SETTINGS, "encoder1", 0, 8, None, tmp_path / "seg.pt", components=components)
    assert not (tmp_path / "seg.pt").exists()
    assert load_training_checkpoint(tmp_path / "seg.pt.partial")["step"] == 4
    train_segment(SETTINGS, "encoder1", 0, 8, None, tmp_path / "seg.pt", components=toy_components(SETTINGS, "encoder1"))
    train_segment(SETTINGS, "encoder1", 0, 8, None, tmp_path / "ref.pt", components=toy_components(SETTINGS, "encoder1"))
    assert not (tmp_path / "seg.pt.partial").exists()
    for name, tensor in _weights(tmp_path / "ref.pt")[0].items():
        assert torch.equal(tensor, _weights(tmp_path / "seg.pt")[0][name])
    assert [row["step"] for row in read_loss_log(tmp_path / "seg.pt.losses.csv")] == list(range(8))


def test_a_stop_signal_saves_the_step_and_the_retry_equals_an_uninterrupted_run(tmp_path):
    """A stop signal mid-step (SIGUSR1 here; Slurm's warning before the time limit is SIGTERM): the step
    finishes, its state is saved off the checkpoint interval (step 3, interval 2) and the job stops; the retry resumes there."""
    components = toy_components(SETTINGS, "encoder2")
    original = components.encode
    calls = []

    def encode_and_warn(*args):
        calls.append(1)
        if len(calls) == 3:  # during step 2 (one encode per step)
            os.kill(os.getpid(), signal.SIGUSR1)
        return original(*args)

    components.encode = encode_and_warn
    with pytest.raises(PreemptedError, match="SIGUSR1 received; stopped after step 3"):
        train_segment(SETTINGS, "encoder2", 0, 8, None, tmp_path / "seg.pt", components=components)
    assert signal.getsignal(signal.SIGUSR1) is signal.SIG_DFL  # the handler is gone with the segment
    assert not (tmp_path / "seg.pt").exists()
    assert load_training_checkpoint(tmp_path / "seg.pt.partial")["step"] == 3
    torch.manual_seed(999)  # the retry is a new process
    train_segment(SETTINGS, "encoder2", 0, 8, None, tmp_path / "seg.pt", components=toy_components(SETTINGS, "encoder2"))
    train_segment(SETTINGS, "encoder2", 0, 8, None, tmp_path / "ref.pt", components=toy_components(SETTINGS, "encoder2"))
    for part in (0, 1):
        for name, tensor in _weights(tmp_path / "ref.pt")[part].items():
            assert torch.equal(tensor, _weights(tmp_path / "seg.pt")[part][name]), name
    assert [row["step"] for row in read_loss_log(tmp_path / "seg.pt.losses.csv")] == list(range(8))


def test_non_finite_loss_stops_with_error_and_keeps_last_checkpoint(tmp_path):
    components = toy_components(SETTINGS, "encoder1")
    objective = components.encoder_objective
    step = {"count": 0}

    def poisoned(render, target, fake_logits=None):
        step["count"] += 1
        total, terms = objective(render, target, fake_logits)
        return (total * float("nan"), terms) if step["count"] == 4 else (total, terms)

    components.encoder_objective = poisoned
    with pytest.raises(NonFiniteLossError, match="step 3"):
        train_segment(SETTINGS, "encoder1", 0, 6, None, tmp_path / "seg.pt", components=components)
    kept = load_training_checkpoint(tmp_path / "seg.pt.partial")
    assert kept["step"] == 2
    assert all(torch.isfinite(tensor).all() for tensor in kept["encoder"].values())
    assert not (tmp_path / "seg.pt").exists()


def test_checkpoint_refuses_another_generator(tmp_path):
    train_segment(SETTINGS, "encoder1", 0, 2, None, tmp_path / "a.pt", components=toy_components(SETTINGS, "encoder1"))
    other = toy_components(SETTINGS, "encoder1")
    with torch.no_grad():
        other.generator.w_avg.add_(1.0)
    other.generator_identity = GeneratorIdentity.of(other.generator, "toy, changed")
    with pytest.raises(GeneratorMismatchError, match="trained against generator"):
        train_segment(SETTINGS, "encoder1", 2, 4, tmp_path / "a.pt", tmp_path / "b.pt", components=other)


def test_resume_refuses_wrong_step_and_changed_settings(tmp_path):
    train_segment(SETTINGS, "encoder1", 0, 2, None, tmp_path / "a.pt", components=toy_components(SETTINGS, "encoder1"))
    with pytest.raises(CheckpointError, match="holds step 2"):
        train_segment(SETTINGS, "encoder1", 3, 4, tmp_path / "a.pt", tmp_path / "b.pt",
                      components=toy_components(SETTINGS, "encoder1"))
    changed = tiny_config(training={"learning_rate": 5e-3, "checkpoint_every": 2})
    with pytest.raises(CheckpointError, match="different training config"):
        train_segment(changed, "encoder1", 2, 4, tmp_path / "a.pt", tmp_path / "b.pt",
                      components=toy_components(changed, "encoder1"))


def test_bf16_autocast_runs_and_logs_finite_terms(tmp_path):
    settings = tiny_config(training={"learning_rate": 1e-2, "bf16": True})
    result = train_segment(settings, "encoder2", 0, 2, None, tmp_path / "bf16.pt",
                           components=toy_components(settings, "encoder2"))
    assert all(value == value for value in result.last_terms.values())  # no NaN
    assert load_training_checkpoint(tmp_path / "bf16.pt")["config"]["training"]["bf16"] is True


def test_a_learning_rate_ramp_down_sets_every_step_and_a_resumed_run_follows_it(tmp_path):
    """``training.lr_rampdown``: the rates come from the step alone, so the chained run equals the
    uninterrupted one, and the last step ran at the ramp's rate for it (not the built rate)."""
    settings = tiny_config(training={"learning_rate": 1e-2, "checkpoint_every": 2, "iterations": 6, "lr_rampdown": 0.5})
    train_segment(settings, "encoder2", 0, 6, None, tmp_path / "full.pt", components=toy_components(settings, "encoder2"))
    train_segment(settings, "encoder2", 0, 4, None, tmp_path / "a.pt", components=toy_components(settings, "encoder2"))
    train_segment(settings, "encoder2", 4, 6, tmp_path / "a.pt", tmp_path / "b.pt", components=toy_components(settings, "encoder2"))
    full, resumed = load_training_checkpoint(tmp_path / "full.pt"), load_training_checkpoint(tmp_path / "b.pt")
    for name, tensor in full["encoder"].items():
        assert torch.equal(tensor, resumed["encoder"][name]), name
    # step 5 is 2/3 into the ramp over steps 3..6: 0.5 + 0.5 cos(2 pi / 3) = 0.25 of the built rate
    for part in ("encoder_optimiser", "discriminator_optimiser"):
        group = full[part]["param_groups"][0]
        assert group["initial_lr"] == 1e-2
        assert group["lr"] == pytest.approx(0.25e-2)
        assert resumed[part]["param_groups"][0]["lr"] == group["lr"]
    constant = tiny_config(training={"learning_rate": 1e-2, "checkpoint_every": 2, "iterations": 6})
    train_segment(constant, "encoder2", 0, 6, None, tmp_path / "constant.pt", components=toy_components(constant, "encoder2"))
    steady = load_training_checkpoint(tmp_path / "constant.pt")
    assert steady["encoder_optimiser"]["param_groups"][0]["lr"] == 1e-2
    assert any(not torch.equal(tensor, steady["encoder"][name]) for name, tensor in full["encoder"].items())
