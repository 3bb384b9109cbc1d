"""Milliseconds per synthetic image (one G.synthesis at batch 1) of a stand-in generator on this CPU.

    python benchmarks/synthetic_speed.py [--config mini] [--threads 2] [--images 10]
"""

from __future__ import annotations

import argparse
import time

import torch

from dualinv.data.synthetic import render_view, sample_zplus, view_label
from dualinv.standin import standin_generator


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="mini")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--images", type=int, default=10)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    generator = standin_generator(args.config)
    _, ws = sample_zplus(generator, seed=0, identity=0, truncation_psi=1.0)
    cameras = [torch.from_numpy(view_label(yaw)).float()[None] for yaw in torch.linspace(-180, 180, args.images + 1)]
    render_view(generator, ws, cameras[0], 0)  # warm-up
    times = []
    for index, camera in enumerate(cameras[1:]):
        started = time.perf_counter()
        render_view(generator, ws, camera, index)
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    print(f"{args.config}: {generator.img_resolution}² images, {args.threads} threads: median {times[len(times) // 2]:.0f} ms, "
          f"min {times[0]:.0f} ms per image over {len(times)}")


if __name__ == "__main__":
    main()
