"""Run Snakemake on a copy of the repository, as a subprocess (specs/snakemake-slurm.md, Testing)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO_ROOT

MINI = ("--configfile", "presets/mini.yaml")


def copy_repository(target: Path) -> Path:
    """The tracked and untracked (not ignored) files of the checkout, copied to ``target``."""
    listed = subprocess.run(["git", "-C", str(REPO_ROOT), "ls-files", "-co", "--exclude-standard", "-z"],
                            capture_output=True, check=True).stdout.decode().split("\0")
    for relative in filter(None, listed):
        source = REPO_ROOT / relative
        if source.is_file():
            (target / relative).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / relative)
    return target


def snakemake(repository: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    """``python -m snakemake ARGS`` in ``repository``; stdout and stderr together in ``.stdout``.

    ``PYTHONPATH`` is dropped so that the workflow and its jobs import the ``dualinv`` of ``repository``
    (a copy, perhaps with stubs: Snakemake puts the working directory on the jobs' path), not the
    checkout the tests run from."""
    environment = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    return subprocess.run([sys.executable, "-m", "snakemake", *args], cwd=repository, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, timeout=timeout, env=environment)


def job_counts(output: str) -> dict[str, int]:
    """The "Job stats" table of a (dry) run as ``{rule: count}``."""
    counts, in_table = {}, False
    for line in output.splitlines():
        if line.startswith("Job stats:"):
            in_table = True
        elif in_table and line.strip() and not line.startswith(("job", "-")):
            name, _, count = line.split()[0], None, line.split()[-1]
            if name == "total":
                break
            counts[name] = int(count)
    return counts
