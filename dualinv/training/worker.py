"""One training process of a multi-GPU segment, started by ``torchrun`` (:mod:`dualinv.training.launch`).

It reads the launch request the job wrote (the validated config and the segment's arguments), joins
the process group from torchrun's environment, and trains its share of every step on its own GPU
(``cuda:LOCAL_RANK``, or the CPU with gloo). A module of its own, so ``python -m`` runs it without the
package having imported it first.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from dualinv.config import from_mapping
from dualinv.distributed import process_device, process_group, ranks_from_environment
from dualinv.training.loop import train_segment


def main(argv: list[str] | None = None) -> int:
    """One training process, started by ``torchrun``: the request file's segment, this process's share."""
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        raise SystemExit("usage: torchrun ... -m dualinv.training.worker <request.json>")
    request = json.loads(Path(argv[0]).read_text())
    config = from_mapping(request["config"], f"the launch request {argv[0]}")
    ranks = ranks_from_environment()
    if ranks is None:
        raise SystemExit("dualinv.training.worker runs under torchrun with two or more processes (WORLD_SIZE > 1)")
    device = process_device(ranks)
    with process_group(ranks, device):
        train_segment(config, request["experiment"], request["start"], request["stop"], request["checkpoint_in"],
                      request["checkpoint_out"], dataset=request["dataset"], log_path=request["log_path"],
                      device=str(device), progress=request["progress"], ranks=ranks)
    return 0


if __name__ == "__main__":
    sys.exit(main())
