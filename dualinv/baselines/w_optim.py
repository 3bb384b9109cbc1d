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

import torch
import torch.nn.functional as F
from torch import nn

from dualinv.camera import canonical_cameras
from dualinv.config import WOptimSettings
from dualinv.models.inversion import Inversion, check_inputs, progress, timed_per_image
from dualinv.seeding import derive_seed, make_generator


def learning_rate_at(config: WOptimSettings, step: int) -> float:
    """PanoHead's schedule: ``lr * (0.5 - 0.5 cos(pi * min(1, (1-t)/rampdown))) * min(1, t/rampup)``."""
    t = step / config.steps
    ramp = min(1.0, (1.0 - t) / config.lr_rampdown)
    ramp = 0.5 - 0.5 * math.cos(ramp * math.pi)
    return config.learning_rate * ramp * min(1.0, t / config.lr_rampup)


def perturbation_scale(config: WOptimSettings, step: int, w_std: float) -> float:
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

    max_batch_size = 1
    warm_up = False  # each image is optimised once: its hundreds of steps dwarf start-up costs

    def __init__(
        self,
        generator: nn.Module,          # frozen PanoHead generator (never modified)
        lpips_loss: nn.Module,         # LPIPSLoss("vgg", weights.lpips_vgg), frozen
        config: WOptimSettings = WOptimSettings(),  # the study's baselines.w_optim (PanoHead's projector defaults)
        progress: bool = True,         # show a tqdm bar over the steps
        stand_in: bool = False,        # a seeded generator or LPIPS trunk: never the paper's numbers
    ):
        self.generator, self.lpips_loss, self.config = generator, lpips_loss, config
        self.progress, self.stand_in = progress, stand_in
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
        for step in progress(range(config.steps), "W+ optimisation", self.progress):
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

    def invert(self, images: torch.Tensor, cameras: torch.Tensor) -> Inversion:
        """Optimise codes for all images at once; per-image time = batch wall time / B."""
        def project() -> tuple[torch.Tensor, torch.Tensor, dict[str, float]]:
            ws, terms = self.optimise(images, cameras)
            with torch.no_grad():
                return ws, self.generator.synthesize_trigrid(ws, noise_mode="const"), terms

        (ws, trigrid, terms), seconds = timed_per_image(project, images.shape[0], images.device)
        return Inversion(ws=ws, trigrid=trigrid, generators=(self.generator,) * images.shape[0],
                         seconds_per_image=(seconds,) * images.shape[0], final_terms=terms)
