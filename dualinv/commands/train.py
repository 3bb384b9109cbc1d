"""``dualinv train``: run one segment of an encoder training (paper §4.1, A.2), resumable.

A full run is a chain: ``--stop 100000 --checkpoint-out s1.pt``, then ``--start 100000
--stop 200000 --checkpoint-in s1.pt --checkpoint-out s2.pt``, ... Each segment continues bit for
bit where the previous one stopped; a killed segment restarts from its ``.partial`` checkpoint.
The settings are the study config the workflow uses (``--config config.yaml``, presets after it).
Under ``torchrun --nproc_per_node=N -m dualinv.cli train ...`` the N processes share each step's batch
(docs/training.md, "Multi-GPU training").
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

from dualinv.commands.arguments import add_hidden_alias, nonnegative_int
from dualinv.config import REPO_ROOT, StudyConfig, load_config
from dualinv.devices import check_device
from dualinv.distributed import process_device, process_group, ranks_from_environment
from dualinv.models.experiments import EXPERIMENTS
from dualinv.study import prepared_dir
from dualinv.training.loop import train_segment

MINI_PRESET = REPO_ROOT / "presets" / "mini.yaml"


def _config(args: argparse.Namespace) -> StudyConfig:
    files = [Path(path) for path in (args.config or [REPO_ROOT / "config.yaml"])]
    if args.stand_in:  # the mini preset on the base config, the other --config files over it
        files.insert(1, MINI_PRESET)
    config = load_config(files[0], tuple(files[1:]))
    if args.bf16:
        config = dataclasses.replace(config, training=dataclasses.replace(config.training, bf16=True))
    return config


def _train(args: argparse.Namespace) -> int:
    config = _config(args)
    device = check_device(args.device, "--device") if args.device else None
    dataset = Path(args.dataset) if args.dataset else prepared_dir(config, "train")
    stop = config.training.iterations if args.stop is None else args.stop
    ranks = ranks_from_environment()  # set by torchrun: this process trains its share of each batch
    if ranks is None:
        result = train_segment(config, args.experiment, args.start, stop, args.checkpoint_in, args.checkpoint_out,
                               dataset=dataset, device=None if device is None else str(device), progress=True)
    else:
        if device is None or device.type != "cpu":  # each process its own GPU, cuda:LOCAL_RANK
            device = process_device(ranks)
        with process_group(ranks, device):
            result = train_segment(config, args.experiment, args.start, stop, args.checkpoint_in,
                                   args.checkpoint_out, dataset=dataset, device=str(device), progress=True,
                                   ranks=ranks)
        if not ranks.main:
            return 0
    terms = ", ".join(f"{name} {value:.4g}" for name, value in sorted(result.last_terms.items()))
    print(f"{args.experiment}: steps [{result.start}, {result.stop}) done -> {result.checkpoint} ({terms})")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    encoders = [name for name, experiment in EXPERIMENTS.items() if experiment.trains]  # ours and the baselines
    parser = subparsers.add_parser("train", help="train an encoder of the paper or a baseline encoder for one resumable segment",
                                   description=__doc__.split("\n\n")[0])
    parser.add_argument("experiment", choices=encoders, help="registry experiment (dualinv.models.experiments)")
    parser.add_argument("--checkpoint-out", required=True, help="checkpoint written at the segment's last step")
    parser.add_argument("--checkpoint-in", help="checkpoint of step --start (omit when --start is 0)")
    parser.add_argument("--start", type=nonnegative_int, default=0, help="first step of the segment (default 0)")
    parser.add_argument("--stop", type=nonnegative_int, help="step to stop at (default: training.iterations of the config)")
    parser.add_argument("--config", action="append", metavar="YAML",
                        help="study config (default config.yaml); repeat to apply presets after it, in order")
    parser.add_argument("--dataset", help="prepared training dataset folder (default: the workflow's training split)")
    parser.add_argument("--device", help="cpu or cuda[:N] (default: cuda when available; under torchrun "
                                         "each process takes cuda:LOCAL_RANK unless cpu is given)")
    parser.add_argument("--bf16", action="store_true", help="bfloat16 autocast for the forward passes")
    stand_in = parser.add_argument("--stand-in", action="store_true",
                                   help="seeded stand-in generator and tiny encoders at the mini sizes: applies "
                                        "presets/mini.yaml right after the first config (CPU demo, tests)")
    add_hidden_alias(parser, "--tiny", stand_in)
    parser.set_defaults(func=_train)
