"""Super-resolution heads: neural-rendered features → final image (specs/panohead.md §5).

The four official variants differ only in their two blocks (channels, resolutions, whether the first
block upsamples), the input resolution, the resize rule and a top-level ``resample_filter`` buffer
(every variant except 8XDC has one; it is unused). All use ``ws[:, -1]`` for their six style inputs.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from dualinv.panohead.layers import NoiseMode
from dualinv.panohead.ops import setup_filter
from dualinv.panohead.synthesis import FusedModconv, SynthesisBlock
from dualinv.shapes import assert_shape

SR_W_DIM = 512
"""The official SR blocks hard-code a 512-wide style vector."""


@dataclass(frozen=True)
class SuperresolutionSpec:
    """Structure of one official super-resolution class."""

    img_resolution: int
    """Output resolution the class asserts."""
    input_resolution: int
    """Feature-image resolution the first block expects."""
    block0: tuple[int, int, bool]
    """(output channels, resolution, upsamples) of block0; block1 always doubles the resolution."""
    block1_channels: int
    """Output channels of block1."""
    resize_only_smaller: bool
    """True: resize the input only when smaller than input_resolution; False: whenever it differs."""
    has_resample_filter: bool
    """Whether the module registers its (unused) top-level ``resample_filter`` buffer."""


SUPERRESOLUTION_SPECS = {
    "SuperresolutionHybrid2X": SuperresolutionSpec(128, 64, (128, 64, False), 64, False, True),
    "SuperresolutionHybrid4X": SuperresolutionSpec(256, 128, (128, 128, False), 64, True, True),
    "SuperresolutionHybrid8X": SuperresolutionSpec(512, 128, (128, 256, True), 64, False, True),
    "SuperresolutionHybrid8XDC": SuperresolutionSpec(512, 128, (256, 256, True), 128, False, False),
}
"""Official class name (without the ``training.superresolution.`` prefix) → structure."""


class Superresolution(nn.Module):
    """Two synthesis blocks on the feature image, with the raw RGB image as the skip input (§5)."""

    def __init__(
        self,
        spec: SuperresolutionSpec,  # which official variant
        channels: int = 32,  # feature-image channels
        sr_num_fp16_res: int = 4,  # > 0: fp16 blocks on CUDA and activation clamp 256
        sr_antialias: bool = True,  # antialias flag of the input resize
        fused_modconv_default: bool | str = "inference_only",  # block default of fused_modconv
    ):
        super().__init__()
        self.spec = spec
        self.input_resolution = spec.input_resolution
        self.sr_antialias = sr_antialias
        use_fp16 = sr_num_fp16_res > 0
        conv_clamp = 256 if use_fp16 else None
        out0, res0, upsample0 = spec.block0
        common = dict(w_dim=SR_W_DIM, img_channels=3, use_fp16=use_fp16, conv_clamp=conv_clamp, fused_modconv_default=fused_modconv_default)
        self.block0 = SynthesisBlock(channels, out0, resolution=res0, is_last=False, upsample=upsample0, **common)
        self.block1 = SynthesisBlock(out0, spec.block1_channels, resolution=2 * res0, is_last=True, **common)
        if spec.has_resample_filter:
            self.register_buffer("resample_filter", setup_filter())

    def forward(
        self,
        rgb: torch.Tensor,
        x: torch.Tensor,
        ws: torch.Tensor,
        noise_mode: NoiseMode = "none",
        force_fp32: bool = False,
        fused_modconv: FusedModconv = None,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """``rgb [B,3,R,R]``, ``x [B,C,R,R]``, ``ws [B,num_ws,512]`` → image ``[B,3,img_res,img_res]``."""
        assert_shape(ws, [None, None, SR_W_DIM], "ws")
        ws = ws[:, -1:].repeat(1, 3, 1)
        size = self.input_resolution
        needs_resize = x.shape[-1] < size if self.spec.resize_only_smaller else x.shape[-1] != size
        if needs_resize:
            resize = dict(size=(size, size), mode="bilinear", align_corners=False, antialias=self.sr_antialias)
            x = F.interpolate(x, **resize)
            rgb = F.interpolate(rgb, **resize)
        kwargs = dict(noise_mode=noise_mode, force_fp32=force_fp32, fused_modconv=fused_modconv, generator=generator)
        x, rgb = self.block0(x, rgb, ws, **kwargs)
        _, rgb = self.block1(x, rgb, ws, **kwargs)
        return rgb

    def extra_repr(self) -> str:
        return f"input_resolution={self.input_resolution}, img_resolution={self.spec.img_resolution}"
