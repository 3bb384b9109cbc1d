"""Glue of rule prepare_images: align a folder (or list) of photos into a prepared dataset (rules/data.smk)."""
from pathlib import Path

from dualinv.jobs import entry_point, job

with job(snakemake, artifact=snakemake.output.dataset) as config:
    prepare_study_images = entry_point("dualinv.data.prepare_study_images")
    prepare_study_images(inputs=[Path(path) for path in snakemake.input.photos], output=Path(snakemake.output.dataset),
                         config=config, dataset=snakemake.wildcards.source_dataset)
