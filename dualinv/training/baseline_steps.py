"""The updates a step makes, chosen once per experiment, and the two that only baselines take.

:func:`updates_for` is the single place that decides which encoder update and which
discriminator update an experiment uses: ours take :func:`~dualinv.training.steps.encoder_step`
and, with a discriminator, :func:`~dualinv.training.steps.discriminator_step`; e4e adds its latent
discriminator step (encoders-baselines.md §2.3); TriPlaneNet v2 replaces the encoder update by its
two-optimiser, phased update (§3.1). Like the shared steps, each returns named loss terms.
"""

from __future__ import annotations

from typing import Callable

import torch

from dualinv.baselines.training_policies import triplanenet_trains
from dualinv.losses.adversarial import discriminator_adversarial_loss, lazy_r1_loss, r1_due
from dualinv.models.inversion import fit_side
from dualinv.training.components import TrainingComponents
from dualinv.training.steps import (
    CheckFinite,
    EncodedHeads,
    TrainingBatch,
    discriminator_step,
    encoder_step,
    floats,
    optimise,
)

EncoderUpdate = Callable[[TrainingComponents, TrainingBatch, int, torch.Generator, CheckFinite],
                         tuple[dict[str, float], EncodedHeads]]
DiscriminatorUpdate = Callable[[TrainingComponents, TrainingBatch, EncodedHeads, int, torch.Generator, CheckFinite],
                               dict[str, float]]


def updates_for(components: TrainingComponents) -> tuple[EncoderUpdate, DiscriminatorUpdate | None]:
    """(encoder update, discriminator update or None) of ``components``' experiment."""
    baseline = components.baseline
    if baseline is not None and baseline.feature_optimiser is not None:
        return triplanenet_encoder_step, None
    if baseline is not None and baseline.latent_discriminator is not None:
        return encoder_step, latent_discriminator_step
    return encoder_step, discriminator_step if components.discriminator is not None else None


def triplanenet_encoder_step(components: TrainingComponents, batch: TrainingBatch, step: int, rng: torch.Generator,
                             check_finite: CheckFinite) -> tuple[dict[str, float], EncodedHeads]:
    """TriPlaneNet v2 (§3.1): the W+ stage steps on its own render's loss (pSp weights) while
    ``step < stop_psp``; from ``add_triplanenet`` on, the F stage takes its own Ranger step on the final
    render (SmoothL1 in place of L2) on top of the detached W+ outputs. Both stages add the mirror
    loss (weight ``mirror_lambda``): the same objective on the render at the mirrored camera against
    the flipped target. F-stage terms are logged as ``loss_f_*``, mirror terms end in ``_mirror``."""
    baseline, encoder, generator = components.baseline, components.encoder, components.generator
    schedule = baseline.policy.triplanenet
    trains = triplanenet_trains(schedule, step)
    images = fit_side(batch.images, components.input_side)
    target = fit_side(batch.images, components.config.training.loss_resolution)
    values: dict[str, float] = {}
    with components.autocast(), torch.set_grad_enabled(trains["w_plus"]):
        ws = encoder.latent_codes(images, generator)
        trigrid_w = generator.synthesize_trigrid(ws, noise_mode="const")
        render_w, render_w_mirrored = _render_with_mirror(components, trigrid_w, ws, batch.cameras, rng,
                                                          schedule.mirror_lambda if trains["w_plus"] else 0.0)
    if trains["w_plus"]:
        with components.autocast():
            total, terms = _objective_with_mirror(components.encoder_objective, render_w, render_w_mirrored, target,
                                                  components.config.training.loss_resolution, schedule.mirror_lambda)
        values |= {**floats(terms), "loss_encoder": float(total.detach())}
        check_finite(values)
        optimise(components.encoder_optimiser, total)
    ws, trigrid, render = ws.detach(), trigrid_w.detach(), {key: value.detach() for key, value in render_w.items()}
    if trains["feature_stage"]:
        with components.autocast():
            trigrid = encoder.refine(images, batch.cameras, generator, ws, trigrid, rng)
            render, render_mirrored = _render_with_mirror(components, trigrid, ws, batch.cameras, rng,
                                                          schedule.mirror_lambda)
            total, terms = _objective_with_mirror(baseline.feature_objective, render, render_mirrored, target,
                                                  components.config.training.loss_resolution, schedule.mirror_lambda)
        feature_values = {"loss_f_" + name.removeprefix("loss_"): value for name, value in floats(terms).items()}
        values |= {**feature_values, "loss_f_encoder": float(total.detach())}
        check_finite(values)
        optimise(baseline.feature_optimiser, total)
        trigrid, render = trigrid.detach(), {key: value.detach() for key, value in render.items()}
    return values, EncodedHeads(ws=ws, trigrid=trigrid, render=render)


def _render_with_mirror(components: TrainingComponents, trigrid: torch.Tensor, ws: torch.Tensor,
                        cameras: torch.Tensor, rng: torch.Generator,
                        mirror_lambda: float) -> tuple[dict[str, torch.Tensor], torch.Tensor | None]:
    """The render at ``cameras`` and, when the mirror loss is on, the image at the mirrored cameras
    (one batched render of both halves)."""
    if mirror_lambda <= 0:
        return components.render(trigrid, ws, cameras, rng), None
    both = components.render(torch.cat([trigrid, trigrid]), torch.cat([ws, ws]),
                             torch.cat([cameras, components.mirror_cameras(cameras)]), rng)
    render = {key: value.chunk(2)[0] for key, value in both.items()}
    return render, both["image"].chunk(2)[1]


def _objective_with_mirror(objective: Callable[..., tuple[torch.Tensor, dict]], render: dict[str, torch.Tensor],
                           mirrored_image: torch.Tensor | None, target: torch.Tensor, side: int,
                           mirror_lambda: float) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """``objective(render, target) + mirror_lambda · objective(mirrored render, flipped target)`` (§3.1).

    TriPlaneNet v2 divides the mirror view's pixel term by ``conf + 1``, with ``conf`` an unsup3d
    symmetry-confidence map; without such maps (none ship with any dataset here) ``conf = 0`` and the
    term is the plain pixel loss, which is what its code does when no map is given.
    """
    total, terms = objective(fit_side(render["image"].float(), side), target)
    if mirrored_image is None:
        return total, terms
    mirror_total, mirror_terms = objective(fit_side(mirrored_image.float(), side), target.flip(-1))
    terms = {**terms, **{f"{name}_mirror": value for name, value in mirror_terms.items()}}
    terms["loss_mirror"] = mirror_total
    return total + mirror_lambda * mirror_total, terms


def latent_discriminator_step(components: TrainingComponents, batch: TrainingBatch, heads: EncodedHeads, step: int,
                              rng: torch.Generator, check_finite: CheckFinite) -> dict[str, float]:
    """e4e's latent GAN (§2.3): real = ``mapping(z)`` codes (front camera), fake = one active code per
    sample through the codes pool; ``softplus(-D(real)) + softplus(D(fake))``, lazy R1 on real codes."""
    baseline = components.baseline
    discriminator, recipe = baseline.latent_discriminator, baseline.policy.e4e
    stage = baseline.policy.stage(step)
    batch_size = heads.ws.shape[0]
    positions = torch.randint(stage + 1, (batch_size,), generator=rng, device=rng.device).to(heads.ws.device)
    fake = baseline.codes_pool.query(heads.ws[torch.arange(batch_size, device=heads.ws.device), positions], rng)
    with torch.no_grad():
        real = components.zplus_ws(batch_size, rng)[:, 0]  # w = M(z) of one z per sample
    real = real.float().requires_grad_(True)
    real_logits = discriminator(real)
    fake_logits = discriminator(fake.float())
    terms = {"loss_w_d": discriminator_adversarial_loss(real_logits, fake_logits)}
    total = terms["loss_w_d"]
    terms["loss_w_r1"] = real_logits.new_zeros(())
    if r1_due(step, recipe.r1_every):
        terms["loss_w_r1"] = lazy_r1_loss(real_logits, real, recipe.r1_gamma, recipe.r1_every)
        total = total + terms["loss_w_r1"]
    values = {**floats(terms), "loss_w_discriminator": float(total.detach())}
    check_finite(values)
    optimise(baseline.latent_discriminator_optimiser, total)
    return values
