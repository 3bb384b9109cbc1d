"""Glue of rule make_figures: the paper's comparison figures from the inversions (rules/report.smk)."""
from pathlib import Path

from dualinv.jobs import entry_point, job

inversions = {}
for (method, test_set), folder in zip(snakemake.params.pairs, snakemake.input.inversions):
    inversions.setdefault(method, {})[test_set] = Path(folder)
with job(snakemake, artifact=snakemake.output.figures) as config:
    make_figures = entry_point("dualinv.eval.figures.make_figures")
    loss_logs = {name: [Path(path) for path in paths] for name, paths in snakemake.params.losses.items()}
    make_figures(config=config, inversions=inversions, output=Path(snakemake.output.figures), loss_logs=loss_logs)
