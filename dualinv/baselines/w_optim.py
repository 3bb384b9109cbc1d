"""W+ optimisation baseline (paper Table 1/2 "W+ optim." [2]): per-image projection into W+.

The paper cites Image2StyleGAN++ and says every baseline ran "with the author's released code" on
PanoHead (§4.2); PanoHead's own ``projector.py:project`` is that code's W+ optimiser, so its
defaults are ours (encoders-baselines.md §4.2, §4.3 [INFERRED]):

* ``ws`` [B, num_ws, w_dim] start at ``w_avg`` repeated (true W+);
* ``w_avg``/``w_std`` from 10,000 z mapped at the canonical front camera (not the mapping's EMA);
* Adam, betas (0.9, 0.999), lr 0.1 with a 5 % linear ramp-up and a cosine ramp-down over the last
  25 %; Gaussian perturbation ``w_std * 0.05 * max(0, 1 - t/0.75)^2`` on the codes;
* loss ``0.1 * MSE(image) + LPIPS(VGG, 256) + 1.0 * mean((ws - w_avg)^2)``; 500 steps; noise
  buffers not optimised (``noise_mode='const'``; Image2StyleGAN++'s optional noise-only pass is
  left out, as PanoHead's projector leaves it out).

Deliberate differences: LPIPS is the ``lpips`` package's calibrated VGG (``dualinv.losses.LPIPSLoss``)
instead of NVLabs' TorchScript ``vgg16.pt`` (a file that runs code when loaded, STYLE.md "avoid" 1);
its value is a mean of normalised distances rather than a sum of squared feature differences.

Batching. Images are optimised together: the loss is the *sum* of per-image losses and Adam is
element-wise, so each image's codes follow the trajectory they would follow alone (up to the
shared perturbation draws). :class:`WPlusOptimiser` also serves as PTI's pivot step
(:mod:`dualinv.baselines.pti`), so the projector loop exists once.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from dualinv.baselines.result import InversionResult, check_inputs, progress, synchronise
from dualinv.camera import canonical_cameras
from dualinv.errors import ConfigError
from dualinv.seeding import derive_seed, make_generator

RenderKey = Literal["image", "image_raw"]


@dataclass(frozen=True)
class WOptimConfig:
    """PanoHead ``project`` defaults (encoders-baselines.md §4.2)."""

    steps: int = 500
    """Optimisation steps per image (PanoHead projector CLI: 500)."""
    learning_rate: float = 0.1
    """Peak Adam learning rate (PanoHead ``initial_learning_rate``)."""
    lr_rampup: float = 0.05
    """Share of the steps with a linear learning-rate ramp-up."""
    lr_rampdown: float = 0.25
    """Share of the steps with a cosine learning-rate ramp-down to 0."""
    initial_noise_factor: float = 0.05
    """Perturbation of the codes at step 0, as a multiple of ``w_std``."""
    noise_ramp: float = 0.75
    """Share of the steps over which the perturbation decays quadratically to 0."""
    lambda_mse: float = 0.1
    """Weight of the pixel MSE at the render's own resolution."""
    lambda_lpips: float = 1.0
    """Weight of LPIPS (both images average-pooled to ``lpips_resolution``)."""
    lambda_w_norm: float = 1.0
    """Weight of ``mean((ws - w_avg)^2)``."""
    lpips_resolution: int = 256
    """Side LPIPS is computed at (PanoHead: 256)."""
    w_avg_samples: int = 10_000
    """z samples mapped at the front camera to estimate ``w_avg`` and ``w_std``."""
    render_key: RenderKey = "image"
    """Which render is compared with the target: the super-resolved ``image`` (paper) or ``image_raw``."""
    seed: int = 303
    """Seed of the ``w_avg`` samples, the perturbations and the renderer's jitter (PanoHead: 303)."""
    progress: bool = True
    """Show a tqdm progress bar."""

    def __post_init__(self) -> None:
        problems = [f"{name} must be >= 1" for name in ("steps", "lpips_resolution", "w_avg_samples")
                    if getattr(self, name) < 1]
        problems += [f"{name} must be > 0" for name in ("learning_rate",) if getattr(self, name) <= 0]
        problems += [f"{name} must lie in (0, 1]" for name in ("lr_rampup", "lr_rampdown", "noise_ramp")
                     if not 0 < getattr(self, name) <= 1]
        problems += [f"{name} must be >= 0" for name in ("initial_noise_factor", "lambda_mse", "lambda_lpips",
                                                         "lambda_w_norm") if getattr(self, name) < 0]
        if self.render_key not in ("image", "image_raw"):
            problems.append(f"render_key must be 'image' or 'image_raw', got {self.render_key!r}")
        if problems:
            raise ConfigError("baselines.w_optim: " + "; ".join(problems))


def learning_rate_at(config: WOptimConfig, step: int) -> float:
    """PanoHead's schedule: ``lr * (0.5 - 0.5 cos(pi * min(1, (1-t)/rampdown))) * min(1, t/rampup)``."""
    t = step / config.steps
    ramp = min(1.0, (1.0 - t) / config.lr_rampdown)
    ramp = 0.5 - 0.5 * math.cos(ramp * math.pi)
    return config.learning_rate * ramp * min(1.0, t / config.lr_rampup)


def perturbation_scale(config: WOptimConfig, step: int, w_std: float) -> float:
    """Std of the Gaussian added to the codes at ``step``: ``w_std * factor * max(0, 1 - t/ramp)^2``."""
    t = step / config.steps
    return w_std * config.initial_noise_factor * max(0.0, 1.0 - t / config.noise_ramp) ** 2


@torch.no_grad()
def w_statistics(generator: nn.Module, samples: int, seed: int, chunk: int = 1000) -> tuple[torch.Tensor, float]:
    """``w_avg`` [1, 1, w_dim] and scalar ``w_std`` of ``samples`` z mapped at the front camera (§4.2)."""
    device = next(generator.parameters()).device
    rng = make_generator(seed)
    front = canonical_cameras(device=device)["front"]
    ws = []
    for start in range(0, samples, chunk):
        count = min(chunk, samples - start)
        z = torch.randn(count, generator.z_dim, generator=rng).to(device)
        ws.append(generator.mapping(z, front.expand(count, -1))[:, :1].float())  # [N, 1, K]
    ws = torch.cat(ws)
    w_avg = ws.mean(dim=0, keepdim=True)  # [1, 1, K]
    w_std = float((ws - w_avg).square().sum() / samples) ** 0.5
    return w_avg, w_std


def reconstruction_terms(render: torch.Tensor, target: torch.Tensor, lpips_loss: nn.Module,
                         lpips_resolution: int) -> dict[str, torch.Tensor]:
    """Batch-mean ``loss_mse`` (render resolution) and ``loss_lpips`` (at ``lpips_resolution``)."""
    if target.shape[-1] != render.shape[-1]:
        target = F.interpolate(target, size=render.shape[-2:], mode="area")
    side = min(lpips_resolution, render.shape[-1])
    return {"loss_mse": F.mse_loss(render, target),
            "loss_lpips": lpips_loss(F.adaptive_avg_pool2d(render, side), F.adaptive_avg_pool2d(target, side))}


class WPlusOptimiser:
    """The ``w_optim`` baseline: :meth:`invert` images [B,3,H,W] at cameras [B,25] into W+."""

    def __init__(
        self,
        generator: nn.Module,          # frozen PanoHead generator (never modified)
        lpips_loss: nn.Module,         # LPIPSLoss("vgg", weights.lpips_vgg), frozen
        config: WOptimConfig = WOptimConfig(),
    ):
        self.generator, self.lpips_loss, self.config = generator, lpips_loss, config
        self.w_avg, self.w_std = w_statistics(generator, config.w_avg_samples, derive_seed(config.seed, "w_avg"))

    def optimise(self, images: torch.Tensor, cameras: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
        """The projector loop: optimised ``ws`` [B, num_ws, w_dim] (detached) and the last step's terms."""
        config, generator = self.config, self.generator
        check_inputs(images, cameras)
        device = images.device
        batch = images.shape[0]
        w_avg = self.w_avg.to(device)
        ws = w_avg.repeat(batch, generator.num_ws, 1).clone().requires_grad_(True)  # [B, L, K]
        optimiser = torch.optim.Adam([ws], betas=(0.9, 0.999), lr=config.learning_rate)
        rng = make_generator(derive_seed(config.seed, "steps"), device=device)
        terms: dict[str, float] = {}
        for step in progress(range(config.steps), "W+ optimisation", config.progress):
            for group in optimiser.param_groups:
                group["lr"] = learning_rate_at(config, step)
            noise = torch.randn(ws.shape, generator=rng, device=device) * perturbation_scale(config, step, self.w_std)
            render = generator.synthesis(ws + noise, cameras, noise_mode="const", generator=rng)[config.render_key]
            named = reconstruction_terms(render, images, self.lpips_loss, config.lpips_resolution)
            named["loss_w_norm"] = (ws - w_avg).square().mean()
            total = (config.lambda_mse * named["loss_mse"] + config.lambda_lpips * named["loss_lpips"]
                     + config.lambda_w_norm * named["loss_w_norm"])
            optimiser.zero_grad(set_to_none=True)
            (total * batch).backward()  # sum of per-image losses: images do not share a step size
            optimiser.step()
            terms = {name: float(value.detach()) for name, value in named.items()} | {"loss_total": float(total.detach())}
        return ws.detach(), terms

    def invert(self, images: torch.Tensor, cameras: torch.Tensor) -> InversionResult:
        """Optimise codes for all images at once; per-image time = batch wall time / B."""
        started = time.perf_counter()
        ws, terms = self.optimise(images, cameras)
        with torch.no_grad():
            trigrid = self.generator.synthesize_trigrid(ws, noise_mode="const")
        synchronise(images.device)
        seconds = (time.perf_counter() - started) / images.shape[0]
        return InversionResult(ws=ws, trigrid=trigrid, generators=(self.generator,) * images.shape[0],
                               seconds_per_image=(seconds,) * images.shape[0], final_terms=terms)
