"""Glue of rule prepare_shard: one shard of a photo dataset into its work folder, then its record (rules/data.smk)."""
from pathlib import Path

from dualinv.jobs import entry_point, job

with job(snakemake, artifact=snakemake.output.record) as config:
    prepare_study_shard = entry_point("dualinv.data.prepare_study_shard")
    prepare_study_shard(inputs=[Path(path) for path in snakemake.input.photos], work=Path(snakemake.params.work),
                        record=Path(snakemake.output.record), config=config, dataset=snakemake.wildcards.source_dataset,
                        index=int(snakemake.wildcards.shard), count=int(snakemake.params.shards))
