"""The occlusion-aware triplane discriminator (paper §3.3, Table 6) and its two ablation variants.

Table 6 (A.1), Conv2D(in, out, kernel, stride, padding), bias disabled everywhere:

    Conv2D(288, 64, 3, 1, 1)  LeakyReLU(0.2)
    Conv2D(64, 128, 3, 1, 1)  BatchNorm2D(128) LeakyReLU(0.2)
    Conv2D(128, 256, 3, 1, 1) BatchNorm2D(256) LeakyReLU(0.2)
    Conv2D(256, 512, 3, 1, 1) BatchNorm2D(512) LeakyReLU(0.2)
    Conv2D(512, 1, 3, 1, 0)   AvgPool(1)

The output is [batch, 1] with no sigmoid (WGAN-style loss, A.1), so "AvgPool(1)" is read as a
global average pool to 1x1. The input is the occluded tri-grid [B, 3, 96, 256, 256] with the depth
slices folded into channels, [B, 288, 256, 256] (A.1); the image-domain ablation takes 3 input
channels (A.1 "Ablation image discriminator", §5.2). Kinds (Table 3 rows):

* ``triplane_occlusion``: tri-grid x occlusion mask O_pi (Eq. 4, 6, 8) - the mask is required;
* ``triplane``: the same net on the unmasked tri-grid ("D w/o triplane occ.");
* ``image``: the same net on rendered images ("D w image domain").
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
from torch import nn

from dualinv.errors import ConfigError
from dualinv.shapes import assert_shape
from dualinv.standin import build_seeded

DiscriminatorKind = Literal["triplane_occlusion", "triplane", "image"]

TRIGRID_CHANNELS = 288
"""3 planes x 32 features x 3 depth slices (A.1; panohead.md §3.1)."""
IMAGE_CHANNELS = 3
LEAKY_SLOPE = 0.2


@dataclass(frozen=True)
class DiscriminatorConfig:
    """Table 6 sizes; ``hidden_channels`` may shrink for the CPU demo."""

    kind: DiscriminatorKind = "triplane_occlusion"
    """Which Table 3 discriminator (see module docstring)."""
    input_channels: int | None = None
    """Channels entering the first conv; ``None`` = 288 for tri-grid kinds, 3 for ``image``."""
    hidden_channels: tuple[int, ...] = (64, 128, 256, 512)
    """Outputs of the four 3x3/s1/p1 convs (Table 6)."""

    def __post_init__(self) -> None:
        if self.kind not in ("triplane_occlusion", "triplane", "image"):
            raise ConfigError(f"discriminator.kind must be triplane_occlusion, triplane or image, got {self.kind!r}")
        if len(self.hidden_channels) < 1 or min(self.hidden_channels) < 1:
            raise ConfigError(f"discriminator.hidden_channels must be positive, got {self.hidden_channels}")

    @property
    def in_channels(self) -> int:
        if self.input_channels is not None:
            return self.input_channels
        return IMAGE_CHANNELS if self.kind == "image" else TRIGRID_CHANNELS


def mask_and_fold(trigrid: torch.Tensor, occlusion_mask: torch.Tensor | None) -> torch.Tensor:
    """``trigrid`` [B, 3, D*F, H, W] x mask (broadcastable, e.g. [B, 3, 96, H, W] or [B, 3, 1, H, W]),
    folded to the discriminator input [B, 3*D*F, H, W] (A.1); ``None`` = no masking."""
    assert_shape(trigrid, [None, 3, None, None, None], "trigrid")
    if occlusion_mask is not None:
        trigrid = trigrid * occlusion_mask
    return trigrid.reshape(trigrid.shape[0], -1, *trigrid.shape[-2:])  # [B, P*D*F, H, W]


class Table6Discriminator(nn.Module):
    """Table 6 network: [B, C, H, W] -> logits [B, 1]; no bias, BatchNorm, LeakyReLU(0.2), no sigmoid."""

    def __init__(self, config: DiscriminatorConfig = DiscriminatorConfig()):
        super().__init__()
        self.config = config
        layers: list[nn.Module] = []
        channels = (config.in_channels, *config.hidden_channels)
        for index, (c_in, c_out) in enumerate(zip(channels[:-1], channels[1:])):
            layers.append(nn.Conv2d(c_in, c_out, 3, 1, 1, bias=False))
            if index > 0:
                layers.append(nn.BatchNorm2d(c_out))
            layers.append(nn.LeakyReLU(LEAKY_SLOPE))
        layers += [nn.Conv2d(channels[-1], 1, 3, 1, 0, bias=False), nn.AdaptiveAvgPool2d(1), nn.Flatten()]
        self.layers = nn.Sequential(*layers)

    @property
    def uses_occlusion_mask(self) -> bool:
        return self.config.kind == "triplane_occlusion"

    def forward(self, x: torch.Tensor, occlusion_mask: torch.Tensor | None = None) -> torch.Tensor:
        """Tri-grid kinds take ``x`` [B, 3, D*F, H, W] (folded here); ``image`` takes [B, 3, H, W].

        ``triplane_occlusion`` multiplies by ``occlusion_mask`` first (Eq. 4); the other kinds
        refuse a mask so a wiring mistake cannot silently turn one ablation into another.
        """
        if self.uses_occlusion_mask and occlusion_mask is None:
            raise ValueError("the occlusion-aware discriminator needs occlusion_mask (Eq. 4)")
        if not self.uses_occlusion_mask and occlusion_mask is not None:
            raise ValueError(f"a {self.config.kind!r} discriminator takes no occlusion_mask")
        if self.config.kind != "image":
            x = mask_and_fold(x, occlusion_mask)
        assert_shape(x, [None, self.config.in_channels, None, None], "discriminator input")
        return self.layers(x)  # [B, 1]


def build_discriminator(kind: DiscriminatorKind | DiscriminatorConfig, *, seed: int = 0) -> Table6Discriminator:
    """The Table 3 discriminator ``kind`` (paper sizes) or the one a config describes, seeded."""
    config = kind if isinstance(kind, DiscriminatorConfig) else DiscriminatorConfig(kind=kind)
    return build_seeded(lambda: Table6Discriminator(config), seed)
