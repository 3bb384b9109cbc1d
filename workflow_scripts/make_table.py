"""Glue of rule make_table: Table N as CSV, Markdown and LaTeX (rules/report.smk)."""
from pathlib import Path

from dualinv.jobs import entry_point, job

output_prefix = Path(snakemake.output.csv).with_suffix("")
with job(snakemake, artifact=output_prefix):
    write_table = entry_point("dualinv.eval.tables.write_table")
    write_table(table_number=int(snakemake.wildcards.table), metric_files=[Path(path) for path in snakemake.input.metrics],
                output_prefix=output_prefix)
