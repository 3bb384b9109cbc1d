"""Training iterations/s and dual-inversion s/image, tiny on CPU and (with CUDA) at paper size.

    python benchmarks/training_speed.py [--steps 5] [--experiments encoder1 encoder2] [--skip-paper]

Tiny: the tiny128 PanoHead stand-in, tiny IR-SE encoders at 32², batch 2. Paper (CUDA only): the
released architecture with seeded stand-in weights, IR-SE50 encoders at 256², batch 3, 512²
targets, rendering at 64²; peak GPU memory is reported. Weights are random, so the figures are
speeds only.

Training speed times the training steps only: one segment of ``steps + 2`` steps runs with periodic
checkpoints off, and the clock is read (CUDA synchronised) at the start of every step. The interval
from the start of step k to the start of step k + 1 is one whole iteration (its update, its loss-log
line, the next batch's assembly); the first step (allocation, kernel selection) and the last (which
writes the segment's checkpoint, gigabytes at paper size) are left out. Dual inversion is timed after
one untimed warm-up call, as the evaluation runner times it (docs/eval.md).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import torch

from dualinv.camera import camera_at_yaw
from dualinv.dual.invert import DualInverter
from dualinv.config import REPO_ROOT, GeneratorConfig, StudyConfig, WeightsConfig, load_config
from dualinv.models.encoders import build_inversion_encoder
from dualinv.models.experiments import get_experiment
from dualinv.models.generator import study_generator
from dualinv.training.build import build_components
from dualinv.training.loop import train_segment


def targets(generator, count: int, device) -> list[dict]:
    """Generator renders at yaws within ±40° as a stand-in dataset (CPU tensors)."""
    rng = torch.Generator(device=device).manual_seed(0)
    cameras = camera_at_yaw(torch.linspace(-40, 40, count), device=device)
    with torch.no_grad():
        z = torch.randn(count, generator.z_dim, generator=rng, device=device)
        ws = generator.mapping(z, cameras, truncation_psi=0.7)
        images = torch.cat([generator.render_trigrid(generator.synthesize_trigrid(ws[i:i + 1]), ws[i:i + 1],
                                                     cameras[i:i + 1], generator=rng)["image"]
                            for i in range(count)])
    return [{"image": images[i].clamp(-1, 1).cpu(), "camera": cameras[i].cpu()} for i in range(count)]


def step_seconds(settings: StudyConfig, device: str, experiment: str, steps: int, generator, identity,
                 data) -> tuple[list[float], list[float]]:
    """Wall and process-CPU seconds of ``steps`` whole training iterations, without the first step or any
    checkpoint I/O (CPU seconds sum over threads; on a shared machine they vary less with the load)."""
    settings = replace(settings, training=replace(settings.training, checkpoint_every=10**9))  # no periodic checkpoint
    components = build_components(settings, get_experiment(experiment), data, device=device, generator=generator,
                                  identity=identity)
    starts: list[tuple[float, float]] = []
    before_step = components.before_step

    def timed_before_step(step: int) -> None:  # called by the loop once per step, after the batch is built
        _sync(device)
        starts.append((time.perf_counter(), time.process_time()))
        before_step(step)

    components.before_step = timed_before_step
    with tempfile.TemporaryDirectory() as folder:
        train_segment(settings, experiment, 0, steps + 2, None, Path(folder) / "run.pt", components=components)
    timed = list(zip(starts[1:-1], starts[2:]))
    return [later[0] - earlier[0] for earlier, later in timed], [later[1] - earlier[1] for earlier, later in timed]


def dual_inverter(settings: StudyConfig, device: str, generator) -> DualInverter:
    """Both encoders freshly built (random weights) around ``generator``, as the dual inversion runs them."""
    encoders = [build_inversion_encoder(settings, get_experiment(name), generator, seed).to(device).eval()
                for seed, name in enumerate(("encoder1", "encoder2"))]
    return DualInverter.from_trained(generator, (encoders[0], settings), (encoders[1], settings))


def seconds_per_image(settings: StudyConfig, device: str, generator, data, repeats: int) -> float:
    inverter = dual_inverter(settings, device, generator)
    image, camera = data[0]["image"][None], data[0]["camera"][None]
    inverter.render(inverter.invert(image, camera))
    _sync(device)
    start = time.perf_counter()
    for _ in range(repeats):
        inverter.render(inverter.invert(image, camera))
    _sync(device)
    return (time.perf_counter() - start) / repeats


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def run(label: str, settings: StudyConfig, device: str, experiments: list[str], steps: int) -> None:
    generator, identity = study_generator(settings, device)
    batch_size = settings.training.batch_size
    data = targets(generator, 2 * batch_size, device)
    if device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats()
    for experiment in experiments:
        seconds, cpu_seconds = step_seconds(settings, device, experiment, steps, generator, identity, data)
        print(f"{label}: train {experiment}: {len(seconds) / sum(seconds):.3f} it/s over {len(seconds)} steps "
              f"(median step {statistics.median(seconds):.3f} s wall, {statistics.median(cpu_seconds):.3f} s CPU; "
              f"batch {batch_size}, {device}; first step and checkpoint writing excluded)")
    print(f"{label}: dual inversion (both encoders, mask, stitch, same-view render): "
          f"{seconds_per_image(settings, device, generator, data, max(1, steps // 2)):.3f} s/image")
    if device.startswith("cuda"):
        print(f"{label}: peak GPU memory {torch.cuda.max_memory_allocated() / 2**30:.2f} GiB")


def tiny_settings(batch_size: int = 2) -> StudyConfig:
    """The mini preset with tiny IR-SE encoders at 32² and ``batch_size``; the mini stand-in generator (128 px)."""
    mini = load_config(REPO_ROOT / "config.yaml", (REPO_ROOT / "presets" / "mini.yaml",))
    return replace(mini, encoder=replace(mini.encoder, input_resolution=32),
                   training=replace(mini.training, batch_size=batch_size))


def paper_settings() -> StudyConfig:
    """The paper's settings (batch 3, IR-SE50 at 256², the released generator) with seeded stand-in weights."""
    stand_in_weights = WeightsConfig(**{key: None for key in WeightsConfig.__dataclass_fields__})
    return StudyConfig(weights=stand_in_weights, generator=GeneratorConfig(preset="released"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--experiments", nargs="+", default=["encoder1", "encoder2"])
    parser.add_argument("--skip-paper", action="store_true")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    run("tiny/cpu", tiny_settings(), "cpu", args.experiments, args.steps)
    if torch.cuda.is_available() and not args.skip_paper:
        paper = paper_settings()
        run("paper/cuda", paper, "cuda", args.experiments, args.steps)
        run("paper/cuda bf16", replace(paper, training=replace(paper.training, bf16=True)), "cuda",
            args.experiments, args.steps)


if __name__ == "__main__":
    main()
