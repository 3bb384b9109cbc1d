"""Glue of rule prepare_images: the finished shards of a photo dataset merged into the dataset (rules/data.smk)."""
from pathlib import Path

from dualinv.jobs import entry_point, job

with job(snakemake, artifact=snakemake.output.dataset) as config:
    merge_study_shards = entry_point("dualinv.data.merge_study_shards")
    merge_study_shards(records=[Path(path) for path in snakemake.input.shards], output=Path(snakemake.output.dataset),
                       config=config)
