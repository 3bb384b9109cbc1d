"""One training step, split into what it does: build the batch, update the encoder, update D.

Each function takes the models and the batch explicitly and returns a dict of named loss terms
(STYLE.md item 14); none of them keeps state. Randomness arrives as ``torch.Generator`` objects
derived from (seed, step) by :mod:`dualinv.training.schedule`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from dualinv.training.components import TrainingComponents


@dataclass
class TrainingBatch:
    """Targets and their cameras for one step."""

    images: torch.Tensor
    """[B, 3, H, W] in [-1, 1], at the generator's output resolution."""
    cameras: torch.Tensor
    """[B, 25] camera labels (cam2world + normalised intrinsics) of the targets."""
    is_generated: torch.Tensor
    """[B] bool: which targets are Z+ generator samples rather than real photos."""


@dataclass
class EncodedHeads:
    """What an encoder made of a batch: latent codes, tri-grid and the same-view render."""

    ws: torch.Tensor
    """[B, num_ws, w_dim]."""
    trigrid: torch.Tensor
    """[B, 3, D*C, H, W] after the optional F stage."""
    render: dict[str, torch.Tensor]
    """The generator's output dict at the input cameras (``image``, ``image_raw``, ``image_depth``...)."""


def training_batch(components: TrainingComponents, indices: list[int], rng: torch.Generator) -> TrainingBatch:
    """Real samples at ``indices``, a share replaced by Z+ generator samples, then mirrored (paper §4.1).

    A Z+ sample keeps the camera of the real sample it replaces, so generated inputs follow the
    pose distribution of the dataset; its 14 z vectors go through the mapping and the render at
    that camera is the target (Table 4, "Z+ gens.").
    """
    config, device = components.config, components.device
    images, cameras = components.real_samples(indices)
    images, cameras = images.to(device), cameras.to(device)
    batch = images.shape[0]
    draws = torch.rand(batch, 2, generator=rng, device=device)  # [B, (zplus, mirror)]
    is_generated = draws[:, 0] < components.zplus_share
    if bool(is_generated.any()):
        with torch.no_grad():
            generated = components.zplus_images(cameras[is_generated], rng)
        images = images.clone()
        images[is_generated] = F.interpolate(generated, size=images.shape[-2:], mode="area") \
            if generated.shape[-1] != images.shape[-1] else generated
    mirrored = draws[:, 1] < config.mirror_probability
    if bool(mirrored.any()):
        images = torch.where(mirrored[:, None, None, None], images.flip(-1), images)
        cameras = torch.where(mirrored[:, None], components.mirror_cameras(cameras), cameras)
    return TrainingBatch(images=images, cameras=cameras, is_generated=is_generated)


def encode(components: TrainingComponents, batch: TrainingBatch, rng: torch.Generator) -> EncodedHeads:
    """Eq. 1/6: image → encoder → (ws, tri-grid) → render at the input camera."""
    encoder_input = resize(batch.images, components.config.encoder_resolution)
    ws, trigrid = components.encode(encoder_input, batch.cameras, rng)
    render = components.render(trigrid, ws, batch.cameras, rng)
    return EncodedHeads(ws=ws, trigrid=trigrid, render=render)


def encoder_step(components: TrainingComponents, batch: TrainingBatch, rng: torch.Generator,
                 check_finite) -> tuple[dict[str, float], EncodedHeads]:
    """Eq. 5 (reconstruction) plus, with a discriminator, λ4·softplus(-D(O_π T_enc)) of Eq. 6/7."""
    config = components.config
    with components.autocast():
        heads = encode(components, batch, rng)
        size = config.loss_resolution
        total, terms = components.reconstruction_loss(resize(heads.render["image"].float(), size),
                                                      resize(batch.images, size))
        if components.discriminator is not None:
            logits = components.discriminator(components.discriminator_input(heads, batch, rng, fake=True))
            loss_adv = F.softplus(-logits.float()).mean()
            total = total + config.lambda_adv * loss_adv
            terms = {**terms, "loss_adv": loss_adv}
    terms = {**{name: float(value.detach()) for name, value in terms.items()}, "loss_encoder": float(total.detach())}
    check_finite(terms)
    components.encoder_optimiser.zero_grad(set_to_none=True)
    total.backward()
    components.encoder_optimiser.step()
    return terms, heads


def discriminator_step(components: TrainingComponents, batch: TrainingBatch, heads: EncodedHeads,
                       rng: torch.Generator, apply_r1: bool, check_finite) -> dict[str, float]:
    """Eq. 8/9 with λ = 0.5: real = masked Z+ tri-grids (or renders), fake = the detached encoded ones; lazy R1."""
    config, discriminator = components.config, components.discriminator
    detached = EncodedHeads(ws=heads.ws.detach(), trigrid=heads.trigrid.detach(),
                            render={key: value.detach() for key, value in heads.render.items()})
    with components.autocast():
        fake = components.discriminator_input(detached, batch, rng, fake=True)
        real = components.discriminator_input(None, batch, rng, fake=False)
        loss_fake = F.softplus(discriminator(fake).float()).mean()
        real = real.detach().requires_grad_(apply_r1)
        real_logits = discriminator(real).float()
        loss_real = F.softplus(-real_logits).mean()
    total = config.lambda_discriminator * (loss_real + loss_fake)
    terms = {"loss_d_real": float(loss_real.detach()), "loss_d_fake": float(loss_fake.detach())}
    if apply_r1:
        (gradient,) = torch.autograd.grad(real_logits.sum(), real, create_graph=True)
        penalty = gradient.float().square().flatten(1).sum(1).mean()
        total = total + config.r1_gamma / 2 * penalty * config.r1_every  # lazy regularisation keeps the mean effect
        terms["loss_r1"] = float(penalty.detach())
    terms["loss_discriminator"] = float(total.detach())
    check_finite(terms)
    components.discriminator_optimiser.zero_grad(set_to_none=True)
    total.backward()
    components.discriminator_optimiser.step()
    return terms


def resize(images: torch.Tensor, size: int) -> torch.Tensor:
    """Average-pool (or bilinearly enlarge) square images to ``size`` (pSp's AdaptiveAvgPool convention)."""
    if images.shape[-1] == size:
        return images
    if images.shape[-1] > size:
        return F.adaptive_avg_pool2d(images, size)
    return F.interpolate(images, size=(size, size), mode="bilinear", align_corners=False, antialias=True)


def non_finite_terms(terms: dict[str, float]) -> list[str]:
    return [name for name, value in terms.items() if not math.isfinite(value)]
