"""Image encoders: W+, Z+, Z (Table 4) and the F stage (§3.2), built by :func:`build_encoder`.

Construction never reads files (STYLE.md "avoid" 3): build with seeded stand-in weights, then
call :func:`load_backbone_weights` with the configured ``weights.ir_se50`` path to start from
ArcFace (encoders-baselines.md §1.1). The baselines' e4e (:mod:`dualinv.encoders.e4e`) and GOAE
(:mod:`dualinv.encoders.goae`) encoders are built by the same factory.
"""

from __future__ import annotations

from pathlib import Path
from typing import Union

import torch
from torch import nn

from dualinv.encoders.e4e import E4EConfig, Encoder4Editing
from dualinv.encoders.backbone import (
    ArcFace,
    BackboneConfig,
    IRBackbone,
    load_ir_se50_state,
    widen_input_layer,
)
from dualinv.encoders.goae import GOAEConfig, GOAEncoder
from dualinv.encoders.goae_fusion import GOAE
from dualinv.encoders.feature_stage import FeatureStageConfig, TriPlaneFeatureEncoder, feature_stage_input
from dualinv.encoders.gradual_style import EncoderConfig, GradualStyleEncoder
from dualinv.encoders.latent_spaces import WPlusEncoder, ZEncoder, ZPlusEncoder, map_z_codes
from dualinv.state_dicts import read_state_dict
from dualinv.errors import ConfigError
from dualinv.seeding import make_generator
from dualinv.standin import build_seeded

AnyEncoderConfig = Union[EncoderConfig, FeatureStageConfig, E4EConfig, GOAEConfig]

ENCODER_CLASSES: dict[str, type[nn.Module]] = {
    "w_plus": WPlusEncoder,
    "z_plus": ZPlusEncoder,
    "z": ZEncoder,
    "feature_stage": TriPlaneFeatureEncoder,
    "e4e": Encoder4Editing,
    "goae": GOAE,
}
"""Factory table: config ``kind`` -> encoder class (no dotted strings, STYLE.md §11)."""


def build_encoder(config: AnyEncoderConfig, *, seed: int = 0, w_avg: torch.Tensor | None = None) -> nn.Module:
    """The encoder named by ``config.kind`` with seeded stand-in weights.

    ``w_avg`` ([w_dim], ``G.backbone.mapping.w_avg``) is required in spirit for ``w_plus``: without
    it the offsets start from zero, which only suits stand-in generators.
    """
    try:
        cls = ENCODER_CLASSES[config.kind]
    except KeyError:
        raise ConfigError(f"encoder.kind {config.kind!r} is not one of {sorted(ENCODER_CLASSES)}") from None
    if issubclass(cls, WPlusEncoder) or cls is GOAE:  # W+, e4e, GOAE: codes are offsets from w_avg
        return build_seeded(lambda: cls(config, w_avg=w_avg), seed)
    return build_seeded(lambda: cls(config), seed)


def load_backbone_weights(encoder: nn.Module, path: str | Path | None, *, checksum: str | None = None,
                          seed: int = 0) -> None:
    """Initialise ``encoder.backbone`` from ``model_ir_se50.pth`` (``weights.ir_se50``), strictly.

    ``path`` ``None`` raises :class:`~dualinv.errors.MissingWeightsError` (callers that allow a
    stand-in simply do not call this). Extra input channels get seeded unit-normal weights.
    """
    backbone: IRBackbone = encoder.backbone  # type: ignore[assignment]
    state = read_state_dict("ir_se50", path, checksum)
    state = widen_input_layer(state, backbone.config.input_channels, make_generator(seed))
    load_ir_se50_state(backbone, state, source=f"weights.ir_se50 = {str(path)!r}")


__all__ = [
    "ArcFace",
    "BackboneConfig",
    "ENCODER_CLASSES",
    "E4EConfig",
    "Encoder4Editing",
    "EncoderConfig",
    "FeatureStageConfig",
    "GOAE",
    "GOAEConfig",
    "GOAEncoder",
    "GradualStyleEncoder",
    "IRBackbone",
    "TriPlaneFeatureEncoder",
    "WPlusEncoder",
    "ZEncoder",
    "ZPlusEncoder",
    "build_encoder",
    "feature_stage_input",
    "load_backbone_weights",
    "map_z_codes",
]
