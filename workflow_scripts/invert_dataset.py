"""Glue of rules invert_dataset and optimise_inversions: invert one test set with one method, resumably."""
from pathlib import Path

from dualinv.jobs import entry_point, job

checkpoints = [Path(path) for path in snakemake.input.get("checkpoints", [])]
with job(snakemake, artifact=snakemake.output.inversions) as config:
    invert_resumably = entry_point("dualinv.inversion_jobs.invert_resumably")
    invert_resumably(config=config, method=snakemake.wildcards.method, dataset=Path(snakemake.input.test_set),
                     checkpoints=checkpoints, output=Path(snakemake.output.inversions))
