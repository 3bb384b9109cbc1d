"""What the proof study reports (dualinv.eval.proof), on hand-made results: bins, orderings, flat losses."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from dualinv.config import load_config
from dualinv.eval.gt360 import summarize_scores, write_gt360, yaw_bin_mean
from dualinv.eval.proof import format_summary, loss_flatness, paired_claim, proof_summary


def result(method, near, far):
    """Scores with L2 ``near`` at |yaw| <= 60 and ``far`` behind; depth a tenth of it."""
    yaws = (0.0, 60.0, 90.0, 180.0)
    l2 = {f"{yaw:g}": [near if abs(yaw) <= 60 else far] * 2 for yaw in yaws}
    depth = {key: [value / 10 for value in values] for key, values in l2.items()}
    return summarize_scores(method, {"l2": l2, "depth": depth}, yaws, stand_in=True, resamples=5, seed=0)


def test_loss_flatness_compares_the_last_tenth_with_the_tenth_before(tmp_path):
    steps = np.arange(100)
    falling = 1.0 / (1 + steps)  # still moving at the end: 1/91..1/100 against 1/81..1/90
    flat = np.where(steps < 50, 1.0 - steps / 100, 0.5)
    path = tmp_path / "0.losses.csv"
    path.write_text("step,loss_encoder,loss_l2\n" + "".join(f"{s},{a},{b}\n" for s, a, b in zip(steps, falling, flat)))
    report = loss_flatness(path)
    expected_change = abs(falling[-10:].mean() - falling[-20:-10].mean()) / falling[-20:-10].mean()
    assert report["steps"] == 100
    assert report["loss_encoder"]["change"] == pytest.approx(expected_change)
    assert not report["loss_encoder"]["flat"] and report["loss_l2"]["flat"]
    assert report["loss_l2"]["first"] == pytest.approx(flat[:10].mean())


def test_the_summary_bins_the_yaws_and_checks_the_orderings(tmp_path):
    config = load_config(presets=("presets/mini.yaml", "presets/proof.yaml"))
    config = dataclasses.replace(config, output=dataclasses.replace(config.output, results=str(tmp_path)))
    (tmp_path / "gt360").mkdir()
    for method, near, far in (("encoder1", 0.01, 0.08), ("encoder2", 0.02, 0.05), ("dual", 0.011, 0.05)):
        write_gt360(tmp_path / "gt360" / f"{method}.json", result(method, near, far))
    assert yaw_bin_mean(result("x", 0.01, 0.08), "l2", 120, 180) == pytest.approx(0.08)
    summary = proof_summary(config, untrained=False)
    assert summary["bins"]["encoder2"]["far side (|yaw| ≥ 120°)"]["l2"] == pytest.approx(0.05)
    assert summary["bins"]["encoder1"]["profiles (90°)"]["depth"] == pytest.approx(0.008)
    holds = {claim["claim"]: claim["holds"] for claim in summary["orderings"]}
    assert holds == {"encoder1 < encoder2: l2, input view (0°)": True,
                     "encoder2 < encoder1: l2, far side (|yaw| ≥ 120°)": True,
                     "encoder2 < encoder1: depth, far side (|yaw| ≥ 120°)": True,
                     "dual < encoder2: l2, input view (0°)": True,
                     "dual < encoder1: l2, far side (|yaw| ≥ 120°)": True}
    assert "w_optim" not in summary["bins"]  # not run: left out, not invented
    assert "[holds] encoder1 < encoder2" in format_summary(summary)


def test_a_paired_claim_tells_a_consistent_difference_from_noise():
    yaws = (0.0, 180.0)

    def scored(method, far_per_head):
        l2 = {"0": [0.01] * len(far_per_head), "180": list(far_per_head)}
        return summarize_scores(method, {"l2": l2}, yaws, stand_in=True, resamples=5, seed=0)

    far = "far side (|yaw| ≥ 120°)"
    steady = {"a": scored("a", [0.10, 0.20, 0.30, 0.40]), "b": scored("b", [0.11, 0.21, 0.31, 0.41])}
    claim = paired_claim(steady, "a", "b", far)
    assert claim["holds"] and not claim["within_noise"]  # a wins on every head by 0.01: se 0
    assert claim["difference"] == pytest.approx(-0.01) and claim["wins"] == 4 and claim["heads"] == 4
    assert claim["a"] == pytest.approx(0.25) and claim["b"] == pytest.approx(0.26)
    noisy = {"a": scored("a", [0.10, 0.30, 0.10, 0.30]), "b": scored("b", [0.30, 0.11, 0.30, 0.11])}
    claim = paired_claim(noisy, "a", "b", far)
    differences = np.array([-0.20, 0.19, -0.20, 0.19])
    assert claim["difference"] == pytest.approx(differences.mean())
    assert claim["standard_error"] == pytest.approx(differences.std(ddof=1) / 2)
    assert claim["holds"] and claim["within_noise"] and claim["wins"] == 2
    assert paired_claim(noisy, "a", "missing", far) is None
