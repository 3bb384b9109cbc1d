"""What every workflow job does around its one library call (STYLE.md, Workflow 6).

A script in ``workflow_scripts/`` reads::

    with job(snakemake, artifact=snakemake.output.checkpoint) as config:
        train_segment = entry_point("dualinv.training.train_segment")
        train_segment(config, ...)

``job`` routes logging, warnings, stdout and stderr to ``snakemake.log[0]``, validates the config,
times the call and, when it succeeds, writes the artifact's provenance sidecar. ``entry_point``
turns a library function that does not exist (yet) into an error naming it, not a bare ImportError.
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import time
import traceback
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping

from dualinv.config import REPO_ROOT, StudyConfig, from_mapping
from dualinv.errors import MissingEntryPointError
from dualinv.provenance import provenance_record, write_provenance


def entry_point(dotted_name: str) -> Callable[..., Any]:
    """The function ``package.module.function``, or :class:`MissingEntryPointError` naming it."""
    module_name, _, function_name = dotted_name.rpartition(".")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as error:
        if error.name is None or not module_name.startswith(error.name):
            raise  # a dependency missing inside an existing module is a different problem
        raise MissingEntryPointError(
            f"the workflow calls {dotted_name}, but module {error.name} does not exist in this dualinv "
            f"checkout ({REPO_ROOT}); update dualinv or run a target that does not need it") from None
    function = getattr(module, function_name, None)
    if not callable(function):
        raise MissingEntryPointError(
            f"the workflow calls {dotted_name}, but {module_name} has no function {function_name} in this "
            f"dualinv checkout ({REPO_ROOT}); update dualinv or run a target that does not need it")
    return function


def study_seeds(config: StudyConfig) -> dict[str, int]:
    """The configured seeds every job records."""
    return {"training": config.training.seed, "evaluation": config.evaluation.seed,
            "synthetic": config.data.synthetic.seed}


@contextlib.contextmanager
def logged_to(log_path: str | Path) -> Iterator[None]:
    """Send logging, warnings, stdout and stderr to ``log_path``; a failure's traceback goes there too."""
    log_path = Path(log_path)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "a", encoding="utf-8", buffering=1) as stream:
        handler = logging.StreamHandler(stream)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        root = logging.getLogger()
        previous_level = root.level
        root.addHandler(handler)
        root.setLevel(logging.INFO)
        logging.captureWarnings(True)
        try:
            with contextlib.redirect_stdout(stream), contextlib.redirect_stderr(stream):
                yield
        except BaseException:
            stream.write(traceback.format_exc())
            raise
        finally:
            logging.captureWarnings(False)
            root.removeHandler(handler)
            root.setLevel(previous_level)


@contextlib.contextmanager
def job(snakemake: Any, artifact: str | Path, seeds: Mapping[str, int] | None = None) -> Iterator[StudyConfig]:
    """One workflow job: logs routed, config validated and yielded, provenance written on success."""
    with logged_to(snakemake.log[0]):
        config = from_mapping(snakemake.config, "the workflow config")
        logging.getLogger("dualinv.jobs").info("rule %s -> %s", getattr(snakemake, "rule", "?"), artifact)
        started = time.time()
        yield config
        finished = time.time()
        record = provenance_record(config, {**study_seeds(config), **(seeds or {})}, started, finished, REPO_ROOT)
        write_provenance(artifact, record)
