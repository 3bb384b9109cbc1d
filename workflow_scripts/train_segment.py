"""Glue of rule train_segment: steps [start, stop) of one experiment, resumed from the previous segment."""
from pathlib import Path

from dualinv.jobs import entry_point, job

segment = snakemake.params.segment
resume = [Path(path) for path in snakemake.input.resume]
losses = Path(snakemake.output.losses)
work_losses = losses.with_name(losses.name + ".partial")  # not an output: a failed try's rows survive for the retry
with job(snakemake, artifact=snakemake.output.checkpoint, seeds={"segment": segment.index}) as config:
    train_segment = entry_point("dualinv.training.train_segment_job")  # torchrun when resources.train.gpus > 1
    train_segment(config=config, experiment=snakemake.wildcards.experiment, start=segment.start, stop=segment.stop,
                  checkpoint_in=resume[0] if resume else None, checkpoint_out=Path(snakemake.output.checkpoint),
                  dataset=Path(snakemake.input.train), log_path=work_losses, progress=True)
    work_losses.replace(losses)
