"""Glue of rule make_synthetic_dataset: multi-view renders of the stand-in generator (rules/data.smk)."""
from pathlib import Path

from dualinv.jobs import entry_point, job

with job(snakemake, artifact=snakemake.output.dataset) as config:
    make_synthetic_dataset = entry_point("dualinv.data.synthetic.make_synthetic_dataset")
    make_synthetic_dataset(output=Path(snakemake.output.dataset), config=config)
