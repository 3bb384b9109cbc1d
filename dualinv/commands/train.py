"""``dualinv train``: run one segment of an encoder training (paper §4.1, A.2), resumable.

A full run is a chain: ``--stop 100000 --checkpoint-out s1.pt``, then ``--start 100000
--stop 200000 --checkpoint-in s1.pt --checkpoint-out s2.pt``, ... Each segment continues bit for
bit where the previous one stopped; a killed segment restarts from its ``.partial`` checkpoint.
"""

from __future__ import annotations

import argparse
import dataclasses

from dualinv.config import read_yaml
from dualinv.training.config import TrainingSettings, tiny_training_config
from dualinv.training.experiments import EXPERIMENTS
from dualinv.training.loop import train_segment


def _settings(args: argparse.Namespace):
    values: dict = read_yaml(args.settings) if args.settings else {}
    settings = tiny_training_config(progress=True) if args.tiny else TrainingSettings()
    settings = TrainingSettings.from_dict({**dataclasses.asdict(settings), **values},
                                          source=f"--settings {args.settings}")
    overrides = {key: value for key, value in (("dataset", args.dataset), ("device", args.device)) if value}
    if args.bf16:
        overrides["bf16"] = True
    return dataclasses.replace(settings, **overrides)


def _train(args: argparse.Namespace) -> int:
    settings = _settings(args)
    stop = settings.iterations if args.stop is None else args.stop
    result = train_segment(settings, args.experiment, args.start, stop, args.checkpoint_in, args.checkpoint_out)
    terms = ", ".join(f"{name} {value:.4g}" for name, value in sorted(result.last_terms.items()))
    print(f"{args.experiment}: steps [{result.start}, {result.stop}) done -> {result.checkpoint} ({terms})")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    encoders = [name for name, experiment in EXPERIMENTS.items() if experiment.trains]  # ours and the baselines
    parser = subparsers.add_parser("train", help="train an encoder of the paper or a baseline encoder for one resumable segment",
                                   description=__doc__.split("\n\n")[0])
    parser.add_argument("experiment", choices=encoders, help="registry experiment (dualinv.training.EXPERIMENTS)")
    parser.add_argument("--checkpoint-out", required=True, help="checkpoint written at the segment's last step")
    parser.add_argument("--checkpoint-in", help="checkpoint of step --start (omit when --start is 0)")
    parser.add_argument("--start", type=int, default=0, help="first step of the segment (default 0)")
    parser.add_argument("--stop", type=int, help="step to stop at (default: the settings' iterations)")
    parser.add_argument("--settings", help="YAML of TrainingSettings fields to override (dualinv/training/config.py)")
    parser.add_argument("--dataset", help="prepared training dataset folder (dataset.json + crops)")
    parser.add_argument("--device", help="cpu or cuda[:N]")
    parser.add_argument("--bf16", action="store_true", help="bfloat16 autocast for the forward passes")
    parser.add_argument("--tiny", action="store_true", help="tiny stand-in generator and encoders (CPU demo, tests)")
    parser.set_defaults(func=_train)
