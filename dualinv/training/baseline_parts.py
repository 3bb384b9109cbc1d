"""What a baseline encoder (pSp, e4e, TriPlaneNet v2, GOAE) adds to the shared training loop.

The recipes themselves (stage schedules, e4e's extra terms, TriPlaneNet's phases, reconstruction
weights) are the study config's ``baselines`` sections, applied by
:class:`dualinv.baselines.training_policies.BaselinePolicy`; the encoders are built by
:mod:`dualinv.models.encoders`. This module gathers the parts the loop carries for a baseline: its
policy, the module whose progressive stage the policy drives, e4e's latent discriminator (Adam
2e-5) and fake-codes pool, and TriPlaneNet v2's second Ranger optimiser
(encoders-baselines.md §1.5, §2, §3.1, §3.2). Everything stateful is listed by :meth:`stateful`,
so checkpoints hold it and a resumed run is exact.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import torch
from torch import nn

from dualinv.baselines.training_policies import BaselinePolicy
from dualinv.encoders.e4e import LatentCodesPool, LatentDiscriminator
from dualinv.seeding import derive_seed
from dualinv.standin import build_seeded
from dualinv.training.optim import Ranger


@dataclass
class BaselineTraining:
    """A baseline's recipe and the extra trained state it needs beyond the encoder and its optimiser."""

    policy: BaselinePolicy
    """The baseline's recipe: its section of the study config's ``baselines``."""
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


def baseline_training(policy: BaselinePolicy, encoder: nn.Module, generator: nn.Module, seed: int,
                      device: torch.device, learning_rate: float,
                      feature_objective: Callable[..., tuple[torch.Tensor, dict]] | None) -> BaselineTraining:
    """The parts of ``policy`` for ``encoder`` (e4e: latent GAN; TPv2: F-stage Ranger; e4e/GOAE: stages)."""
    parts = BaselineTraining(policy=policy)
    if policy.e4e is not None:
        parts.staged = encoder.latent
        recipe = policy.e4e
        parts.latent_discriminator = build_seeded(lambda: LatentDiscriminator(generator.w_dim),
                                                  derive_seed(seed, "latent_discriminator")).to(device).train()
        parts.latent_discriminator_optimiser = torch.optim.Adam(parts.latent_discriminator.parameters(),
                                                                lr=recipe.w_discriminator_lr)
        parts.codes_pool = LatentCodesPool(recipe.w_pool_size)
    if policy.goae is not None:
        parts.staged = encoder
    if policy.triplanenet is not None:
        parts.feature_optimiser = Ranger(encoder.feature_stage.parameters(), lr=learning_rate)
        parts.feature_objective = feature_objective
    return parts
