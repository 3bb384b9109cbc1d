"""PTI baseline (paper Table 1/2 "PTI" [30]): a W+ pivot, then per-image generator fine-tuning.

Defaults follow PanoHead's ``project_pti`` (the authors' released code for PanoHead,
encoders-baselines.md §4.2): the pivot is the W+ optimisation of :mod:`dualinv.baselines.w_optim`
(500 steps; no second copy of the projector loop), then a deep copy of the generator is tuned,
every parameter trainable, with Adam at a constant 3e-4 for 350 steps on ``0.1 * MSE + LPIPS``
at the pivot. Original PTI's options (§4.1) are config fields: ``lambda_mse = 1`` with AlexNet
LPIPS, and an early stop at LPIPS <= 0.06; locality regularisation is off in both, and left out.

The tuned generator is a ``copy.deepcopy`` made per image: the shared generator's parameters and
buffers are never touched (tests check this), which is also why PTI tri-grids cannot be mixed
across images (paper §5.3).
"""

from __future__ import annotations

import copy
import dataclasses

import torch
from torch import nn

from dualinv.baselines.w_optim import WPlusOptimiser, reconstruction_terms
from dualinv.config import PTISettings, WOptimSettings
from dualinv.models.inversion import Inversion, check_inputs, progress, timed_per_image
from dualinv.seeding import derive_seed, make_generator


def tunable_copy(generator: nn.Module) -> nn.Module:
    """An independent deep copy of ``generator`` with every parameter trainable (PTI step 2)."""
    tuned = copy.deepcopy(generator)
    tuned.requires_grad_(True)
    return tuned


class PivotalTuning:
    """The ``pti`` baseline: :meth:`invert` = batched W+ pivot, then one tuned generator per image."""

    max_batch_size = 1
    warm_up = False  # each image is tuned once: its hundreds of steps dwarf start-up costs

    def __init__(
        self,
        generator: nn.Module,          # shared frozen PanoHead generator (never modified)
        lpips_loss: nn.Module,         # LPIPSLoss("vgg", weights.lpips_vgg), frozen
        config: PTISettings = PTISettings(),          # the study's baselines.pti
        w_optim: WOptimSettings = WOptimSettings(),   # baselines.w_optim: the pivot's loop, for pti.pivot_steps
        progress: bool = True,         # show a tqdm bar per image
        stand_in: bool = False,        # a seeded generator or LPIPS trunk: never the paper's numbers
    ):
        self.generator, self.lpips_loss, self.config = generator, lpips_loss, config
        self.progress, self.stand_in = progress, stand_in
        self.pivot_config = dataclasses.replace(w_optim, steps=config.pivot_steps)
        self.pivot = WPlusOptimiser(generator, lpips_loss, self.pivot_config, progress=progress)

    def tune(self, image: torch.Tensor, camera: torch.Tensor, ws: torch.Tensor) -> tuple[nn.Module, dict[str, float]]:
        """Fine-tune a copy of the generator so that its render of pivot ``ws`` [1,L,K] matches ``image`` [1,3,H,W]."""
        config = self.config
        tuned = tunable_copy(self.generator)
        optimiser = torch.optim.Adam(tuned.parameters(), lr=config.learning_rate)
        rng = make_generator(derive_seed(config.seed, "tune"), device=image.device)
        terms: dict[str, float] = {}
        for _ in progress(range(config.steps), "PTI tuning", self.progress):
            render = tuned.synthesis(ws, camera, noise_mode="const", generator=rng)[self.pivot_config.render_key]
            named = reconstruction_terms(render, image, self.lpips_loss, self.pivot_config.lpips_resolution)
            terms = {name: float(value.detach()) for name, value in named.items()}
            if config.early_stop_lpips is not None and terms["loss_lpips"] <= config.early_stop_lpips:
                break
            total = config.lambda_mse * named["loss_mse"] + config.lambda_lpips * named["loss_lpips"]
            optimiser.zero_grad(set_to_none=True)
            total.backward()
            optimiser.step()
        return tuned.eval().requires_grad_(False), terms

    def invert(self, images: torch.Tensor, cameras: torch.Tensor) -> Inversion:
        """Pivot all images together (time shared equally), then tune each image on its own copy."""
        check_inputs(images, cameras)
        batch = images.shape[0]
        (ws, _), pivot_seconds = timed_per_image(lambda: self.pivot.optimise(images, cameras), batch, images.device)
        generators, seconds, trigrids, terms = [], [], [], {}
        for index in range(batch):
            def tune_one(index: int = index) -> tuple[nn.Module, dict[str, float], torch.Tensor]:
                tuned, terms = self.tune(images[index:index + 1], cameras[index:index + 1], ws[index:index + 1])
                with torch.no_grad():
                    return tuned, terms, tuned.synthesize_trigrid(ws[index:index + 1], noise_mode="const")

            (tuned, terms, trigrid), tuning_seconds = timed_per_image(tune_one, 1, images.device)
            generators.append(tuned)
            trigrids.append(trigrid)
            seconds.append(pivot_seconds + tuning_seconds)
        return Inversion(ws=ws, trigrid=torch.cat(trigrids), generators=tuple(generators),
                         seconds_per_image=tuple(seconds), final_terms=terms)
