"""``train_segment``: one stretch of an encoder training run, resumable bit for bit.

A full run (500k steps) is a chain of segments; each starts from the previous segment's checkpoint
and ends by writing its own. Inside a segment a partial checkpoint (``<checkpoint_out>.partial``) is
refreshed every ``checkpoint_every`` steps, so a killed job restarts from there instead of from the
segment's start. Read top to bottom: build, restore, loop (batch → encoder step → D step → log →
checkpoint), finish. Baseline encoders (pSp, e4e, TriPlaneNet v2, GOAE) run through the same loop:
their recipe sets the progressive stage before each step, and :func:`updates_for` picks their updates.
With ``ranks`` (multi-GPU training, launched by ``torchrun``) every process runs this loop on its share
of each step's batch; rank 0 alone writes the checkpoints and the loss log, the others wait for it.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from dualinv.config import StudyConfig, as_dict
from dualinv.data import HeadDataset
from dualinv.distributed import Ranks, any_rank, barrier, with_global_batch_norm
from dualinv.errors import CheckpointError, ConfigError, NonFiniteLossError, PreemptedError
from dualinv.fileio import remove_stale_temporaries
from dualinv.models.checkpoint import load_training_checkpoint, restore_rng_states, rng_states, save_training_checkpoint
from dualinv.models.experiments import Experiment, get_experiment
from dualinv.models.generator import check_generator
from dualinv.preemption import StopRequest, stop_requests
from dualinv.seeding import derive_seed
from dualinv.training import schedule
from dualinv.training.baseline_steps import updates_for
from dualinv.training.build import build_components
from dualinv.training.components import TrainingComponents
from dualinv.training.monitor import LossLog, segment_progress
from dualinv.training.steps import non_finite_terms, rank_share, training_batch

RUN_LENGTH_KEYS = ("iterations", "segment_length", "checkpoint_every")
"""``training`` keys that say how long a run is and how it is cut, not what a step does."""
TRAINED_SECTIONS = ("weights", "generator", "encoder", "training", "baselines")
"""Sections of the study config a training run depends on (its checkpoint hash covers them)."""


@dataclass(frozen=True)
class SegmentResult:
    checkpoint: Path
    start: int
    stop: int
    last_terms: dict[str, float]


def train_segment(config: StudyConfig, experiment: str | Experiment, start: int, stop: int,
                  checkpoint_in: str | Path | None, checkpoint_out: str | Path, *,
                  dataset: str | Path | None = None, log_path: str | Path | None = None,
                  device: str | None = None, progress: bool = False,
                  components: TrainingComponents | None = None, ranks: Ranks | None = None) -> SegmentResult:
    """Train ``experiment`` from step ``start`` (the state in ``checkpoint_in``) to ``stop``; write ``checkpoint_out``.

    ``config`` is the study config tree (its ``training``, ``encoder``, ``generator``, ``baselines`` and
    ``weights`` sections); ``dataset`` the prepared training split. ``checkpoint_in`` is ``None`` only
    when ``start == 0``. The loss log defaults to ``<checkpoint_out>.losses.csv``; ``device`` to CUDA when
    available. ``components`` replaces the default build (tests, benchmarks). ``ranks``: this process's
    place in a multi-GPU run (:func:`dualinv.distributed.ranks_from_environment`, inside
    :func:`dualinv.distributed.process_group`); None trains in this process alone.
    """
    experiment = get_experiment(experiment) if isinstance(experiment, str) else experiment
    if not experiment.trains:
        raise ConfigError(f"experiment {experiment.name!r} is a {experiment.kind!r} and has no training stage; "
                          "train_segment trains the kinds 'encoder' (ours) and 'baseline_encoder'")
    if not 0 <= start < stop:
        raise ConfigError(f"segment [{start}, {stop}) is empty or negative; need 0 <= start < stop")
    checkpoint_out = Path(checkpoint_out)
    partial = checkpoint_out.with_name(checkpoint_out.name + ".partial")
    log = Path(log_path) if log_path is not None else checkpoint_out.with_name(checkpoint_out.name + ".losses.csv")
    if ranks is not None:
        check_distributable(config, experiment, ranks)

    if components is None:
        if dataset is None:
            raise ConfigError("training needs a prepared dataset: pass the training split "
                              "(a folder with dataset.json, made by `dualinv prepare`)")
        device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        components = build_components(config, experiment, HeadDataset(dataset), device=device)
    if ranks is not None:
        components = distributed_components(components, ranks)
    resume_from, step = _resume_source(checkpoint_in, partial, start, stop)
    if resume_from is not None:
        restore_training_state(components, load_training_checkpoint(resume_from), resume_from, step)
    else:  # a fresh run: dropout and drop-path (GOAE's Swin) draw from the global RNG; seed it, not the process
        torch.manual_seed(derive_seed(config.training.seed, experiment.name, "global-rng"))
    main = ranks is None or ranks.main
    loss_log = LossLog(log, resume_step=step) if main else None
    with stop_requests() as stop_request:
        return _train_steps(components, experiment, config, step, start, stop, checkpoint_out, partial, loss_log,
                            resume_from, progress and main, stop_request)


def check_distributable(config: StudyConfig, experiment: Experiment, ranks: Ranks) -> None:
    """Multi-GPU training covers the paper's encoders, with a global batch that splits evenly."""
    ranks.rows(config.training.batch_size)
    if experiment.kind != "encoder":
        raise ConfigError(f"{experiment.name!r} is a baseline encoder, which trains in one process; "
                          "set resources.train.gpus to 1 for it (multi-GPU training covers the paper's encoders)")


def distributed_components(components: TrainingComponents, ranks: Ranks) -> TrainingComponents:
    """``components`` for one of several processes: their batch norms replaced in place by ones over the
    global batch (:func:`~dualinv.distributed.with_global_batch_norm`), and the ranks."""
    with_global_batch_norm(components.encoder)
    if components.discriminator is not None:
        with_global_batch_norm(components.discriminator)
    return dataclasses.replace(components, ranks=ranks)


def _train_steps(components: TrainingComponents, experiment: Experiment, config: StudyConfig, step: int, start: int,
                 stop: int, checkpoint_out: Path, partial: Path, loss_log: LossLog | None, resume_from: Path | None,
                 progress: bool, stop_request: StopRequest) -> SegmentResult:
    """Steps ``step..stop-1`` of a segment; on a stop signal the state is saved in ``partial`` and the job stops."""
    update_encoder, update_discriminator = updates_for(components)
    ranks = components.ranks
    main = ranks is None or ranks.main
    terms: dict[str, float] = {}
    last_good = resume_from
    training = config.training
    for step in segment_progress(step, stop, f"{experiment.name} [{start}:{stop}]", progress):
        def check_finite(values: dict[str, float], step: int = step) -> None:
            bad = non_finite_terms(values)
            if bad:
                raise NonFiniteLossError(
                    f"{experiment.name}: loss term(s) {', '.join(bad)} became non-finite at step {step}; "
                    f"its failing update was not applied. The last good state is {last_good or 'the initial weights'}. "
                    "Lower the learning rate, disable bf16, or check the input data, then rerun the segment.")

        indices = schedule.batch_indices(training.seed, step, training.batch_size, components.dataset_size)
        rng = schedule.step_generator(training.seed, step, "batch", components.device)
        batch = rank_share(training_batch(components, indices, rng), ranks)
        step_rng = rng if ranks is None else ranks.generator(rng)  # this process's rows of every later draw
        components.before_step(step)
        if training.lr_rampdown > 0:
            components.scale_learning_rates(
                schedule.learning_rate_factor(training.lr_rampdown, training.iterations, step))
        terms, heads = update_encoder(components, batch, step, step_rng, check_finite)
        if update_discriminator is not None:
            terms |= update_discriminator(components, batch, heads, step, step_rng, check_finite)
        if loss_log is not None:
            loss_log.write(step, terms)
        done = step + 1
        if done == stop:
            _save(checkpoint_out, components, done)
            if main:
                partial.unlink(missing_ok=True)
                remove_stale_temporaries(partial)  # a kill during a partial write left its temporary
        elif done % training.checkpoint_every == 0:
            _save(partial, components, done)
            last_good = partial
        if any_rank(stop_request.requested, ranks) and done < stop:  # every process stops at the same step
            if done % training.checkpoint_every:  # not saved just above
                _save(partial, components, done)
            received = stop_request.signal_name or "a stop signal to another training process"
            raise PreemptedError(f"{experiment.name}: {received} received; stopped after step {done} "
                                 f"of segment [{start}, {stop}) with its state saved in {partial}; the retry resumes there")
    return SegmentResult(checkpoint=checkpoint_out, start=start, stop=stop, last_terms=terms)


def _save(path: Path, components: TrainingComponents, step: int) -> None:
    """Rank 0 writes the checkpoint (the processes hold the same state); the others wait until it is there."""
    if components.ranks is None or components.ranks.main:
        save_training_checkpoint(path, training_state(components, step))
    barrier(components.ranks)


def _resume_source(checkpoint_in, partial: Path, start: int, stop: int) -> tuple[Path | None, int]:
    """Where this segment's state comes from: its own partial checkpoint if a killed job left one, else the input."""
    if partial.is_file():
        step = int(load_training_checkpoint(partial)["step"])
        if start < step < stop:
            return partial, step
    if checkpoint_in is None:
        if start != 0:
            raise ConfigError(f"a segment starting at step {start} needs the checkpoint of step {start}")
        return None, 0
    return Path(checkpoint_in), start


def training_state(components: TrainingComponents, step: int) -> dict[str, Any]:
    """Everything :func:`restore_training_state` needs to continue at ``step`` exactly."""
    config = components.config
    return {
        "experiment": components.experiment.name,
        "step": step,
        "data_position": schedule.data_position(step, config.training.batch_size),
        "config": as_dict(config),
        "config_hash": training_hash(config),
        "generator": components.generator_identity.as_dict(),
        "encoder": components.encoder.state_dict(),
        "discriminator": None if components.discriminator is None else components.discriminator.state_dict(),
        "encoder_optimiser": components.encoder_optimiser.state_dict(),
        "discriminator_optimiser": None if components.discriminator_optimiser is None
        else components.discriminator_optimiser.state_dict(),
        "baseline": None if components.baseline is None
        else {name: part.state_dict() for name, part in components.baseline.stateful().items()},
        "rng": rng_states(),
    }


def restore_training_state(components: TrainingComponents, state: dict[str, Any], path: Path, step: int) -> None:
    """Load a checkpoint into ``components`` after checking it belongs to this run and this step."""
    config = components.config
    if state.get("published"):
        raise CheckpointError(f"{path} is a published encoder (its weights only, no optimiser state), which "
                              "cannot resume training; resume from the segment checkpoint that training wrote "
                              "(models/<experiment>/segments/<k>.pt, kept with snakemake --notemp)")
    if state["experiment"] != components.experiment.name:
        raise CheckpointError(f"{path} belongs to experiment {state['experiment']!r}, "
                              f"not {components.experiment.name!r}")
    if int(state["step"]) != step:
        raise CheckpointError(f"{path} holds step {state['step']}, but this segment starts at step {step}; "
                              "pass the checkpoint written by the previous segment")
    if state["config_hash"] != training_hash(config):
        raise CheckpointError(f"{path} was written with a different training config ({state['config_hash']}, "
                              f"now {training_hash(config)}); resume with the same settings or start a new run")
    check_generator(state["generator"], components.generator_identity, path)
    components.encoder.load_state_dict(state["encoder"], strict=True)
    components.encoder_optimiser.load_state_dict(state["encoder_optimiser"])
    if components.discriminator is not None:
        components.discriminator.load_state_dict(state["discriminator"], strict=True)
        components.discriminator_optimiser.load_state_dict(state["discriminator_optimiser"])
    if components.baseline is not None:
        parts, saved = components.baseline.stateful(), state.get("baseline") or {}
        if set(saved) != set(parts):
            raise CheckpointError(f"{path} holds baseline state {sorted(saved)}, but {components.experiment.name!r} "
                                  f"needs {sorted(parts)}; pass a checkpoint of this experiment")
        for name, part in parts.items():
            part.load_state_dict(saved[name])
    restore_rng_states(state["rng"])


def training_hash(config: StudyConfig) -> str:
    """sha256 of what changes a training step: the :data:`TRAINED_SECTIONS` of the study config,
    without the run length (:data:`RUN_LENGTH_KEYS`), so a run can be extended or cut differently; with
    ``training.lr_rampdown`` above 0 ``iterations`` stays in, since it places the ramp."""
    values = as_dict(config)
    relevant = {name: values[name] for name in TRAINED_SECTIONS}
    ignored = set(RUN_LENGTH_KEYS)
    if config.training.lr_rampdown == 0:  # a constant rate: the hash of the checkpoints written before the key
        ignored.add("lr_rampdown")
    else:  # the run's length places the ramp: extending such a run is another run
        ignored.discard("iterations")
    relevant["training"] = {key: value for key, value in relevant["training"].items() if key not in ignored}
    return "sha256:" + hashlib.sha256(json.dumps(relevant, sort_keys=True).encode("utf-8")).hexdigest()
