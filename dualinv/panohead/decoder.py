"""The OSG decoder MLP: tri-grid features → raw density and colour features (specs/panohead.md §4.1)."""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from dualinv.panohead.layers import FullyConnectedLayer
from dualinv.shapes import assert_shape

DecoderActivation = Literal["none", "sigmoid", "lrelu"]


class OSGDecoder(nn.Module):
    """Mean over the 3 planes, then FC 32→64, softplus, FC 64→1+32; no view dependence (§4.1)."""

    hidden_dim = 64

    def __init__(
        self,
        n_features: int = 32,  # tri-grid feature channels (C)
        output_dim: int = 32,  # colour-feature channels besides the density
        lr_multiplier: float = 1.0,  # decoder_lr_mul
        activation: DecoderActivation = "none",  # on the features: none (PanoHead), sigmoid (EG3D), lrelu
    ):
        super().__init__()
        self.activation = activation
        self.net = nn.Sequential(
            FullyConnectedLayer(n_features, self.hidden_dim, lr_multiplier=lr_multiplier),
            nn.Softplus(),
            FullyConnectedLayer(self.hidden_dim, 1 + output_dim, lr_multiplier=lr_multiplier),
        )

    def forward(self, plane_features: torch.Tensor, directions: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        """``plane_features [B,3,M,C]`` → ``{'rgb': [B,M,32], 'sigma': [B,M,1]}`` (raw density)."""
        del directions  # the official decoder ignores view directions
        assert_shape(plane_features, [None, None, None, self.net[0].in_features], "plane_features")
        x = plane_features.mean(1)  # [B,M,C]
        batch, num_points, channels = x.shape
        x = self.net(x.reshape(batch * num_points, channels)).reshape(batch, num_points, -1)
        rgb, sigma = x[..., 1:], x[..., 0:1]
        if self.activation == "sigmoid":
            rgb = torch.sigmoid(rgb) * (1 + 2 * 0.001) - 0.001
        elif self.activation == "lrelu":
            rgb = F.leaky_relu(rgb, 0.2) * (2**0.5)
        return {"rgb": rgb, "sigma": sigma}

    def extra_repr(self) -> str:
        return f"activation={self.activation}"
