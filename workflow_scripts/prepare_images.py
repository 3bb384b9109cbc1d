"""Glue of rule prepare_images: align a folder of photos into a prepared dataset (rules/data.smk)."""
from pathlib import Path

from dualinv.jobs import entry_point, job

with job(snakemake, artifact=snakemake.output.dataset) as config:
    prepare_images = entry_point("dualinv.data.prepare_images")
    prepare_images(input=Path(snakemake.input.photos), output=Path(snakemake.output.dataset), config=config)
