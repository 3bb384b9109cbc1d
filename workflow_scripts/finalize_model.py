"""Glue of rule finalize_model: the last segment's checkpoint becomes checkpoint.pt (rules/train.smk)."""
from dualinv.jobs import job
from dualinv.training.segments import finalize_checkpoint

with job(snakemake, artifact=snakemake.output.checkpoint):
    finalize_checkpoint(snakemake.input.checkpoint, snakemake.output.checkpoint)
