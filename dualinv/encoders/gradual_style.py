"""pSp's GradualStyleEncoder: IR-SE50 + feature pyramid + one style head per code (paper A.2).

Facts (encoders-baselines.md §1.2): pyramid ``p2 = up(c3) + latlayer1(c2)``, ``p1 = up(p2) +
latlayer2(c1)`` with bilinear ``align_corners=True``; taps c1/c2/c3 at the ends of stages 2/3/4
(body units 6/20/23 at paper size); styles 0-2 read c3 (16x16 at 256 input), 3-6 read p2
(32x32), 7.. read p1 (64x64), so 14 codes split 3/4/7. Each head is log2(spatial) conv3x3
stride-2 layers with LeakyReLU(0.01) then an EqualLinear. The number of codes comes from the
generator's ``num_ws`` (14 for PanoHead), never from its image size (§1.2 "Pitfall").
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from dualinv.encoders.backbone import BackboneConfig, IRBackbone
from dualinv.errors import ConfigError
from dualinv.shapes import assert_shape

COARSE_END = 3
"""Styles [0, 3) read the coarsest map c3 (pSp ``coarse_ind``)."""
MIDDLE_END = 7
"""Styles [3, 7) read p2, styles [7, num_ws) read p1 (pSp ``middle_ind``)."""

EncoderKind = Literal["w_plus", "z_plus", "z"]


@dataclass(frozen=True)
class EncoderConfig:
    """An image encoder of Table 4; defaults are the paper's W+ GradualStyleEncoder for PanoHead."""

    kind: EncoderKind = "w_plus"
    """``w_plus``: W+ offsets from w_avg; ``z_plus``: one z per ws; ``z``: a single z (Table 4)."""
    backbone: BackboneConfig = field(default_factory=BackboneConfig)
    """IR-SE backbone size (paper: IR-SE50 at width 1)."""
    input_resolution: int = 256
    """Side of the square input image in pixels (paper 256; a power of two >= 16)."""
    num_ws: int = 14
    """Number of W+ codes of the generator (``G.backbone.mapping.num_ws``; 14 for PanoHead)."""
    w_dim: int = 512
    """Width of a w code (PanoHead 512)."""
    z_dim: int = 512
    """Width of a z code (PanoHead 512); used by the ``z`` and ``z_plus`` kinds."""
    truncation_psi: float = 0.85
    """Truncation when z codes are mapped to ws (paper A.2: 0.85, canonical front camera)."""
    head_channels: int | None = None
    """Width of each style head's conv layers; ``None`` = the code width (pSp: 512). The tiny CPU
    encoders use the backbone's last-stage width, so 14 heads of 512x512 convs (~80 M weights)
    do not dwarf a 64-channel backbone; the head's EqualLinear still maps to the code width."""

    def __post_init__(self) -> None:
        if self.kind not in ("w_plus", "z_plus", "z"):
            raise ConfigError(f"encoder.kind must be 'w_plus', 'z_plus' or 'z', got {self.kind!r}")
        side = self.input_resolution
        if side < 16 or side & (side - 1):
            raise ConfigError(f"encoder.input_resolution must be a power of two >= 16, got {side}")
        if self.num_ws < 1 or self.w_dim < 1 or self.z_dim < 1:
            raise ConfigError("encoder.num_ws, encoder.w_dim and encoder.z_dim must be positive")
        if self.head_channels is not None and self.head_channels < 1:
            raise ConfigError(f"encoder.head_channels must be positive or None, got {self.head_channels}")

    @property
    def code_dim(self) -> int:
        """Width of each predicted code: w_dim for W+, z_dim for Z and Z+."""
        return self.w_dim if self.kind == "w_plus" else self.z_dim

    @property
    def style_head_channels(self) -> int:
        """Conv width of the style heads: ``head_channels`` or, as in pSp, the code width."""
        return self.code_dim if self.head_channels is None else self.head_channels


class EqualLinear(nn.Module):
    """Linear layer with runtime weight scaling lr_mul/sqrt(in) (rosinality; §1.2); no activation."""

    def __init__(self, in_features: int, out_features: int, lr_mul: float = 1.0):
        super().__init__()
        self.in_features, self.out_features, self.lr_mul = in_features, out_features, lr_mul
        self.weight = nn.Parameter(torch.randn(out_features, in_features) / lr_mul)
        self.bias = nn.Parameter(torch.zeros(out_features))
        self.scale = lr_mul / math.sqrt(in_features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.weight * self.scale, self.bias * self.lr_mul)

    def extra_repr(self) -> str:
        return f"{self.in_features} -> {self.out_features}, lr_mul={self.lr_mul}"


class GradualStyleBlock(nn.Module):
    """Style head: log2(spatial) conv3x3/s2 + LeakyReLU(0.01) down to 1x1, then EqualLinear (§1.2)."""

    def __init__(
        self,
        in_channels: int,    # channels of the pyramid map it reads
        out_channels: int,   # width of the code it predicts (w_dim or z_dim)
        spatial: int,        # side of the map it reads (16/32/64 at 256 input)
        hidden_channels: int | None = None,  # conv width; None = out_channels (pSp)
    ):
        super().__init__()
        hidden = out_channels if hidden_channels is None else hidden_channels
        self.out_channels, self.hidden_channels, self.spatial = out_channels, hidden, spatial
        layers: list[nn.Module] = []
        for index in range(max(1, int(math.log2(spatial)))):
            layers += [nn.Conv2d(in_channels if index == 0 else hidden, hidden, 3, 2, 1), nn.LeakyReLU()]
        self.convs = nn.Sequential(*layers)
        self.linear = EqualLinear(hidden, out_channels, lr_mul=1.0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(self.convs(x).reshape(-1, self.hidden_channels))

    def extra_repr(self) -> str:
        return f"spatial={self.spatial}, hidden={self.hidden_channels}, out={self.out_channels}"


class GradualStyleEncoder(nn.Module):
    """Image [B, 3, R, R] in [-1, 1] -> raw codes [B, num_ws, code_dim] (no w_avg offset here)."""

    def __init__(self, config: EncoderConfig = EncoderConfig()):
        super().__init__()
        self.config = config
        self.backbone = IRBackbone(config.backbone)
        c1, c2, c3 = config.backbone.stage_channels[1:]
        side = config.input_resolution
        self.styles = nn.ModuleList(
            GradualStyleBlock(c3, config.code_dim, side // (16 if i < COARSE_END else 8 if i < MIDDLE_END else 4),
                              hidden_channels=config.style_head_channels)
            for i in range(config.num_ws)
        )
        self.latlayer1 = nn.Conv2d(c2, c3, kernel_size=1)
        self.latlayer2 = nn.Conv2d(c1, c3, kernel_size=1)

    @staticmethod
    def _upsample_add(top: torch.Tensor, lateral: torch.Tensor) -> torch.Tensor:
        return F.interpolate(top, size=lateral.shape[-2:], mode="bilinear", align_corners=True) + lateral

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        config = self.config
        assert_shape(image, [None, config.backbone.input_channels, config.input_resolution,
                             config.input_resolution], "image")
        ends = config.backbone.stage_end
        c3, taps = self.backbone(image, {"c1": ends[1], "c2": ends[2]})  # c3 = end of stage 4
        codes = [self.styles[i](c3) for i in range(min(COARSE_END, config.num_ws))]
        if config.num_ws > COARSE_END:
            p2 = self._upsample_add(c3, self.latlayer1(taps["c2"]))
            codes += [self.styles[i](p2) for i in range(COARSE_END, min(MIDDLE_END, config.num_ws))]
            if config.num_ws > MIDDLE_END:
                p1 = self._upsample_add(p2, self.latlayer2(taps["c1"]))
                codes += [self.styles[i](p1) for i in range(MIDDLE_END, config.num_ws)]
        return torch.stack(codes, dim=1)  # [B, L, K]
