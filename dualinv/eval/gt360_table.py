"""``table_gt360``: the ground-truth 360° scores (:mod:`dualinv.eval.gt360`) of every method, per yaw.

One block per metric (L2, LPIPS, ID, depth error), a row per method in registry order and a column per
yaw from −150° to 180°, then two bins: the visible side (|yaw| ≤ 60°, the views the paper scores) and the
far side (|yaw| ≥ 120°, what Encoder 2 invents). The best method of a column is bold. A number from a
stand-in network or generator carries ``†``. Written as long CSV, Markdown, LaTeX and HTML, with the
error-vs-yaw plot (:func:`dualinv.eval.figures.gt360_curves`) beside them.
"""

from __future__ import annotations

import csv
import html
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Mapping, Sequence

from dualinv.errors import ResultsFormatError
from dualinv.eval.figures import gt360_curves
from dualinv.eval.gt360 import (GT360_METRICS, ID_MAX_YAW_DEG, LOWER_IS_BETTER, METRIC_NAMES, Gt360Result, read_gt360,
                                yaw_bin_mean)
from dualinv.eval.tables import STAND_IN_MARK, latex_escape
from dualinv.fileio import write_text_atomic
from dualinv.models.experiments import EXPERIMENTS

BINS: Mapping[str, tuple[float, float]] = {"|yaw|≤60": (0.0, 60.0), "|yaw|≥120": (120.0, 180.0)}
"""Yaw bins (inclusive |yaw| ranges): the visible side and the far side of the head."""
CAPTION = ("Ground-truth 360° protocol (beyond the paper): the front view of each generator sample is inverted "
           "and the inversion's renders are compared with the generator's own renders of the same head at each "
           f"yaw (0° = the input view). L2 on [0, 1] pixels at 256², LPIPS (AlexNet), ID (ArcFace cosine, only "
           f"for |yaw| ≤ {ID_MAX_YAW_DEG:g}°, where a face is visible) and depth error (mean |Δ ray distance| over "
           "both foregrounds). Mean over the samples.")


@dataclass(frozen=True)
class Gt360Cell:
    value: float | None
    stand_in: bool
    best: bool = False

    def text(self) -> str:
        if self.value is None:
            return "—"
        return f"{self.value:.4f}" + (STAND_IN_MARK if self.stand_in else "")


def ordered_yaws(results: Sequence[Gt360Result]) -> list[float]:
    """Every yaw of the results in ascending order (the protocol's run from −150° to 180°)."""
    return sorted({yaw for result in results for yaw in result.yaws})


def load_gt360_results(files: Iterable[str | Path]) -> list[Gt360Result]:
    results = [read_gt360(path) for path in files]
    names = [result.method for result in results]
    if len(set(names)) != len(names):
        raise ResultsFormatError(f"table_gt360 got two score files of one method: {sorted(names)}")
    order = {name: index for index, name in enumerate(EXPERIMENTS)}
    return sorted(results, key=lambda result: order.get(result.method, len(order)))


def metric_block(results: Sequence[Gt360Result], metric: str) -> tuple[list[str], list[tuple[str, list[Gt360Cell]]]]:
    """``(column headers, [(method, cells)])`` of one metric, the best of each column marked."""
    yaws = ordered_yaws(results)
    headers = [f"{yaw:g}°" for yaw in yaws] + list(BINS)
    rows = []
    for result in results:
        cells = []
        for yaw in yaws:
            value = result.value(metric, yaw)
            cells.append(Gt360Cell(None if value is None else value.value, result.stand_in))
        for low, high in BINS.values():
            cells.append(Gt360Cell(yaw_bin_mean(result, metric, low, high), result.stand_in))
        rows.append((result.method, cells))
    for column in range(len(headers)):
        values = [cells[column].value for _, cells in rows if cells[column].value is not None]
        if len(values) < 2:
            continue
        best = min(values) if LOWER_IS_BETTER[metric] else max(values)
        for _, cells in rows:
            if cells[column].value == best:
                cells[column] = Gt360Cell(best, cells[column].stand_in, best=True)
    return headers, rows


def _metrics_present(results: Sequence[Gt360Result]) -> list[str]:
    return [metric for metric in GT360_METRICS if any(result.summary.get(metric) for result in results)]


def _notes(results: Sequence[Gt360Result]) -> list[str]:
    notes = []
    counts = sorted({value.n for result in results for per_yaw in result.summary.values() for value in per_yaw.values()})
    if counts:
        notes.append(f"Samples per method: {', '.join(map(str, counts))}.")
    if any(result.stand_in for result in results):
        notes.append(f"{STAND_IN_MARK}: computed with a stand-in generator or stand-in network weights (the demo "
                     "generator, seeded LPIPS/ArcFace); it shows the protocol at work, not the paper's models.")
    generators = sorted({str(result.provenance.get("generator", "?")) for result in results})
    notes.append(f"Generator: {', '.join(generators)}.")
    return notes


def render_csv(results: Sequence[Gt360Result]) -> str:
    stream = io.StringIO()
    writer = csv.writer(stream, lineterminator="\n")
    writer.writerow(["method", "metric", "yaw_deg", "value", "ci95_low", "ci95_high", "n", "stand_in"])
    for result in results:
        for metric in GT360_METRICS:
            for yaw in result.yaws:
                value = result.value(metric, yaw)
                if value is None:
                    continue
                low, high = value.ci95 if value.ci95 else ("", "")
                writer.writerow([result.method, metric, f"{yaw:g}", f"{value.value:.6g}",
                                 f"{low:.6g}" if low != "" else "", f"{high:.6g}" if high != "" else "",
                                 value.n, str(value.stand_in).lower()])
    return stream.getvalue()


def render_markdown(results: Sequence[Gt360Result]) -> str:
    lines = ["# Table GT360: inversions against the ground truth all around the head", "", CAPTION, ""]
    for metric in _metrics_present(results):
        headers, rows = metric_block(results, metric)
        lines += [f"## {METRIC_NAMES[metric]}", "", "| method | " + " | ".join(headers) + " |",
                  "|---|" + "---:|" * len(headers)]
        for method, cells in rows:
            texts = [f"**{cell.text()}**" if cell.best else cell.text() for cell in cells]
            lines.append(f"| {method} | " + " | ".join(texts) + " |")
        lines.append("")
    lines += [f"- {note}" for note in _notes(results)]
    return "\n".join(lines) + "\n"


def render_latex(results: Sequence[Gt360Result]) -> str:
    blocks = []
    for metric in _metrics_present(results):
        headers, rows = metric_block(results, metric)
        head = " & ".join(["Method", *(latex_escape(header) for header in headers)]) + r" \\"
        body = [" & ".join([latex_escape(method),
                            *(rf"\textbf{{{latex_escape(cell.text())}}}" if cell.best else latex_escape(cell.text())
                              for cell in cells)]) + r" \\" for method, cells in rows]
        blocks.append("\n".join([rf"\multicolumn{{{len(headers) + 1}}}{{l}}{{\textit{{{latex_escape(METRIC_NAMES[metric])}}}}} \\",
                                 head, r"\midrule", *body, r"\midrule"]))
    columns = "l" + "r" * (len(ordered_yaws(results)) + len(BINS))
    notes = " ".join(latex_escape(note) for note in _notes(results))
    return "\n".join([r"\begin{table}[t]", r"\centering", r"\scriptsize",
                      rf"\caption{{{latex_escape(CAPTION)} {notes}}}", r"\label{tab:gt360}",
                      rf"\begin{{tabular}}{{{columns}}}", r"\toprule", *blocks, r"\bottomrule", r"\end{tabular}",
                      r"\end{table}"]) + "\n"


def render_html(results: Sequence[Gt360Result], plot_name: str | None = None) -> str:
    escape = html.escape
    sections = []
    for metric in _metrics_present(results):
        headers, rows = metric_block(results, metric)
        body = "\n".join("<tr><td>" + escape(method) + "</td>" + "".join(
            f"<td{' class=best' if cell.best else ''}>{escape(cell.text())}</td>" for cell in cells) + "</tr>"
                         for method, cells in rows)
        sections.append(f"<h2>{escape(METRIC_NAMES[metric])}</h2>\n<table><thead><tr><th>method</th>"
                        + "".join(f"<th>{escape(header)}</th>" for header in headers)
                        + f"</tr></thead>\n<tbody>\n{body}\n</tbody></table>")
    plot = f'<p><img src="{escape(plot_name)}" alt="error against yaw" style="max-width:100%"></p>' if plot_name else ""
    notes = "".join(f"<li>{escape(note)}</li>" for note in _notes(results))
    style = ("body{font-family:sans-serif;margin:1.5em;max-width:75em}table{border-collapse:collapse;margin-bottom:1em}"
             "td,th{padding:.2em .6em;text-align:right;white-space:nowrap}th{border-bottom:2px solid #333}"
             "td:first-child{text-align:left}td.best{font-weight:bold}h2{font-size:110%;margin-top:1.2em}"
             "ul{font-size:90%;color:#333}")
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Table GT360</title>"
            f"<style>{style}</style></head><body>\n<h1>Table GT360</h1>\n<p>{escape(CAPTION)}</p>\n{plot}\n"
            + "\n".join(sections) + f"\n<ul>{notes}</ul>\n</body></html>\n")


def write_gt360_table(score_files: Iterable[str | Path], output_prefix: str | Path) -> dict[str, Path]:
    """Write ``<prefix>.csv``, ``.md``, ``.tex``, ``.html`` and the plot ``<prefix>_vs_yaw.png``, each atomically."""
    results = load_gt360_results(score_files)
    if not results:
        raise ResultsFormatError("table_gt360 needs the scores of at least one method")
    prefix = Path(output_prefix)
    plot = gt360_curves(results, prefix.with_name(f"{prefix.name}_vs_yaw.png"))
    written = {"png": plot}
    for suffix, text in (("csv", render_csv(results)), ("md", render_markdown(results)), ("tex", render_latex(results)),
                         ("html", render_html(results, plot.name))):
        path = prefix.with_name(f"{prefix.name}.{suffix}")
        write_text_atomic(path, text)
        written[suffix] = path
    return written
