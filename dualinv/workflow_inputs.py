"""The files outside the workflow that each rule reads: pretrained weights and the user's datasets.

Each rule declares these as inputs (rules/common.smk, ``external_inputs``) and checks them when a job
of the rule enters the DAG, so ``snakemake table3`` asks only for what Table 3's jobs read, not for the
whole study's files (``dualinv.study.check_inputs`` remains the whole-study check). A missing or
corrupt file fails the DAG with every problem of that job, each saying what the file is and where to
get it.
"""

from __future__ import annotations

from typing import Mapping

from dualinv.config import StudyConfig
from dualinv.errors import MissingInputsError
from dualinv.study import SOURCE_DATASETS, dataset_problem, generator_network_problem
from dualinv.weights import weights_problem

GENERATOR = "generator"
"""Pseudo-key of the study's generator file (``generator.network``, else ``weights.panohead`` when released)."""
TRAINING_LPIPS = "training_lpips"
"""Pseudo-key of the training loss's LPIPS trunk (``weights.lpips_alex`` or ``lpips_vgg``, ``training.lpips_net``)."""

RULE_WEIGHTS: Mapping[str, tuple[str, ...]] = {
    "make_synthetic_dataset": (GENERATOR,),
    "prepare_shard": ("u2net",),
    "train_segment": (GENERATOR, "ir_se50", TRAINING_LPIPS),
    "invert_dataset": (GENERATOR,),
    "optimise_shard": (GENERATOR, "lpips_vgg"),
    "optimise_inversions": (GENERATOR, "lpips_vgg"),
    "evaluate_method": (GENERATOR, "lpips_alex", "ir_se50", "curricularface", "inception"),
    "gt360_method": (GENERATOR, "lpips_alex", "ir_se50", "lpips_vgg"),
}
"""Weights each rule's job loads (dualinv.models, dualinv.training.build, dualinv.eval.evaluate, .gt360, .inverters, dualinv.data)."""


def _weights_entries(config: StudyConfig, rule: str) -> list[tuple[str, str | None]]:
    """``(config key, path)`` of every weights file a job of ``rule`` loads; ``None`` path = stand-in."""
    entries = []
    for key in RULE_WEIGHTS.get(rule, ()):
        if key == GENERATOR:
            if config.generator.network is not None:
                entries.append(("generator.network", config.generator.network))
            elif config.generator.preset == "released":
                entries.append(("weights.panohead", config.weights.panohead))
        elif key == TRAINING_LPIPS:
            net = f"lpips_{config.training.lpips_net}"
            entries.append((f"weights.{net}", getattr(config.weights, net)))
        else:
            entries.append((f"weights.{key}", getattr(config.weights, key)))
    return list(dict.fromkeys(entries))


def rule_weights(config: StudyConfig, rule: str) -> list[str]:
    """The configured weights files a job of ``rule`` reads (stand-ins read none)."""
    return [path for _, path in _weights_entries(config, rule) if path is not None]


def _entry_problem(key: str, path: str) -> str | None:
    if key == "generator.network":
        return generator_network_problem(path)
    return weights_problem(key.removeprefix("weights."), path)


def rule_input_problems(config: StudyConfig, rule: str, datasets: tuple[str, ...] = ()) -> list[str]:
    """Why the weights of ``rule`` and the source ``datasets`` one of its jobs reads cannot be used."""
    problems = [_entry_problem(key, path) for key, path in _weights_entries(config, rule) if path is not None]
    problems += [dataset_problem(name, getattr(config.data, name)) for name in datasets if name in SOURCE_DATASETS]
    return [problem for problem in problems if problem is not None]


def check_rule_inputs(config: StudyConfig, rule: str, datasets: tuple[str, ...] = ()) -> None:
    """Raise one :class:`MissingInputsError` listing every unusable file a job of ``rule`` reads."""
    problems = rule_input_problems(config, rule, datasets)
    if problems:
        raise MissingInputsError(
            f"rule {rule} needs {len(problems)} input(s) that cannot be used:\n  - " + "\n  - ".join(problems)
            + "\nFix the paths in config.yaml (weights: null runs a seeded stand-in, labelled as such), "
            "or try the CPU demo: snakemake mini --cores 2 --configfile presets/mini.yaml")
