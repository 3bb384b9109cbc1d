"""Tables 1-5 with the paper's published numbers beside ours, as CSV, Markdown and LaTeX.

Rows and their order are the paper's (:mod:`dualinv.eval.paper_numbers`); which experiment fills a
row comes from the experiment registry's ``feeds`` (``"T3:No D"``), never from a list kept here.
For every row the table shows the paper's number, ours and the difference (ours − paper). A
number we do not have is ``—`` (never 0). A number computed with a stand-in network is marked
``†`` and one computed on synthetic data ``‡``; the footnotes say what the marks mean.

Each metric column holds the protocol ``evaluation.protocol`` chose; the column right after it holds the
other protocol's number (:mod:`dualinv.eval.protocols`), without a paper number. Δ is printed only for the
authors' protocol, the one the paper's numbers come from, and the notes count the faces MTCNN missed.
"""

from __future__ import annotations

import csv
import html
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Mapping, Sequence

from dualinv.errors import ConfigError, ResultsFormatError
from dualinv.eval.paper_numbers import PAPER_TABLES, Column, PaperTable
from dualinv.eval.results import PROTOCOLS, MetricsResult, MetricValue, beside_key, other_protocol, read_metrics
from dualinv.fileio import write_text_atomic
from dualinv.models.experiments import EXPERIMENTS

MISSING = "—"
STAND_IN_MARK = "†"
SYNTHETIC_MARK = "‡"
DATASET_NAMES: Mapping[str, str] = {"val": "FFHQ + LPFF", "celebahq": "CelebAHQ", "mead": "MEAD"}
"""Test-set names as the paper prints them."""

FOOTNOTES = (
    f"{MISSING}: not available (the method was not run, or the metric is missing from its results).",
    f"{STAND_IN_MARK}: computed with stand-in (seeded random) network weights or a stand-in generator; "
    "not comparable with the paper.",
    f"{SYNTHETIC_MARK}: computed on synthetic data, not the paper's test set.",
    f"Δ = ours − paper, at the paper's precision; only where both are real numbers of the same protocol, the "
    f"authors' ({MISSING} for a {STAND_IN_MARK} or {SYNTHETIC_MARK} number, or one computed our way, whose "
    "difference from the paper means nothing).",
)
SINGLE_PROTOCOL_METRICS = ("time_sec",)
"""Metrics measured one way only; every other column has a neighbour with the other protocol's number."""
PROTOCOL_HEADERS: Mapping[str, str] = {"authors": "authors' way", "ours": "our way"}


def paper_table(number: int) -> PaperTable:
    try:
        return PAPER_TABLES[number]
    except KeyError:
        raise ConfigError(f"there is no Table {number}; the paper's tables are {sorted(PAPER_TABLES)}") from None


def row_experiments(number: int) -> dict[str, str]:
    """Paper row label -> the experiment that feeds it, from the registry's ``feeds``."""
    table = paper_table(number)
    labels = {row.label for row in table.rows}
    rows: dict[str, str] = {}
    prefix = f"T{number}:"
    for name, experiment in EXPERIMENTS.items():
        for feed in experiment.feeds:
            if not feed.startswith(prefix):
                continue
            label = feed[len(prefix):]
            if label not in labels:
                raise ConfigError(f"experiment {name!r} feeds {feed!r}, but Table {number} has no row "
                                  f"{label!r}; rows: {sorted(labels)}")
            if label in rows:
                raise ConfigError(f"Table {number} row {label!r} is fed by both {rows[label]!r} and {name!r}")
            rows[label] = name
    return rows


@dataclass(frozen=True)
class Cell:
    column: Column
    paper: str | None
    """The published number as printed, or ``None``."""
    ours: MetricValue | None
    synthetic_data: bool = False
    misses: Mapping[str, int] | None = None
    """The authors' ID: ``{"misses", "pairs"}`` where MTCNN found no face (:mod:`dualinv.eval.results`)."""

    @property
    def decimals(self) -> int:
        return len(self.paper.partition(".")[2]) if self.paper else 3

    @property
    def comparable(self) -> bool:
        """Both sides are real numbers of the same protocol: the paper's, and ours from real networks
        on the paper's test data (never a stand-in network or synthetic data)."""
        return (self.paper is not None and self.ours is not None and not self.ours.stand_in
                and not self.synthetic_data and self.ours.computed_as != "ours")

    @property
    def difference(self) -> float | None:
        """Δ = ours − paper where :attr:`comparable`, else ``None``."""
        return self.ours.value - float(self.paper) if self.comparable else None

    @property
    def marks(self) -> str:
        if self.ours is None:
            return ""
        return (STAND_IN_MARK if self.ours.stand_in else "") + (SYNTHETIC_MARK if self.synthetic_data else "")

    def paper_text(self) -> str:
        return self.paper if self.paper is not None else MISSING

    def ours_text(self, marks: bool = True) -> str:
        if self.ours is None:
            return MISSING
        return f"{self.ours.value:.{self.decimals}f}" + (self.marks if marks else "")

    def difference_text(self) -> str:
        difference = self.difference
        return MISSING if difference is None else f"{difference:+.{self.decimals}f}"

    def ci_text(self) -> str:
        if self.ours is None or self.ours.ci95 is None:
            return MISSING
        low, high = self.ours.ci95
        return f"[{low:.{self.decimals}f}, {high:.{self.decimals}f}]"


@dataclass(frozen=True)
class TableRow:
    label: str
    category: str
    method: str | None
    """The registry experiment feeding this row, ``None`` if none does."""
    cells: tuple[Cell, ...]


def load_results(metric_files: Iterable[str | Path]) -> dict[tuple[str, str], MetricsResult]:
    """Metrics files keyed by ``(method, dataset)``; two files for the same pair is an error."""
    results: dict[tuple[str, str], MetricsResult] = {}
    sources: dict[tuple[str, str], str] = {}
    for path in metric_files:
        result = read_metrics(path)
        key = (result.method, result.dataset)
        if key in results:
            raise ResultsFormatError(f"{path} and {sources[key]} both hold {key[0]}/{key[1]}; keep one")
        results[key], sources[key] = result, str(path)
    return results


def chosen_protocol(results: Mapping[tuple[str, str], MetricsResult]) -> str:
    """The protocol under the paper's metric keys in ``results`` (the default, ``authors``, if none says);
    files computed with different ``evaluation.protocol`` settings cannot share a table."""
    found = {value.computed_as for result in results.values() for key, value in result.metrics.items()
             if ":" not in key and value.computed_as is not None}
    if len(found) > 1:
        raise ResultsFormatError(f"the metrics files mix protocols {sorted(found)} under the paper's columns; "
                                 "evaluate every method with one evaluation.protocol")
    return found.pop() if found else PROTOCOLS[0]


def shown_columns(table: PaperTable, protocol: str) -> list[tuple[Column, int | None]]:
    """The printed columns: each paper column, followed (except time) by the other protocol's column; with the
    index of the paper value each shows (``None``: no paper number)."""
    other = other_protocol(protocol)
    columns: list[tuple[Column, int | None]] = []
    for index, column in enumerate(table.columns):
        columns.append((column, index))
        if column.metric not in SINGLE_PROTOCOL_METRICS:
            columns.append((Column(column.dataset, beside_key(column.metric, other),
                                   f"{column.label} ({PROTOCOL_HEADERS[other]})", column.higher_is_better), None))
    return columns


def build_table(number: int, results: Mapping[tuple[str, str], MetricsResult]) -> list[TableRow]:
    """Table ``number``'s rows with the paper's values and ours (from ``results``), both protocols."""
    table = paper_table(number)
    feeds = row_experiments(number)
    columns = shown_columns(table, chosen_protocol(results))
    rows = []
    for paper_row in table.rows:
        method = feeds.get(paper_row.label)
        cells = []
        for column, index in columns:
            published = paper_row.values[index] if index is not None else None
            result = results.get((method, column.dataset)) if method is not None else None
            ours = result.metrics.get(column.metric) if result is not None else None
            cells.append(Cell(column, published, ours, synthetic_data=bool(result and result.synthetic_data),
                              misses=(result.face_misses.get(column.metric) if result is not None else None)))
        rows.append(TableRow(paper_row.label, paper_row.category, method, tuple(cells)))
    return rows


def _columns(rows: Sequence[TableRow]) -> list[Column]:
    return [cell.column for cell in rows[0].cells]


def column_header(table: PaperTable, column: Column) -> str:
    """The paper's header, prefixed with the test set where a table spans several (Table 1)."""
    datasets = {c.dataset for c in table.columns if c.metric != "time_sec"}
    arrow = "↑" if column.higher_is_better else "↓"
    if len(datasets) > 1 and column.metric != "time_sec":
        return f"{DATASET_NAMES.get(column.dataset, column.dataset)} {column.label} {arrow}"
    return f"{column.label} {arrow}"


def _shown_categories(rows: Sequence[TableRow]) -> list[str]:
    """Each row's category, printed only where it changes (as the paper groups Optimization/Encoder)."""
    shown, previous = [], None
    for row in rows:
        shown.append(row.category if row.category != previous else "")
        previous = row.category
    return shown


def _protocols(rows: Sequence[TableRow]) -> list[str]:
    found = {cell.ours.protocol for row in rows for cell in row.cells if cell.ours and cell.ours.protocol}
    return sorted(found)


def _protocol_note(rows: Sequence[TableRow]) -> str:
    chosen = next((cell.ours.computed_as for row in rows for cell in row.cells
                   if cell.ours is not None and ":" not in cell.column.metric and cell.ours.computed_as), None)
    chosen = chosen or PROTOCOLS[0]
    other = other_protocol(chosen)
    return (f"The paper's columns are computed {PROTOCOL_HEADERS[chosen]} (evaluation.protocol: {chosen}); each "
            f"column marked ({PROTOCOL_HEADERS[other]}) beside it holds the same metric computed {PROTOCOL_HEADERS[other]} "
            "(docs/eval.md). The authors' way is their script three-bee/gen_metrics: CurricularFace IR-101 on "
            "MTCNN-aligned faces, LPIPS on [0, 1], real images MATLAB-bicubic downscaled to 256, TF-aligned Inception.")


def _misses_note(rows: Sequence[TableRow]) -> str | None:
    counts = [(row, cell) for row in rows for cell in row.cells if cell.misses is not None]
    if not counts:
        return None
    missed = [f"{row.label} {DATASET_NAMES.get(cell.column.dataset, cell.column.dataset)} {cell.column.label}: "
              f"{cell.misses['misses']} of {cell.misses['pairs']}" for row, cell in counts if cell.misses["misses"]]
    if not missed:
        return "Authors' ID: MTCNN found a face in both images of every pair."
    return ("Authors' ID: pairs where MTCNN found no face, left out of the mean (their script would stop): "
            + "; ".join(missed) + ".")


def _notes(number: int, rows: Sequence[TableRow]) -> list[str]:
    notes = list(FOOTNOTES)
    sources = ", ".join(f"{row.label} = {row.method or MISSING}" for row in rows)
    notes.append(f"Rows from the experiment registry: {sources}.")
    notes.append(_protocol_note(rows))
    misses = _misses_note(rows)
    if misses is not None:
        notes.append(misses)
    notes.extend(f"Protocol: {protocol}" for protocol in _protocols(rows))
    return notes


def render_csv(number: int, rows: Sequence[TableRow]) -> str:
    """Long format: one line per (row, column) with paper, ours, CI, n, difference and flags."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["table", "category", "row", "method", "dataset", "metric", "paper", "ours",
                     "ci95_low", "ci95_high", "n", "difference", "stand_in", "synthetic_data", "computed_as",
                     "face_misses"])
    for row in rows:
        for cell in row.cells:
            ours = cell.ours
            writer.writerow([
                number, row.category, row.label, row.method or MISSING, cell.column.dataset, cell.column.metric,
                cell.paper_text(),
                MISSING if ours is None else repr(ours.value),
                MISSING if ours is None or ours.ci95 is None else repr(ours.ci95[0]),
                MISSING if ours is None or ours.ci95 is None else repr(ours.ci95[1]),
                MISSING if ours is None else ours.n,
                MISSING if cell.difference is None else repr(cell.difference),
                MISSING if ours is None else str(ours.stand_in).lower(),
                MISSING if ours is None else str(cell.synthetic_data).lower(),
                MISSING if ours is None or ours.computed_as is None else ours.computed_as,
                MISSING if cell.misses is None else f"{cell.misses['misses']}/{cell.misses['pairs']}",
            ])
    return buffer.getvalue()


def _label_headers(table: PaperTable) -> list[str]:
    """The row-label headers as the paper prints them, after a Category column where rows are grouped."""
    return (["Category"] if table.has_categories else []) + list(table.label_headers)


def _label_cells(table: PaperTable, row: TableRow, category: str) -> list[str]:
    return ([category] if table.has_categories else []) + list(table.label_parts(row.label))


def render_markdown(number: int, rows: Sequence[TableRow]) -> str:
    table = paper_table(number)
    headers = [*_label_headers(table), "", *(column_header(table, column) for column in _columns(rows))]
    blank = [""] * len(_label_headers(table))
    lines = [f"**Table {number}.** {table.caption}", "",
             "| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    for row, category in zip(rows, _shown_categories(rows)):
        lines.append("| " + " | ".join([*_label_cells(table, row, category), "paper",
                                        *(c.paper_text() for c in row.cells)]) + " |")
        lines.append("| " + " | ".join([*blank, "ours", *(c.ours_text() for c in row.cells)]) + " |")
        if any(cell.ours and cell.ours.ci95 for cell in row.cells):
            lines.append("| " + " | ".join([*blank, "95% CI", *(c.ci_text() for c in row.cells)]) + " |")
        lines.append("| " + " | ".join([*blank, "Δ", *(c.difference_text() for c in row.cells)]) + " |")
    lines.append("")
    lines.extend(f"- {note}" for note in _notes(number, rows))
    return "\n".join(lines) + "\n"


_LATEX_REPLACEMENTS = (
    ("\\", r"\textbackslash{}"), ("&", r"\&"), ("%", r"\%"), ("$", r"\$"), ("#", r"\#"), ("_", r"\_"),
    ("{", r"\{"), ("}", r"\}"), ("~", r"\textasciitilde{}"), ("^", r"\textasciicircum{}"),
    ("±", r"$\pm$"), ("°", r"$^\circ$"), ("Δ", r"$\Delta$"), ("−", "-"), ("—", "---"),
    ("↑", r"$\uparrow$"), ("↓", r"$\downarrow$"), ("₁", r"$_1$"), ("₂", r"$_2$"), (STAND_IN_MARK, r"$^\dagger$"),
    (SYNTHETIC_MARK, r"$^\ddagger$"),
)


def latex_escape(text: str) -> str:
    """Plain text (with the table's symbols) as LaTeX source."""
    out = []
    for char in text:
        out.append(next((latex for plain, latex in _LATEX_REPLACEMENTS if plain == char), char))
    return "".join(out)


def render_latex(number: int, rows: Sequence[TableRow]) -> str:
    """A booktabs table: for each row the paper's line, ours and Δ; footnotes below."""
    table = paper_table(number)
    columns = _columns(rows)
    labels = _label_headers(table)
    blank = [""] * len(labels)
    body = [r"\begin{table}[t]", r"\centering", r"\small",
            rf"\caption{{Table {number} (reproduction). {latex_escape(table.caption)}}}",
            r"\begin{tabular}{" + "l" * (len(labels) + 1) + "r" * len(columns) + "}", r"\toprule",
            " & ".join([*(latex_escape(header) for header in labels), "",
                        *(latex_escape(column_header(table, c)) for c in columns)]) + r" \\", r"\midrule"]
    for row, category in zip(rows, _shown_categories(rows)):
        body.append(" & ".join([*(latex_escape(cell) for cell in _label_cells(table, row, category)), "paper",
                                *(latex_escape(c.paper_text()) for c in row.cells)]) + r" \\")
        body.append(" & ".join([*blank, "ours", *(latex_escape(c.ours_text()) for c in row.cells)]) + r" \\")
        body.append(" & ".join([*blank, r"$\Delta$", *(latex_escape(c.difference_text()) for c in row.cells)])
                    + r" \\")
    body += [r"\bottomrule", r"\end{tabular}", r"\par\smallskip\footnotesize"]
    body += [latex_escape(note) + r"\\" for note in _notes(number, rows)]
    body += [r"\end{table}"]
    return "\n".join(body) + "\n"


def render_html(number: int, rows: Sequence[TableRow]) -> str:
    """The paper-shaped table as a self-contained HTML page with its caption (the Snakemake report's view)."""
    table = paper_table(number)
    escape = html.escape
    headers = [*_label_headers(table), "", *(column_header(table, column) for column in _columns(rows))]
    blank = [""] * len(_label_headers(table))
    body = []
    for row, category in zip(rows, _shown_categories(rows)):
        lines = [[*_label_cells(table, row, category), "paper", *(c.paper_text() for c in row.cells)],
                 [*blank, "ours", *(c.ours_text() for c in row.cells)]]
        if any(cell.ours and cell.ours.ci95 for cell in row.cells):
            lines.append([*blank, "95% CI", *(c.ci_text() for c in row.cells)])
        lines.append([*blank, "Δ", *(c.difference_text() for c in row.cells)])
        for index, line in enumerate(lines):
            css = ' class="first"' if index == 0 else ""
            body.append(f"<tr{css}>" + "".join(f"<td>{escape(text)}</td>" for text in line) + "</tr>")
    notes = "".join(f"<li>{escape(note)}</li>" for note in _notes(number, rows))
    style = ("body{font-family:sans-serif;margin:1.5em}table{border-collapse:collapse}"
             "caption{text-align:left;margin-bottom:.6em;max-width:60em}td,th{padding:.2em .7em;text-align:right;white-space:nowrap}"
             "th{border-bottom:2px solid #333}tr.first td{border-top:1px solid #bbb}td:first-child{text-align:left}"
             "ul{font-size:90%;color:#333;max-width:60em}")
    return (f"<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Table {number}</title>"
            f"<style>{style}</style></head><body>\n<table>\n<caption><b>Table {number}.</b> {escape(table.caption)}"
            "</caption>\n<thead><tr>" + "".join(f"<th>{escape(text)}</th>" for text in headers) + "</tr></thead>\n"
            "<tbody>\n" + "\n".join(body) + f"\n</tbody>\n</table>\n<ul>{notes}</ul>\n</body></html>\n")


def write_table(table_number: int, metric_files: Iterable[str | Path], output_prefix: str | Path) -> dict[str, Path]:
    """Write ``<prefix>.csv``, ``.md``, ``.tex`` and ``.html`` for Table ``table_number``, each atomically."""
    rows = build_table(table_number, load_results(metric_files))
    prefix = Path(output_prefix)
    written = {}
    for suffix, render in (("csv", render_csv), ("md", render_markdown), ("tex", render_latex),
                           ("html", render_html)):
        path = prefix.with_name(f"{prefix.name}.{suffix}")
        write_text_atomic(path, render(table_number, rows))
        written[suffix] = path
    return written
