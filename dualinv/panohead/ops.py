"""Pure-PyTorch replacements for the StyleGAN2 CUDA plugins (specs/panohead.md §2.2–§2.4).

The official code ships custom CUDA kernels (``bias_act``, ``upfirdn2d``) with reference PyTorch
paths; these functions implement the reference semantics only, so they run on any device.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

LRELU_SLOPE = 0.2
"""Negative slope of every leaky ReLU in the generator."""

ACTIVATION_GAINS = {"linear": 1.0, "lrelu": math.sqrt(2.0)}
"""Default output gain per activation (§2.2): keeps the activation variance at one."""

FIR_TAPS = (1.0, 3.0, 3.0, 1.0)
"""The 1-D binomial low-pass filter behind every ``resample_filter`` buffer (§2.3)."""


def setup_filter(taps: tuple[float, ...] = FIR_TAPS, device: torch.device | None = None) -> torch.Tensor:
    """The 2-D resampling filter ``outer(taps, taps) / sum`` (§2.3); ``[4, 4]`` for the default taps."""
    f = torch.as_tensor(taps, dtype=torch.float32, device=device)
    f = torch.outer(f, f)
    return f / f.sum()


def bias_act(
    x: torch.Tensor,
    bias: torch.Tensor | None = None,
    activation: str = "linear",
    gain: float | None = None,
    clamp: float | None = None,
) -> torch.Tensor:
    """``clamp(act(x + bias) * gain, -clamp, clamp)`` with the bias broadcast along dim 1 (§2.2)."""
    if bias is not None:
        x = x + bias.reshape([1, -1] + [1] * (x.ndim - 2))
    if activation == "lrelu":
        x = F.leaky_relu(x, LRELU_SLOPE)
    elif activation != "linear":
        raise ValueError(f"unknown activation {activation!r}; expected 'linear' or 'lrelu'")
    gain = ACTIVATION_GAINS[activation] if gain is None else gain
    if gain != 1:
        x = x * gain
    if clamp is not None and clamp >= 0:
        x = x.clamp(-clamp, clamp)
    return x


def filter2d(x: torch.Tensor, f: torch.Tensor, padding: int, gain: float = 1.0) -> torch.Tensor:
    """Zero-pad by ``padding`` on every side, then correlate each channel with ``gain * flip(f)`` (§2.3)."""
    channels = x.shape[1]
    kernel = (f * gain).flip([0, 1]).to(x.dtype)
    kernel = kernel[None, None].expand(channels, 1, *f.shape)
    x = F.pad(x, [padding] * 4)
    return F.conv2d(x, kernel, groups=channels)


def upsample2d(x: torch.Tensor, f: torch.Tensor) -> torch.Tensor:
    """FIR upsampling ×2 (§2.3: up 2, padding (2,1,2,1), gain 4); ``[B,C,H,W] -> [B,C,2H,2W]``.

    Zero insertion followed by correlation with the flipped filter is a transposed convolution
    with stride 2 and the unflipped filter; the padding ``(2, 1)`` of the reference path equals a
    transposed-convolution crop of 1 on every side.
    """
    channels = x.shape[1]
    kernel = (f * 4).to(x.dtype)
    kernel = kernel[None, None].expand(channels, 1, *f.shape)
    return F.conv_transpose2d(x, kernel, stride=2, padding=1, groups=channels)


def modulated_conv2d(
    x: torch.Tensor,
    weight: torch.Tensor,
    styles: torch.Tensor,
    noise: torch.Tensor | None = None,
    up: int = 1,
    demodulate: bool = True,
    fused: bool = True,
    resample_filter: torch.Tensor | None = None,
) -> torch.Tensor:
    """StyleGAN2 modulated convolution (§2.4); ``x [B,I,H,W]``, ``weight [O,I,k,k]``, ``styles [B,I]``.

    ``fused`` runs one grouped convolution with per-sample weights; otherwise the input is scaled by
    the styles and the output by the demodulation coefficients (identical up to float rounding).
    ``up=2`` (3×3 only) is a stride-2 transposed convolution, a one-pixel zero pad and the FIR filter
    with gain 4, giving ``[B,O,2H,2W]``. ``noise`` is added after demodulation.
    """
    batch, in_channels = x.shape[:2]
    out_channels, _, kh, kw = weight.shape
    if x.dtype == torch.float16 and demodulate:
        # fp16 overflow guard (§2.4): factors cancel after demodulation.
        weight = weight * (1 / math.sqrt(in_channels * kh * kw) / weight.norm(float("inf"), dim=[1, 2, 3], keepdim=True))
        styles = styles / styles.norm(float("inf"), dim=1, keepdim=True)

    per_sample = None
    dcoefs = None
    if demodulate or fused:
        per_sample = weight.unsqueeze(0) * styles.reshape(batch, 1, -1, 1, 1)  # [B,O,I,k,k]
    if demodulate:
        dcoefs = (per_sample.square().sum(dim=[2, 3, 4]) + 1e-8).rsqrt()  # [B,O]

    if not fused:
        x = x * styles.to(x.dtype).reshape(batch, -1, 1, 1)
        x = _conv(x, weight.to(x.dtype), up, groups=1, resample_filter=resample_filter)
        if dcoefs is not None and noise is not None:
            return torch.addcmul(noise.to(x.dtype), x, dcoefs.to(x.dtype).reshape(batch, -1, 1, 1))
        if dcoefs is not None:
            x = x * dcoefs.to(x.dtype).reshape(batch, -1, 1, 1)
        return x if noise is None else x + noise.to(x.dtype)

    if dcoefs is not None:
        per_sample = per_sample * dcoefs.reshape(batch, -1, 1, 1, 1)
    x = x.reshape(1, batch * in_channels, *x.shape[2:])
    per_sample = per_sample.reshape(batch * out_channels, in_channels, kh, kw)
    x = _conv(x, per_sample.to(x.dtype), up, groups=batch, resample_filter=resample_filter)
    x = x.reshape(batch, out_channels, *x.shape[2:])
    return x if noise is None else x + noise.to(x.dtype)


def _conv(x: torch.Tensor, weight: torch.Tensor, up: int, groups: int, resample_filter: torch.Tensor | None) -> torch.Tensor:
    """Same-size correlation (``up=1``) or the ×2 transposed-conv + FIR path of §2.3, with groups."""
    kh = weight.shape[-1]
    if up == 1:
        return F.conv2d(x, weight, padding=kh // 2, groups=groups)
    if up != 2 or kh != 3 or resample_filter is None:
        raise ValueError("only up=1, or up=2 with a 3x3 kernel and a resample filter, are supported")
    out_per_group, in_per_group = weight.shape[0] // groups, weight.shape[1]
    # conv_transpose2d takes [in, out/groups, k, k]; the weight is used without a spatial flip.
    weight_t = weight.reshape(groups, out_per_group, in_per_group, kh, kh).transpose(1, 2)
    weight_t = weight_t.reshape(groups * in_per_group, out_per_group, kh, kh)
    x = F.conv_transpose2d(x, weight_t, stride=2, groups=groups)  # [.,.,2H+1,2W+1]
    return filter2d(x, resample_filter, padding=1, gain=4.0)  # [.,.,2H,2W]
