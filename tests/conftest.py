"""Shared test fixtures: where ``../shared`` (specs and golden fixtures) is."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]


def shared_dir() -> Path:
    """``$DUALINV_SHARED`` if set, else the ``shared/`` folder beside the repository (as in CI)."""
    override = os.environ.get("DUALINV_SHARED")
    return Path(override) if override else REPO_ROOT.parent / "shared"


@pytest.fixture(scope="session")
def shared() -> Path:
    path = shared_dir()
    if not path.is_dir():
        pytest.fail(f"shared/ not found at {path}; set DUALINV_SHARED to its location")
    return path


@pytest.fixture(scope="session")
def tiny_fixture_dir(shared: Path) -> Path:
    return shared / "fixtures" / "panohead-tiny"
