"""Mapping networks: z, c → ws, and the camera-offset mapping ``t_mapping`` (specs/panohead.md §1.4)."""

from __future__ import annotations

import torch
from torch import nn

from dualinv.panohead.layers import FullyConnectedLayer
from dualinv.shapes import assert_shape


def normalize_2nd_moment(x: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """``x / sqrt(mean(x², dim=1) + eps)``: unit second moment per sample (§1.4 steps 1 and 3)."""
    return x * (x.square().mean(dim=1, keepdim=True) + eps).rsqrt()


def truncate(ws: torch.Tensor, w_avg: torch.Tensor, psi: float, cutoff: int | None = None) -> torch.Tensor:
    """Truncation trick ``w_avg + psi·(w − w_avg)`` on the first ``cutoff`` ws (all if None) (§1.4 step 6)."""
    if psi == 1:
        return ws
    if cutoff is None:
        return w_avg.lerp(ws, psi)
    head = w_avg.lerp(ws[:, :cutoff], psi)
    return torch.cat([head, ws[:, cutoff:]], dim=1)


class MappingNetwork(nn.Module):
    """z [B,z_dim], c [B,c_dim] → ws [B,num_ws,w_dim]; keeps the running mean ``w_avg`` (§1.4)."""

    def __init__(
        self,
        z_dim: int,  # latent width (0 = no z input)
        c_dim: int,  # conditioning label width (0 = unconditional)
        w_dim: int,  # output width
        num_ws: int,  # copies of w in the output
        num_layers: int = 8,  # fully connected layers after the concatenation
        lr_multiplier: float = 0.01,  # learning-rate multiplier of the fc layers
        last_activation: str | None = None,  # activation of the last fc layer (None = 'lrelu')
        w_avg_beta: float = 0.998,  # EMA decay of w_avg during training
    ):
        super().__init__()
        self.z_dim = z_dim
        self.c_dim = c_dim
        self.w_dim = w_dim
        self.num_ws = num_ws
        self.num_layers = num_layers
        self.w_avg_beta = w_avg_beta
        embed_features = w_dim if c_dim > 0 else 0
        features = [z_dim + embed_features] + [w_dim] * num_layers
        if c_dim > 0:
            self.embed = FullyConnectedLayer(c_dim, embed_features)
        for idx in range(num_layers):
            activation = last_activation if idx == num_layers - 1 and last_activation is not None else "lrelu"
            layer = FullyConnectedLayer(features[idx], features[idx + 1], activation=activation, lr_multiplier=lr_multiplier)
            setattr(self, f"fc{idx}", layer)
        self.register_buffer("w_avg", torch.zeros([w_dim]))

    def forward(
        self,
        z: torch.Tensor,
        c: torch.Tensor,
        truncation_psi: float = 1,
        truncation_cutoff: int | None = None,
        update_emas: bool = False,
    ) -> torch.Tensor:
        parts = []
        if self.z_dim > 0:
            assert_shape(z, [None, self.z_dim], "z")
            parts.append(normalize_2nd_moment(z.to(torch.float32)))
        if self.c_dim > 0:
            assert_shape(c, [None, self.c_dim], "c")
            parts.append(normalize_2nd_moment(self.embed(c.to(torch.float32))))
        x = torch.cat(parts, dim=1) if len(parts) > 1 else parts[0]
        for idx in range(self.num_layers):
            x = getattr(self, f"fc{idx}")(x)
        if update_emas:
            with torch.no_grad():
                self.w_avg.copy_(x.detach().mean(dim=0).lerp(self.w_avg, self.w_avg_beta))
        ws = x.unsqueeze(1).repeat([1, self.num_ws, 1])  # [B,num_ws,w_dim]
        return truncate(ws, self.w_avg, truncation_psi, truncation_cutoff)

    def extra_repr(self) -> str:
        return f"z_dim={self.z_dim}, c_dim={self.c_dim}, w_dim={self.w_dim}, num_ws={self.num_ws}"
