"""Glue of rule gt360_method: the ground-truth 360° scores of one method, resumably."""
from pathlib import Path

from dualinv.jobs import entry_point, job

checkpoints = [Path(path) for path in snakemake.input.get("checkpoints", [])]
with job(snakemake, artifact=snakemake.output.scores) as config:
    gt360_method = entry_point("dualinv.eval.gt360.gt360_method")
    gt360_method(config=config, method=snakemake.wildcards.method, checkpoints=checkpoints,
                 output=Path(snakemake.output.scores))
