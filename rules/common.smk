# Config validation, the per-job input check, the registry, wildcard constraints, input functions and
# resource lookups. Every decision lives in dualinv (dualinv.study, dualinv.training.segments).
import re

from snakemake.exceptions import WorkflowError

from dualinv.config import from_mapping
from dualinv.study import (
    FIGURE_TABLES,
    SOURCE_DATASETS,
    SPLITS,
    TRAINING_SOURCES,
    TABLES,
    TABLE_TEST_SETS,
    prepared_dir,
    public_domain_photos,
    datasets_with_source,
    gt360_methods,
    required_checkpoints,
    study_evaluations,
    table_evaluations,
    trained_experiments,
)
from dualinv.models.experiments import EXPERIMENTS
from dualinv.preemption import stop_warning_resources
from dualinv.training.segments import previous_segment, segments
from dualinv.workflow_inputs import check_rule_inputs, rule_weights


STUDY = from_mapping(config, "config.yaml with the --configfile/--config overrides")
R = STUDY.output.results


def one_of(names):
    """A wildcard constraint matching exactly ``names`` (nothing when empty)."""
    return "|".join(re.escape(name) for name in names) or "(?!x)x"


TRAINED = [name for name, experiment in EXPERIMENTS.items() if experiment.trains]
OPTIMISED = [name for name, experiment in EXPERIMENTS.items() if experiment.kind == "baseline_optimisation"]
ENCODED = [name for name in EXPERIMENTS if name not in OPTIMISED]
TEST_SETS = sorted({name for names in TABLE_TEST_SETS.values() for name in names})
PHOTO_DATASETS = (datasets_with_source(STUDY, "photos") + datasets_with_source(STUDY, "public_domain")
                  + datasets_with_source(STUDY, "videos"))
"""Datasets prepared from photos (MEAD's from its extracted frames) by sharded preparation jobs."""


wildcard_constraints:
    experiment=one_of(TRAINED),
    segment=r"\d+",
    shard=r"\d+",
    table=one_of(map(str, TABLES)),
    test_set=one_of(TEST_SETS),


def log_path(rule, pattern):
    return f"{R}/logs/{rule}/{pattern}.log"


def benchmark_path(rule, pattern):
    return f"{R}/benchmarks/{rule}/{pattern}.tsv"


def resources_of(group):
    """Scheduler resources of a rule group; memory and time grow with each retry (``attempt``). Jobs that save
    and stop on SIGTERM ask Slurm for it before their time limit (dualinv.preemption)."""
    settings = getattr(STUDY.resources, group)
    return {
        "gpu": settings.gpus,
        "mem_mb": lambda wildcards, attempt: settings.for_attempt(attempt)["mem_mb"],
        "runtime": lambda wildcards, attempt: settings.for_attempt(attempt)["runtime"],
        **stop_warning_resources(STUDY.resources, group),
    }


BOOKKEEPING = {"mem_mb": 1000, "runtime": 10}
"""Resources of the bookkeeping rules (split, links, tables): seconds of work, run locally beside Snakemake
(``localrules`` in the Snakefile), never queued on Slurm."""


def threads_of(group):
    return getattr(STUDY.resources, group).threads


def external_inputs(rule, datasets=()):
    """Input function: the weights files a job of ``rule`` reads, and a check of them and of the source
    ``datasets`` it reads (names, or functions of the wildcards), run as the job enters the DAG, so a target
    asks only for the files its own jobs read (dualinv.workflow_inputs)."""

    def inputs(wildcards):
        names = tuple(name(wildcards) if callable(name) else name for name in datasets)
        check_rule_inputs(STUDY, rule, names)
        return rule_weights(STUDY, rule)

    return inputs


def dataset_dir(name):
    """The prepared folder of a source dataset or split (a user's folder for ``source: prepared``)."""
    return str(prepared_dir(STUDY, name))


def segment_checkpoint(experiment, index):
    return f"{R}/models/{experiment}/segments/{index}.pt"


def segment_losses(experiment, index):
    """The loss log (CSV, one row per step) of one training segment; kept after the segment's checkpoint goes."""
    return f"{R}/models/{experiment}/segments/{index}.losses.csv"


def training_loss_logs():
    """``{experiment: [loss logs of its segments]}`` of every experiment the study trains (the loss curves)."""
    chain = segments(STUDY.training.iterations, STUDY.training.segment_length)
    return {name: [segment_losses(name, segment.index) for segment in chain]
            for name in trained_experiments(STUDY.experiments)}


def last_segment_checkpoint(wildcards):
    chain = segments(STUDY.training.iterations, STUDY.training.segment_length)
    return segment_checkpoint(wildcards.experiment, chain[-1].index)


def resume_from(wildcards):
    """The previous segment's checkpoint (nothing for the first segment)."""
    previous = previous_segment(int(wildcards.segment))
    return [] if previous is None else [segment_checkpoint(wildcards.experiment, previous)]


def segment_bounds(wildcards):
    chain = segments(STUDY.training.iterations, STUDY.training.segment_length)
    return chain[int(wildcards.segment)]


def checkpoints_of(wildcards):
    return [f"{R}/models/{name}/checkpoint.pt" for name in required_checkpoints(wildcards.method)]


def metrics_path(method, test_set):
    return f"{R}/metrics/{method}/{test_set}.json"


def inversions_path(method, test_set):
    return f"{R}/inversions/{method}/{test_set}"


def preparation_work_dir(source_dataset, shard):
    """Where one preparation shard writes its photos: not a declared output, so a failed try keeps them."""
    return f"{R}/preparation/{source_dataset}/{shard}"


def preparation_records(wildcards):
    """The records of every preparation shard of one photo dataset."""
    folder = f"{R}/preparation_shards/{wildcards.source_dataset}"
    return [f"{folder}/{shard}.json" for shard in range(STUDY.resources.prepare_shards)]


def shard_records(wildcards):
    """The records of every shard of an optimisation baseline on one test set."""
    folder = f"{R}/optimisation_shards/{wildcards.method}/{wildcards.test_set}"
    return [f"{folder}/{shard}.json" for shard in range(STUDY.resources.optimise_shards)]


def table_metrics(wildcards):
    pairs = table_evaluations(int(wildcards.table), STUDY.experiments)
    return [metrics_path(method, test_set) for method, test_set in pairs]


def table_outputs(table):
    return [f"{R}/tables/table{table}.{suffix}" for suffix in ("csv", "md", "tex", "html")]


def figure_pairs():
    return study_evaluations(STUDY.experiments, FIGURE_TABLES)


def experiment_target(name):
    """What the named target of an experiment builds: its checkpoint, or its metrics if it trains nothing."""
    if EXPERIMENTS[name].trains:
        return [f"{R}/models/{name}/checkpoint.pt"]
    pairs = study_evaluations([name])
    return [metrics_path(method, test_set) for method, test_set in pairs]


def gt360_scores(method):
    return f"{R}/gt360/{method}.json"


def gt360_outputs():
    """``table_gt360`` (beyond the paper: dualinv.eval.gt360): nothing when no method is scored."""
    if not gt360_methods(STUDY):
        return []
    return [f"{R}/tables/table_gt360.{suffix}" for suffix in ("csv", "md", "tex", "html")] + [
        f"{R}/tables/table_gt360_vs_yaw.png"]


def gt360_resources():
    """A per-image optimisation method is scored with the optimisation jobs' resources, any other with the
    evaluation jobs'."""
    def setting(key):
        def value(wildcards, attempt):
            group = "optimise" if wildcards.method in OPTIMISED else "evaluate"
            return getattr(STUDY.resources, group).for_attempt(attempt)[key]
        return value

    # resumable per head (dualinv.eval.gt360), so it saves and stops on Slurm's early SIGTERM like the optimisation
    return {"gpu": STUDY.resources.evaluate.gpus, "mem_mb": setting("mem_mb"), "runtime": setting("runtime"),
            **stop_warning_resources(STUDY.resources, "optimise")}


def study_targets():
    """Every table fed by the configured experiments, table_gt360, and the figures."""
    tables = [table for table in TABLES if table_evaluations(table, STUDY.experiments)]
    return [path for table in tables for path in table_outputs(table)] + gt360_outputs() + [f"{R}/figures"]


def mini_targets(wildcards):
    if STUDY.preset != "mini":
        raise WorkflowError(
            "target 'mini' runs the CPU demo; add --configfile presets/mini.yaml "
            f"(the config in effect is the {STUDY.preset!r} preset)"
        )
    return study_targets() + [path for name in EXPERIMENTS for path in experiment_target(name)]


PROOF_CONFIG = "--configfile presets/mini.yaml presets/proof.yaml"
"""Both presets after one --configfile: a second --configfile flag would replace the first."""


def proof_targets(wildcards):
    if STUDY.preset != "proof":
        raise WorkflowError(
            f"target 'proof' runs the CPU study that learns; add {PROOF_CONFIG} "
            f"(the config in effect is the {STUDY.preset!r} preset)"
        )
    if STUDY.generator.preset != "demo":
        raise WorkflowError(
            "presets/proof.yaml goes on top of presets/mini.yaml, which is not in effect (the generator is "
            f"{STUDY.generator.preset!r}, not the demo generator): run with {PROOF_CONFIG}; "
            "a second --configfile flag replaces the first"
        )
    return study_targets()


def photos_of(name):
    """The raw photos of a dataset: its folder (``photos``), the bundled portraits (``public_domain``) or the
    frames chosen from its videos (``videos``, rule extract_mead_frames)."""
    dataset = getattr(STUDY.data, name)
    if dataset.source == "public_domain":
        return public_domain_photos()
    if dataset.source == "videos":
        return [frames_dir(name)]
    return [dataset.path]


def frames_dir(name):
    """Where rule extract_mead_frames writes the frames chosen from a dataset's videos."""
    return f"{R}/data/{name}_frames"


def split_files_of(name):
    """The files that select a dataset's photos: CelebA-HQ's test-split definition, when configured."""
    split = STUDY.data.celebahq_test_split
    return [split.partition_file, split.mapping_file] if name == "celebahq" and split is not None else []
