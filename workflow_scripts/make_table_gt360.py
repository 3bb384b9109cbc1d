"""Glue of rule make_table_gt360: table_gt360 as CSV, Markdown, LaTeX, HTML and its plot (rules/report.smk)."""
from pathlib import Path

from dualinv.jobs import entry_point, job

output_prefix = Path(snakemake.output.csv).with_suffix("")
with job(snakemake, artifact=output_prefix):
    write_gt360_table = entry_point("dualinv.eval.gt360_table.write_gt360_table")
    write_gt360_table(score_files=[Path(path) for path in snakemake.input.scores], output_prefix=output_prefix)
