"""What a baseline encoder (pSp, e4e, TriPlaneNet v2, GOAE) adds to the shared training loop.

The recipes themselves (stage schedules, e4e's extra terms, TriPlaneNet's phases, reconstruction
weights) are :data:`dualinv.baselines.training_policies.BASELINE_POLICIES`; this module builds
the encoder a policy trains and gathers the parts the loop carries for it: the policy with the
run's schedule, the module whose progressive stage the policy drives, e4e's latent discriminator
(Adam 2e-5) and fake-codes pool, and TriPlaneNet v2's second Ranger optimiser
(encoders-baselines.md §1.5, §2, §3.1, §3.2). Everything stateful is listed by :meth:`stateful`,
so checkpoints hold it and a resumed run is exact.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Callable

import torch
from torch import nn

from dualinv.baselines.training_policies import (BASELINE_POLICIES, BaselinePolicy, ReconstructionWeights,
                                                  TriPlaneNetSchedule)
from dualinv.encoders import EncoderConfig, GOAEConfig, build_encoder
from dualinv.encoders.e4e import LatentCodesPool, LatentDiscriminator
from dualinv.errors import ConfigError
from dualinv.losses.e4e import E4ELossWeights
from dualinv.seeding import derive_seed
from dualinv.standin import build_seeded
from dualinv.training.config import TrainingSettings

GOAE_TINY = dict(embed_dim=16, depths=(1, 1, 1, 1), heads=(1, 1, 2, 2), window=4, pretrained_windows=(0, 0, 0, 0),
                 attention_heads=4, feedforward=32, afa_channels=(8, 8, 8), afa_resolution=16, input_resolution=64)
"""GOAE at test size (Swin 16 wide, one block per stage, AFA at 16²), as tests/encoders/test_goae.py."""


RECIPE_PREFIXES = {"psp": "psp", "e4e": "e4e", "triplanenet_v2": "triplanenet", "goae": "goae"}
"""Baseline name -> prefix of its recipe fields in :class:`TrainingSettings` (``e4e_lambda_id``, ...)."""


@dataclass
class BaselineTraining:
    """A baseline's recipe and the extra trained state it needs beyond the encoder and its optimiser."""

    policy: BaselinePolicy
    """The published recipe, with this run's schedule (:func:`configured_policy`)."""
    staged: nn.Module | None = None
    """Module with ``set_stage`` that the policy's progressive schedule drives (e4e, GOAE), else None."""
    latent_discriminator: nn.Module | None = None
    """e4e's latent-code discriminator (§2.3)."""
    latent_discriminator_optimiser: torch.optim.Optimizer | None = None
    """Adam at e4e's ``w_discriminator_lr`` (2e-5)."""
    codes_pool: LatentCodesPool | None = None
    """e4e's pool of past fake codes (size 50)."""
    feature_optimiser: torch.optim.Optimizer | None = None
    """TriPlaneNet v2: the F stage's own Ranger (the W+ stage keeps the loop's encoder optimiser)."""
    feature_objective: Callable[..., tuple[torch.Tensor, dict]] | None = None
    """TriPlaneNet v2 F-stage loss: (render, target) -> (total, terms), SmoothL1 in place of L2."""

    def before_step(self, step: int) -> None:
        """Set the progressive stage of ``step`` (a pure function of the step, so resume is exact)."""
        if self.staged is not None:
            self.policy.before_step(self.staged, step)

    def stateful(self) -> dict[str, Any]:
        """Objects with ``state_dict``/``load_state_dict`` that a checkpoint must hold, by name."""
        parts = {"latent_discriminator": self.latent_discriminator,
                 "latent_discriminator_optimiser": self.latent_discriminator_optimiser,
                 "codes_pool": self.codes_pool, "feature_optimiser": self.feature_optimiser}
        return {name: part for name, part in parts.items() if part is not None}


def configured_policy(name: str, settings: TrainingSettings) -> BaselinePolicy:
    """``BASELINE_POLICIES[name]`` with this run's recipe values from ``settings`` (the ``baselines:``
    section of the study config; the published values by default): reconstruction weights, e4e's
    schedule, delta regularisation and latent GAN, TriPlaneNet v2's phases and mirror weight, GOAE's
    group schedule."""
    try:
        policy = BASELINE_POLICIES[name]
    except KeyError:
        raise ConfigError(f"no training policy for baseline {name!r}; known: {sorted(BASELINE_POLICIES)}") from None
    prefix = RECIPE_PREFIXES[name]
    changes: dict[str, Any] = {"reconstruction": ReconstructionWeights(
        lpips=getattr(settings, f"{prefix}_lambda_lpips"), l2=getattr(settings, f"{prefix}_lambda_l2"),
        identity=getattr(settings, f"{prefix}_lambda_id"))}
    if policy.e4e is not None:
        changes["e4e"] = dataclasses.replace(policy.e4e, progressive_start=settings.e4e_progressive_start,
                                             progressive_step_every=settings.e4e_progressive_step_every)
        changes["e4e_losses"] = E4ELossWeights(
            delta_norm=settings.e4e_delta_norm_lambda, delta_norm_p=settings.e4e_delta_norm_p,
            latent_adversarial=settings.e4e_w_discriminator_lambda,
            discriminator_learning_rate=settings.e4e_w_discriminator_lr, w_pool_size=settings.e4e_w_pool_size,
            r1_gamma=settings.e4e_r1_gamma, r1_interval=settings.e4e_r1_every)
    if policy.goae is not None:
        changes["goae"] = dataclasses.replace(policy.goae, progressive_steps=settings.goae_progressive_steps)
    if policy.triplanenet is not None:
        changes["triplanenet"] = TriPlaneNetSchedule(add_triplanenet=settings.triplanenet_add_feature_stage,
                                                     stop_psp=settings.triplanenet_stop_wplus,
                                                     mirror_lambda=settings.triplanenet_mirror_lambda)
    return dataclasses.replace(policy, **changes)


def e4e_encoder(latent_config: EncoderConfig, policy: BaselinePolicy, seed: int,
                w_avg: torch.Tensor | None) -> nn.Module:
    """e4e's base code + progressive deltas on the same IR-SE body and heads as pSp (§2.1)."""
    config = dataclasses.replace(policy.e4e, encoder=latent_config)
    return build_encoder(config, seed=seed, w_avg=w_avg)


def goae_config(settings: TrainingSettings, generator: nn.Module, policy: BaselinePolicy) -> GOAEConfig:
    """GOAE sized for ``generator``: groups 3/3/rest of its ``num_ws``, AFA on its 32² (tiny: 16²) block."""
    sizes = GOAE_TINY if settings.encoder_preset == "tiny" else {"input_resolution": settings.encoder_resolution}
    fine = generator.num_ws - 7
    if fine < 1:
        raise ConfigError(f"GOAE needs a generator with at least 8 ws (coarse 3, mid 3, fine >= 1), "
                          f"got num_ws = {generator.num_ws}")
    afa_resolution = sizes.get("afa_resolution", policy.goae.afa_resolution)
    synthesis = generator.backbone.synthesis
    if afa_resolution not in synthesis.block_resolutions:
        raise ConfigError(f"GOAE edits the generator block at {afa_resolution}², which this generator lacks "
                          f"(blocks {synthesis.block_resolutions})")
    channels = getattr(synthesis, f"b{afa_resolution}").conv1.weight.shape[0]
    return dataclasses.replace(policy.goae, **sizes, group_sizes=(3, 3, fine), w_dim=generator.w_dim,
                               feature_channels=int(channels))


def goae_encoder(settings: TrainingSettings, generator: nn.Module, policy: BaselinePolicy, seed: int) -> nn.Module:
    """GOAE with seeded weights; its Swin-V2 then starts from the published ImageNet SwinV2-B when
    ``weights_goae_swin`` is set (GOAE's recipe), else it stays a seeded stand-in (labelled by provenance)."""
    encoder = build_encoder(goae_config(settings, generator, policy), seed=seed,
                            w_avg=generator.backbone.mapping.w_avg)
    if settings.weights_goae_swin is not None:
        from dualinv.encoders.swin_v2 import load_published_swin

        load_published_swin(encoder.encoder.swin, settings.weights_goae_swin)
    return encoder


def baseline_training(policy: BaselinePolicy, encoder: nn.Module, generator: nn.Module, seed: int,
                      device: torch.device, learning_rate: float,
                      feature_objective: Callable[..., tuple[torch.Tensor, dict]] | None) -> BaselineTraining:
    """The parts of ``policy`` for ``encoder`` (e4e: latent GAN; TPv2: F-stage Ranger; e4e/GOAE: stages)."""
    from dualinv.training.optim import Ranger

    parts = BaselineTraining(policy=policy)
    if policy.e4e is not None:
        parts.staged = encoder.latent
        losses = policy.e4e_losses
        parts.latent_discriminator = build_seeded(lambda: LatentDiscriminator(generator.w_dim),
                                                  derive_seed(seed, "latent_discriminator")).to(device).train()
        parts.latent_discriminator_optimiser = torch.optim.Adam(parts.latent_discriminator.parameters(),
                                                                lr=losses.discriminator_learning_rate)
        parts.codes_pool = LatentCodesPool(losses.w_pool_size)
    if policy.goae is not None:
        parts.staged = encoder
    if policy.triplanenet is not None:
        parts.feature_optimiser = Ranger(encoder.feature_stage.parameters(), lr=learning_rate)
        parts.feature_objective = feature_objective
    return parts
