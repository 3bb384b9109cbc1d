"""Seconds per image of the optimisation baselines (Table 1 "Time sec": W+ optim. 49.19, PTI 86.52 on an RTX 4090).

Prints figures; not a test. Random weights (a stand-in generator and LPIPS trunk): the time per
step does not depend on the weights. Usage:
    python benchmarks/baselines_speed.py --size tiny   [--w-steps 10 --pti-steps 10] [--batch 1]
    python benchmarks/baselines_speed.py --size paper  --device cuda   # 500 W+ steps + 350 PTI steps, 512²
W+ figures are also scaled linearly to the paper's 500 steps.
"""

from __future__ import annotations

import argparse
import platform
import time

import torch

from dualinv.baselines import PivotalTuning, WPlusOptimiser
from dualinv.config import PTISettings, WOptimSettings
from dualinv.camera import canonical_cameras
from dualinv.losses import LPIPSLoss
from dualinv.panohead import PanoHeadConfig, PanoHeadGenerator
from dualinv.panohead.config import TINY_INIT_KWARGS
from dualinv.standin import build_seeded


def generator_for(size: str) -> PanoHeadGenerator:
    if size == "paper":
        config = PanoHeadConfig.released()
    else:  # the fixture architecture with the 2x SR head (128²), 16² rendering
        rendering = {**TINY_INIT_KWARGS["rendering_kwargs"],
                     "superresolution_module": "training.superresolution.SuperresolutionHybrid2X"}
        config = PanoHeadConfig.from_init_kwargs({**TINY_INIT_KWARGS, "img_resolution": 128,
                                                  "rendering_kwargs": rendering}, neural_rendering_resolution=16)
    return build_seeded(lambda: PanoHeadGenerator(config), 0).eval().requires_grad_(False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", choices=("tiny", "paper"), default="tiny")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--w-steps", type=int, default=None, help="default: 10 tiny, 500 paper")
    parser.add_argument("--pti-steps", type=int, default=None, help="default: 10 tiny, 350 paper")
    args = parser.parse_args()
    device = torch.device(args.device)
    w_steps = args.w_steps or (500 if args.size == "paper" else 10)
    pti_steps = args.pti_steps or (350 if args.size == "paper" else 10)
    generator = generator_for(args.size).to(device)
    lpips_loss = LPIPSLoss("vgg").to(device)
    cameras = canonical_cameras(device=device)["front"].expand(args.batch, -1).clone()
    images = torch.rand(args.batch, 3, generator.img_resolution, generator.img_resolution,
                        generator=torch.Generator().manual_seed(0)).to(device) * 2 - 1
    w_config = WOptimSettings(steps=w_steps, w_avg_samples=1000)
    print(f"{platform.node()} {platform.machine()} torch {torch.__version__} device={device} "
          f"threads={torch.get_num_threads()} size={args.size} image={generator.img_resolution}² batch={args.batch}")
    w_optim = WPlusOptimiser(generator, lpips_loss, w_config, progress=False)
    started = time.perf_counter()
    result = w_optim.invert(images, cameras)
    print(f"w_optim: {w_steps} steps, {result.seconds_per_image[0]:.2f} s/image "
          f"({result.seconds_per_image[0] / w_steps * 500:.1f} s/image at 500 steps), wall {time.perf_counter() - started:.1f} s")
    pti = PivotalTuning(generator, lpips_loss, PTISettings(pivot_steps=w_steps, steps=pti_steps), w_config,
                        progress=False)
    result = pti.invert(images, cameras)
    print(f"pti: {w_steps} pivot + {pti_steps} tuning steps, {result.seconds_per_image[0]:.2f} s/image")
    if device.type == "cuda":
        print(f"peak CUDA memory {torch.cuda.max_memory_allocated(device) / 2**30:.2f} GiB")


if __name__ == "__main__":
    main()
