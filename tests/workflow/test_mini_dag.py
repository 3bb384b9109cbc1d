"""The mini DAG really runs (stub library functions): segments chain, checkpoints publish, provenance lands.

The library functions are replaced by stubs (tests/workflow/stub_library.py) so this tests the
wiring alone: every rule's inputs reach its one library call with the right types, temp segments
are removed once consumed, and every artifact gets its provenance sidecar. Table 5 needs data, two
trained encoders, the dual inverter, inversions, metrics and a table: every stage but figures.
"""

from __future__ import annotations

import json

import pytest

from dualinv.config import REPO_ROOT, load_config
from dualinv.training.segments import segments
from tests.workflow.snakemake_runs import MINI, copy_repository, snakemake
from tests.workflow.stub_library import install_stubs


@pytest.mark.slow
def test_table5_runs_end_to_end_with_stub_library(tmp_path):
    repo = install_stubs(copy_repository(tmp_path))
    done = snakemake(repo, "table5", "--cores", "2", *MINI, timeout=600)
    assert done.returncode == 0, done.stdout[-5000:]
    results = repo / "results" / "mini"
    mini = load_config(presets=(REPO_ROOT / "presets" / "mini.yaml",)).training
    chain = segments(mini.iterations, mini.segment_length)
    assert len(chain) == 2  # the preset chains two segments, so resuming runs in the demo

    for encoder in ("encoder1", "encoder2"):
        models = results / "models" / encoder
        assert (models / "checkpoint.pt").read_text() == f"{encoder} steps {chain[1].start}-{chain[1].stop}"
        assert not list((models / "segments").glob("*.pt"))  # temp() segments removed once consumed
        second = json.loads((models / "segments" / "1.pt.call.json").read_text())
        assert (second["start"], second["stop"]) == (chain[1].start, chain[1].stop) == (mini.segment_length, mini.iterations)
        assert second["checkpoint_in"] == f"results/mini/models/{encoder}/segments/0.pt"
        assert json.loads((models / "checkpoint.pt.provenance.json").read_text())["stand_in"] is True

    dual = json.loads((results / "inversions" / "dual" / "val" / "call.json").read_text())
    assert dual["checkpoints"] == ["results/mini/models/encoder1/checkpoint.pt",
                                   "results/mini/models/encoder2/checkpoint.pt"]
    table = json.loads((results / "tables" / "table5.csv.call.json").read_text())
    assert table["metric_files"] == [f"results/mini/metrics/{method}/val.json" for method in ("encoder1", "encoder2", "dual")]
    for artifact in ("tables/table5", "metrics/dual/val.json", "inversions/dual/val", "data/train", "data/ffhq"):
        record = json.loads((results / f"{artifact}.provenance.json").read_text())
        assert record["preset"] == "mini" and record["config_hash"].startswith("sha256:")
    assert (results / "logs" / "train_segment" / "encoder2" / "1.log").is_file()
    assert (results / "benchmarks" / "train_segment" / "encoder2" / "1.tsv").is_file()
