"""Glue of rule optimise_shard: one shard of an optimisation baseline over one test set, resumably."""
from pathlib import Path

from dualinv.jobs import entry_point, job

with job(snakemake, artifact=snakemake.output.record, seeds={"shard": int(snakemake.wildcards.shard)}) as config:
    optimise_shard = entry_point("dualinv.inversion_jobs.optimise_shard")
    optimise_shard(config=config, method=snakemake.wildcards.method, dataset=Path(snakemake.input.test_set),
                   shard=int(snakemake.wildcards.shard), inversions=Path(snakemake.params.inversions),
                   record=Path(snakemake.output.record))
