"""Speed and peak memory of one 512² PanoHead synthesis (released architecture, random weights).

Prints figures; not a test. Usage:
    python benchmarks/panohead_speed.py [--batches 1 4] [--iterations 3] [--device cpu|cuda]

On CUDA it times fp32 (TF32 off) and the fast mode (TF32 matmul/conv on, bf16 autocast on the
backbone and background networks only), and reports the fast mode's max |Δ| against fp32.
"""

from __future__ import annotations

import argparse
import contextlib
import platform
import resource
import time

import torch

from dualinv.panohead import PanoHeadConfig, PanoHeadGenerator


def frontal_cameras(batch: int, device: torch.device) -> torch.Tensor:
    camera = torch.tensor([1, 0, 0, 0, 0, -1, 0, 0, 0, 0, -1, 2.7, 0, 0, 0, 1, 4.2647, 0, 0.5, 0, 4.2647, 0.5, 0, 0, 1.0])
    return camera.to(device).expand(batch, 25).clone()


@contextlib.contextmanager
def fast_mode(model: PanoHeadGenerator, enabled: bool):
    """TF32 on, and bf16 autocast around the two StyleGAN synthesis networks (CUDA only)."""
    saved = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = enabled
    handles = []
    if enabled:
        for net in (model.backbone.synthesis, model.bcg_synthesis):
            autocast = torch.autocast("cuda", dtype=torch.bfloat16)

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


def run(model: PanoHeadGenerator, ws: torch.Tensor, cameras: torch.Tensor, seed: int) -> dict[str, torch.Tensor]:
    return model.synthesis(ws, cameras, noise_mode="const", generator=torch.Generator(ws.device).manual_seed(seed))


def time_synthesis(model, ws, cameras, iterations: int) -> tuple[float, float]:
    """Wall and process-CPU milliseconds per image: one warm-up call, then the mean over ``iterations``."""
    sync = torch.cuda.synchronize if ws.device.type == "cuda" else (lambda: None)
    run(model, ws, cameras, 0)
    sync()
    start, start_cpu = time.perf_counter(), time.process_time()
    for i in range(iterations):
        run(model, ws, cameras, i)
    sync()
    per_image = iterations * ws.shape[0] / 1000
    return (time.perf_counter() - start) / per_image, (time.process_time() - start_cpu) / per_image


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 4])
    parser.add_argument("--iterations", type=int, default=3)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = parser.parse_args()
    device = torch.device(args.device)
    torch.manual_seed(0)
    model = PanoHeadGenerator(PanoHeadConfig.released()).eval().requires_grad_(False).to(device)
    print(f"device={device} torch={torch.__version__} threads={torch.get_num_threads()} cpu={platform.processor() or platform.machine()}")
    with torch.no_grad():
        for batch in args.batches:
            ws = model.mapping(torch.randn(batch, 512, device=device), frontal_cameras(batch, device))
            cameras = frontal_cameras(batch, device)
            if device.type == "cuda":
                torch.cuda.reset_peak_memory_stats()
                ms, _ = time_synthesis(model, ws, cameras, args.iterations)
                peak = torch.cuda.max_memory_allocated() / 2**20
                reference = run(model, ws, cameras, 0)["image"]
                with fast_mode(model, True):
                    fast_ms, _ = time_synthesis(model, ws, cameras, args.iterations)
                    diff = (run(model, ws, cameras, 0)["image"] - reference).abs().max().item()
                print(f"batch={batch} fp32: {ms:.1f} ms/image, peak {peak:.0f} MiB; fast: {fast_ms:.1f} ms/image, max|Δ| {diff:.2e}")
            else:
                ms, cpu_ms = time_synthesis(model, ws, cameras, args.iterations)
                peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux → MiB
                print(f"batch={batch} fp32: {ms:.0f} ms/image wall ({cpu_ms:.0f} ms process CPU time), process peak RSS so far {peak:.0f} MiB")


if __name__ == "__main__":
    main()
