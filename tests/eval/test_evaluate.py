"""evaluate_inversions turns the runner's folder into a metrics file that the table makers accept."""

from __future__ import annotations

import csv
import io

import numpy as np
import pytest
import torch

from dualinv.config import load_config
from dualinv.errors import ConfigError, PairingError
from dualinv.eval import evaluate_inversions, evaluate_method
from dualinv.eval.fid import FidProtocol, synthesized_images
from dualinv.eval.inverters import StandInInverter
from dualinv.eval.metrics import l2_per_image
from dualinv.eval.results import metrics_path, read_metrics, write_metrics
from dualinv.eval.runners import RenderPlan, run_inversions
from dualinv.eval.tables import write_table
from dualinv.fileio import load_image
from dualinv.models.generator import GeneratorIdentity
from tests.conftest import REPO_ROOT
from tests.eval.standins import tiny128_generator, tiny_metric_suite, write_test_set

NAMES = [f"images/{index:05d}.png" for index in range(3)]


@pytest.mark.slow
def test_metrics_of_a_stand_in_run_fill_table_1(tmp_path, monkeypatch):
    generator = tiny128_generator()
    dataset = write_test_set(tmp_path / "val", NAMES, yaws_deg=[0, 20, -20])
    plan = RenderPlan(fid=FidProtocol(num_images=3, seed=2), figure_items=0, mesh_resolution=0)
    inversions = tmp_path / "inversions" / "dual" / "val"
    with pytest.raises(PairingError, match="run the inversion"):
        evaluate_inversions(inversions, None, method="dual", dataset="val", synthesize=None)
    run_inversions(StandInInverter(generator), dataset, inversions, plan, method="dual", batch_size=3, progress=False)

    result = evaluate_inversions(
        inversions, tiny_metric_suite("ours"), method="dual", dataset="val",
        synthesize=lambda protocol, count: synthesized_images(generator, protocol, count, batch_size=2),
        synthetic_data=True, resamples=50)
    assert set(result.metrics) == {"l2", "lpips", "id", "fid", "time_sec",
                                   "l2:authors", "lpips:authors", "id:authors", "fid:authors"}
    assert result.face_misses == {"id:authors": {"misses": 0, "pairs": 3}}
    assert "legacy_tensorflow" in result.metrics["fid:authors"].protocol and "clean" in result.metrics["fid"].protocol
    assert all(metric.stand_in for metric in result.metrics.values())  # stand-in inversions mark everything
    assert result.metrics["fid"].n == 3 and "360° FID" in result.metrics["fid"].protocol

    # L2 recomputed by hand from the files: the same-view render against the prepared image.
    expected = np.mean([float(l2_per_image(load_image(inversions / "same_view" / f"{index:05d}.png")[None],
                                           load_image(dataset / name)[None])) for index, name in enumerate(NAMES)])
    assert result.metrics["l2"].value == pytest.approx(expected, rel=1e-5)

    path = write_metrics(metrics_path(tmp_path / "results", "dual", "val"), result)
    assert read_metrics(path).metrics["fid"].value == pytest.approx(result.metrics["fid"].value)
    written = write_table(1, [path], tmp_path / "tables" / "table1")
    rows = list(csv.DictReader(io.StringIO(written["csv"].read_text(encoding="utf-8"))))
    ours = [row for row in rows if row["method"] == "dual" and row["dataset"] == "val" and row["metric"] == "l2"]
    assert len(ours) == 1 and float(ours[0]["ours"]) == pytest.approx(expected, abs=1e-3)

    # The workflow entry point with the mini study config (its generator replaced by the same tiny one).
    monkeypatch.setattr("dualinv.eval.evaluate.study_generator",
                        lambda config, device: (generator, GeneratorIdentity.of(generator, "stand-in:tiny")))
    config = load_config(REPO_ROOT / "config.yaml", (REPO_ROOT / "presets" / "mini.yaml",))
    output = tmp_path / "results" / "metrics" / "dual" / "val.json"
    evaluate_method(config=config, method="dual", dataset=dataset, inversions=inversions, output=output)
    written = read_metrics(output)
    assert written.synthetic_data and written.stand_in and written.dataset == "val"
    # the mini preset keeps the default protocol: the authors' numbers under the paper's keys, ours beside them
    assert written.metrics["l2:ours"].value == pytest.approx(expected, rel=1e-5)
    assert written.metrics["l2"].computed_as == "authors" and written.provenance["metric_protocol"] == "authors"
    assert written.provenance["stand_in"]["curricularface"] is True and "id" in written.face_misses
    assert written.provenance["config_hash"].startswith("sha256:")
    with pytest.raises(ConfigError, match="not the test set"):
        evaluate_method(config=config, method="dual", dataset=tmp_path, inversions=inversions, output=output)


@pytest.mark.slow
def test_synthesized_heads_use_the_protocol_cameras():
    generator = tiny128_generator()
    protocol = FidProtocol(num_images=4, seed=7)
    first = torch.cat(list(synthesized_images(generator, protocol, 3, batch_size=2)))
    again = torch.cat(list(synthesized_images(generator, protocol, 3, batch_size=3)))
    assert first.shape == (3, 3, 128, 128)
    assert (first - again).abs().max() < 1e-3  # head i does not depend on the batching
    cameras = protocol.cameras()
    assert cameras.shape == (4, 25)
    # camera i sits at yaw_i around the head: x = r sin(yaw), z = r cos(yaw) (dataset convention)
    yaws = np.deg2rad(protocol.yaws_deg())
    assert np.allclose(cameras[:, 3].numpy(), 2.7 * np.sin(yaws), atol=1e-4)
    assert np.allclose(cameras[:, 11].numpy(), 2.7 * np.cos(yaws), atol=1e-4)
