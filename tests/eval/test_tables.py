"""Table makers on small hand-made metrics files: paper beside ours, Δ, missing methods, marks."""

from __future__ import annotations

import csv
import html
import io
import json

import pytest

from dualinv.errors import ConfigError, ResultsFormatError
from dualinv.eval.results import MetricsResult, MetricValue, metrics_path, read_metrics, write_metrics
from dualinv.eval.tables import MISSING, STAND_IN_MARK, SYNTHETIC_MARK, build_table, load_results, write_table


def _write(tmp_path, method, dataset, metrics, synthetic=False):
    result = MetricsResult(method=method, dataset=dataset, metrics=metrics, synthetic_data=synthetic)
    return write_metrics(metrics_path(tmp_path, method, dataset), result)


@pytest.fixture
def table5_files(tmp_path):
    """encoder1 with real weights, dual with a stand-in FID on synthetic data, encoder2 missing."""
    return [
        _write(tmp_path, "encoder1", "val", {
            "lpips": MetricValue(0.126, n=10, ci95=(0.11, 0.14)),
            "id": MetricValue(0.80, n=10, ci95=(0.75, 0.85)),
            "fid": MetricValue(90.0, n=10),
        }),
        _write(tmp_path, "dual", "val", {
            "lpips": MetricValue(0.10, n=4),
            "id": MetricValue(0.9, n=4),
            "fid": MetricValue(70.0, n=4, stand_in=True, protocol="yaw rule"),
        }, synthetic=True),
    ]


def _csv_rows(path):
    return list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8"))))


def test_table5_paper_ours_difference_and_missing(tmp_path, table5_files):
    written = write_table(5, table5_files, tmp_path / "tables" / "table5")
    assert sorted(written) == ["csv", "html", "md", "tex"]
    rows = {(r["row"], r["metric"]): r for r in _csv_rows(written["csv"])}
    e1_lpips = rows[("E₁", "lpips")]
    assert (e1_lpips["method"], e1_lpips["paper"], float(e1_lpips["ours"])) == ("encoder1", "0.10", 0.126)
    assert float(e1_lpips["difference"]) == pytest.approx(0.126 - 0.10)
    assert (float(e1_lpips["ci95_low"]), float(e1_lpips["ci95_high"])) == (0.11, 0.14)
    # encoder2 has no metrics file: its row is there, with "—", never 0.
    e2 = rows[("E₂", "fid")]
    assert (e2["method"], e2["paper"], e2["ours"], e2["difference"]) == ("encoder2", "64.02", MISSING, MISSING)
    assert rows[("Dual", "fid")]["stand_in"] == "true" and rows[("Dual", "fid")]["synthetic_data"] == "true"
    assert rows[("Dual", "lpips")]["stand_in"] == "false"

    markdown = written["md"].read_text(encoding="utf-8")
    lines = markdown.splitlines()
    # the paper's columns, each followed by the other protocol's; no empty Category column
    assert ("| Method |  | LPIPS ↓ | LPIPS (our way) ↓ | ID ↑ | ID (our way) ↑ | FID ↓ | FID (our way) ↓ |"
            in lines)
    e1 = lines.index(f"| E₁ | paper | 0.10 | {MISSING} | 0.87 | {MISSING} | 89.50 | {MISSING} |")
    assert lines[e1 + 1] == f"|  | ours | 0.13 | {MISSING} | 0.80 | {MISSING} | 90.00 | {MISSING} |"  # 0.126 at 2 decimals
    assert lines[e1 + 2] == f"|  | 95% CI | [0.11, 0.14] | {MISSING} | [0.75, 0.85] | {MISSING} | {MISSING} | {MISSING} |"
    assert lines[e1 + 3] == f"|  | Δ | +0.03 | {MISSING} | -0.07 | {MISSING} | +0.50 | {MISSING} |"
    e2_line = lines.index(f"| E₂ | paper | 0.14 | {MISSING} | 0.75 | {MISSING} | 64.02 | {MISSING} |")
    assert lines[e2_line + 1] == "|  | ours | " + " | ".join([MISSING] * 6) + " |"
    dual = lines.index(f"| Dual | paper | 0.10 | {MISSING} | 0.87 | {MISSING} | 65.44 | {MISSING} |")
    assert lines[dual + 1] == (f"|  | ours | 0.10{SYNTHETIC_MARK} | {MISSING} | 0.90{SYNTHETIC_MARK} | {MISSING} | "
                               f"70.00{STAND_IN_MARK}{SYNTHETIC_MARK} | {MISSING} |")
    assert "Protocol: yaw rule" in markdown and "E₂ = encoder2" in markdown
    assert any(line.startswith(f"- {STAND_IN_MARK}: computed with stand-in") for line in lines)

    latex = written["tex"].read_text(encoding="utf-8")
    assert r"70.00$^\dagger$$^\ddagger$" in latex and r" & ours & --- & --- & --- & --- & --- & --- \\" in latex
    assert r"\begin{tabular}{llrrrrrr}" in latex and r"E$_1$ & paper" in latex


def test_table4_prints_train_data_and_projection_as_two_columns(tmp_path):
    markdown = write_table(4, [], tmp_path / "table4")["md"].read_text(encoding="utf-8")
    assert "| Train data | Proj. |  | LPIPS ↓ | LPIPS (our way) ↓ | ID ↑ | ID (our way) ↑ | FID ↓ | FID (our way) ↓ |" in markdown
    assert f"| Real imgs. + Z+ | W+ | paper | 0.10 | {MISSING} | 0.87 | {MISSING} | 89.50 | {MISSING} |" in markdown
    assert "|  |  | ours | " + " | ".join([MISSING] * 6) + " |" in markdown


def test_table1_uses_both_test_sets_and_time(tmp_path):
    files = [
        _write(tmp_path, "dual", "val", {"l2": MetricValue(0.02, 5), "time_sec": MetricValue(0.5, 5)}),
        _write(tmp_path, "dual", "celebahq", {"l2": MetricValue(0.03, 5)}),
    ]
    ours = {(cell.column.dataset, cell.column.metric): cell
            for row in build_table(1, load_results(files)) if row.label == "Ours" for cell in row.cells}
    assert ours[("val", "l2")].ours.value == 0.02 and ours[("celebahq", "l2")].ours.value == 0.03
    assert ours[("val", "time_sec")].difference == pytest.approx(0.5 - 0.37)
    assert ours[("celebahq", "fid")].ours is None
    markdown = write_table(1, files, tmp_path / "t1")["md"].read_text(encoding="utf-8")
    assert "| CelebAHQ L2 ↓ |" in markdown and "| Time sec ↓ |" in markdown
    assert "| Optimization | W+ optim. | paper |" in markdown and "|  | PTI | paper |" in markdown


def test_table_rows_come_from_the_registry_feeds(tmp_path):
    rows = build_table(2, {})
    assert [(row.label, row.method) for row in rows] == [
        ("W+ opt.", "w_optim"), ("PTI", "pti"), ("pSp", "psp"), ("e4e", "e4e"),
        ("Tpn.v2", "triplanenet_v2"), ("GOAE", "goae"), ("Ours", "dual")]


def test_duplicate_and_malformed_metrics_files_are_refused(tmp_path):
    first = _write(tmp_path, "dual", "val", {"lpips": MetricValue(0.1, 3)})
    copy = tmp_path / "copy.json"
    copy.write_text(first.read_text())
    with pytest.raises(ResultsFormatError, match="both hold dual/val"):
        load_results([first, copy])
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps({"format": "dualinv-metrics/1", "method": "dual", "dataset": "val",
                                  "metrics": {"lpips": {"value": "low"}}}))
    with pytest.raises(ResultsFormatError, match="metrics.lpips"):
        read_metrics(broken)
    with pytest.raises(ResultsFormatError, match="does not exist"):
        read_metrics(tmp_path / "absent.json")
    with pytest.raises(ConfigError, match="no Table 6"):
        build_table(6, {})


def test_metrics_json_round_trip(tmp_path):
    result = MetricsResult("dual", "mead", {"lpips_60": MetricValue(0.2, 7, (0.1, 0.3), stand_in=True)},
                           synthetic_data=True, provenance={"seed": 1})
    path = write_metrics(tmp_path / "m.json", result)
    assert read_metrics(path) == result
    payload = json.loads(path.read_text())
    assert payload["n"] == 7 and payload["stand_in"] is True
    with pytest.raises(ResultsFormatError, match="non-finite"):
        write_metrics(tmp_path / "nan.json", MetricsResult("dual", "val", {"l2": MetricValue(float("nan"), 1)}))
    assert not (tmp_path / "nan.json").exists()


def test_no_difference_for_a_stand_in_or_synthetic_number(tmp_path):
    """Δ against the paper only where ours is a real number on the paper's data (issue: "FID −122")."""
    files = [
        _write(tmp_path, "encoder1", "val", {"lpips": MetricValue(0.126, n=4),
                                              "fid": MetricValue(30.0, n=4, stand_in=True)}),
        _write(tmp_path, "dual", "val", {"lpips": MetricValue(0.10, n=4)}, synthetic=True),
    ]
    cells = {(row.method, cell.column.metric): cell for row in build_table(5, load_results(files)) for cell in row.cells}
    assert cells[("encoder1", "lpips")].difference == pytest.approx(0.126 - float(cells[("encoder1", "lpips")].paper))
    assert cells[("encoder1", "fid")].paper is not None and cells[("encoder1", "fid")].difference is None
    assert cells[("dual", "lpips")].paper is not None and cells[("dual", "lpips")].difference is None
    long_rows = {(r["method"], r["metric"]): r for r in _csv_rows(write_table(5, files, tmp_path / "t5")["csv"])}
    assert long_rows[("encoder1", "fid")]["difference"] == MISSING and long_rows[("dual", "lpips")]["difference"] == MISSING


def test_the_html_table_is_paper_shaped_with_its_caption(tmp_path, table5_files):
    from dualinv.eval.tables import paper_table

    page = write_table(5, table5_files, tmp_path / "t5")["html"].read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>") and "<caption><b>Table 5.</b>" in page
    assert html.escape(paper_table(5).caption) in page
    assert page.count("<td>paper</td>") == page.count("<td>ours</td>") == page.count("<td>Δ</td>") == 3
    assert "http" not in page.split("<body>")[0]  # self-contained: no external stylesheet or script


def test_difference_only_for_the_authors_protocol_and_the_other_beside_it(tmp_path):
    """Δ against the paper only for a real number computed the authors' way (the paper's numbers come from
    their script); the other protocol's number stands in its own column, without paper or Δ."""
    by_authors = {"lpips": MetricValue(0.12, n=4, computed_as="authors"),
                  "lpips:ours": MetricValue(0.2, n=4, computed_as="ours"),
                  "id": MetricValue(0.8, n=3, computed_as="authors"), "id:ours": MetricValue(0.7, n=4, computed_as="ours")}
    result = MetricsResult("encoder1", "val", by_authors, face_misses={"id": {"misses": 1, "pairs": 4}})
    cells = {cell.column.metric: cell for row in build_table(5, {("encoder1", "val"): result})
             if row.method == "encoder1" for cell in row.cells}
    assert cells["lpips"].difference == pytest.approx(0.12 - float(cells["lpips"].paper))
    assert cells["lpips:ours"].ours.value == 0.2 and cells["lpips:ours"].paper is None
    assert cells["lpips:ours"].difference is None
    assert cells["id"].misses == {"misses": 1, "pairs": 4}
    markdown = write_table(5, [write_metrics(metrics_path(tmp_path, "encoder1", "val"), result)],
                           tmp_path / "t5")["md"].read_text(encoding="utf-8")
    assert "E₁ FFHQ + LPFF ID: 1 of 4" in markdown and "evaluation.protocol: authors" in markdown

    by_ours = {"lpips": MetricValue(0.2, n=4, computed_as="ours"),
               "lpips:authors": MetricValue(0.12, n=4, computed_as="authors")}
    result = MetricsResult("encoder1", "val", by_ours)
    rows = build_table(5, {("encoder1", "val"): result})
    cells = {cell.column.metric: cell for row in rows if row.method == "encoder1" for cell in row.cells}
    assert cells["lpips"].paper is not None and cells["lpips"].difference is None  # our way: no Δ
    assert "lpips:authors" in cells and cells["lpips:authors"].column.label == "LPIPS (authors' way)"

    mixed = {("encoder1", "val"): MetricsResult("encoder1", "val", by_authors),
             ("dual", "val"): MetricsResult("dual", "val", by_ours)}
    with pytest.raises(ResultsFormatError, match="mix protocols"):
        build_table(5, mixed)
