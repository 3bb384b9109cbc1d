"""Build what an experiment trains with from its registry entry and the settings (the only factory wiring).

The generator comes from a network file or is a seeded stand-in (labelled as such); the encoder,
the discriminator and the losses come from their subpackages' factories at the paper's sizes or at
the tiny test sizes. Nothing here trains; :mod:`dualinv.training.loop` does.
"""

from __future__ import annotations

import dataclasses

import torch

from dualinv.baselines.training_policies import BaselinePolicy
from dualinv.camera import canonical_cameras, mirror_label
from dualinv.devices import check_device
from dualinv.discriminators import DiscriminatorConfig, build_discriminator
from dualinv.encoders import BackboneConfig, EncoderConfig, FeatureStageConfig, build_encoder
from dualinv.errors import ConfigError
from dualinv.losses import IdentityEmbedder, LossWeights, LPIPSLoss
from dualinv.panohead import PanoHeadConfig, PanoHeadGenerator
from dualinv.seeding import derive_seed
from dualinv.standin import build_seeded
from dualinv.training.back_views import back_view_cameras
from dualinv.training.baseline_parts import baseline_training, configured_policy, e4e_encoder, goae_encoder
from dualinv.training.checkpoint import GeneratorIdentity
from dualinv.training.components import TrainingComponents
from dualinv.training.config import GeneratorSource, TrainingSettings
from dualinv.training.experiments import Experiment
from dualinv.training.inversion_encoder import InversionEncoder
from dualinv.training.optim import Ranger
from dualinv.weights import STAND_IN

TINY_BACKBONE = BackboneConfig(units_per_stage=(1, 1, 1, 1), width=0.125)
"""IR body of the tiny encoders: one unit per stage, channels 8/16/32/64."""
TINY_DISCRIMINATOR_CHANNELS = (8, 16, 32, 64)
"""Table 6 widths divided by 8, for the tiny configuration."""
LATENT_KINDS = {"w+": "w_plus", "z+": "z_plus", "z": "z"}
"""Registry latent space → encoder factory kind (Table 4)."""


def generator_config(preset: str) -> PanoHeadConfig:
    """Architecture of a stand-in generator: one of :data:`dualinv.standin.STANDIN_GENERATORS`."""
    from dualinv.standin import standin_generator_config

    return standin_generator_config(preset)


def build_generator(source: GeneratorSource,
                    device: torch.device | str = "cpu") -> tuple[PanoHeadGenerator, GeneratorIdentity]:
    """The frozen generator and its identity (weights hash + file, or ``stand-in`` + preset + seed)."""
    if source.network is not None:
        from dualinv.panohead.checkpoint import load_network

        generator = load_network(source.network, device=device)
        label = str(source.network)
    else:
        generator = build_seeded(lambda: PanoHeadGenerator(generator_config(source.preset)), source.seed)
        label = f"{STAND_IN}:{source.preset}:seed={source.seed}"
    if source.neural_rendering_resolution is not None:
        generator.config = _with_rendering_resolution(generator.config, source.neural_rendering_resolution)
    generator = generator.eval().requires_grad_(False).to(device)
    return generator, GeneratorIdentity.of(generator, label)


def _with_rendering_resolution(config: PanoHeadConfig, resolution: int) -> PanoHeadConfig:
    return dataclasses.replace(config, neural_rendering_resolution=int(resolution))


def front_camera(device: torch.device | str = "cpu") -> torch.Tensor:
    """[25] canonical front camera (A.2: conditioning of Z / Z+ codes)."""
    return canonical_cameras(device=device)["front"][0]


def baseline_policy(settings: TrainingSettings, experiment: Experiment) -> BaselinePolicy | None:
    """The training recipe of a baseline encoder (pSp, e4e, TriPlaneNet v2, GOAE); None for ours."""
    return configured_policy(experiment.name, settings) if experiment.kind == "baseline_encoder" else None


def encoder_input_side(settings: TrainingSettings, experiment: Experiment, generator: PanoHeadGenerator) -> int:
    """Side of the images an encoder takes: ``encoder_resolution``, but GOAE reads the generator's full
    resolution (its AFA compares the image with the W+ render at 512², encoders-baselines.md §3.2)."""
    policy = baseline_policy(settings, experiment)
    return generator.config.img_resolution if policy is not None and policy.goae is not None \
        else settings.encoder_resolution


def build_inversion_encoder(settings: TrainingSettings, experiment: Experiment, generator: PanoHeadGenerator,
                            seed: int) -> torch.nn.Module:
    """The registry entry's encoder (latent space, F stage) at paper or tiny size, seeded stand-in weights.

    Ours and pSp / TriPlaneNet v2 are an :class:`InversionEncoder` (W+ stage, optional F stage); e4e is one
    with the e4e latent stage; GOAE is :class:`dualinv.encoders.GOAE`. All have ``encode(image, camera,
    generator, rng)``.
    """
    tiny = settings.encoder_preset == "tiny"
    policy = baseline_policy(settings, experiment)
    if policy is not None and policy.goae is not None:  # Swin encoder + AFA: no IR-SE body to initialise
        return goae_encoder(settings, generator, policy, derive_seed(seed, "latent"))
    backbone = TINY_BACKBONE if tiny else BackboneConfig()
    kind = LATENT_KINDS[experiment.latent]
    latent_config = EncoderConfig(kind=kind, backbone=backbone, input_resolution=settings.encoder_resolution,
                                  num_ws=generator.num_ws, w_dim=generator.w_dim, z_dim=generator.z_dim,
                                  truncation_psi=settings.latent_truncation_psi,
                                  head_channels=backbone.stage_channels[-1] if tiny else None)
    w_avg = generator.backbone.mapping.w_avg if kind == "w_plus" else None
    if policy is not None and policy.e4e is not None:
        latent = e4e_encoder(latent_config, policy, derive_seed(seed, "latent"), w_avg)
    else:
        latent = build_encoder(latent_config, seed=derive_seed(seed, "latent"), w_avg=w_avg)
    feature_stage = None
    if experiment.feature_stage:
        trigrid = generator.config.rendering
        feature_config = FeatureStageConfig(
            backbone=BackboneConfig(units_per_stage=backbone.units_per_stage, width=backbone.width, input_channels=9),
            input_resolution=settings.encoder_resolution,
            trigrid_channels=3 * 32 * trigrid.triplane_depth, trigrid_resolution=trigrid.triplane_size)
        feature_stage = build_encoder(feature_config, seed=derive_seed(seed, "feature_stage"))
    if settings.weights_ir_se50 is not None:
        from dualinv.encoders import load_backbone_weights

        load_backbone_weights(latent, settings.weights_ir_se50)
        if feature_stage is not None:
            load_backbone_weights(feature_stage, settings.weights_ir_se50)
    return InversionEncoder(latent, feature_stage, front_camera())


def build_components(settings: TrainingSettings, experiment: Experiment, *, dataset=None,
                     generator: PanoHeadGenerator | None = None,
                     identity: GeneratorIdentity | None = None) -> TrainingComponents:
    """Everything ``experiment`` trains with. ``dataset`` (items with ``image``/``camera``) defaults to
    ``HeadDataset(settings.dataset)``; ``generator``/``identity`` default to ``settings.generator``."""
    from dualinv.encoders import map_z_codes
    from dualinv.losses import discriminator_loss, encoder_loss
    from dualinv.occlusion import expand_mask, occlusion_mask

    device = check_device(settings.device, "device")
    if generator is None:
        generator, identity = build_generator(settings.generator, device)
    generator = generator.to(device)
    dataset = _training_dataset(settings, dataset)
    seed = derive_seed(settings.seed, experiment.name)
    encoder = build_inversion_encoder(settings, experiment, generator, seed).to(device).train()
    discriminator = None
    if experiment.discriminator != "none":
        tiny = settings.encoder_preset == "tiny"
        hidden = TINY_DISCRIMINATOR_CHANNELS if tiny else DiscriminatorConfig().hidden_channels
        discriminator = build_discriminator(DiscriminatorConfig(kind=experiment.discriminator, hidden_channels=hidden),
                                            seed=derive_seed(seed, "discriminator")).to(device).train()
    weights = LossWeights(lpips=settings.lambda_lpips, l2=settings.lambda_l2, identity=settings.lambda_id,
                          adversarial=settings.lambda_adv, discriminator=settings.lambda_discriminator,
                          r1_gamma=settings.r1_gamma, r1_interval=settings.r1_every)
    policy = baseline_policy(settings, experiment)
    if policy is not None:  # a baseline trains with its own published reconstruction weights
        recipe = policy.reconstruction
        weights = dataclasses.replace(weights, lpips=recipe.lpips, l2=recipe.l2, identity=recipe.identity)
    lpips_loss = LPIPSLoss(settings.lpips_net, settings.weights_lpips, seed=derive_seed(seed, "lpips")).to(device)
    identity_embedder = IdentityEmbedder(TINY_BACKBONE if settings.encoder_preset == "tiny" else BackboneConfig(),
                                         settings.weights_ir_se50, seed=derive_seed(seed, "arcface")).to(device)
    front = front_camera(device)
    rendering = generator.config.rendering

    def encode(images, cameras, rng):
        return encoder.encode(images, cameras, generator, rng)

    def encoder_objective(output, target, fake_logits=None):
        return encoder_loss(output, target, lpips_loss=lpips_loss, identity_embedder=identity_embedder,
                            weights=weights, fake_logits=fake_logits)

    def feature_objective(output, target):  # TriPlaneNet v2's F stage: SmoothL1 in place of L2 (§3.1)
        total, terms = encoder_loss(output, target, lpips_loss=lpips_loss, identity_embedder=identity_embedder,
                                    weights=dataclasses.replace(weights, l2=0.0))
        terms["loss_smooth_l1"] = torch.nn.functional.smooth_l1_loss(output, target)
        return total + weights.l2 * terms["loss_smooth_l1"], terms

    def discriminator_objective(real_logits, fake_logits, *, step, real_inputs):
        return discriminator_loss(real_logits, fake_logits, step=step, real_inputs=real_inputs, weights=weights)

    def zplus_ws(batch, rng):
        z = torch.randn(batch, generator.num_ws, generator.z_dim, generator=rng, device=device)
        return map_z_codes(z, generator.mapping, front, settings.zplus_truncation_psi)

    def occluded_cells(depth, cameras, opacity):
        occluded = occlusion_mask(depth, cameras, image_mask=opacity, trigrid_resolution=rendering.triplane_size,
                                  trigrid_depth=rendering.triplane_depth, box_warp=rendering.box_warp,
                                  opacity_threshold=settings.occlusion_opacity_threshold).occluded
        return expand_mask(occluded)  # compact [B,3,D,H,W] -> the discriminator's [B,3,C*D,H,W] layout

    def novel_cameras(batch, rng):  # the image-D ablation judges back views (A.1; training/back_views.py)
        return back_view_cameras(batch, rng, min_yaw_deg=settings.back_view_min_yaw_deg, device=device)

    def real_samples(indices):
        items = [dataset[index] for index in indices]
        return torch.stack([item["image"] for item in items]), torch.stack([item["camera"] for item in items])

    baseline, encoder_parameters = None, encoder.parameters()
    if policy is not None:
        baseline = baseline_training(policy, encoder, generator, seed, device, settings.learning_rate,
                                     feature_objective)
        if baseline.feature_optimiser is not None:  # TriPlaneNet v2: the W+ stage and the F stage step apart
            encoder_parameters = encoder.latent.parameters()
    return TrainingComponents(
        config=settings, experiment=experiment, device=device, generator=generator, generator_identity=identity,
        encoder=encoder, discriminator=discriminator,
        encoder_optimiser=Ranger(encoder_parameters, lr=settings.learning_rate),
        discriminator_optimiser=None if discriminator is None else Ranger(discriminator.parameters(),
                                                                          lr=settings.learning_rate),
        encode=encode, real_samples=real_samples, dataset_size=len(dataset),
        encoder_objective=encoder_objective, discriminator_objective=discriminator_objective,
        zplus_ws=zplus_ws, occlusion_mask=occluded_cells, novel_cameras=novel_cameras, mirror_cameras=mirror_label,
        baseline=baseline, encoder_input_side=encoder_input_side(settings, experiment, generator))


def _training_dataset(settings: TrainingSettings, dataset):
    if dataset is not None:
        return dataset
    if settings.dataset is None:
        raise ConfigError("training needs a prepared dataset: set the training dataset path "
                          "(a folder with dataset.json, made by `dualinv prepare`)")
    from dualinv.data import HeadDataset

    return HeadDataset(settings.dataset)


def load_trained_encoder(path, generator: PanoHeadGenerator | None = None, identity: GeneratorIdentity | None = None,
                         device: torch.device | str = "cpu"):
    """An encoder from a training checkpoint, checked against the generator it was trained with.

    Returns ``(encoder, settings, generator, identity)``. Without ``generator`` the one recorded in
    the checkpoint's settings is rebuilt (a stand-in is rebuilt from its seed; a network file is
    read from its recorded path). A different generator raises GeneratorMismatchError.
    """
    from dualinv.training.checkpoint import check_generator, load_training_checkpoint
    from dualinv.training.experiments import get_experiment

    state = load_training_checkpoint(path)
    settings = TrainingSettings.from_dict(state["config"])
    if generator is None:
        generator, identity = build_generator(settings.generator, device)
    check_generator(state["generator"], identity, path)
    experiment = get_experiment(state["experiment"])
    encoder = build_inversion_encoder(settings, experiment, generator, derive_seed(settings.seed, experiment.name))
    encoder.load_state_dict(state["encoder"], strict=True)
    return encoder.to(device).eval().requires_grad_(False), settings, generator, identity
