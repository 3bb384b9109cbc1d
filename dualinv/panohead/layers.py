"""StyleGAN2 layers with the official parameter names (specs/panohead.md §2.1, §2.5, §2.6)."""

from __future__ import annotations

import math
from typing import Literal

import torch
from torch import nn

from dualinv.panohead.ops import ACTIVATION_GAINS, bias_act, modulated_conv2d, setup_filter
from dualinv.seeding import normal

NoiseMode = Literal["random", "const", "none"]


class FullyConnectedLayer(nn.Module):
    """``y = act(x · (W·lr_mul/√in)ᵀ + b·lr_mul)`` with equalised learning rate (§2.1)."""

    def __init__(
        self,
        in_features: int,  # input width
        out_features: int,  # output width
        bias: bool = True,  # learn an additive bias
        activation: str = "linear",  # 'linear' or 'lrelu' (×√2)
        lr_multiplier: float = 1.0,  # learning-rate multiplier; stored weights are divided by it
        bias_init: float = 0.0,  # initial bias (1 for the style 'affine' layers)
    ):
        super().__init__()
        self.in_features = in_features
        self.out_features = out_features
        self.activation = activation
        self.weight = nn.Parameter(torch.randn([out_features, in_features]) / lr_multiplier)
        self.bias = nn.Parameter(torch.full([out_features], float(bias_init))) if bias else None
        self.weight_gain = lr_multiplier / math.sqrt(in_features)
        self.bias_gain = lr_multiplier

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        weight = self.weight.to(x.dtype) * self.weight_gain
        bias = self.bias
        if bias is not None:
            bias = bias.to(x.dtype)
            if self.bias_gain != 1:
                bias = bias * self.bias_gain
        if self.activation == "linear" and bias is not None:
            return torch.addmm(bias.unsqueeze(0), x, weight.t())
        return bias_act(x.matmul(weight.t()), bias, self.activation)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, activation={self.activation}"


class SynthesisLayer(nn.Module):
    """Modulated 3×3 conv → noise → bias → lrelu·√2 → clamp (§2.5)."""

    def __init__(
        self,
        in_channels: int,  # input feature channels
        out_channels: int,  # output feature channels
        w_dim: int,  # style vector width
        resolution: int,  # output resolution (noise map size)
        up: int = 1,  # 2 = upsample ×2 inside the convolution
        use_noise: bool = True,  # register noise_const / noise_strength
        conv_clamp: float | None = None,  # clamp of the activations, None = no clamp
        kernel_size: int = 3,  # spatial size of the conv kernel
    ):
        super().__init__()
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.resolution = resolution
        self.up = up
        self.use_noise = use_noise
        self.conv_clamp = conv_clamp
        self.register_buffer("resample_filter", setup_filter())
        self.affine = FullyConnectedLayer(w_dim, in_channels, bias_init=1)
        self.weight = nn.Parameter(torch.randn([out_channels, in_channels, kernel_size, kernel_size]))
        if use_noise:
            self.register_buffer("noise_const", torch.randn([resolution, resolution]))
            self.noise_strength = nn.Parameter(torch.zeros([]))
        self.bias = nn.Parameter(torch.zeros([out_channels]))

    def forward(
        self,
        x: torch.Tensor,
        w: torch.Tensor,
        noise_mode: NoiseMode = "random",
        fused_modconv: bool = True,
        gain: float = 1.0,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        styles = self.affine(w)
        noise = None
        if self.use_noise and noise_mode == "random":
            shape = [x.shape[0], 1, self.resolution, self.resolution]
            noise = normal(shape, generator, device=x.device) * self.noise_strength
        elif self.use_noise and noise_mode == "const":
            noise = self.noise_const * self.noise_strength
        elif noise_mode not in ("random", "const", "none"):
            raise ValueError(f"noise_mode must be 'random', 'const' or 'none', got {noise_mode!r}")
        x = modulated_conv2d(
            x, self.weight, styles, noise=noise, up=self.up, fused=fused_modconv, resample_filter=self.resample_filter
        )
        clamp = self.conv_clamp * gain if self.conv_clamp is not None else None
        return bias_act(x, self.bias.to(x.dtype), "lrelu", gain=ACTIVATION_GAINS["lrelu"] * gain, clamp=clamp)

    def extra_repr(self) -> str:
        return (
            f"in_channels={self.in_channels}, out_channels={self.out_channels}, "
            f"resolution={self.resolution}, up={self.up}, conv_clamp={self.conv_clamp}"
        )


class ToRGBLayer(nn.Module):
    """Modulated 1×1 conv without demodulation, styles scaled by 1/√in (§2.6)."""

    def __init__(
        self,
        in_channels: int,  # input feature channels
        out_channels: int,  # output image (or tri-grid) channels
        w_dim: int,  # style vector width
        conv_clamp: float | None = None,  # clamp of the output, None = no clamp
    ):
        super().__init__()
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.conv_clamp = conv_clamp
        self.affine = FullyConnectedLayer(w_dim, in_channels, bias_init=1)
        self.weight = nn.Parameter(torch.randn([out_channels, in_channels, 1, 1]))
        self.bias = nn.Parameter(torch.zeros([out_channels]))
        self.weight_gain = 1 / math.sqrt(in_channels)

    def forward(self, x: torch.Tensor, w: torch.Tensor, fused_modconv: bool = True) -> torch.Tensor:
        styles = self.affine(w) * self.weight_gain
        x = modulated_conv2d(x, self.weight, styles, demodulate=False, fused=fused_modconv)
        return bias_act(x, self.bias.to(x.dtype), clamp=self.conv_clamp)

    def extra_repr(self) -> str:
        return f"in_channels={self.in_channels}, out_channels={self.out_channels}, conv_clamp={self.conv_clamp}"
