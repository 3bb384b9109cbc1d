"""benchmarks/gpu.py runs tiny on the CPU: its JSON has every section, finite positive figures, and
says "skipped: no CUDA" wherever a figure needs a GPU. No GPU is needed here."""

import datetime as dt
import json
import math
import subprocess
import sys

import pytest
import torch

from dualinv.config import REPO_ROOT

NO_CUDA = "skipped: no CUDA"
pytestmark = [pytest.mark.slow, pytest.mark.skipif(torch.cuda.is_available(), reason="checks the CPU report")]


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    """One minimal run: 1 timed call, 1 training step, 1 W+ and 1 PTI step, batches 1 and 2, one torch
    thread (two threads on a shared 2-core machine run several times slower), and a
    torch.compile backend that does not exist, so the failed optional mode is reported, not raised."""
    path = tmp_path_factory.mktemp("gpu_bench") / "gpu.json"
    done = subprocess.run(
        [sys.executable, "benchmarks/gpu.py", "--size", "tiny", "--device", "cpu", "--json", str(path),
         "--iterations", "1", "--train-steps", "1", "--w-steps", "1", "--pti-steps", "1",
         "--forward-batches", "1", "2", "--inversion-batches", "1", "2",
         "--compile", "--compile-backend", "no_such_backend", "--cuda-graphs", "--threads", "1"],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=600)
    return done, json.loads(path.read_text()) if path.is_file() else None


def numbers(node, path=""):
    """(path, value) of every int or float in the report (booleans are flags, not figures)."""
    if isinstance(node, dict):
        return [found for key, value in node.items() for found in numbers(value, f"{path}/{key}")]
    if isinstance(node, list):
        return [found for i, value in enumerate(node) for found in numbers(value, f"{path}/{i}")]
    return [(path, node)] if isinstance(node, (int, float)) and not isinstance(node, bool) else []


def test_the_tiny_run_succeeds_and_writes_every_section(tiny_run):
    done, report = tiny_run
    assert done.returncode == 0, done.stderr[-3000:]
    assert report is not None
    assert report["size"] == "tiny" and report["device"].startswith("cpu (") and report["torch"] == torch.__version__
    assert dt.datetime.fromisoformat(report["date"]).tzinfo is not None
    forward = report["generator_forward"]
    for batch in ("batch_1", "batch_2"):
        assert set(forward[batch]) == {"fp32", "tf32", "bf16", "compile", "cuda_graphs"}
        assert set(forward[batch]["fp32"]["ms_per_image"]) == {"min", "median", "max"}
        assert forward[batch]["fp32"]["allow_tf32"] == {"matmul": False, "cudnn": False}  # TF32 really off
        assert forward[batch]["bf16"]["max_abs_diff_vs_fp32"] > 0  # the autocast hooks did run in bf16
        assert set(report["dual_inversion"][batch]["s_per_image"]) == {"min", "median", "max"}
    for experiment in ("encoder1_fp32", "encoder2_fp32"):
        entry = report["training"][experiment]
        assert entry["batch"] == 3 and entry["steps_timed"] == 1 and entry["it_per_s"] > 0
    assert set(report["baselines"]) == {"resolution", "w_optim", "pti"}
    assert report["baselines"]["w_optim"]["s_per_step"] > 0 and report["baselines"]["pti"]["s_per_step"] > 0


def test_every_figure_is_finite_and_positive(tiny_run):
    _, report = tiny_run
    found = numbers(report)
    assert len(found) > 30
    bad = [(path, value) for path, value in found if not (math.isfinite(value) and value > 0)]
    assert not bad


def test_cuda_only_entries_say_skipped_no_cuda(tiny_run):
    _, report = tiny_run
    for batch in ("batch_1", "batch_2"):
        assert report["generator_forward"][batch]["tf32"] == NO_CUDA
        assert report["generator_forward"][batch]["cuda_graphs"] == NO_CUDA
    for experiment in ("encoder1", "encoder2"):
        assert report["training"][f"{experiment}_bf16"] == NO_CUDA
        assert report["training"][f"{experiment}_fp32"]["peak_allocated_gb"] == NO_CUDA
        assert report["training"][f"{experiment}_fp32"]["peak_reserved_gb"] == NO_CUDA
    assert report["targets"] == NO_CUDA


def test_a_failing_optional_mode_is_reported_not_raised(tiny_run):
    done, report = tiny_run
    for batch in ("batch_1", "batch_2"):
        assert report["generator_forward"][batch]["compile"].startswith("failed: InvalidBackend")
    assert done.returncode == 0  # an optional mode's failure is not the benchmark's
