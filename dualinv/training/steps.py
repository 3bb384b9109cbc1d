"""One training step, split into what it does: build the batch, update the encoder, update D.

Each function takes the components and the batch explicitly and returns a dict of named loss terms
(STYLE.md item 14); none keeps state. Randomness arrives as a ``torch.Generator`` derived from
(seed, step) by :mod:`dualinv.training.schedule`. In multi-GPU training every process builds the
global batch, keeps its share (:func:`rank_share`) and draws the rest of the step through a
:class:`~dualinv.seeding.RowShard`; loss terms are averaged over the processes and so are gradients.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import torch

from dualinv.distributed import Ranks, average_gradients, mean_over_ranks
from dualinv.models.inversion import fit_side
from dualinv.seeding import StepGenerator
from dualinv.training.components import TrainingComponents

CheckFinite = Callable[[dict[str, float]], None]


@dataclass
class TrainingBatch:
    """Targets and their cameras for one step."""

    images: torch.Tensor
    """[B, 3, H, W] in [-1, 1], at the dataset's resolution."""
    cameras: torch.Tensor
    """[B, 25] camera labels of the targets."""
    is_generated: torch.Tensor
    """[B] bool: which targets are Z+ generator samples rather than real photos."""


@dataclass
class EncodedHeads:
    """What the encoder made of a batch: codes, tri-grid and the same-view render."""

    ws: torch.Tensor
    """[B, num_ws, w_dim]."""
    trigrid: torch.Tensor
    """[B, 3, D*C, H, W] after the optional F stage."""
    render: dict[str, torch.Tensor]
    """The generator's outputs at the input cameras (``image``, ``image_depth``, ``image_mask``...)."""


def training_batch(components: TrainingComponents, indices: list[int], rng: torch.Generator) -> TrainingBatch:
    """Real samples at ``indices``, a share replaced by Z+ generator samples, then mirrored (paper §4.1).

    A Z+ sample keeps the camera of the real sample it replaces, so generated inputs follow the
    dataset's pose distribution; the render of its Z+ code at that camera is the target (Table 4).
    """
    config, device = components.config.training, components.device
    images, cameras = components.real_samples(indices)
    images, cameras = images.to(device), cameras.to(device)
    draws = torch.rand(images.shape[0], 2, generator=rng, device=device)  # [B, (zplus, mirror)]
    is_generated = draws[:, 0] < components.zplus_share
    if bool(is_generated.any()):
        with torch.no_grad():
            generated = components.zplus_images(cameras[is_generated], rng).float().clamp(-1, 1)  # image range
        images = images.clone()
        images[is_generated] = fit_side(generated, images.shape[-1])
    mirrored = draws[:, 1] < config.mirror_probability
    if bool(mirrored.any()):
        images = torch.where(mirrored[:, None, None, None], images.flip(-1), images)
        cameras = torch.where(mirrored[:, None], components.mirror_cameras(cameras), cameras)
    return TrainingBatch(images=images, cameras=cameras, is_generated=is_generated)


def rank_share(batch: TrainingBatch, ranks: Ranks | None) -> TrainingBatch:
    """This process's rows of the global batch (:meth:`~dualinv.distributed.Ranks.rows`); all of it for one process.

    Every process builds the whole batch (its Z+ replacements included) so that the step generator
    advances as in one process; the Z+ renders of the other processes' rows are the price (no-grad).
    """
    if ranks is None:
        return batch
    rows = ranks.rows(batch.images.shape[0])
    return TrainingBatch(images=batch.images[rows], cameras=batch.cameras[rows], is_generated=batch.is_generated[rows])


def encoder_step(components: TrainingComponents, batch: TrainingBatch, step: int, rng: StepGenerator,
                 check_finite: CheckFinite) -> tuple[dict[str, float], EncodedHeads]:
    """Eq. 5 (reconstruction), plus λ4·softplus(−D(O_π T_enc)) of Eq. 6/7 when the experiment has a D,
    plus a baseline's own terms (e4e: delta regularisation and latent adversarial term, §2.2-2.3)."""
    config = components.config.training
    with components.autocast():
        ws, trigrid = components.encode(fit_side(batch.images, components.input_side), batch.cameras, rng)
        render = components.render(trigrid, ws, batch.cameras, rng)
        fake_logits = None
        if components.discriminator is not None:
            fake, mask = components.discriminator_input(ws, trigrid, render, batch.cameras, rng)
            fake_logits = components.discriminator(fake, mask).float()
        total, terms = components.encoder_objective(fit_side(render["image"].float(), config.loss_resolution),
                                                    fit_side(batch.images, config.loss_resolution),
                                                    fake_logits=fake_logits)
        if components.baseline is not None:
            baseline = components.baseline
            extra_total, extra_terms = baseline.policy.extra_terms(ws.float(), step, baseline.latent_discriminator)
            total, terms = total + extra_total, {**terms, **extra_terms}
    values = mean_over_ranks({**floats(terms), "loss_encoder": float(total.detach())}, components.ranks)
    check_finite(values)
    optimise(components.encoder_optimiser, total, components.ranks)
    return values, EncodedHeads(ws=ws.detach(), trigrid=trigrid.detach(),
                                render={key: value.detach() for key, value in render.items()})


def discriminator_step(components: TrainingComponents, batch: TrainingBatch, heads: EncodedHeads, step: int,
                       rng: StepGenerator, check_finite: CheckFinite) -> dict[str, float]:
    """Eq. 8/9 (λ = 0.5): real = Z+ tri-grids (or renders), fake = the detached encoded ones; lazy R1 (A.2)."""
    discriminator = components.discriminator
    with components.autocast():
        fake, fake_mask = components.discriminator_input(heads.ws, heads.trigrid, heads.render, batch.cameras, rng)
        real, real_mask = components.discriminator_input(None, None, None, batch.cameras, rng)
        real = real.detach().float().requires_grad_(True)
        fake_logits = discriminator(fake.detach(), fake_mask).float()
        real_logits = discriminator(real, real_mask).float()
    total, terms = components.discriminator_objective(real_logits, fake_logits, step=step, real_inputs=real)
    values = mean_over_ranks({**floats(terms), "loss_discriminator": float(total.detach())}, components.ranks)
    check_finite(values)
    optimise(components.discriminator_optimiser, total, components.ranks)
    return values


def optimise(optimiser: torch.optim.Optimizer, total: torch.Tensor, ranks: Ranks | None = None) -> None:
    """One update of ``optimiser``'s parameters on ``total`` (gradients cleared first, then averaged over
    the processes of a multi-GPU run: the gradient of the global batch mean)."""
    optimiser.zero_grad(set_to_none=True)
    total.backward()
    average_gradients((parameter for group in optimiser.param_groups for parameter in group["params"]), ranks)
    optimiser.step()


def floats(terms: dict[str, torch.Tensor]) -> dict[str, float]:
    return {name: float(value.detach()) for name, value in terms.items()}


def non_finite_terms(terms: dict[str, float]) -> list[str]:
    return [name for name, value in terms.items() if not math.isfinite(value)]
