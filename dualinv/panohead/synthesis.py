"""StyleGAN2 synthesis blocks and networks, skip architecture (specs/panohead.md §2.7, §2.8).

One ``SynthesisNetwork`` makes the tri-grid (``backbone.synthesis``), another the background
feature image (``bcg_synthesis``); the super-resolution module reuses ``SynthesisBlock``.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from dualinv.panohead.layers import NoiseMode, SynthesisLayer, ToRGBLayer
from dualinv.panohead.ops import setup_filter, upsample2d
from dualinv.shapes import assert_shape

FusedModconv = bool | str | None
"""``True``/``False``, ``'inference_only'`` (fused unless training) or ``None`` (the block default)."""


def resolve_fused_modconv(value: FusedModconv, default: bool | str, training: bool) -> bool:
    """Official rule: ``None`` takes the default, ``'inference_only'`` means fused in eval mode only."""
    if value is None:
        value = default
    if value == "inference_only":
        return not training
    return bool(value)


def block_dtype(use_fp16: bool, force_fp32: bool, device: torch.device) -> torch.dtype:
    """fp16 only for fp16 blocks on CUDA when not forced to fp32 (§2.7, §5)."""
    return torch.float16 if use_fp16 and not force_fp32 and device.type == "cuda" else torch.float32


class SynthesisBlock(nn.Module):
    """One resolution of the skip architecture: [const | conv0 (↑2)] → conv1 → torgb, image skip (§2.7).

    ``upsample=False`` gives the official ``SynthesisBlockNoUp`` used by the 2×/4× super-resolution:
    conv0 keeps the resolution and the incoming image is added without upsampling.
    """

    def __init__(
        self,
        in_channels: int,  # input channels, 0 = first block with a learned constant
        out_channels: int,  # output channels
        w_dim: int,  # style vector width
        resolution: int,  # output resolution of this block
        img_channels: int,  # channels of the skip image (3, 32 or 96·D)
        is_last: bool,  # last block of its network (always has a torgb)
        use_fp16: bool = False,  # run in fp16 on CUDA unless force_fp32
        conv_clamp: float | None = None,  # activation clamp, None = no clamp
        fused_modconv_default: bool | str = True,  # default of fused_modconv ('inference_only' allowed)
        upsample: bool = True,  # False = SynthesisBlockNoUp
    ):
        super().__init__()
        self.in_channels = in_channels
        self.w_dim = w_dim
        self.resolution = resolution
        self.img_channels = img_channels
        self.is_last = is_last
        self.use_fp16 = use_fp16
        self.fused_modconv_default = fused_modconv_default
        self.upsample = upsample
        if in_channels == 0:
            self.const = nn.Parameter(torch.randn([out_channels, resolution, resolution]))
        self.register_buffer("resample_filter", setup_filter())
        self.num_conv = 1
        if in_channels != 0:
            up = 2 if upsample else 1
            self.conv0 = SynthesisLayer(in_channels, out_channels, w_dim, resolution, up=up, conv_clamp=conv_clamp)
            self.num_conv = 2
        self.conv1 = SynthesisLayer(out_channels, out_channels, w_dim, resolution, conv_clamp=conv_clamp)
        self.torgb = ToRGBLayer(out_channels, img_channels, w_dim, conv_clamp=conv_clamp)
        self.num_torgb = 1

    def forward(
        self,
        x: torch.Tensor | None,
        img: torch.Tensor | None,
        ws: torch.Tensor,
        noise_mode: NoiseMode = "random",
        force_fp32: bool = False,
        fused_modconv: FusedModconv = None,
        generator: torch.Generator | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        assert_shape(ws, [None, self.num_conv + self.num_torgb, self.w_dim], "ws")
        dtype = block_dtype(self.use_fp16, force_fp32, ws.device)
        fused = resolve_fused_modconv(fused_modconv, self.fused_modconv_default, self.training)
        w_iter = iter(ws.unbind(dim=1))
        layer_kwargs = dict(noise_mode=noise_mode, fused_modconv=fused, generator=generator)
        if self.in_channels == 0:
            x = self.const.to(dtype).unsqueeze(0).expand(ws.shape[0], -1, -1, -1)
            x = self.conv1(x, next(w_iter), **layer_kwargs)
        else:
            in_resolution = self.resolution // 2 if self.upsample else self.resolution
            assert_shape(x, [None, self.in_channels, in_resolution, in_resolution], "x")
            x = self.conv0(x.to(dtype), next(w_iter), **layer_kwargs)
            x = self.conv1(x, next(w_iter), **layer_kwargs)
        if img is not None and self.upsample:
            img = upsample2d(img, self.resample_filter)
        y = self.torgb(x, next(w_iter), fused_modconv=fused).to(torch.float32)
        img = y if img is None else img + y
        return x, img

    def extra_repr(self) -> str:
        return f"resolution={self.resolution}, upsample={self.upsample}, use_fp16={self.use_fp16}"


class SynthesisNetwork(nn.Module):
    """Blocks ``b4 … b{img_resolution}``; channels ``min(channel_base // res, channel_max)`` (§2.7)."""

    def __init__(
        self,
        w_dim: int,  # style vector width
        img_resolution: int,  # output resolution (power of two ≥ 4)
        img_channels: int,  # output channels
        channel_base: int = 32768,  # channels = channel_base / resolution, capped
        channel_max: int = 512,  # maximum channels per block
        num_fp16_res: int = 0,  # number of top resolutions in fp16 (on CUDA)
        conv_clamp: float | None = None,  # activation clamp, None = no clamp
        fused_modconv_default: bool | str = True,  # default of fused_modconv
    ):
        super().__init__()
        self.w_dim = w_dim
        self.img_resolution = img_resolution
        self.img_channels = img_channels
        log2 = int(math.log2(img_resolution))
        self.block_resolutions = [2**i for i in range(2, log2 + 1)]
        channels = {res: min(channel_base // res, channel_max) for res in self.block_resolutions}
        fp16_resolution = max(2 ** (log2 + 1 - num_fp16_res), 8)
        self.num_ws = 0
        for res in self.block_resolutions:
            block = SynthesisBlock(
                channels[res // 2] if res > 4 else 0,
                channels[res],
                w_dim,
                res,
                img_channels,
                is_last=res == img_resolution,
                use_fp16=res >= fp16_resolution,
                conv_clamp=conv_clamp,
                fused_modconv_default=fused_modconv_default,
            )
            setattr(self, f"b{res}", block)
            self.num_ws += block.num_conv
        self.num_ws += 1  # the last block's torgb

    def forward(
        self,
        ws: torch.Tensor,
        noise_mode: NoiseMode = "random",
        force_fp32: bool = False,
        fused_modconv: FusedModconv = None,
        update_emas: bool = False,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """``ws [B,num_ws,w_dim] -> [B,img_channels,img_resolution,img_resolution]`` (fp32)."""
        del update_emas  # accepted for the official signature; nothing to update here
        assert_shape(ws, [None, self.num_ws, self.w_dim], "ws")
        ws = ws.to(torch.float32)
        x = img = None
        w_idx = 0
        for res in self.block_resolutions:
            block: SynthesisBlock = getattr(self, f"b{res}")
            block_ws = ws.narrow(1, w_idx, block.num_conv + block.num_torgb)
            w_idx += block.num_conv
            x, img = block(
                x, img, block_ws, noise_mode=noise_mode, force_fp32=force_fp32, fused_modconv=fused_modconv, generator=generator
            )
        return img

    def extra_repr(self) -> str:
        return f"w_dim={self.w_dim}, num_ws={self.num_ws}, img_resolution={self.img_resolution}, img_channels={self.img_channels}"
