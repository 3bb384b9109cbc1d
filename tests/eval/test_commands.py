"""``dualinv evaluate`` and ``dualinv report`` through the CLI entry point."""

from __future__ import annotations

import json

import torch

from dualinv.cli import main
from dualinv.fileio import save_image


def test_evaluate_then_report(tmp_path, capsys):
    generator = torch.Generator().manual_seed(0)
    for index in range(3):
        image = torch.rand(3, 64, 64, generator=generator) * 2 - 1
        save_image(tmp_path / "targets" / f"{index}.png", image)
        save_image(tmp_path / "renders" / f"{index}.png", (image + 0.1).clamp(-1, 1))
    code = main(["evaluate", "--renders", str(tmp_path / "renders"), "--targets", str(tmp_path / "targets"),
                 "--method", "encoder1", "--dataset", "val", "--results", str(tmp_path / "results"),
                 "--fid-reference", str(tmp_path / "targets"), "--synthetic-data", "--bootstrap", "50"])
    assert code == 0
    payload = json.loads((tmp_path / "results" / "metrics" / "encoder1" / "val.json").read_text())
    # the authors' protocol under the paper's keys (by default), ours beside it; "id" only if MTCNN found a face
    assert {"l2", "lpips", "fid", "l2:ours", "lpips:ours", "id:ours", "fid:ours"} <= set(payload["metrics"])
    assert {payload["metrics"][key]["computed_as"] for key in ("l2", "lpips", "fid")} == {"authors"}
    assert payload["face_misses"]["id"]["pairs"] == 3
    assert payload["metrics"]["fid"]["stand_in"] is True and payload["synthetic_data"] is True
    assert 0 < payload["metrics"]["l2:ours"]["value"] < 0.0026  # |Δ| <= 0.05 on [0, 1]

    code = main(["report", "--metrics", str(tmp_path / "results" / "metrics"), "--tables", "3", "5",
                 "--out", str(tmp_path / "tables")])
    assert code == 0
    table3 = (tmp_path / "tables" / "table3.md").read_text(encoding="utf-8")
    assert "| No D | paper | 0.10 | — | 0.87 | — | 89.50 | — |" in table3  # each paper column, then ours beside it
    assert sorted(path.name for path in (tmp_path / "tables").iterdir()) == [
        "table3.csv", "table3.html", "table3.md", "table3.tex", "table5.csv", "table5.html", "table5.md", "table5.tex"]


def test_user_errors_are_reported_without_traceback(tmp_path, capsys):
    (tmp_path / "renders").mkdir()
    code = main(["evaluate", "--renders", str(tmp_path / "renders"), "--targets", str(tmp_path / "absent"),
                 "--method", "dual", "--dataset", "val"])
    assert code == 2 and "does not exist" in capsys.readouterr().err
    code = main(["report", "--metrics", str(tmp_path / "nothing")])
    assert code == 2 and "no such file or folder" in capsys.readouterr().err
