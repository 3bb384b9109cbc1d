"""Glue of rule split_dataset: FFHQ + LPFF -> rebalanced, mirrored train/val split (rules/data.smk)."""
from pathlib import Path

from dualinv.jobs import entry_point, job

with job(snakemake, artifact=snakemake.output.train) as config:
    split_dataset = entry_point("dualinv.data.split_dataset")
    split_dataset(inputs=[Path(path) for path in snakemake.input.sources], train_output=Path(snakemake.output.train),
                  val_output=Path(snakemake.output.val), config=config)
