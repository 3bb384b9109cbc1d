"""Speed and peak memory of PanoHead from z to the 512² image (released architecture, random weights).

Prints figures; not a test. Usage:
    python benchmarks/panohead_speed.py [--batches 1 4] [--iterations 5] [--device cpu|cuda]

What is timed: one call of mapping (z, camera -> w) and synthesis (tri-grid, volume rendering,
super-resolution) per iteration, after one untimed warm-up call; each iteration is timed on its own
(CUDA synchronised before both clock readings) and min / median / max per image are printed.

On CUDA it times fp32 with TF32 really off (matmul *and* cuDNN: PyTorch leaves cuDNN's TF32 on by
default) and the fast mode (TF32 on, bf16 autocast on the backbone and background synthesis
networks only), and reports the fast mode's max |Δ| against fp32 on the image.

Memory: on CUDA the peak of memory allocated to tensors during the timed calls of that batch size
(``torch.cuda.max_memory_allocated`` after a reset; the CUDA context and the caching allocator's
reserve are not in it). On a CPU the process's peak resident set since it started (``ru_maxrss``):
Python, torch, the weights and every batch size run before it.
"""

from __future__ import annotations

import argparse
import contextlib
import platform
import resource
import statistics
import time

import torch

from dualinv.panohead import PanoHeadConfig, PanoHeadGenerator


def frontal_cameras(batch: int, device: torch.device) -> torch.Tensor:
    camera = torch.tensor([1, 0, 0, 0, 0, -1, 0, 0, 0, 0, -1, 2.7, 0, 0, 0, 1, 4.2647, 0, 0.5, 0, 4.2647, 0.5, 0, 0, 1.0])
    return camera.to(device).expand(batch, 25).clone()


@contextlib.contextmanager
def precision(model: PanoHeadGenerator, tf32: bool, bf16: bool):
    """TF32 on or off for CUDA matmul *and* cuDNN (PyTorch leaves cuDNN's on by default), and bf16
    autocast (on the model's device type) around the two StyleGAN synthesis networks only."""
    saved = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = tf32
    handles = []
    if bf16:
        device_type = next(model.parameters()).device.type
        for net in (model.backbone.synthesis, model.bcg_synthesis):
            autocast = torch.autocast(device_type, dtype=torch.bfloat16)

            def enter(_module, _inputs, autocast=autocast):
                autocast.__enter__()

            def leave(_module, _inputs, output, autocast=autocast):
                autocast.__exit__(None, None, None)
                return output.float()

            handles += [net.register_forward_pre_hook(enter), net.register_forward_hook(leave)]
    try:
        yield
    finally:
        for handle in handles:
            handle.remove()
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = saved


def fast_mode(model: PanoHeadGenerator, enabled: bool):
    """TF32 on (CUDA), and bf16 autocast around the two StyleGAN synthesis networks; or both off."""
    return precision(model, tf32=enabled, bf16=enabled)


def run(model: PanoHeadGenerator, z: torch.Tensor, cameras: torch.Tensor, seed: int) -> dict[str, torch.Tensor]:
    """Mapping and synthesis of one batch, the unit every figure is per image of."""
    return forward(model, z, cameras, torch.Generator(z.device).manual_seed(seed))


def forward(model: PanoHeadGenerator, z: torch.Tensor, cameras: torch.Tensor,
            generator: torch.Generator) -> dict[str, torch.Tensor]:
    """:func:`run` with the renderer's random generator given (a CUDA graph captures it once)."""
    ws = model.mapping(z, cameras)
    return model.synthesis(ws, cameras, noise_mode="const", generator=generator)


def time_per_image(model, z, cameras, iterations: int, call=run) -> dict[str, float]:
    """Milliseconds per image of each timed ``call(model, z, cameras, seed)`` (one warm-up call first):
    min, median, max, and the mean process CPU time (CPU runs; it counts every thread)."""
    sync = torch.cuda.synchronize if z.device.type == "cuda" else (lambda: None)
    call(model, z, cameras, 0)
    sync()
    batch, wall = z.shape[0], []
    start_cpu = time.process_time()
    for i in range(iterations):
        start = time.perf_counter()
        call(model, z, cameras, i)
        sync()
        wall.append((time.perf_counter() - start) * 1000 / batch)
    cpu = (time.process_time() - start_cpu) * 1000 / (batch * iterations)
    return {"min": min(wall), "median": statistics.median(wall), "max": max(wall), "cpu_mean": cpu}


def spread(ms: dict[str, float]) -> str:
    return f"{ms['median']:.1f} ms/image (min {ms['min']:.1f}, max {ms['max']:.1f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 4])
    parser.add_argument("--iterations", type=int, default=5)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = parser.parse_args()
    device = torch.device(args.device)
    torch.manual_seed(0)
    model = PanoHeadGenerator(PanoHeadConfig.released()).eval().requires_grad_(False).to(device)
    print(f"device={device} torch={torch.__version__} threads={torch.get_num_threads()} cpu={platform.processor() or platform.machine()}")
    with torch.no_grad():
        for batch in args.batches:
            z = torch.randn(batch, 512, device=device, generator=torch.Generator(device).manual_seed(batch))
            cameras = frontal_cameras(batch, device)
            if device.type == "cuda":
                with fast_mode(model, False):  # fp32: TF32 off for matmul and cuDNN
                    torch.cuda.reset_peak_memory_stats()
                    fp32 = time_per_image(model, z, cameras, args.iterations)
                    peak = torch.cuda.max_memory_allocated() / 2**20
                    reference = run(model, z, cameras, 0)["image"]
                with fast_mode(model, True):
                    fast = time_per_image(model, z, cameras, args.iterations)
                    diff = (run(model, z, cameras, 0)["image"] - reference).abs().max().item()
                print(f"batch={batch} fp32 (TF32 off): {spread(fp32)}, peak allocated {peak:.0f} MiB; "
                      f"TF32 + bf16: {spread(fast)}, max|Δ| {diff:.2e}")
            else:
                ms = time_per_image(model, z, cameras, args.iterations)
                peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux → MiB
                print(f"batch={batch} fp32: {spread(ms)} wall, {ms['cpu_mean']:.0f} ms/image process CPU time; "
                      f"process peak RSS so far {peak:.0f} MiB")


if __name__ == "__main__":
    main()
