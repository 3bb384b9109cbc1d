"""BiSeNet v1 face parser (ResNet-18 context path, 19 CelebAMask-HQ classes), inference only.

Reference [8] of the paper localises parts with this network; its public checkpoint is
``79999_iter.pth`` of zllrunning/face-parsing.PyTorch (``weights.face_parsing``). Architecture facts
read from that repository's ``model.py`` and ``resnet.py`` (written here in our own structure):

* context path ``cp``: a ResNet-18 trunk (``cp.resnet``; torchvision's names without ``fc``;
  strides 8/16/32 give 128/256/512 channels), a global-context branch (``conv_avg``: global mean of
  the stride-32 features, 1×1 conv 512→128, added to every position), attention refinement on the
  stride-32 and stride-16 features (``arm32``: 3×3 512→128, ``arm16``: 3×3 256→128, each gated by a
  sigmoid of a 1×1 conv + BN of its global mean), nearest upsampling ×2 and a 3×3 conv 128→128
  (``conv_head32``, ``conv_head16``) after each sum;
* no spatial path: the stride-8 trunk features stand in for it;
* feature fusion ``ffm``: concatenation (stride-8 trunk features first, then the context path's),
  1×1 conv 256→256 + BN + ReLU, and a squeeze gate (global mean, 1×1 256→64, ReLU, 1×1 64→256,
  sigmoid) applied as ``f + f·gate``;
* heads: ``conv_out`` (3×3 256→256 + BN + ReLU, 1×1 256→19), upsampled bilinearly
  (``align_corners=True``) to the input size. ``conv_out16`` and ``conv_out32`` (3×3 128→64, 1×1
  64→19) are the training-time auxiliary heads: kept so the checkpoint loads with ``strict=True``,
  never evaluated here;
* every conv has no bias; every BN is a plain ``BatchNorm2d`` (eval statistics).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from dualinv.shapes import assert_shape

NUM_CLASSES = 19
"""CelebAMask-HQ labels the published checkpoint predicts (background + 18 parts)."""


class ConvNormReLU(nn.Module):
    """conv (no bias) → BatchNorm → ReLU; state-dict names ``conv``, ``bn``."""

    def __init__(
        self,
        in_channels: int,    # input feature channels
        out_channels: int,   # output feature channels
        kernel_size: int,    # square kernel; padding keeps the resolution
    ) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size, padding=kernel_size // 2, bias=False)
        self.bn = nn.BatchNorm2d(out_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.bn(self.conv(x)))


class ResidualBlock(nn.Module):
    """ResNet basic block: two 3×3 convs with BN, a 1×1 projection shortcut when the shape changes."""

    def __init__(
        self,
        in_channels: int,    # input feature channels
        out_channels: int,   # output feature channels
        stride: int,         # stride of the first conv (and of the shortcut)
    ) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.downsample = None
        if in_channels != out_channels or stride != 1:
            self.downsample = nn.Sequential(nn.Conv2d(in_channels, out_channels, 1, stride=stride, bias=False),
                                            nn.BatchNorm2d(out_channels))
        self.stride = stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        residual = self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x)))))
        shortcut = x if self.downsample is None else self.downsample(x)
        return F.relu(shortcut + residual)

    def extra_repr(self) -> str:
        return f"{self.conv1.in_channels} -> {self.conv1.out_channels}, stride={self.stride}"


RESNET18_STAGES: tuple[tuple[int, int], ...] = ((64, 1), (128, 2), (256, 2), (512, 2))
"""(channels, stride of the first block) of ``layer1``..``layer4``; two blocks each."""


class ResNet18Trunk(nn.Module):
    """ResNet-18 without pooling head and ``fc``; returns the stride-8, -16 and -32 features."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        channels = 64
        for index, (width, stride) in enumerate(RESNET18_STAGES, start=1):
            self.add_module(f"layer{index}", nn.Sequential(ResidualBlock(channels, width, stride),
                                                           ResidualBlock(width, width, 1)))
            channels = width

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        x = self.layer1(self.maxpool(F.relu(self.bn1(self.conv1(x)))))
        stride8 = self.layer2(x)
        stride16 = self.layer3(stride8)
        return stride8, stride16, self.layer4(stride16)


class AttentionRefinement(nn.Module):
    """3×3 conv, then each channel scaled by a sigmoid of its global mean (1×1 conv + BN)."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.conv = ConvNormReLU(in_channels, out_channels, 3)
        self.conv_atten = nn.Conv2d(out_channels, out_channels, 1, bias=False)
        self.bn_atten = nn.BatchNorm2d(out_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = self.conv(x)
        gate = torch.sigmoid(self.bn_atten(self.conv_atten(features.mean(dim=(2, 3), keepdim=True))))
        return features * gate


class ContextPath(nn.Module):
    """Trunk + global context + attention refinement → (stride-8 trunk features, stride-8 context)."""

    def __init__(self) -> None:
        super().__init__()
        self.resnet = ResNet18Trunk()
        self.arm16 = AttentionRefinement(256, 128)
        self.arm32 = AttentionRefinement(512, 128)
        self.conv_head32 = ConvNormReLU(128, 128, 3)
        self.conv_head16 = ConvNormReLU(128, 128, 3)
        self.conv_avg = ConvNormReLU(512, 128, 1)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        stride8, stride16, stride32 = self.resnet(x)
        global_context = self.conv_avg(stride32.mean(dim=(2, 3), keepdim=True))  # [B,128,1,1], broadcast
        context32 = self.arm32(stride32) + global_context
        context16 = self.conv_head32(F.interpolate(context32, size=stride16.shape[2:], mode="nearest"))
        context16 = self.arm16(stride16) + context16
        context8 = self.conv_head16(F.interpolate(context16, size=stride8.shape[2:], mode="nearest"))
        return stride8, context8


class FeatureFusion(nn.Module):
    """Concatenate, 1×1 conv, and re-weight channels by a squeeze gate: ``f + f·gate``."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.convblk = ConvNormReLU(in_channels, out_channels, 1)
        self.conv1 = nn.Conv2d(out_channels, out_channels // 4, 1, bias=False)
        self.conv2 = nn.Conv2d(out_channels // 4, out_channels, 1, bias=False)

    def forward(self, spatial: torch.Tensor, context: torch.Tensor) -> torch.Tensor:
        features = self.convblk(torch.cat([spatial, context], dim=1))
        gate = torch.sigmoid(self.conv2(F.relu(self.conv1(features.mean(dim=(2, 3), keepdim=True)))))
        return features + features * gate


class SegmentationHead(nn.Module):
    """3×3 conv + BN + ReLU, then a 1×1 conv to class logits."""

    def __init__(self, in_channels: int, mid_channels: int, num_classes: int) -> None:
        super().__init__()
        self.conv = ConvNormReLU(in_channels, mid_channels, 3)
        self.conv_out = nn.Conv2d(mid_channels, num_classes, 1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv_out(self.conv(x))


class BiSeNet(nn.Module):
    """The face parser: image [B, 3, H, W] (ImageNet-normalised) → logits [B, 19, H, W]."""

    def __init__(self, num_classes: int = NUM_CLASSES) -> None:
        super().__init__()
        self.cp = ContextPath()
        self.ffm = FeatureFusion(256, 256)
        self.conv_out = SegmentationHead(256, 256, num_classes)
        self.conv_out16 = SegmentationHead(128, 64, num_classes)  # auxiliary (training only)
        self.conv_out32 = SegmentationHead(128, 64, num_classes)  # auxiliary (training only)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        assert_shape(image, [None, 3, None, None], "image")
        spatial, context = self.cp(image)
        logits = self.conv_out(self.ffm(spatial, context))  # [B,19,H/8,W/8]
        return F.interpolate(logits, size=image.shape[2:], mode="bilinear", align_corners=True)
