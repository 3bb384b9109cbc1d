"""Glue of rule extract_mead_frames: MEAD videos -> the Table 2 frames of five cameras (rules/data.smk)."""
from pathlib import Path

from dualinv.jobs import entry_point, job

with job(snakemake, artifact=snakemake.output.frames) as config:
    extract_study_mead_frames = entry_point("dualinv.data.study_sets.extract_study_mead_frames")
    extract_study_mead_frames(videos=Path(snakemake.input.videos), output=Path(snakemake.output.frames), config=config)
