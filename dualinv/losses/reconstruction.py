"""Reconstruction terms of Eq. 2 / Eq. 5: L2 (MSE), LPIPS and the ArcFace identity loss.

Images are [B, 3, H, W] in [-1, 1]. The training step average-pools generator renders to 256
before these losses (pSp/TriPlaneNet/GOAE, encoders-baselines.md §1.2); the identity crop below
is defined for 256x256 and resizes other sizes to 256 first.

LPIPS network: the paper does not name it. The encoders it builds on (pSp, TriPlaneNet v2) and
its first author's triplane_edit train with **AlexNet** LPIPS v0.1 (§1.5, §3.3, §6), so
``net="alex"`` (``weights.lpips_alex``) is the default; VGG is available for the PanoHead-style
projector baselines.
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from dualinv.encoders.backbone import ArcFace, BackboneConfig, load_ir_se50_state
from dualinv.state_dicts import read_state_dict
from dualinv.errors import CheckpointError
from dualinv.losses.perceptual import LpipsDistance, LpipsNet
from dualinv.shapes import assert_shape
from dualinv.standin import build_seeded
from dualinv.weights import lpips_heads_path, lpips_heads_provenance

FACE_CROP_RESOLUTION = 256
"""Image side the face crop is defined at (§6)."""
FACE_CROP_ROWS = slice(35, 223)
"""Rows of the pSp face crop at 256x256: 188 rows 35..222 (§6, pSp ``id_loss.py``)."""
FACE_CROP_COLS = slice(32, 220)
"""Columns of the pSp face crop at 256x256: 188 columns 32..219 (§6)."""


def l2_loss(output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """L_2 of Eq. 2 / Eq. 5: mean squared error over all pixels and the batch (pSp ``MSELoss``)."""
    return F.mse_loss(output, target)


def _lpips_trunk_state(net: LpipsNet, path: str | Path, checksum: str | None) -> dict[str, torch.Tensor]:
    """torchvision ``features.<i>.*`` tensors of the configured AlexNet/VGG16 file."""
    state = read_state_dict(f"lpips_{net}", path, checksum)
    features = {name[len("features."):]: value for name, value in state.items() if name.startswith("features.")}
    if not features:
        raise CheckpointError(f"weights.lpips_{net} = {str(path)!r} holds no 'features.*' tensors; "
                              f"expected the torchvision {net} state dict")
    return features


class LPIPSLoss(nn.Module):
    """L_LPIPS of Eq. 2 / Eq. 5: the mean LPIPS v0.1 distance (:class:`LpipsDistance`), built offline.

    The calibrated linear heads are the ones the ``lpips`` wheel ships (checked by sha256); the trunk is
    loaded from the configured torchvision file (``weights.lpips_alex``/``lpips_vgg``) or, when no path
    is given, left as a seeded stand-in. The whole module is frozen; gradients flow to the images only.
    """

    def __init__(self, net: LpipsNet = "alex", trunk_path: str | Path | None = None, *,
                 checksum: str | None = None, seed: int = 0):
        super().__init__()
        self.net_name = net
        self.heads_provenance = lpips_heads_provenance(net)  # the heads lpips loads from its install
        self.metric = build_seeded(lambda: LpipsDistance(net), seed)
        heads_path = lpips_heads_path(net)
        self.metric.load_heads(torch.load(heads_path, map_location="cpu", weights_only=True), str(heads_path))
        if trunk_path is not None:
            self.metric.load_trunk(_lpips_trunk_state(net, trunk_path, checksum),
                                   f"weights.lpips_{net} = {str(trunk_path)!r}")
        self.metric.eval().requires_grad_(False)

    def train(self, mode: bool = True) -> "LPIPSLoss":
        super().train(mode)
        self.metric.eval()  # frozen metric
        return self

    def forward(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return self.metric(output, target).mean()


def face_crop(images: torch.Tensor) -> torch.Tensor:
    """The pSp face region of [B, 3, H, W] images, as [B, 3, 112, 112] ArcFace input (§6).

    Resize to 256 (average pooling, as pSp does for generator output), crop rows 35:223 and
    columns 32:220, average-pool to 112. The one definition of the crop in dualinv.
    """
    if images.shape[-1] != FACE_CROP_RESOLUTION or images.shape[-2] != FACE_CROP_RESOLUTION:
        images = F.adaptive_avg_pool2d(images, FACE_CROP_RESOLUTION)
    cropped = images[:, :, FACE_CROP_ROWS, FACE_CROP_COLS]
    return F.adaptive_avg_pool2d(cropped, ArcFace.INPUT_SIZE)


class IdentityEmbedder(nn.Module):
    """Frozen ArcFace IR-SE50 on the pSp face crop: images [B, 3, H, W] -> unit embeddings [B, 512]."""

    def __init__(self, backbone: BackboneConfig = BackboneConfig(), weights_path: str | Path | None = None, *,
                 checksum: str | None = None, seed: int = 0):
        super().__init__()
        self.arcface = build_seeded(lambda: ArcFace(backbone), seed)
        if weights_path is not None:
            load_ir_se50_state(self.arcface, read_state_dict("ir_se50", weights_path, checksum),
                               source=f"weights.ir_se50 = {str(weights_path)!r}")
        self.arcface.eval().requires_grad_(False)

    def train(self, mode: bool = True) -> "IdentityEmbedder":
        super().train(mode)
        self.arcface.eval()  # BatchNorm statistics and dropout stay frozen (§6)
        return self

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        assert_shape(images, [None, 3, None, None], "images")
        return self.arcface(face_crop(images))


def identity_similarity(embedder: IdentityEmbedder, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Per-image ID score [B]: cosine similarity of ArcFace embeddings (paper §4.3 "ID" metric).

    The evaluation metric and the loss share this function so the crop and the network agree.
    """
    return (embedder(output) * embedder(target).detach()).sum(dim=1)


def identity_loss(embedder: IdentityEmbedder, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """L_identity of Eq. 2 / Eq. 5: ``mean_b (1 - cos(f(output_b), f(target_b)))``, target detached (§6)."""
    return (1.0 - identity_similarity(embedder, output, target)).mean()
