"""Build what an experiment trains with from its registry entry and the study config (the only factory wiring).

The generator (:func:`dualinv.models.generator.study_generator`) and the encoder
(:func:`dualinv.models.encoders.build_inversion_encoder`) come from the models layer; the
discriminator and the losses from their packages at the paper's sizes or at the tiny sizes
(``encoder.size``). Nothing here trains; :mod:`dualinv.training.loop` does.
"""

from __future__ import annotations

import dataclasses

import torch

from dualinv.baselines.training_policies import baseline_policy
from dualinv.camera import mirror_label
from dualinv.config import StudyConfig
from dualinv.devices import check_device
from dualinv.discriminators import DiscriminatorConfig, build_discriminator
from dualinv.losses import IdentityEmbedder, LPIPSLoss, discriminator_loss, encoder_loss
from dualinv.models.encoders import backbone_of, build_inversion_encoder, encoder_input_side
from dualinv.models.experiments import Experiment
from dualinv.models.generator import GeneratorIdentity, study_generator, zplus_codes
from dualinv.occlusion import expand_mask, occlusion_mask
from dualinv.seeding import derive_seed, normal
from dualinv.training.back_views import back_view_cameras
from dualinv.training.baseline_parts import baseline_training
from dualinv.training.components import TrainingComponents
from dualinv.training.optim import Ranger

TINY_DISCRIMINATOR_CHANNELS = (8, 16, 32, 64)
"""Table 6 widths divided by 8, for ``encoder.size: tiny``."""


def build_components(config: StudyConfig, experiment: Experiment, dataset, *, device: torch.device | str = "cpu",
                     generator: torch.nn.Module | None = None,
                     identity: GeneratorIdentity | None = None) -> TrainingComponents:
    """Everything ``experiment`` trains with. ``dataset`` has items with ``image``/``camera`` (a
    :class:`~dualinv.data.HeadDataset`); ``generator``/``identity`` default to the study's generator."""
    device = check_device(str(device), "device")
    training = config.training
    if generator is None:
        generator, identity = study_generator(config, device)
    generator = generator.to(device)
    seed = derive_seed(training.seed, experiment.name)
    encoder = build_inversion_encoder(config, experiment, generator, seed).to(device).train()
    tiny = config.encoder.size == "tiny"
    discriminator = None
    if experiment.discriminator != "none":
        hidden = TINY_DISCRIMINATOR_CHANNELS if tiny else DiscriminatorConfig().hidden_channels
        discriminator = build_discriminator(DiscriminatorConfig(kind=experiment.discriminator, hidden_channels=hidden),
                                            seed=derive_seed(seed, "discriminator")).to(device).train()
    policy = baseline_policy(experiment.name, config.baselines, generator.num_ws) \
        if experiment.kind == "baseline_encoder" else None
    weights = training
    if policy is not None:  # a baseline trains with its own published reconstruction weights
        recipe = policy.recipe
        weights = dataclasses.replace(training, lambda_lpips=recipe.lambda_lpips, lambda_l2=recipe.lambda_l2,
                                      lambda_id=recipe.lambda_id)
    weights_lpips = config.weights.lpips_alex if training.lpips_net == "alex" else config.weights.lpips_vgg
    lpips_loss = LPIPSLoss(training.lpips_net, weights_lpips, seed=derive_seed(seed, "lpips")).to(device)
    identity_embedder = IdentityEmbedder(backbone_of(config), config.weights.ir_se50,
                                         seed=derive_seed(seed, "arcface")).to(device)
    rendering = generator.config.rendering

    def encode(images, cameras, rng):
        return encoder.encode(images, cameras, generator, rng)

    def encoder_objective(output, target, fake_logits=None):
        return encoder_loss(output, target, lpips_loss=lpips_loss, identity_embedder=identity_embedder,
                            weights=weights, fake_logits=fake_logits)

    def feature_objective(output, target):  # TriPlaneNet v2's F stage: SmoothL1 in place of L2 (§3.1)
        total, terms = encoder_loss(output, target, lpips_loss=lpips_loss, identity_embedder=identity_embedder,
                                    weights=dataclasses.replace(weights, lambda_l2=0.0))
        terms["loss_smooth_l1"] = torch.nn.functional.smooth_l1_loss(output, target)
        return total + weights.lambda_l2 * terms["loss_smooth_l1"], terms

    def discriminator_objective(real_logits, fake_logits, *, step, real_inputs):
        return discriminator_loss(real_logits, fake_logits, step=step, real_inputs=real_inputs, weights=weights)

    def zplus_ws(batch, rng):  # Z+ samples, the real side of Eq. 8
        z = normal((batch, generator.num_ws, generator.z_dim), rng, device=device)
        return zplus_codes(generator, z, training.zplus_truncation_psi)

    def occluded_cells(depth, cameras, opacity):
        occluded = occlusion_mask(depth, cameras, image_mask=opacity, trigrid_resolution=rendering.triplane_size,
                                  trigrid_depth=rendering.triplane_depth, box_warp=rendering.box_warp,
                                  opacity_threshold=training.occlusion_opacity_threshold).occluded
        return expand_mask(occluded)  # compact [B,3,D,H,W] -> the discriminator's [B,3,C*D,H,W] layout

    def novel_cameras(batch, rng):  # the image-D ablation judges back views (A.1; training/back_views.py)
        return back_view_cameras(batch, rng, min_yaw_deg=training.back_view_min_yaw_deg, device=device)

    def real_samples(indices):
        items = [dataset[index] for index in indices]
        return torch.stack([item["image"] for item in items]), torch.stack([item["camera"] for item in items])

    baseline, encoder_parameters = None, encoder.parameters()
    if policy is not None:
        baseline = baseline_training(policy, encoder, generator, seed, device, training.learning_rate,
                                     feature_objective)
        if baseline.feature_optimiser is not None:  # TriPlaneNet v2: the W+ stage and the F stage step apart
            encoder_parameters = encoder.latent.parameters()
    return TrainingComponents(
        config=config, experiment=experiment, device=device, generator=generator, generator_identity=identity,
        encoder=encoder, discriminator=discriminator,
        encoder_optimiser=Ranger(encoder_parameters, lr=training.learning_rate),
        discriminator_optimiser=None if discriminator is None else Ranger(discriminator.parameters(),
                                                                          lr=training.learning_rate),
        encode=encode, real_samples=real_samples, dataset_size=len(dataset),
        encoder_objective=encoder_objective, discriminator_objective=discriminator_objective,
        zplus_ws=zplus_ws, occlusion_mask=occluded_cells, novel_cameras=novel_cameras, mirror_cameras=mirror_label,
        baseline=baseline, encoder_input_side=encoder_input_side(config, experiment, generator))
