"""The encoders of the experiment registry, built from the study config at the paper's or the tiny size.

Ours and pSp / TriPlaneNet v2 are an :class:`~dualinv.models.inversion_encoder.InversionEncoder`
(W+ / Z / Z+ stage, optional F stage); e4e is one with the e4e latent stage; GOAE is
:class:`dualinv.encoders.GOAE`. Every one has ``encode(image, camera, generator, rng)``. Weights are
seeded stand-ins (labelled by provenance) unless ``weights.ir_se50`` / ``weights.goae_swin`` are set.
Training builds an encoder here at step 0, and loading a trained checkpoint builds the same one
before its weights are read (:mod:`dualinv.models.checkpoint`).
"""

from __future__ import annotations

import dataclasses

from torch import nn

from dualinv.config import StudyConfig
from dualinv.encoders import (
    BackboneConfig,
    EncoderConfig,
    FeatureStageConfig,
    GOAEConfig,
    build_encoder,
    load_backbone_weights,
)
from dualinv.encoders.e4e import E4EConfig
from dualinv.encoders.swin_v2 import load_published_swin
from dualinv.errors import ConfigError
from dualinv.models.experiments import Experiment
from dualinv.models.generator import front_camera
from dualinv.models.inversion_encoder import InversionEncoder
from dualinv.seeding import derive_seed

TINY_BACKBONE = BackboneConfig(units_per_stage=(1, 1, 1, 1), width=0.125)
"""IR body of the tiny encoders (``encoder.size: tiny``): one unit per stage, channels 8/16/32/64."""
GOAE_TINY = dict(embed_dim=16, depths=(1, 1, 1, 1), heads=(1, 1, 2, 2), window=4, pretrained_windows=(0, 0, 0, 0),
                 attention_heads=4, feedforward=32, afa_channels=(8, 8, 8), afa_resolution=16, input_resolution=64)
"""GOAE at test size (Swin 16 wide, one block per stage, AFA at 16²), as tests/encoders/test_goae.py."""
LATENT_KINDS = {"w+": "w_plus", "z+": "z_plus", "z": "z"}
"""Registry latent space → encoder factory kind (Table 4)."""


def backbone_of(config: StudyConfig) -> BackboneConfig:
    """The IR-SE body of ``encoder.size``: IR-SE50 (paper) or :data:`TINY_BACKBONE`."""
    return TINY_BACKBONE if config.encoder.size == "tiny" else BackboneConfig()


def encoder_input_side(config: StudyConfig, experiment: Experiment, generator: nn.Module) -> int:
    """Side of the images an encoder takes: ``encoder.input_resolution``, but GOAE reads the generator's
    full resolution (its AFA compares the image with the W+ render at 512², encoders-baselines.md §3.2)."""
    return generator.config.img_resolution if experiment.name == "goae" else config.encoder.input_resolution


def build_inversion_encoder(config: StudyConfig, experiment: Experiment, generator: nn.Module,
                            seed: int) -> nn.Module:
    """The registry entry's encoder (latent space, F stage) at ``encoder.size``, seeded stand-in weights
    (then the IR-SE50 / SwinV2 files when configured); ``seed`` is the experiment's seed."""
    if experiment.name == "goae":  # Swin encoder + AFA: no IR-SE body to initialise
        return goae_encoder(config, generator, derive_seed(seed, "latent"))
    backbone = backbone_of(config)
    tiny = config.encoder.size == "tiny"
    kind = LATENT_KINDS[experiment.latent]
    latent_config = EncoderConfig(kind=kind, backbone=backbone, input_resolution=config.encoder.input_resolution,
                                  num_ws=generator.num_ws, w_dim=generator.w_dim, z_dim=generator.z_dim,
                                  truncation_psi=config.encoder.latent_truncation_psi,
                                  head_channels=backbone.stage_channels[-1] if tiny else None)
    w_avg = generator.backbone.mapping.w_avg if kind == "w_plus" else None
    if experiment.name == "e4e":  # e4e's base code + progressive deltas on pSp's body and heads (§2.1)
        latent = build_encoder(E4EConfig(encoder=latent_config), seed=derive_seed(seed, "latent"), w_avg=w_avg)
    else:
        latent = build_encoder(latent_config, seed=derive_seed(seed, "latent"), w_avg=w_avg)
    feature_stage = None
    if experiment.feature_stage:
        trigrid = generator.config.rendering
        feature_config = FeatureStageConfig(
            backbone=BackboneConfig(units_per_stage=backbone.units_per_stage, width=backbone.width, input_channels=9),
            input_resolution=config.encoder.input_resolution,
            trigrid_channels=3 * 32 * trigrid.triplane_depth, trigrid_resolution=trigrid.triplane_size,
            head_channels=backbone.stage_channels[-1] if tiny else None)
        feature_stage = build_encoder(feature_config, seed=derive_seed(seed, "feature_stage"))
    if config.weights.ir_se50 is not None:
        load_backbone_weights(latent, config.weights.ir_se50)
        if feature_stage is not None:
            load_backbone_weights(feature_stage, config.weights.ir_se50)
    return InversionEncoder(latent, feature_stage, front_camera())


def goae_config(config: StudyConfig, generator: nn.Module) -> GOAEConfig:
    """GOAE sized for ``generator``: groups 3/3/rest of its ``num_ws``, AFA on its 32² (tiny: 16²) block."""
    sizes = GOAE_TINY if config.encoder.size == "tiny" else {"input_resolution": config.encoder.input_resolution}
    fine = generator.num_ws - 7
    if fine < 1:
        raise ConfigError(f"GOAE needs a generator with at least 8 ws (coarse 3, mid 3, fine >= 1), "
                          f"got num_ws = {generator.num_ws}")
    afa_resolution = sizes.get("afa_resolution", GOAEConfig().afa_resolution)
    synthesis = generator.backbone.synthesis
    if afa_resolution not in synthesis.block_resolutions:
        raise ConfigError(f"GOAE edits the generator block at {afa_resolution}², which this generator lacks "
                          f"(blocks {synthesis.block_resolutions})")
    channels = getattr(synthesis, f"b{afa_resolution}").conv1.weight.shape[0]
    return dataclasses.replace(GOAEConfig(), **sizes, group_sizes=(3, 3, fine), w_dim=generator.w_dim,
                               feature_channels=int(channels))


def goae_encoder(config: StudyConfig, generator: nn.Module, seed: int) -> nn.Module:
    """GOAE with seeded weights; its Swin-V2 then starts from the published ImageNet SwinV2-B when
    ``weights.goae_swin`` is set (GOAE's recipe), else it stays a seeded stand-in (labelled by provenance)."""
    encoder = build_encoder(goae_config(config, generator), seed=seed, w_avg=generator.backbone.mapping.w_avg)
    if config.weights.goae_swin is not None:
        load_published_swin(encoder.encoder.swin, config.weights.goae_swin)
    return encoder
