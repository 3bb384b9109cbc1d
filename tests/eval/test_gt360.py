"""The ground-truth 360° protocol and table_gt360 (dualinv.eval.gt360, .gt360_table) on the demo generator."""

from __future__ import annotations

import csv
import dataclasses
import io
import os
import signal

import numpy as np
import pytest
import torch

from dualinv.demo_generator import load_demo_generator
from dualinv.errors import PreemptedError
from dualinv.eval.gt360 import (GT360_YAWS, ID_MAX_YAW_DEG, Gt360Result, partial_path, read_gt360, run_gt360,
                                sample_latents, summarize_scores, write_gt360, yaw_bin_mean)
from dualinv.eval.gt360_table import metric_block, render_csv, render_markdown, write_gt360_table
from dualinv.eval.metrics import build_metric_networks
from dualinv.models.encoders import TINY_BACKBONE
from dualinv.models.inversion import Inversion

YAWS = (0.0, 60.0, 90.0, 180.0)
PSI, SEED = 0.7, 5


@pytest.fixture(scope="module")
def generator():
    demo = load_demo_generator()
    demo.config = dataclasses.replace(demo.config, neural_rendering_resolution=32)  # a quarter of the rays: fast
    return demo


@pytest.fixture(scope="module")
def networks():
    return build_metric_networks(None, None, seed=0, backbone=TINY_BACKBONE)


class LatentInverter:
    """Test inverter that returns the codes of latents ``offset`` away from the sample's own: 0 is exact."""

    stand_in, warm_up = True, False

    def __init__(self, generator, offset: float = 0.0, max_batch_size=None, signal_after: int | None = None):
        self.generator, self.offset, self.max_batch_size = generator, offset, max_batch_size
        self.inverted, self.signal_after = 0, signal_after

    def invert(self, images, cameras):
        indices = list(range(self.inverted, self.inverted + images.shape[0]))
        self.inverted += images.shape[0]
        if self.signal_after is not None and self.inverted >= self.signal_after:
            os.kill(os.getpid(), signal.SIGUSR1)  # Slurm's warning arrives during this batch
        z = sample_latents(self.generator.z_dim, indices, SEED) + self.offset
        with torch.no_grad():
            ws = self.generator.mapping(z, cameras, truncation_psi=PSI)
            trigrid = self.generator.synthesize_trigrid(ws, noise_mode="const")
        return Inversion(ws=ws, trigrid=trigrid, generators=(self.generator,) * images.shape[0])


def scores(generator, networks, inverter, samples=2, batch_size=2, **kwargs):
    return run_gt360(generator, inverter, networks, samples=samples, truncation_psi=PSI, batch_size=batch_size,
                     seed=SEED, yaws=YAWS, **kwargs)


def test_the_exact_inversion_scores_zero_everywhere_and_a_wrong_head_worse(generator, networks):
    exact = scores(generator, networks, LatentInverter(generator))
    wrong = scores(generator, networks, LatentInverter(generator, offset=1.5))
    assert set(exact) == {"l2", "lpips", "id", "depth"}
    assert set(exact["l2"]) == {"0", "60", "90", "180"}
    assert set(exact["id"]) == {f"{yaw:g}" for yaw in YAWS if abs(yaw) <= ID_MAX_YAW_DEG}  # a face is visible
    for yaw in exact["l2"]:
        assert max(exact["l2"][yaw]) < 1e-10 and max(exact["depth"][yaw]) < 1e-6
        assert max(exact["lpips"][yaw]) < 1e-6
        assert min(wrong["l2"][yaw]) > 1e-4 and min(wrong["depth"][yaw]) > 1e-3
    for yaw in exact["id"]:
        assert min(exact["id"][yaw]) > 0.999 and max(wrong["id"][yaw]) < min(exact["id"][yaw])
    assert len(GT360_YAWS) == 12 and 180.0 in GT360_YAWS and -150.0 in GT360_YAWS


def test_heads_do_not_depend_on_the_batch_size(generator, networks):
    one_at_a_time = scores(generator, networks, LatentInverter(generator, offset=0.5, max_batch_size=1), samples=3)
    together = scores(generator, networks, LatentInverter(generator, offset=0.5), samples=3, batch_size=3)
    for metric in one_at_a_time:
        for yaw in one_at_a_time[metric]:
            np.testing.assert_allclose(one_at_a_time[metric][yaw], together[metric][yaw], rtol=1e-4, atol=1e-6)


def test_a_stop_signal_keeps_the_finished_heads_and_the_retry_scores_only_the_rest(generator, networks, tmp_path):
    partial = partial_path(tmp_path / "dual.json")
    settings = {"method": "dual"}
    stopped = LatentInverter(generator, offset=0.5, signal_after=2)
    with pytest.raises(PreemptedError, match="2 of 4 heads"):
        scores(generator, networks, stopped, samples=4, partial=partial, settings=settings)
    assert stopped.inverted == 2 and partial.is_file()
    retry = LatentInverter(generator, offset=0.5)
    retry.inverted = 2  # the test inverter reads which heads it sees from its counter
    resumed = scores(generator, networks, retry, samples=4, partial=partial, settings=settings)
    assert retry.inverted == 4  # only heads 2 and 3 were inverted again
    uninterrupted = scores(generator, networks, LatentInverter(generator, offset=0.5), samples=4)
    for metric in uninterrupted:
        for yaw in uninterrupted[metric]:
            np.testing.assert_allclose(resumed[metric][yaw], uninterrupted[metric][yaw], rtol=1e-5, atol=1e-7)
    other = LatentInverter(generator, offset=0.5)
    scores(generator, networks, other, samples=4, partial=partial, settings={"method": "encoder1"})
    assert other.inverted == 4  # other settings: the kept heads are not reused


def result_of(method, l2_by_yaw, stand_in=True):
    per_head = {"l2": {f"{yaw:g}": values for yaw, values in l2_by_yaw.items()}}
    return summarize_scores(method, per_head, list(l2_by_yaw), stand_in=stand_in, resamples=10, seed=0,
                            provenance={"generator": "stand-in:demo"})


def test_the_table_marks_the_best_method_bins_the_yaws_and_round_trips(tmp_path):
    dual = result_of("dual", {0.0: [0.01, 0.03], 60.0: [0.02, 0.02], 120.0: [0.05, 0.07], 180.0: [0.06, 0.06]})
    encoder1 = result_of("encoder1", {0.0: [0.01, 0.01], 60.0: [0.04, 0.04], 120.0: [0.09, 0.11], 180.0: [0.1, 0.1]})
    assert yaw_bin_mean(dual, "l2", 0, 60) == pytest.approx((0.02 + 0.02) / 2)
    assert yaw_bin_mean(encoder1, "l2", 120, 180) == pytest.approx((0.10 + 0.10) / 2)
    headers, rows = metric_block([encoder1, dual], "l2")
    assert headers == ["0°", "60°", "120°", "180°", "|yaw|≤60", "|yaw|≥120"]
    best = {method: [cell.best for cell in cells] for method, cells in rows}
    assert best == {"encoder1": [True, False, False, False, False, False], "dual": [False, True, True, True, True, True]}
    table = list(csv.DictReader(io.StringIO(render_csv([dual]))))
    assert [(row["yaw_deg"], float(row["value"])) for row in table] == [("0", 0.02), ("60", 0.02), ("120", 0.06),
                                                                          ("180", 0.06)]
    assert "0.0200†" in render_markdown([dual]) and "**0.0200†**" not in render_markdown([dual])  # alone: no best
    path = write_gt360(tmp_path / "dual.json", dual)
    assert read_gt360(path) == dual
    written = write_gt360_table([path, write_gt360(tmp_path / "encoder1.json", encoder1)], tmp_path / "table_gt360")
    assert sorted(written) == ["csv", "html", "md", "png", "tex"]
    assert all(file.stat().st_size > 0 for file in written.values())
    assert "encoder1" in written["md"].read_text().split("| dual")[0]  # registry order: encoder1 before dual
    assert isinstance(read_gt360(path), Gt360Result)
