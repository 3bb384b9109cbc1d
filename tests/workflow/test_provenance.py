"""Provenance sidecars beside artifacts (dualinv.provenance)."""

from __future__ import annotations

import hashlib
import subprocess

from dualinv import __version__
from dualinv.config import config_hash, from_mapping, load_config, merge_overrides, read_yaml
from dualinv.provenance import provenance_record, read_provenance, sidecar_path, write_provenance

from tests.conftest import REPO_ROOT

MINI = (REPO_ROOT / "config.yaml", (REPO_ROOT / "presets" / "mini.yaml",))


def test_sidecar_sits_beside_files_and_folders(tmp_path):
    assert sidecar_path(tmp_path / "models" / "checkpoint.pt") == tmp_path / "models" / "checkpoint.pt.provenance.json"
    assert sidecar_path(tmp_path / "inversions" / "mead") == tmp_path / "inversions" / "mead.provenance.json"


def test_record_of_a_stand_in_run(tmp_path):
    config = load_config(*MINI)
    record = provenance_record(config, {"training": 0, "segment": 3}, 100.0, 102.5, REPO_ROOT)
    head = subprocess.run(["git", "-C", str(REPO_ROOT), "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
    assert record["git"]["commit"] == head
    assert record["config_hash"] == config_hash(config)
    assert record["preset"] == "mini" and record["dualinv_version"] == __version__
    assert record["generator"] == "stand-in" and record["stand_in"] is True
    assert set(record["weights"].values()) == {"stand-in"}
    assert record["seeds"] == {"training": 0, "segment": 3}
    assert record["timings"] == {"started": "1970-01-01T00:01:40+00:00", "finished": "1970-01-01T00:01:42+00:00",
                                 "wall_seconds": 2.5}


def test_record_hashes_the_files_it_used(tmp_path):
    generator = tmp_path / "network.pkl"
    generator.write_bytes(b"not really a network")
    values = merge_overrides(read_yaml(MINI[0]), read_yaml(MINI[1][0]))
    values["generator"]["network"] = str(generator)
    record = provenance_record(from_mapping(values), {}, 0.0, 1.0, tmp_path)  # tmp_path: not a git repository
    assert record["generator"] == "sha256:" + hashlib.sha256(b"not really a network").hexdigest()
    assert record["git"] == {"commit": "unknown", "dirty": None}
    assert record["stand_in"] is True  # the other networks are still stand-ins


def test_write_then_read(tmp_path):
    artifact = tmp_path / "metrics" / "dual" / "val.json"
    path = write_provenance(artifact, {"config_hash": "sha256:0"})
    assert path == sidecar_path(artifact) and read_provenance(artifact) == {"config_hash": "sha256:0"}
    assert [item.name for item in path.parent.iterdir()] == [path.name]  # no temporary file left
