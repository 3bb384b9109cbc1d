"""The GPU benchmark: generator forward, dual inversion, training, W+ optimisation and PTI.

    python benchmarks/gpu.py [--json PATH] [--compile] [--cuda-graphs]      # paper size on CUDA, <= 8 min
    python benchmarks/gpu.py --size tiny --device cpu --json PATH            # the same code paths in seconds

Prints each figure as it is measured and, with ``--json``, writes one JSON document. Weights are
seeded stand-ins (speed does not depend on them). ``paper``: the released PanoHead architecture
(512²), IR-SE50 encoders at 256², the paper's batch 3. ``tiny``: the fixture generator (128²) for
the forward pass and the baselines, the mini stand-in generator and tiny encoders at 32² for
inversion and training (the figures of benchmarks/training_speed.py and baselines_speed.py).

* Generator forward (mapping + synthesis, ms per image: min / median / max of ``--iterations``
  calls after one warm-up, benchmarks/panohead_speed.py's clock) at batch 1 and 8 in three modes:
  ``fp32`` with TF32 really off (matmul *and* cuDNN), ``tf32`` (both on) and ``bf16`` (TF32 on,
  bf16 autocast around the two StyleGAN synthesis networks: panohead_speed's fast mode). Every mode
  but fp32 gives its max |Δ| on the image against fp32 (same z, cameras and renderer seed).
  ``--compile`` (``torch.compile`` of the synthesis, fp32) and ``--cuda-graphs`` (mapping +
  synthesis captured once, replayed) are timed last, so a failure cannot spoil the other figures;
  a mode that fails is reported as ``"failed: <error>"``.
* Dual inversion (both encoders, mask, stitch, same-view render) s/image at batch 1 and 16, each
  call on ``dualinv.models.inversion.timed_per_image``, after one warm-up call.
* Training it/s of Encoder 1 and Encoder 2 at batch 3 (training_speed.py's step clock: first step
  and checkpoint writing excluded), fp32 and, on CUDA, bf16 autocast; peak CUDA memory of each run
  (allocated to tensors, and reserved by the caching allocator; the CUDA context is in neither).
* W+ optimisation and PTI tuning seconds per step (one timed call of ``--w-steps`` / ``--pti-steps``
  after a warm-up call, divided by the steps; PTI's includes its one copy of the generator), and
  the seconds per image they imply at the paper's 500 + 350 steps.
* The targets (one H100: dual inversion <= 0.05 s/image at batch 1, training >= 6 it/s,
  peak < 24 GB, checked on the reserved peak, 1 GB = 10⁹ bytes) beside the figures, CUDA at paper
  size only. Training and inversion run with PyTorch's TF32 defaults (the study sets none); the
  JSON records them. Exit status 1 when a figure other than ``--compile``/``--cuda-graphs`` failed.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path

import torch

from baselines_speed import generator_for
from panohead_speed import forward, frontal_cameras, precision, run, time_per_image
from training_speed import dual_inverter, paper_settings, step_seconds, targets, tiny_settings
from dualinv.baselines import PivotalTuning, WPlusOptimiser
from dualinv.camera import canonical_cameras
from dualinv.config import REPO_ROOT, PTISettings, WOptimSettings
from dualinv.devices import check_device, device_name
from dualinv.fileio import write_json_atomic
from dualinv.losses import LPIPSLoss
from dualinv.models.generator import study_generator
from dualinv.models.inversion import timed_per_image
from dualinv.provenance import git_commit

NO_CUDA = "skipped: no CUDA"
MODES = {"fp32": (False, False), "tf32": (True, False), "bf16": (True, True)}  # name -> (TF32, bf16 autocast)
TARGETS = {"dual_inversion_s_per_image_max": 0.05, "training_it_per_s_min": 6.0, "peak_gb_below": 24.0}
PAPER_STEPS = {"w_optim": 500, "pti_tuning": 350}  # PanoHead's projector and project_pti defaults


def attempt(measure, *args):
    """``measure(*args)``, or ``"failed: <error>"``: one broken figure must not cost the others."""
    try:
        return measure(*args)
    except Exception as error:  # noqa: BLE001 - reported in the JSON, and the exit status says so
        if torch.cuda.is_available():
            torch.cuda.empty_cache()
        return f"failed: {type(error).__name__}: {error}".splitlines()[0][:500]


def spread(values: list[float]) -> dict[str, float]:
    return {"min": min(values), "median": statistics.median(values), "max": max(values)}


def tf32_flags() -> dict[str, bool]:
    """TF32 as PyTorch reads it back now (the cuDNN flag defaults to on, the matmul one to off)."""
    return {"matmul": torch.backends.cuda.matmul.allow_tf32, "cudnn": torch.backends.cudnn.allow_tf32}


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def forward_inputs(model, batch: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    z = torch.randn(batch, model.z_dim, generator=torch.Generator().manual_seed(batch)).to(device)
    return z, frontal_cameras(batch, device)


def precision_mode(model, z, cameras, name: str, iterations: int, reference: torch.Tensor) -> dict:
    tf32, bf16 = MODES[name]
    with torch.no_grad(), precision(model, tf32=tf32, bf16=bf16):
        ms = time_per_image(model, z, cameras, iterations)
        diff = (run(model, z, cameras, 0)["image"] - reference).abs().max().item()
        return {"ms_per_image": spread([ms["min"], ms["median"], ms["max"]]), "max_abs_diff_vs_fp32": diff,
                "allow_tf32": tf32_flags()}


def generator_forward(model, device: torch.device, batches: list[int], iterations: int) -> dict:
    """fp32 (TF32 off), TF32 and bf16 per batch size; the fp32 image is every other mode's reference."""
    figures = {"resolution": model.img_resolution}
    for batch in batches:
        z, cameras = forward_inputs(model, batch, device)
        with torch.no_grad(), precision(model, tf32=False, bf16=False):
            ms = time_per_image(model, z, cameras, iterations)
            entry = {"fp32": {"ms_per_image": spread([ms["min"], ms["median"], ms["max"]]),
                              "allow_tf32": tf32_flags()}}
            reference = run(model, z, cameras, 0)["image"]
        for name in ("tf32", "bf16"):
            entry[name] = NO_CUDA if name == "tf32" and device.type != "cuda" else attempt(
                precision_mode, model, z, cameras, name, iterations, reference)
        figures[f"batch_{batch}"] = entry
    return figures


def compiled_forward(model, synthesis, z, cameras, iterations: int) -> dict:
    """``synthesis`` = ``torch.compile(model.synthesis)`` (fp32, TF32 off), mapping eager; the first call
    (compiling, or recompiling for a new batch size) timed apart; ``synthesis`` may be torch.compile's failure."""
    if isinstance(synthesis, str):
        return synthesis

    def call(model, z, cameras, seed):
        generator = torch.Generator(z.device).manual_seed(seed)
        return synthesis(model.mapping(z, cameras), cameras, noise_mode="const", generator=generator)

    with torch.no_grad(), precision(model, tf32=False, bf16=False):
        reference = run(model, z, cameras, 0)["image"]
        started = time.perf_counter()
        call(model, z, cameras, 0)
        sync(z.device)
        compile_seconds = time.perf_counter() - started
        ms = time_per_image(model, z, cameras, iterations, call=call)
        diff = (call(model, z, cameras, 0)["image"] - reference).abs().max().item()
    return {"ms_per_image": spread([ms["min"], ms["median"], ms["max"]]), "max_abs_diff_vs_fp32": diff,
            "first_call_s": compile_seconds}


def graphed_forward(model, z, cameras, iterations: int) -> dict:
    """Mapping + synthesis captured in one CUDA graph (fp32, TF32 off) and replayed.

    The renderer's generator is registered with the graph, so reseeding it before a replay gives
    that seed's jitter, as eager ``run`` does (torch.cuda.CUDAGraph.register_generator_state).
    Warm-up on a side stream before capture, as the PyTorch CUDA-graphs notes ask.
    """
    rng = torch.Generator(z.device)
    with torch.no_grad(), precision(model, tf32=False, bf16=False):
        reference = run(model, z, cameras, 0)["image"]
        side = torch.cuda.Stream(z.device)
        side.wait_stream(torch.cuda.current_stream(z.device))
        with torch.cuda.stream(side):
            for _ in range(3):
                forward(model, z, cameras, rng.manual_seed(0))
        torch.cuda.current_stream(z.device).wait_stream(side)
        graph = torch.cuda.CUDAGraph()
        graph.register_generator_state(rng)
        rng.manual_seed(0)
        with torch.cuda.graph(graph):
            static = forward(model, z, cameras, rng)

        def replay(_model, _z, _cameras, seed):
            rng.manual_seed(seed)
            graph.replay()
            return static

        ms = time_per_image(model, z, cameras, iterations, call=replay)
        diff = (replay(model, z, cameras, 0)["image"] - reference).abs().max().item()
    return {"ms_per_image": spread([ms["min"], ms["median"], ms["max"]]), "max_abs_diff_vs_fp32": diff}


def dual_inversion(settings, device: torch.device, generator, data: list[dict], batches: list[int],
                   iterations: int) -> dict:
    inverter = dual_inverter(settings, str(device), generator)
    figures = {"allow_tf32": tf32_flags()}
    for batch in batches:
        images = torch.stack([data[i % len(data)]["image"] for i in range(batch)])
        cameras = torch.stack([data[i % len(data)]["camera"] for i in range(batch)])

        def call():
            return inverter.render(inverter.invert(images, cameras))

        call()  # warm-up, as the evaluation runner does (docs/eval.md)
        seconds = [timed_per_image(call, batch, device)[1] for _ in range(iterations)]
        figures[f"batch_{batch}"] = {"s_per_image": spread(seconds)}
    return figures


def training_run(settings, device: torch.device, experiment: str, steps: int, generator, identity, data) -> dict:
    if device.type == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)
    seconds, _ = step_seconds(settings, str(device), experiment, steps, generator, identity, data)
    entry = {"batch": settings.training.batch_size, "it_per_s": len(seconds) / sum(seconds),
             "step_s": spread(seconds), "steps_timed": len(seconds)}
    if device.type == "cuda":
        entry["peak_allocated_gb"] = torch.cuda.max_memory_allocated(device) / 1e9
        entry["peak_reserved_gb"] = torch.cuda.max_memory_reserved(device) / 1e9
    else:
        entry["peak_allocated_gb"] = entry["peak_reserved_gb"] = NO_CUDA
    return entry


def training(settings, device: torch.device, steps: int, generator, identity, data) -> dict:
    figures = {"allow_tf32": tf32_flags()}
    for precision_name, bf16 in (("fp32", False), ("bf16", True)):
        for experiment in ("encoder1", "encoder2"):
            key = f"{experiment}_{precision_name}"
            if bf16 and device.type != "cuda":
                figures[key] = NO_CUDA  # bf16 autocast on a CPU says nothing about a GPU's
                continue
            run_settings = replace(settings, training=replace(settings.training, bf16=bf16))
            figures[key] = attempt(training_run, run_settings, device, experiment, steps, generator, identity, data)
    return figures


def baselines(size: str, device: torch.device, w_steps: int, pti_steps: int) -> dict:
    generator = generator_for(size).to(device)
    lpips_loss = LPIPSLoss("vgg").to(device)
    cameras = canonical_cameras(device=device)["front"].expand(1, -1).clone()
    images = torch.rand(1, 3, generator.img_resolution, generator.img_resolution,
                        generator=torch.Generator().manual_seed(0)).to(device) * 2 - 1
    w_config = WOptimSettings(steps=w_steps, w_avg_samples=1000)
    w_optim = WPlusOptimiser(generator, lpips_loss, w_config, progress=False)
    w_optim.optimise(images, cameras)  # warm-up
    (ws, _), w_seconds = timed_per_image(lambda: w_optim.optimise(images, cameras), 1, device)
    pti = PivotalTuning(generator, lpips_loss, PTISettings(pivot_steps=w_steps, steps=pti_steps), w_config,
                        progress=False)
    pti.tune(images, cameras, ws)  # warm-up
    _, pti_seconds = timed_per_image(lambda: pti.tune(images, cameras, ws), 1, device)
    w_step, pti_step = w_seconds / w_steps, pti_seconds / pti_steps
    return {"resolution": generator.img_resolution,
            "w_optim": {"steps": w_steps, "s_per_step": w_step,
                        "s_per_image_at_500_steps": w_step * PAPER_STEPS["w_optim"]},
            "pti": {"tuning_steps": pti_steps, "s_per_step": pti_step,
                    "s_per_image_at_500_plus_350_steps": w_step * PAPER_STEPS["w_optim"]
                    + pti_step * PAPER_STEPS["pti_tuning"]}}


def study_figures(size: str, device: torch.device, train_steps: int, inversion_batches: list[int],
                  iterations: int) -> dict:
    """Training and dual inversion around the study's generator (paper settings or the tiny mini ones)."""
    settings = paper_settings() if size == "paper" else tiny_settings(batch_size=3)
    generator, identity = study_generator(settings, device)
    data = targets(generator, max(max(inversion_batches), 2 * settings.training.batch_size), device)
    figures = {"training": training(settings, device, train_steps, generator, identity, data)}
    print_section("training", figures["training"])
    figures["dual_inversion"] = attempt(dual_inversion, settings, device, generator, data, inversion_batches,
                                        iterations)
    print_section("dual inversion", figures["dual_inversion"])
    return figures


def attempt_sections(names: tuple[str, ...], measure, *args) -> dict:
    """:func:`attempt` for a function returning several sections: on failure each says so."""
    figures = attempt(measure, *args)
    return figures if isinstance(figures, dict) else dict.fromkeys(names, figures)


def target_checks(report: dict) -> list[dict] | str:
    """Issue 16's targets beside the figures (CUDA at paper size only); a failed figure fails its target."""
    if report["device_type"] != "cuda":
        return NO_CUDA
    if report["size"] != "paper":
        return "skipped: tiny size (the targets are for the paper size)"
    checks = []

    def check(name: str, measured, target: str, passes) -> None:
        number = isinstance(measured, float)
        checks.append({"what": name, "target": target, "measured": measured,
                       "pass": bool(number and passes(measured))})

    inversion = report["dual_inversion"]
    batch_1 = inversion["batch_1"]["s_per_image"]["median"] if isinstance(inversion, dict) else inversion
    check("dual inversion s/image, batch 1 (median)", batch_1,
          f"<= {TARGETS['dual_inversion_s_per_image_max']}", lambda v: v <= TARGETS["dual_inversion_s_per_image_max"])
    for key, entry in report["training"].items():
        if key == "allow_tf32":
            continue
        it_per_s = entry["it_per_s"] if isinstance(entry, dict) else entry
        peak = entry["peak_reserved_gb"] if isinstance(entry, dict) else entry
        check(f"training it/s, {key}, batch 3", it_per_s, f">= {TARGETS['training_it_per_s_min']}",
              lambda v: v >= TARGETS["training_it_per_s_min"])
        check(f"training peak reserved GB, {key}", peak, f"< {TARGETS['peak_gb_below']}",
              lambda v: v < TARGETS["peak_gb_below"])
    return checks


def failures(node, path: str = "") -> list[str]:
    """Paths of every ``"failed: ..."`` entry in the report."""
    if isinstance(node, dict):
        return [found for key, value in node.items() for found in failures(value, f"{path}/{key}")]
    if isinstance(node, list):
        return [found for i, value in enumerate(node) for found in failures(value, f"{path}/{i}")]
    return [path] if isinstance(node, str) and node.startswith("failed:") else []


def print_section(name: str, figures) -> None:
    print(f"{name}: {json.dumps(figures, default=str)}", flush=True)


class SectionClock:
    """Wall seconds of each section, so the 8-minute budget can be checked section by section."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self.last = time.perf_counter()

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.seconds[name], self.last = now - self.last, now


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", choices=("paper", "tiny"), default=None,
                        help="default: paper on CUDA, tiny otherwise")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--json", type=Path, default=None, help="write the report here")
    parser.add_argument("--iterations", type=int, default=None, help="timed calls per figure (paper 10, tiny 2)")
    parser.add_argument("--train-steps", type=int, default=None, help="timed training steps (paper 10, tiny 1)")
    parser.add_argument("--w-steps", type=int, default=None, help="W+ steps timed (paper 20, tiny 2)")
    parser.add_argument("--pti-steps", type=int, default=None, help="PTI tuning steps timed (paper 20, tiny 2)")
    parser.add_argument("--forward-batches", type=int, nargs="+", default=[1, 8])
    parser.add_argument("--inversion-batches", type=int, nargs="+", default=[1, 16])
    parser.add_argument("--compile", action="store_true", help="also time torch.compile of the synthesis")
    parser.add_argument("--compile-backend", default="inductor",
                        help="torch.compile backend (tests use eager: the tracing path in seconds)")
    parser.add_argument("--cuda-graphs", action="store_true", help="also time mapping + synthesis as one CUDA graph")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = check_device(args.device)
    size = args.size or ("paper" if device.type == "cuda" else "tiny")
    paper = size == "paper"
    iterations = args.iterations or (10 if paper else 2)
    train_steps = args.train_steps or (10 if paper else 1)
    w_steps, pti_steps = args.w_steps or (20 if paper else 2), args.pti_steps or (20 if paper else 2)
    started = time.perf_counter()
    report = {"benchmark": "benchmarks/gpu.py", "size": size, "device": device_name(device),
              "device_type": device.type, "torch": torch.__version__, "cuda": torch.version.cuda,
              "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
              "git": git_commit(REPO_ROOT), "weights": "seeded stand-ins (speed only)",
              "settings": {"iterations": iterations, "train_steps": train_steps, "w_steps": w_steps,
                           "pti_steps": pti_steps, "forward_batches": args.forward_batches,
                           "compile_backend": args.compile_backend if args.compile else None,
                           "inversion_batches": args.inversion_batches}}
    print(f"{report['device']} torch {report['torch']} size={size} {report['date']}", flush=True)

    clock = SectionClock()
    # Training first, with only the study generator resident, so its peak memory is its own.
    report |= attempt_sections(("training", "dual_inversion"), study_figures, size, device, train_steps,
                               args.inversion_batches, iterations)
    clock.lap("training_and_dual_inversion")
    model = generator_for(size).to(device)
    report["generator_forward"] = attempt(generator_forward, model, device, args.forward_batches, iterations)
    print_section("generator forward", report["generator_forward"])
    clock.lap("generator_forward")
    report["baselines"] = attempt(baselines, size, device, w_steps, pti_steps)
    print_section("baselines", report["baselines"])
    clock.lap("baselines")

    required = failures(report)
    if isinstance(report["generator_forward"], dict):  # the optional modes last: a broken one spoils nothing
        compiled = (attempt(lambda: torch.compile(model.synthesis, backend=args.compile_backend))
                    if args.compile else None)
        for batch in args.forward_batches:
            entry, (z, cameras) = report["generator_forward"][f"batch_{batch}"], forward_inputs(model, batch, device)
            if args.compile:
                entry["compile"] = attempt(compiled_forward, model, compiled, z, cameras, iterations)
            if args.cuda_graphs:
                entry["cuda_graphs"] = NO_CUDA if device.type != "cuda" else attempt(
                    graphed_forward, model, z, cameras, iterations)
            print_section(f"optional modes, batch {batch}",
                          {key: entry[key] for key in ("compile", "cuda_graphs") if key in entry})
        clock.lap("optional_modes")
    report["targets"] = target_checks(report)
    report["section_wall_s"], report["wall_s"] = clock.seconds, time.perf_counter() - started
    if isinstance(report["targets"], str):
        print(f"targets: {report['targets']}")
    for row in report["targets"] if isinstance(report["targets"], list) else []:
        print(f"target {row['what']}: {row['measured']} (target {row['target']}) "
              f"{'pass' if row['pass'] else 'FAIL'}")
    print(f"wall {report['wall_s']:.1f} s ({', '.join(f'{k} {v:.1f} s' for k, v in clock.seconds.items())})",
          flush=True)
    if args.json:
        write_json_atomic(args.json, report)
    if required:
        print(f"failed: {', '.join(required)}", file=sys.stderr)
    return 1 if required else 0


if __name__ == "__main__":
    sys.exit(main())
