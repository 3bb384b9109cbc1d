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


# Bookkeeping (seconds of work each) runs beside Snakemake, not as cluster jobs; the named targets
# below have no action and are always local.
localrules:
    prepare_images,
    split_dataset,
    finalize_model,
    make_table,
    make_table_gt360,


rule all:
    """Every table fed by the configured experiments, and the figures."""
    default_target: True
    input:
        study_targets(),


rule figures:
    """The paper's figures only."""
    input:
        rules.make_figures.output.figures,


rule mini:
    """The CPU demo: every rule, experiment, baseline, table and figure (needs --configfile presets/mini.yaml)."""
    input:
        mini_targets,


rule proof:
    """The CPU study that learns: the tables its methods feed, table_gt360 and the figures of encoders trained on demo heads
    (needs --configfile presets/mini.yaml presets/proof.yaml; docs/training.md)."""
    input:
        proof_targets,


for table in TABLES:

    rule:
        f"""Table {table} of the paper as CSV, Markdown and LaTeX."""
        name:
            f"table{table}"
        input:
            table_outputs(table),


for name in EXPERIMENTS:

    rule:
        f"""Experiment {name}: its trained checkpoint, or its metrics if it trains nothing."""
        name:
            name
        input:
            experiment_target(name),


rule table_gt360:
    """The ground-truth 360° table and its error-vs-yaw plot (beyond the paper; dualinv.eval.gt360)."""
    input:
        gt360_outputs(),
