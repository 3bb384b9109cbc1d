"""GOAE baseline on PanoHead: Swin-V2 W+ encoder with query cross-attention, and AFA (F-space edit).

encoders-baselines.md §3.2 (GOAE ``goae.py``/``afa.py``/``attention.py``; training code unreleased,
so the loss schedule is [INFERRED]):

* :class:`GOAEncoder`: Swin-V2 (embed 128, depths 2/2/18/2, heads 4/8/16/32, window 16, drop-path
  0.2, 256 input; :mod:`dualinv.encoders.swin_v2`, which loads the published ImageNet SwinV2-B
  GOAE starts from) gives fine 64², mid 32², coarse 16² and query 8² token grids (the stage inputs)
  and the normed last stage (8²). A base code (token mapper 64->1 plus a max over tokens, then
  1024->512; GOAE's 2-layer LeakyReLU mappers) is repeated to every position; per group (coarse 3,
  mid 3, fine 7 codes) token mappers over the query tokens, plus their max, make queries that
  cross-attend to that group's key/values (coarse tokens; mid tokens + lifted coarse tokens; fine
  tokens + lifted mid tokens; LeakyReLU after every layer).
  ``ws = base + [0, coarse, mid, fine] + w_avg``. Groups switch on progressively (``stage`` 0..3).
* :class:`FeatureAdaptation` (AFA): a 3-stage IR-SE body over ``render(ws) - image`` at the image
  resolution, EqualConv/ScaledLeakyReLU head to 512-d key/values, two cross-attention blocks from
  the generator's 32² feature map F giving gamma and beta; ``F' = gamma * F + beta``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from dualinv.config import GOAESettings
from dualinv.encoders.backbone import BottleneckIR
from dualinv.encoders.swin_v2 import SwinV2Trunk
from dualinv.errors import ConfigError
from dualinv.shapes import assert_shape


@dataclass(frozen=True)
class GOAEConfig:
    """GOAE sizes (§3.2); the defaults are the released ones for a 14-code generator."""

    kind: Literal["goae"] = "goae"
    """Factory name in ``dualinv.encoders.ENCODER_CLASSES``."""
    input_resolution: int = 256
    """Side of the Swin input (images are average-pooled to it)."""
    embed_dim: int = 128
    """Swin patch-embedding width; stage widths are 1x, 2x, 4x, 8x."""
    depths: tuple[int, int, int, int] = (2, 2, 18, 2)
    """Swin blocks per stage."""
    heads: tuple[int, int, int, int] = (4, 8, 16, 32)
    """Swin attention heads per stage."""
    window: int = 16
    """Swin-V2 window side (clipped per stage to the stage's token grid, as Microsoft's code does)."""
    pretrained_windows: tuple[int, int, int, int] = (12, 12, 12, 6)
    """Windows of the ImageNet pretraining of the published Swin-V2 (GOAE ``PRETRAINED_WINDOW_SIZES``); they
    normalise the position-bias coordinates. 0 = the stage's own window (a trunk trained from scratch)."""
    drop_path: float = 0.2
    """Stochastic-depth rate of the Swin blocks."""
    group_sizes: tuple[int, int, int] = (3, 3, 7)
    """Codes predicted by the coarse, mid and fine queries; 1 + their sum = num_ws (PanoHead 14)."""
    w_dim: int = 512
    """Width of a w code."""
    attention_heads: int = 4
    """Heads of every cross-attention block."""
    feedforward: int = 1024
    """Hidden width of the cross-attention FFN."""
    dropout: float = 0.1
    """Dropout inside cross-attention."""
    afa_channels: tuple[int, int, int] = (64, 128, 256)
    """AFA IR-SE body widths (3 units per stage, stride 2 at each stage start)."""
    afa_resolution: int = 32
    """Side of the backbone feature map F the AFA edits (released GOAE: 32)."""
    feature_channels: int = 512
    """Channels of F: the generator's block at ``afa_resolution`` (PanoHead released: 512)."""

    def __post_init__(self) -> None:
        if self.kind != "goae":
            raise ConfigError(f"GOAEConfig.kind must be 'goae', got {self.kind!r}")
        if self.input_resolution < 32 or self.input_resolution % 32:
            raise ConfigError(f"goae.input_resolution must be a multiple of 32, got {self.input_resolution}")
        if min(self.group_sizes) < 1 or self.w_dim % self.attention_heads:
            raise ConfigError("goae: group_sizes must be >= 1 and w_dim divisible by attention_heads")

    @property
    def num_ws(self) -> int:
        return 1 + sum(self.group_sizes)

    @property
    def top_tokens(self) -> int:
        """Tokens of the last Swin stage: (input / 32)^2 (64 at 256 input)."""
        return (self.input_resolution // 32) ** 2


def goae_stage(step: int, recipe: GOAESettings) -> int:
    """Active groups at training ``step``: 0 = base only, 1 +coarse, 2 +mid, 3 +fine (the study
    config's ``baselines.goae.progressive_steps``)."""
    return sum(step >= boundary for boundary in recipe.progressive_steps)


def _mapper(width_in: int, width_out: int) -> nn.Sequential:
    """GOAE's ``get_mlp_layer`` at its ``--mlp_layer 2``: Linear(in, in), LeakyReLU, Linear(in, out)."""
    return nn.Sequential(nn.Linear(width_in, width_in), nn.LeakyReLU(), nn.Linear(width_in, width_out))


def _activated(*widths: int) -> nn.Sequential:
    """GOAE's key/value mappers and token lifts: every Linear followed by a LeakyReLU."""
    layers: list[nn.Module] = []
    for a, b in zip(widths, widths[1:]):
        layers += [nn.Linear(a, b), nn.LeakyReLU()]
    return nn.Sequential(*layers)


class CrossAttention(nn.Module):
    """queries [B,Q,C] attend to key/values [B,T,C]; residual, LayerNorm (no affine), ReLU FFN residual
    (GOAE ``models/attention.py``, DETR's decoder layer without self-attention; §3.2)."""

    def __init__(self, channels: int, heads: int, feedforward: int, dropout: float):
        super().__init__()
        self.attention = nn.MultiheadAttention(channels, heads, dropout=dropout, batch_first=True)
        self.attention_dropout = nn.Dropout(dropout)
        self.norm = nn.LayerNorm(channels, elementwise_affine=False)
        self.ffn = nn.Sequential(nn.Linear(channels, feedforward), nn.ReLU(), nn.Dropout(dropout),
                                 nn.Linear(feedforward, channels), nn.Dropout(dropout))

    def forward(self, queries: torch.Tensor, keys: torch.Tensor) -> torch.Tensor:
        attended = self.attention(queries, keys, keys, need_weights=False)[0]
        x = self.norm(queries + self.attention_dropout(attended))
        return x + self.ffn(x)


class GOAEncoder(nn.Module):
    """image [B,3,H,W] -> ws [B, num_ws, w_dim] (offsets from ``w_avg``)."""

    def __init__(self, config: GOAEConfig = GOAEConfig(), w_avg: torch.Tensor | None = None):
        super().__init__()

        self.config = config
        self.swin = SwinV2Trunk(config.input_resolution, config.embed_dim, config.depths, config.heads,
                                config.window, config.drop_path, config.pretrained_windows)
        e, k, top = config.embed_dim, config.w_dim, config.top_tokens
        fine, mid, coarse = ((config.input_resolution // s) ** 2 for s in (4, 8, 16))  # token counts
        self.base_tokens = _mapper(top, 1)
        self.base_channels = _mapper(8 * e, k)
        self.query_tokens = nn.ModuleList(_mapper(top, n) for n in config.group_sizes)
        self.query_channels = nn.ModuleList(_mapper(8 * e, k) for _ in config.group_sizes)
        self.coarse_kv = _activated(4 * e, k)
        self.mid_kv, self.coarse_lift = _activated(2 * e, k), _activated(coarse, 2 * coarse, mid)
        self.fine_kv, self.mid_lift = _activated(e, 2 * e, k), _activated(mid, 2 * mid, fine)
        self.attention = nn.ModuleList(CrossAttention(k, config.attention_heads, config.feedforward, config.dropout)
                                       for _ in config.group_sizes)
        w_avg = torch.zeros(k) if w_avg is None else w_avg.detach().clone().float()
        self.register_buffer("w_avg", w_avg)
        self.stage = len(config.group_sizes)
        """Active groups (training schedule :func:`goae_stage`); all of them by default (inference)."""

    def set_stage(self, stage: int) -> None:
        if not 0 <= stage <= len(self.config.group_sizes):
            raise ValueError(f"GOAE stage must lie in [0, {len(self.config.group_sizes)}], got {stage}")
        self.stage = int(stage)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        config = self.config
        side = config.input_resolution
        if image.shape[-1] != side:
            image = F.adaptive_avg_pool2d(image, side)
        assert_shape(image, [None, 3, side, side], "image")
        taps = self.swin(image)  # GOAE's taps: stage inputs, and the normed last stage (swin_v2.py)
        fine, mid, coarse = taps.fine, taps.mid, taps.coarse
        base_t, query_t = taps.base.transpose(1, 2), taps.query.transpose(1, 2)  # [B, C, T]: token-axis MLPs
        base = self.base_channels(self.base_tokens(base_t)[..., 0] + base_t.amax(dim=2))  # [B, K]
        keys = [self.coarse_kv(coarse)]  # [B, T_coarse, K]; coarser keys are lifted along the token axis:
        keys.append(self.mid_kv(mid) + self.coarse_lift(keys[0].transpose(1, 2)).transpose(1, 2))  # [B, T_mid, K]
        keys.append(self.fine_kv(fine) + self.mid_lift(keys[1].transpose(1, 2)).transpose(1, 2))  # [B, T_fine, K]
        deltas = [base.new_zeros(base.shape[0], 1, base.shape[1])]
        for group, size in enumerate(config.group_sizes):
            if group < self.stage:
                query = self.query_tokens[group](query_t) + query_t.amax(dim=2, keepdim=True)  # + max-pool, as the base
                queries = self.query_channels[group](query.transpose(1, 2))  # [B, n, K]
                deltas.append(self.attention[group](queries, keys[group]))
            else:
                deltas.append(base.new_zeros(base.shape[0], size, base.shape[1]))
        return base[:, None] + torch.cat(deltas, dim=1) + self.w_avg  # [B, L, K]

    def extra_repr(self) -> str:
        return f"stage={self.stage}, groups={self.config.group_sizes}"


class EqualConv2d(nn.Module):
    """Conv with runtime weight scale 1/sqrt(fan_in) (StyleGAN2 EqualConv2d), as in GOAE's AFA head."""

    def __init__(self, in_channels: int, out_channels: int, kernel: int = 3):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, kernel, kernel))
        self.bias = nn.Parameter(torch.zeros(out_channels))
        self.scale, self.padding = 1 / math.sqrt(in_channels * kernel * kernel), kernel // 2

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, self.weight * self.scale, self.bias, padding=self.padding)


class FeatureAdaptation(nn.Module):
    """AFA: (residual image, F map [B,C,h,w]) -> F' = gamma * F + beta (§3.2)."""

    def __init__(self, feature_channels: int, config: GOAEConfig = GOAEConfig()):
        super().__init__()
        widths, k = config.afa_channels, config.w_dim
        self.input_layer = nn.Sequential(nn.Conv2d(3, widths[0], 3, 1, 1, bias=False), nn.BatchNorm2d(widths[0]),
                                         nn.PReLU(widths[0]))
        units, previous = [], widths[0]
        for width in widths:
            for position in range(3):
                units.append(BottleneckIR(previous, width, 2 if position == 0 else 1, squeeze_excite=True))
                previous = width
        self.body = nn.Sequential(*units)
        self.head = nn.Sequential(EqualConv2d(previous, k), nn.LeakyReLU(0.2), _Gain(math.sqrt(2)), EqualConv2d(k, k))
        self.query_in = nn.Linear(feature_channels, k)
        self.gamma = CrossAttention(k, config.attention_heads, config.feedforward, config.dropout)
        self.beta = CrossAttention(k, config.attention_heads, config.feedforward, config.dropout)
        self.gamma_out, self.beta_out = nn.Linear(k, feature_channels), nn.Linear(k, feature_channels)
        self.norm = nn.LayerNorm(k, elementwise_affine=False)

    def forward(self, residual: torch.Tensor, features: torch.Tensor) -> torch.Tensor:
        batch, channels, height, width = features.shape
        keys = self.norm(self.head(self.body(self.input_layer(residual))).flatten(2).transpose(1, 2))  # [B, T, K]
        queries = self.norm(self.query_in(features.flatten(2).transpose(1, 2)))  # [B, h*w, K]
        gamma = self.gamma_out(self.gamma(queries, keys)).transpose(1, 2).reshape(batch, channels, height, width)
        beta = self.beta_out(self.beta(queries, keys)).transpose(1, 2).reshape(batch, channels, height, width)
        return gamma * features + beta


class _Gain(nn.Module):
    def __init__(self, gain: float):
        super().__init__()
        self.gain = gain

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.gain
