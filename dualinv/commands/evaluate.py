"""``dualinv evaluate`` (metrics of a folder of renders against targets) and ``dualinv report`` (Tables 1-5)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Iterator

import torch

from dualinv.commands.arguments import add_hidden_alias, nonnegative_int, positive_int
from dualinv.errors import ConfigError
from dualinv.fileio import load_image
from dualinv.eval.fid import fid_metric
from dualinv.eval.metrics import IMAGE_SUFFIXES, paired_files
from dualinv.eval.paper_numbers import PAPER_TABLES
from dualinv.eval.protocols import build_metric_suite, by_protocol, evaluate_pairs_both, fid_features_both
from dualinv.eval.results import PROTOCOLS, MetricsResult, metrics_path, write_metrics
from dualinv.eval.tables import write_table


def _folder_batches(folder: Path, batch_size: int) -> Iterator[torch.Tensor]:
    """The images under ``folder`` (sorted by path) as [B, 3, H, W] batches in [-1, 1]."""
    paths = sorted(path for path in Path(folder).rglob("*") if path.suffix.lower() in IMAGE_SUFFIXES)
    if not paths:
        raise ConfigError(f"FID image folder {folder} has no images")
    for start in range(0, len(paths), batch_size):
        yield torch.stack([load_image(path) for path in paths[start:start + batch_size]])


def _evaluate(args: argparse.Namespace) -> int:
    pairs = paired_files(args.renders, args.targets)
    weights = argparse.Namespace(lpips_alex=args.lpips_alex, ir_se50=args.ir_se50, curricularface=args.curricularface,
                                 inception=args.inception)
    suite = build_metric_suite(weights, protocol=args.protocol, seed=args.seed)
    scores, misses = evaluate_pairs_both(pairs, suite, batch_size=args.batch_size, resamples=args.bootstrap,
                                         seed=args.seed)
    metrics = dict(scores)
    provenance = {"renders": str(args.renders), "targets": str(args.targets), "seed": args.seed,
                  "metric_protocol": args.protocol, "stand_in": suite.stand_in_flags()}
    if args.fid_reference is not None:
        described = f"FID between folders {args.fid_reference} and {args.renders}"
        reference = fid_features_both(_folder_batches(args.fid_reference, args.batch_size), suite, real_images=True)
        renders = fid_features_both(_folder_batches(args.renders, args.batch_size), suite)
        metrics.update(by_protocol({"fid": fid_metric(reference[0], renders[0], suite.fid_ours, described)},
                                   {"fid": fid_metric(reference[1], renders[1], suite.fid_authors, described)},
                                   args.protocol))
    output = args.output or metrics_path(args.results, args.method, args.dataset)
    result = MetricsResult(args.method, args.dataset, metrics, synthetic_data=args.synthetic_data,
                           provenance=provenance, face_misses=misses)
    write_metrics(output, result)
    for name, metric in metrics.items():
        marker = " (stand-in)" if metric.stand_in else ""
        interval = f" [{metric.ci95[0]:.4f}, {metric.ci95[1]:.4f}]" if metric.ci95 else ""
        print(f"{name}: {metric.value:.4f}{interval} n={metric.n}{marker}")
    for name, count in misses.items():
        print(f"{name}: MTCNN found no face in {count['misses']} of {count['pairs']} pairs (left out)")
    print(f"wrote {output}")
    return 0


def _metric_files(sources: list[Path]) -> list[Path]:
    files = []
    for source in sources:
        if source.is_dir():
            files.extend(sorted(source.rglob("*.json")))
        elif source.is_file():
            files.append(source)
        else:
            raise ConfigError(f"--metrics {source}: no such file or folder")
    return [path for path in files if not path.name.endswith(".provenance.json")]


def _report(args: argparse.Namespace) -> int:
    files = _metric_files(args.metrics)
    for number in args.tables:
        written = write_table(number, files, Path(args.out) / f"table{number}")
        print(f"Table {number}: " + ", ".join(str(path) for path in written.values()))
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    evaluate = subparsers.add_parser(
        "evaluate", help="L2 / LPIPS / ID (and optionally FID) of a folder of renders against targets",
        description="Score same-view renders against their targets (paired by file name) and write "
                    "results/metrics/<method>/<dataset>.json with 95% bootstrap intervals. Networks "
                    "without a weights file run as seeded stand-ins and are marked as such.")
    evaluate.add_argument("--renders", type=Path, required=True, help="folder of rendered images")
    evaluate.add_argument("--targets", type=Path, required=True, help="folder of target images (same names)")
    evaluate.add_argument("--method", required=True, help="method name (an experiment of the registry)")
    evaluate.add_argument("--dataset", required=True, help="test-set name (val, celebahq, mead, ...)")
    evaluate.add_argument("--results", type=Path, default=Path("results"), help="results root (default: results)")
    evaluate.add_argument("--output", type=Path, default=None, metavar="PATH",
                          help="metrics JSON file to write (default: <results>/metrics/<method>/<dataset>.json)")
    evaluate.add_argument("--lpips-alex", type=Path, default=None, metavar="PATH", help="torchvision AlexNet file (weights.lpips_alex)")
    evaluate.add_argument("--ir-se50", type=Path, default=None, metavar="PATH", help="ArcFace model_ir_se50.pth (weights.ir_se50)")
    evaluate.add_argument("--curricularface", type=Path, default=None, metavar="PATH",
                          help="CurricularFace_Backbone.pth (weights.curricularface), the authors' ID network")
    evaluate.add_argument("--protocol", choices=PROTOCOLS, default=PROTOCOLS[0],
                          help="which protocol fills l2/lpips/id/fid; the other is stored beside (default: authors)")
    evaluate.add_argument("--fid-reference", type=Path, default=None, help="folder of reference (real) images for FID")
    evaluate.add_argument("--inception", type=Path, default=None, metavar="PATH", help="inception-2015-12-05.pt (weights.inception)")
    evaluate.add_argument("--synthetic-data", action="store_true", help="mark the targets as synthetic data")
    evaluate.add_argument("--bootstrap", type=positive_int, default=1000, help="bootstrap resamples (default 1000)")
    evaluate.add_argument("--batch-size", type=positive_int, default=8,
                          help="image pairs scored per forward pass (default 8)")
    evaluate.add_argument("--seed", type=nonnegative_int, default=0,
                          help="seed of stand-in networks and the bootstrap (default 0)")
    evaluate.set_defaults(func=_evaluate)

    report = subparsers.add_parser(
        "report", aliases=["tables"], help="Tables 1-5 (CSV, Markdown, LaTeX) from metrics JSON files",
        description="Build the paper's tables with the published numbers beside ours and the difference.")
    report.add_argument("--metrics", type=Path, nargs="+", default=[Path("results/metrics")],
                        help="metrics JSON files or folders (default: results/metrics)")
    report.add_argument("--tables", type=int, nargs="+", choices=sorted(PAPER_TABLES), default=sorted(PAPER_TABLES),
                        metavar="N", help=f"paper tables to build, of {', '.join(map(str, sorted(PAPER_TABLES)))} (default: all)")
    out = report.add_argument("--out", type=Path, default=Path("results/tables"),
                              help="output folder; tableN.csv, .md, .tex and .html per table (default: results/tables)")
    add_hidden_alias(report, "--output-dir", out)
    report.set_defaults(func=_report)
