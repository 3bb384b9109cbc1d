"""What the proof study shows (presets/proof.yaml; docs/training.md, "The proof study"). Prints figures; not a test.

Run the study first (about 45 min on 2 CPU cores), then this (about a minute: it also scores both
encoders untrained on the same held-out heads):
    snakemake proof --cores 2 --configfile presets/mini.yaml presets/proof.yaml
    python benchmarks/proof_study.py [--json summary.json] [--no-untrained]

It prints, from results/proof/: the ground-truth same-view and all-round L2 of Encoder 1 and Encoder 2
untrained and trained; L2 and depth error per yaw bin of E1, E2, the dual stitch and W+ optimisation;
whether the paper's orderings of Tables 3 and 5 hold on the ground truth; the Tables 3/5 metrics (LPIPS,
ID and FID there come from seeded stand-in networks); and whether the loss curves have flattened.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from dualinv.config import REPO_ROOT, load_config
from dualinv.eval.proof import format_summary, proof_summary, summary_json


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--presets", nargs="+", type=Path,
                        default=[REPO_ROOT / "presets" / "mini.yaml", REPO_ROOT / "presets" / "proof.yaml"],
                        help="the presets the study ran with (default: mini, then proof)")
    parser.add_argument("--json", type=Path, help="also write the numbers as JSON here")
    parser.add_argument("--no-untrained", action="store_true", help="skip scoring the untrained encoders")
    args = parser.parse_args()
    config = load_config(presets=tuple(args.presets))
    summary = proof_summary(config, untrained=not args.no_untrained)
    print(format_summary(summary))
    if args.json:
        args.json.write_text(summary_json(summary) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
