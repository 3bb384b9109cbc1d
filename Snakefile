# The dualinv study as one DAG: data -> training segments -> inversions -> metrics -> Tables 1-5, figures.
#   snakemake mini --cores 2 --configfile presets/mini.yaml     the CPU demo (stand-in weights, minutes)
#   snakemake --profile slurm table3                            one paper table on a Slurm cluster
from snakemake.utils import min_version

min_version("9.0")


configfile: "config.yaml"


report: "report/workflow.rst"


include: "rules/common.smk"
include: "rules/data.smk"
include: "rules/train.smk"
include: "rules/baselines.smk"
include: "rules/evaluate.smk"
include: "rules/report.smk"


rule all:
    default_target: True
    input:
        study_targets(),


rule figures:
    input:
        rules.make_figures.output.figures,


rule mini:
    input:
        mini_targets,


for table in TABLES:

    rule:
        name:
            f"table{table}"
        input:
            table_outputs(table),


for name in EXPERIMENTS:

    rule:
        name:
            name
        input:
            experiment_target(name),
