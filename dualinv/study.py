"""The study as data: which methods, test sets and checkpoints each paper table needs.

The Snakemake rules only turn these answers into paths; every decision (which rows feed Table 3,
which datasets a run needs, whether the inputs exist) is made here, where pytest reaches it
(STYLE.md, Workflow 4). Rows come from the experiment registry's ``feeds`` ("T3:No D" feeds Table 3).
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable, Mapping

from dualinv.config import DatasetConfig, StudyConfig
from dualinv.errors import ConfigError, MissingInputsError
from dualinv.models.experiments import EXPERIMENTS, Experiment
from dualinv.weights import REGISTRY as WEIGHTS_REGISTRY
from dualinv.weights import weights_problem

TABLES: tuple[int, ...] = (1, 2, 3, 4, 5)
"""The paper's quantitative tables."""

TABLE_TEST_SETS: Mapping[int, tuple[str, ...]] = {
    1: ("val", "celebahq"),  # Table 1: FFHQ + LPFF validation split, CelebA-HQ
    2: ("mead",),            # Table 2: multi-view MEAD
    3: ("val",),             # Tables 3-5: ablations on the validation split
    4: ("val",),
    5: ("val",),
}
"""Test sets of each table (paper §4.3 and the table captions)."""

SOURCE_DATASETS: tuple[str, ...] = ("ffhq", "lpff", "celebahq", "mead")
"""Datasets read from the config's ``data`` section."""

TRAINING_SOURCES: tuple[str, ...] = ("ffhq", "lpff")
"""Combined, then split into the ``train`` and ``val`` sets (paper §4.1)."""

SPLITS: tuple[str, ...] = ("train", "val")
"""Sets made by splitting the training sources."""

DATASET_ORIGINS: Mapping[str, str] = {
    "ffhq": "FFHQ, 70k portraits, trained on and validated with LPFF (paper §4.1): give the in-the-wild images "
            "(in-the-wild-images/, not the 1024² crops) from https://github.com/NVlabs/ffhq-dataset",
    "lpff": "LPFF, ~20k large-pose portraits, trained on and validated with FFHQ (paper §4.1): give its raw "
            "images from https://github.com/oneThousand1000/LPFF-dataset",
    "celebahq": "CelebA-HQ test images (Table 1): give CelebA-HQ-img/ (0.jpg ... 29999.jpg) of CelebAMask-HQ, "
                "https://github.com/switchablenorms/CelebAMask-HQ",
    "mead": "MEAD multi-view videos (Table 2): download MEAD from https://wywu.github.io/projects/MEAD/MEAD.html "
            "and give the folder of its actors (<actor>/video/<view>/<emotion>/<level>/<clip>.mp4; source: videos), "
            "or frames you prepared yourself (source: prepared; docs/data.md, MEAD)",
}
"""What each source dataset is and where a user gets it (dualinv never downloads), for the input report."""
CELEBAHQ_SPLIT_ORIGINS: Mapping[str, str] = {
    "partition_file": "CelebA's official partition file Eval/list_eval_partition.txt, from "
                      "https://mmlab.ie.cuhk.edu.hk/projects/CelebA.html (or set data.celebahq_test_split: null to "
                      "evaluate every CelebA-HQ photo)",
    "mapping_file": "CelebA-HQ-to-CelebA-mapping.txt, in the CelebAMask-HQ download of "
                    "https://github.com/switchablenorms/CelebAMask-HQ (or set data.celebahq_test_split: null)",
}
"""Where a user gets the two files that define the CelebA-HQ test split (docs/data.md)."""

FIGURE_TABLES: tuple[int, ...] = (1, 2, 3)
"""The figures (5-9, dualinv.eval.figures) show the inversions behind Tables 1 (comparisons, Figure 6; the
dual encoder and its two encoders, Figure 5; meshes, Figure 9), 3 (ablation on D, Figure 7) and 2 (MEAD,
Figure 8)."""


def table_methods(table: int, experiments: Iterable[str]) -> list[str]:
    """Methods (registry names) among ``experiments`` that fill a row of ``table``, in registry order."""
    if table not in TABLES:
        raise ConfigError(f"there is no Table {table}; the paper's tables are {TABLES}")
    chosen = set(experiments)
    prefix = f"T{table}:"
    return [name for name, experiment in EXPERIMENTS.items()
            if name in chosen and any(row.startswith(prefix) for row in experiment.feeds)]


def table_evaluations(table: int, experiments: Iterable[str]) -> list[tuple[str, str]]:
    """``(method, test set)`` pairs whose metrics ``table`` reads."""
    methods = table_methods(table, experiments)
    return [(method, dataset) for method in methods for dataset in TABLE_TEST_SETS[table]]


def study_evaluations(experiments: Iterable[str], tables: Iterable[int] = TABLES) -> list[tuple[str, str]]:
    """Every ``(method, test set)`` pair the given tables need, without repeats."""
    experiments = list(experiments)
    pairs = [pair for table in tables for pair in table_evaluations(table, experiments)]
    return list(dict.fromkeys(pairs))


def gt360_methods(config: StudyConfig) -> list[str]:
    """Methods ``table_gt360`` scores (:mod:`dualinv.eval.gt360`): every configured experiment, in registry
    order; none when ``evaluation.gt360.samples`` is 0."""
    if config.evaluation.gt360.samples == 0:
        return []
    chosen = set(config.experiments)
    return [name for name in EXPERIMENTS if name in chosen]


def required_checkpoints(method: str) -> tuple[str, ...]:
    """Experiments whose trained checkpoint inverting with ``method`` needs."""
    experiment: Experiment = EXPERIMENTS[method]
    if experiment.trains:
        return (method,)
    return tuple(component for component in experiment.components if EXPERIMENTS[component].trains)


def trained_experiments(experiments: Iterable[str]) -> list[str]:
    """Experiments that must be trained, including the components of ``dual``."""
    needed = {checkpoint for method in experiments for checkpoint in required_checkpoints(method)}
    return [name for name in EXPERIMENTS if name in needed]


def required_datasets(experiments: Iterable[str]) -> list[str]:
    """Source datasets a run of ``experiments`` (training and every table they feed) reads."""
    experiments = list(experiments)
    needed = set()
    test_sets = {dataset for _, dataset in study_evaluations(experiments)}
    if trained_experiments(experiments) or test_sets & set(SPLITS):
        needed.update(TRAINING_SOURCES)
    needed.update(test_sets & set(SOURCE_DATASETS))
    return [name for name in SOURCE_DATASETS if name in needed]


def datasets_with_source(config: StudyConfig, source: str) -> list[str]:
    """Source datasets configured with ``source`` (``photos``, ``prepared``, ``synthetic``, ...)."""
    return [name for name in SOURCE_DATASETS if getattr(config.data, name).source == source]


def prepared_dir(config: StudyConfig, name: str) -> Path:
    """Folder of a prepared source dataset or split (``train``, ``val``): the user's folder for
    ``source: prepared``, else ``<results>/data/<name>`` where the workflow writes it."""
    if name in SOURCE_DATASETS and getattr(config.data, name).source == "prepared":
        return Path(getattr(config.data, name).path)
    if name not in SOURCE_DATASETS and name not in SPLITS:
        raise ConfigError(f"unknown dataset {name!r}; datasets: {SOURCE_DATASETS + SPLITS}")
    return Path(config.output.results) / "data" / name


def dataset_problem(name: str, dataset: DatasetConfig) -> str | None:
    """Why the configured source dataset ``name`` cannot be read, or ``None``."""
    key = f"data.{name}"
    problem = None
    if dataset.source in ("photos", "prepared", "videos") and dataset.path is None:
        problem = f"{key}.path is null but source is {dataset.source!r}; set the folder"
    elif dataset.source == "photos":
        folder = Path(dataset.path).expanduser()
        if not folder.is_dir() or not any(folder.iterdir()):
            problem = f"{key}.path = {dataset.path!r}: no photos there (missing or empty folder)"
    elif dataset.source == "videos":
        folder = Path(dataset.path).expanduser()
        if not folder.is_dir() or next(folder.glob("*/video/*/*/*/*.mp4"), None) is None:
            problem = (f"{key}.path = {dataset.path!r}: no MEAD videos <actor>/video/<view>/<emotion>/<level>/"
                       f"<clip>.mp4 there")
    elif dataset.source == "prepared":
        labels = Path(dataset.path).expanduser() / "dataset.json"
        if not labels.is_file():
            problem = f"{key}.path = {dataset.path!r}: no dataset.json there (not a prepared dataset)"
    elif dataset.path is not None:  # synthetic, public_domain
        return f"{key}.path must be null for source {dataset.source!r} (got {dataset.path!r})"
    return None if problem is None else f"{problem}. {DATASET_ORIGINS[name]}"


def generator_network_problem(path: str) -> str | None:
    """Why the configured ``generator.network`` pickle cannot be read, or ``None``."""
    if Path(path).expanduser().is_file():
        return None
    panohead = WEIGHTS_REGISTRY["panohead"]
    return (f"generator.network = {path!r}: missing file. A PanoHead network pickle, e.g. the released "
            f"{panohead.filename}; get it from {panohead.url}")


def input_problems(config: StudyConfig) -> list[str]:
    """Every missing pretrained file and dataset the configured study needs, as sentences."""
    problems = []
    for key, path in vars(config.weights).items():
        problem = weights_problem(key, path)
        if problem is not None:
            problems.append(problem)
    if config.generator.network is not None:
        problem = generator_network_problem(config.generator.network)
        if problem is not None:
            problems.append(problem)
    needed = required_datasets(config.experiments)
    for name in needed:
        problem = dataset_problem(name, getattr(config.data, name))
        if problem is not None:
            problems.append(problem)
    split = config.data.celebahq_test_split
    if split is not None and "celebahq" in needed:
        for key, path in (("partition_file", split.partition_file), ("mapping_file", split.mapping_file)):
            if not Path(path).expanduser().is_file():
                problems.append(f"data.celebahq_test_split.{key} = {path!r}: missing file. {CELEBAHQ_SPLIT_ORIGINS[key]}")
    return problems


def check_inputs(config: StudyConfig) -> None:
    """Raise one :class:`MissingInputsError` listing every missing input, before any job starts."""
    problems = input_problems(config)
    if problems:
        raise MissingInputsError(
            f"{len(problems)} input(s) of the {config.preset!r} study cannot be used:\n  - "
            + "\n  - ".join(problems)
            + "\nFix the paths in config.yaml (weights: null runs a seeded stand-in, labelled as such), "
            "or try the CPU demo: snakemake mini --cores 2 --configfile presets/mini.yaml")


def public_domain_photos() -> list[str]:
    """The public-domain portraits bundled with installed packages (no download): scikit-image's
    ``astronaut.png`` (Eileen Collins, NASA) and matplotlib's ``grace_hopper.jpg`` (US Navy)."""
    import matplotlib  # matplotlib loads only when this runs, not on CLI start-up
    import skimage  # scikit-image loads only when this runs, not on CLI start-up

    return [str(Path(skimage.__file__).parent / "data" / "astronaut.png"),
            str(Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg")]
