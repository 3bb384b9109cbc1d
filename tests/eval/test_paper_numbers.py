"""The transcribed paper numbers against the paper text, and the registry feeds against the rows."""

from __future__ import annotations

import re

import pytest

from dualinv.eval.paper_numbers import PAPER_TABLES
from dualinv.eval.tables import row_experiments
from dualinv.models.experiments import EXPERIMENTS

NUMBER = re.compile(r"^\d+\.\d+$")


def _numeric_lines_after_caption(text: str, number: int, count: int) -> list[list[str]]:
    """The first ``count`` lines after "Table N:" holding three or more tab-separated numbers."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(f"Table {number}:"))
    found = []
    for line in lines[start + 1:]:
        numbers = [field.strip() for field in line.split("\t") if NUMBER.match(field.strip())]
        if len(numbers) >= 3:
            found.append(numbers)
            if len(found) == count:
                break
    return found


@pytest.mark.parametrize("number", sorted(PAPER_TABLES))
def test_numbers_match_the_paper_text(shared, number):
    text = (shared / "paper" / "dual-encoder-gan-inversion.txt").read_text(encoding="utf-8")
    table = PAPER_TABLES[number]
    printed = _numeric_lines_after_caption(text, number, len(table.rows))
    assert [list(row.values) for row in table.rows] == printed


def test_every_registry_feed_names_a_paper_row():
    fed = {feed for experiment in EXPERIMENTS.values() for feed in experiment.feeds}
    for feed in fed:
        number, _, label = feed.partition(":")
        table = PAPER_TABLES[int(number.removeprefix("T"))]
        assert label in [row.label for row in table.rows], feed


def test_every_paper_row_is_fed_by_one_experiment():
    for number, table in PAPER_TABLES.items():
        assert sorted(row_experiments(number)) == sorted(row.label for row in table.rows)


def test_value_reads_the_published_string():
    table = PAPER_TABLES[1]
    fid = next(c for c in table.columns if c.dataset == "celebahq" and c.metric == "fid")
    assert table.value("GOAE", fid) == 173.64
    assert table.published("Ours", table.columns[1]) == "0.10"
