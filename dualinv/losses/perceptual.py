"""LPIPS v0.1 (Zhang et al., 2018) in plain PyTorch: the distance of Eq. 2 / Eq. 5 and of the tables.

The ``lpips`` package computes the same thing, but building ``lpips.LPIPS`` imports torchvision and
initialises a whole torchvision AlexNet/VGG16 (their classifiers included: 57 M / 134 M weights) only
to keep the convolutional trunk. Every training, evaluation and optimisation job paid about 2 s for
that. This module builds the trunk alone, with torchvision's layer indices as module names, so the
published torchvision files (``weights.lpips_alex``/``lpips_vgg``) load by name, and reads the
calibrated linear heads from the files the ``lpips==0.1.4`` wheel ships. ``tests/losses`` checks it
against ``lpips.LPIPS`` itself.

The distance: both images z-scored by the v0.1 scaling layer, five ReLU taps of the trunk, each
unit-normalised over channels, squared difference, a 1×1 head per tap, spatial mean, sum over taps.
"""

from __future__ import annotations

from typing import Literal, Sequence

import torch
from torch import nn

from dualinv.errors import CheckpointError

LpipsNet = Literal["alex", "vgg"]

SCALING_SHIFT = (-0.030, -0.088, -0.188)
"""v0.1 scaling layer: inputs in [-1, 1] are shifted by these per-channel constants..."""
SCALING_SCALE = (0.458, 0.448, 0.450)
"""...and divided by these (the ImageNet statistics expressed in the [-1, 1] range)."""

NORMALISE_EPS = 1e-10
"""Added to each tap's channel norm before dividing (``lpips.normalize_tensor``)."""

_VGG16_WIDTHS = (64, 64, "pool", 128, 128, "pool", 256, 256, 256, "pool", 512, 512, 512, "pool", 512, 512, 512)


def _alexnet_features() -> list[nn.Module]:
    """torchvision ``alexnet().features`` without its last pool (indices 0-11)."""
    return [nn.Conv2d(3, 64, 11, stride=4, padding=2), nn.ReLU(inplace=True), nn.MaxPool2d(3, stride=2),
            nn.Conv2d(64, 192, 5, padding=2), nn.ReLU(inplace=True), nn.MaxPool2d(3, stride=2),
            nn.Conv2d(192, 384, 3, padding=1), nn.ReLU(inplace=True),
            nn.Conv2d(384, 256, 3, padding=1), nn.ReLU(inplace=True),
            nn.Conv2d(256, 256, 3, padding=1), nn.ReLU(inplace=True)]


def _vgg16_features() -> list[nn.Module]:
    """torchvision ``vgg16().features`` up to relu5_3 (indices 0-29)."""
    layers: list[nn.Module] = []
    channels = 3
    for width in _VGG16_WIDTHS:
        if width == "pool":
            layers.append(nn.MaxPool2d(2, stride=2))
        else:
            layers += [nn.Conv2d(channels, width, 3, padding=1), nn.ReLU(inplace=True)]
            channels = width
    return layers


TRUNKS = {
    "alex": (_alexnet_features, (2, 5, 8, 10, 12), (64, 192, 384, 256, 256)),
    "vgg": (_vgg16_features, (4, 9, 16, 23, 30), (64, 128, 256, 512, 512)),
}
"""net -> (feature layers, end index of each of the five taps, channels of each tap), as lpips slices them."""


def unit_normalised(features: torch.Tensor) -> torch.Tensor:
    """Each position's feature vector divided by its L2 norm over channels."""
    return features / (features.pow(2).sum(dim=1, keepdim=True).sqrt() + NORMALISE_EPS)


class LpipsDistance(nn.Module):
    """(a, b) images [B, 3, H, W] in [-1, 1] -> LPIPS v0.1 distances [B, 1, 1, 1] (``lpips.LPIPS`` convention).

    The trunk starts with PyTorch's default initialisation (a stand-in until :meth:`load_trunk`); the
    heads start at zero until :meth:`load_heads`.
    """

    def __init__(self, net: LpipsNet = "alex"):
        super().__init__()
        if net not in TRUNKS:
            raise ValueError(f"LPIPS network must be one of {sorted(TRUNKS)}, got {net!r}")
        build_features, self.tap_ends, channels = TRUNKS[net]
        self.net_name = net
        self.features = nn.Sequential(*build_features())
        self.heads = nn.ModuleList(nn.Conv2d(width, 1, 1, bias=False) for width in channels)
        for head in self.heads:
            nn.init.zeros_(head.weight)
        self.register_buffer("shift", torch.tensor(SCALING_SHIFT).reshape(1, 3, 1, 1), persistent=False)
        self.register_buffer("scale", torch.tensor(SCALING_SCALE).reshape(1, 3, 1, 1), persistent=False)

    def taps(self, images: torch.Tensor) -> list[torch.Tensor]:
        """The five unit-normalised ReLU taps of the scaled images."""
        x = (images - self.shift) / self.scale
        taps, start = [], 0
        for end in self.tap_ends:
            for layer in self.features[start:end]:
                x = layer(x)
            taps.append(unit_normalised(x))
            start = end
        return taps

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        distance = 0
        for head, tap_a, tap_b in zip(self.heads, self.taps(a), self.taps(b)):
            distance = distance + head((tap_a - tap_b) ** 2).mean(dim=(2, 3), keepdim=True)
        return distance

    def load_trunk(self, features: dict[str, torch.Tensor], source: str) -> None:
        """Load torchvision ``features.<i>.*`` tensors given without the ``features.`` prefix."""
        own = self.features.state_dict()
        wanted = {name: value for name, value in features.items() if name in own}
        if set(wanted) != set(own) or any(wanted[name].shape != own[name].shape for name in own):
            raise CheckpointError(f"{source} does not match the {self.net_name} trunk LPIPS expects "
                                  "(names or shapes differ)")
        self.features.load_state_dict(wanted, strict=True)

    def load_heads(self, heads: dict[str, torch.Tensor], source: str) -> None:
        """Load the package's ``lin<k>.model.1.weight`` heads."""
        expected: Sequence[str] = [f"lin{k}.model.1.weight" for k in range(len(self.heads))]
        if sorted(heads) != sorted(expected) or any(
                heads[name].shape != head.weight.shape for name, head in zip(expected, self.heads)):
            raise CheckpointError(f"{source} does not hold the {self.net_name} LPIPS heads "
                                  f"({', '.join(expected)})")
        for name, head in zip(expected, self.heads):
            head.weight.data.copy_(heads[name])
