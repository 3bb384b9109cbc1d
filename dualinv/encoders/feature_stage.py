"""The high-rate F stage of TriPlaneNet v2 (paper §3.2, A.2 "TriplanenetEncoder").

Facts (encoders-baselines.md §3.1, ``--use_pixelshuffle`` variant): the input is 9 channels at
256x256 (:func:`feature_stage_input`); an IR-SE50 body is tapped at c0 = end of stage 1,
c1 = end of stage 2, c2 = end of stage 3, c3 = first unit of stage 4, x = end of body; a
PixelShuffle decoder with DoubleConvs 1024->512, 384->384, 224->256, 128->96 and a last shuffle to
24x256x256; a head on ``concat(trigrid, 24)`` (conv3x3, PReLU, conv3x3, PReLU, conv1x1) whose
output is *added* to the generator's tri-grid with no scale. PanoHead adaptation (§3.1
[INFERRED]): the head maps 288 + 24 = 312 -> 288 -> 288 and the residual covers all 288 channels.

Deliberate differences from the reference, documented: the DoubleConv ends with one PReLU (the
reference applies a second PReLU in a row, a quirk §3.1 calls harmless); PReLUs have one slope
per channel (the reference's count is not stated in the spec).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from dualinv.encoders.backbone import BackboneConfig, IRBackbone
from dualinv.errors import ConfigError
from dualinv.shapes import assert_shape

FEATURE_STAGE_INPUT_CHANNELS = 9
"""render of ws, image - render, mirrored image - render from the mirrored camera (§3.1)."""


@dataclass(frozen=True)
class FeatureStageConfig:
    """The F-stage encoder; defaults are the paper's (IR-SE50, 256 input, PanoHead tri-grid)."""

    kind: Literal["feature_stage"] = "feature_stage"
    """Factory key (``build_encoder``)."""
    backbone: BackboneConfig = field(default_factory=lambda: BackboneConfig(input_channels=9))
    """IR-SE backbone; its input is the 9-channel stack of :func:`feature_stage_input`."""
    input_resolution: int = 256
    """Side of the input stack in pixels (paper 256)."""
    trigrid_channels: int = 288
    """Tri-grid channels when folded: planes x features x depth slices (3 x 32 x 3 = 288)."""
    trigrid_resolution: int = 256
    """Side of each tri-grid plane (PanoHead 256); the decoder output is resized if it differs."""
    head_channels: int | None = None
    """Width of the head's two 3x3 convs; ``None`` = ``trigrid_channels`` (the paper's 288). The tiny CPU
    encoders use their backbone's last width: at 288 the head alone was half of a tiny checkpoint."""

    def __post_init__(self) -> None:
        side = self.input_resolution
        if side < 32 or side & (side - 1):
            raise ConfigError(f"feature_stage.input_resolution must be a power of two >= 32, got {side}")
        if self.backbone.input_channels != FEATURE_STAGE_INPUT_CHANNELS:
            raise ConfigError("feature_stage.backbone.input_channels must be 9 (render, residual, mirror residual)")
        if self.trigrid_channels < 1 or self.trigrid_resolution < 1:
            raise ConfigError("feature_stage.trigrid_channels and trigrid_resolution must be positive")
        if self.head_channels is not None and self.head_channels < 1:
            raise ConfigError(f"feature_stage.head_channels must be positive or None, got {self.head_channels}")
        s1, _, _, s4 = self.backbone.stage_channels
        if (3 * s1) % 2 or any(c % 4 for c in self.decoder_channels[:4]):
            raise ConfigError(f"feature_stage.backbone.width {self.backbone.width} gives decoder channels "
                              f"{self.decoder_channels} that PixelShuffle(2) cannot split; use width 1, 0.5 or 0.125")

    @property
    def decoder_channels(self) -> tuple[int, int, int, int, int]:
        """Outputs of up1..up4 and of the last shuffle: 512, 384, 256, 96, 24 at paper size."""
        s1, _, s3, s4 = self.backbone.stage_channels
        up1 = s4
        up2 = up1 // 4 + s3
        up3 = s3
        up4 = 3 * s1 // 2
        return up1, up2, up3, up4, up4 // 4


def feature_stage_input(image: torch.Tensor, render: torch.Tensor,
                        image_mirrored: torch.Tensor, render_mirrored: torch.Tensor) -> torch.Tensor:
    """The 9-channel F-stage input ``[render, image - render, mirror image - mirror render]`` (§3.1).

    ``render`` is the W+ reconstruction at the input camera, ``render_mirrored`` at the mirrored
    camera; both are detached here, as in the reference.
    """
    render, render_mirrored = render.detach(), render_mirrored.detach()
    return torch.cat([render, image - render, image_mirrored - render_mirrored], dim=1)


class DoubleConv(nn.Module):
    """BN(in), conv3x3 in->out, PReLU, conv3x3 out->out, PReLU (§3.1, one PReLU at the end)."""

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        self.in_channels, self.out_channels = in_channels, out_channels
        self.layers = nn.Sequential(
            nn.BatchNorm2d(in_channels),
            nn.Conv2d(in_channels, out_channels, 3, 1, 1),
            nn.PReLU(out_channels),
            nn.Conv2d(out_channels, out_channels, 3, 1, 1),
            nn.PReLU(out_channels),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)

    def extra_repr(self) -> str:
        return f"{self.in_channels} -> {self.out_channels}"


class TriPlaneFeatureEncoder(nn.Module):
    """F stage: (9-channel stack, tri-grid) -> tri-grid + residual, same shape as the tri-grid given."""

    def __init__(self, config: FeatureStageConfig = FeatureStageConfig()):
        super().__init__()
        self.config = config
        self.backbone = IRBackbone(config.backbone)
        s1, s2, s3, s4 = config.backbone.stage_channels
        up1, up2, up3, up4, last = config.decoder_channels
        self.shuffle = nn.PixelShuffle(2)
        self.up1 = DoubleConv(2 * s4, up1)
        self.up2 = DoubleConv(up1 // 4 + s3, up2)
        self.up3 = DoubleConv(up2 // 4 + s2, up3)
        self.up4 = DoubleConv(up3 // 4 + s1, up4)
        hidden = config.trigrid_channels if config.head_channels is None else config.head_channels
        self.head = nn.Sequential(
            nn.Conv2d(config.trigrid_channels + last, hidden, 3, 1, 1), nn.PReLU(hidden),
            nn.Conv2d(hidden, hidden, 3, 1, 1), nn.PReLU(hidden),
            nn.Conv2d(hidden, config.trigrid_channels, 1),
        )

    def residual(self, encoder_input: torch.Tensor, trigrid_folded: torch.Tensor) -> torch.Tensor:
        """The F-stage residual [B, C_T, T, T] for a folded tri-grid [B, C_T, T, T]."""
        config = self.config
        side = config.input_resolution
        assert_shape(encoder_input, [None, FEATURE_STAGE_INPUT_CHANNELS, side, side], "encoder_input")
        starts, ends = config.backbone.stage_start, config.backbone.stage_end
        x, taps = self.backbone(encoder_input, {"c0": ends[0], "c1": ends[1], "c2": ends[2], "c3": starts[3]})
        x = self.up1(torch.cat([taps["c3"], x], dim=1))                    # [B, s4, R/16]
        x = self.up2(torch.cat([self.shuffle(x), taps["c2"]], dim=1))      # [B, up2, R/8]
        x = self.up3(torch.cat([self.shuffle(x), taps["c1"]], dim=1))      # [B, up3, R/4]
        x = self.up4(torch.cat([self.shuffle(x), taps["c0"]], dim=1))      # [B, up4, R/2]
        x = self.shuffle(x)                                                # [B, up4/4, R]
        if x.shape[-1] != trigrid_folded.shape[-1]:
            x = F.interpolate(x, size=trigrid_folded.shape[-2:], mode="bilinear", align_corners=False)
        return self.head(torch.cat([trigrid_folded, x], dim=1))

    def forward(self, encoder_input: torch.Tensor, trigrid: torch.Tensor) -> torch.Tensor:
        """``trigrid`` [B, 3, D*F, T, T] (or folded [B, C_T, T, T]) -> ``trigrid + residual``, same shape."""
        config = self.config
        side = config.trigrid_resolution
        folded = trigrid.reshape(trigrid.shape[0], -1, *trigrid.shape[-2:])  # [B, P*D*F, T, T]
        assert_shape(folded, [None, config.trigrid_channels, side, side], "trigrid (folded)")
        return trigrid + self.residual(encoder_input, folded).reshape(trigrid.shape)
