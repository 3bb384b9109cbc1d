"""Glue of rule evaluate_method: the metrics of one method on one test set (rules/evaluate.smk)."""
from pathlib import Path

from dualinv.jobs import entry_point, job

with job(snakemake, artifact=snakemake.output.metrics) as config:
    evaluate_method = entry_point("dualinv.eval.evaluate_method")
    evaluate_method(config=config, method=snakemake.wildcards.method, dataset=Path(snakemake.input.test_set),
                    inversions=Path(snakemake.input.inversions), output=Path(snakemake.output.metrics))
