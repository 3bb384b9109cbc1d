"""The three latent spaces of Table 4 as encoders that end in ``ws`` [B, num_ws, w_dim].

* W+ (paper Eq. 1, A.2): GradualStyleEncoder output added to ``w_avg`` (pSp
  ``--start_from_latent_avg``, encoders-baselines.md §1.2). ``w_avg`` is a constructor argument
  (``G.backbone.mapping.w_avg``), kept as a buffer so it travels with checkpoints.
* Z+ (A.2 "Ablation encoders"): a GradualStyleEncoder predicts 14 z; code i goes through the
  mapping network with psi = 0.85 and the canonical front camera and row i of the result is kept
  (§1.3, [INFERRED] there; the mapping broadcasts one w to all rows).
* Z (A.2): BackboneEncoderUsingLastLayerIntoW (IR-SE50, global average pool, EqualLinear) predicts
  one z, mapped the same way to all rows (§1.3).

The generator is never imported: the mapping callable ``mapping(z, c, truncation_psi=...,
truncation_cutoff=None) -> ws`` and the 25-value front camera are passed to :meth:`to_ws`.
"""

from __future__ import annotations

from typing import Callable

import torch
from torch import nn

from dualinv.encoders.backbone import IRBackbone
from dualinv.encoders.gradual_style import EncoderConfig, EqualLinear, GradualStyleEncoder
from dualinv.errors import ConfigError
from dualinv.shapes import assert_shape

Mapping = Callable[..., torch.Tensor]
"""``mapping(z [N, z_dim], c [N, 25], truncation_psi=..., truncation_cutoff=None) -> ws [N, num_ws, w_dim]``."""

CAMERA_LABEL_SIZE = 25
"""16 cam2world values + 9 intrinsics (DESIGN.md, Conventions)."""


def _front_camera(camera: torch.Tensor, count: int, like: torch.Tensor) -> torch.Tensor:
    """The one canonical camera label ([25] or [1, 25]) repeated as [count, 25]."""
    if camera.numel() != CAMERA_LABEL_SIZE:
        raise ValueError(f"front_camera must be one 25-value label, got shape {list(camera.shape)}")
    return camera.to(like).reshape(1, CAMERA_LABEL_SIZE).expand(count, CAMERA_LABEL_SIZE)


def map_z_codes(zs: torch.Tensor, mapping: Mapping, camera: torch.Tensor, truncation_psi: float) -> torch.Tensor:
    """Z+ -> W+: ``zs`` [B, L, z_dim] -> ws [B, L, w_dim] with ``ws[:, i] = mapping(zs[:, i], c)[:, i]``.

    All B*L codes go through the mapping network in one call; row i of the i-th result is kept.
    """
    batch, count, z_dim = zs.shape
    camera = _front_camera(camera, batch * count, zs)
    mapped = mapping(zs.reshape(batch * count, z_dim), camera,
                     truncation_psi=truncation_psi, truncation_cutoff=None)  # [B*L, num_ws, w_dim]
    if mapped.shape[1] != count:
        raise ConfigError(f"the encoder predicts {count} z codes but the mapping network gives "
                          f"{mapped.shape[1]} ws; set encoder.num_ws to the generator's num_ws")
    mapped = mapped.reshape(batch, count, count, mapped.shape[-1])  # [B, L(code), L(row), K]
    rows = torch.arange(count, device=zs.device)
    return mapped[:, rows, rows]  # [B, L, K]


class WPlusEncoder(GradualStyleEncoder):
    """Paper Encoder 1/2 W+ stage: ``ws = GradualStyleEncoder(image) + w_avg`` (Eq. 1; §1.2)."""

    def __init__(self, config: EncoderConfig = EncoderConfig(), w_avg: torch.Tensor | None = None):
        if config.kind != "w_plus":
            raise ConfigError(f"WPlusEncoder needs encoder.kind 'w_plus', got {config.kind!r}")
        super().__init__(config)
        w_avg = torch.zeros(config.w_dim) if w_avg is None else w_avg.detach().clone().float()
        assert_shape(w_avg, [config.w_dim], "w_avg")
        self.register_buffer("w_avg", w_avg)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        """image [B, 3, R, R] -> ws [B, num_ws, w_dim]."""
        return super().forward(image) + self.w_avg  # [B, L, K] + [K]


class ZPlusEncoder(GradualStyleEncoder):
    """Table 4 Z+ ablation: one z per ws, mapped with the front camera at psi 0.85 (A.2)."""

    def __init__(self, config: EncoderConfig = EncoderConfig(kind="z_plus")):
        if config.kind != "z_plus":
            raise ConfigError(f"ZPlusEncoder needs encoder.kind 'z_plus', got {config.kind!r}")
        super().__init__(config)

    def to_ws(self, image: torch.Tensor, mapping: Mapping, front_camera: torch.Tensor) -> torch.Tensor:
        """image -> zs [B, L, z_dim] (:meth:`forward`) -> ws [B, L, w_dim]."""
        return map_z_codes(self(image), mapping, front_camera, self.config.truncation_psi)


class ZEncoder(nn.Module):
    """Table 4 Z ablation: BackboneEncoderUsingLastLayerIntoW, one z for all ws (A.2; §1.3)."""

    def __init__(self, config: EncoderConfig = EncoderConfig(kind="z")):
        super().__init__()
        if config.kind != "z":
            raise ConfigError(f"ZEncoder needs encoder.kind 'z', got {config.kind!r}")
        self.config = config
        self.backbone = IRBackbone(config.backbone)
        self.output_pool = nn.AdaptiveAvgPool2d(1)
        self.linear = EqualLinear(config.backbone.stage_channels[-1], config.z_dim, lr_mul=1.0)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        """image [B, 3, R, R] -> z [B, z_dim]."""
        side = self.config.input_resolution
        assert_shape(image, [None, self.config.backbone.input_channels, side, side], "image")
        features, _ = self.backbone(image)
        return self.linear(self.output_pool(features).flatten(1))

    def to_ws(self, image: torch.Tensor, mapping: Mapping, front_camera: torch.Tensor) -> torch.Tensor:
        """image -> z -> ``mapping(z, front camera, psi)`` -> ws [B, num_ws, w_dim]."""
        z = self(image)
        camera = _front_camera(front_camera, z.shape[0], z)
        return mapping(z, camera, truncation_psi=self.config.truncation_psi, truncation_cutoff=None)
