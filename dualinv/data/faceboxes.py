"""FaceBoxes (Zhang et al. 2017), the face detector 3DDFA_V2 ships and PanoHead's ``recrop_images.py``
runs on the quad-warped square to place TDDFA's crop (spec panohead.md §8.2 step 3).

A CReLU/Inception SSD with three detection scales (anchors 32/64/128 densified ×4/×2/×1 at stride
32, 256 at 64, 512 at 128), box variances (0.1, 0.2), on the BGR image minus (104, 117, 123).
Post-processing as 3DDFA_V2's ``FaceBoxes.__call__``: score > 0.05, top 5000, NMS at IoU 0.3 with
the +1-pixel box areas of its ``py_cpu_nms``, top 750, then score > 0.5. Weights:
``FaceBoxesProd.pth`` (3DDFA_V2 ``FaceBoxes/weights/``), read with ``torch.load(weights_only=True)``.
"""

from __future__ import annotations

from itertools import product
from math import ceil
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from dualinv.data.tddfa import seed_parameters
from dualinv.errors import CheckpointError, MissingWeightsError

FACEBOXES_SOURCE = "https://github.com/cleardusk/3DDFA_V2/tree/master/FaceBoxes/weights (FaceBoxesProd.pth)"
PIXEL_MEAN_BGR = (104.0, 117.0, 123.0)
ANCHORS = ((32, 64, 128), (256,), (512,))
STEPS = (32, 64, 128)
VARIANCES = (0.1, 0.2)
CANDIDATE_SCORE, TOP_K, NMS_IOU, KEEP_TOP_K, FACE_SCORE = 0.05, 5000, 0.3, 750, 0.5
MAX_HEIGHT, MAX_WIDTH = 720, 1080
"""Larger images are shrunk to fit before detection (boxes are mapped back)."""


class _ConvBn(nn.Module):
    def __init__(self, cin: int, cout: int, crelu: bool = False, **kwargs) -> None:
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, bias=False, **kwargs)
        self.bn = nn.BatchNorm2d(cout, eps=1e-5)
        self.crelu = crelu

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.bn(self.conv(x))
        return F.relu(torch.cat([x, -x], 1) if self.crelu else x)


class _Inception(nn.Module):
    """Four 32-channel branches of a 128-channel input: 1×1; avg-pool + 1×1; 1×1→3×3; 1×1→3×3→3×3."""

    def __init__(self) -> None:
        super().__init__()
        self.branch1x1 = _ConvBn(128, 32, kernel_size=1)
        self.branch1x1_2 = _ConvBn(128, 32, kernel_size=1)
        self.branch3x3_reduce = _ConvBn(128, 24, kernel_size=1)
        self.branch3x3 = _ConvBn(24, 32, kernel_size=3, padding=1)
        self.branch3x3_reduce_2 = _ConvBn(128, 24, kernel_size=1)
        self.branch3x3_2 = _ConvBn(24, 32, kernel_size=3, padding=1)
        self.branch3x3_3 = _ConvBn(32, 32, kernel_size=3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pooled = F.avg_pool2d(x, 3, 1, 1)
        return torch.cat([self.branch1x1(x), self.branch1x1_2(pooled), self.branch3x3(self.branch3x3_reduce(x)),
                          self.branch3x3_3(self.branch3x3_2(self.branch3x3_reduce_2(x)))], 1)


class FaceBoxesNet(nn.Module):
    """The detector (parameter names as ``FaceBoxesProd.pth``): (loc [B, A, 4], face probability [B, A])."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = _ConvBn(3, 24, crelu=True, kernel_size=7, stride=4, padding=3)
        self.conv2 = _ConvBn(48, 64, crelu=True, kernel_size=5, stride=2, padding=2)
        self.inception1, self.inception2, self.inception3 = _Inception(), _Inception(), _Inception()
        self.conv3_1 = _ConvBn(128, 128, kernel_size=1)
        self.conv3_2 = _ConvBn(128, 256, kernel_size=3, stride=2, padding=1)
        self.conv4_1 = _ConvBn(256, 128, kernel_size=1)
        self.conv4_2 = _ConvBn(128, 256, kernel_size=3, stride=2, padding=1)
        self.loc = nn.Sequential(nn.Conv2d(128, 84, 3, padding=1), nn.Conv2d(256, 4, 3, padding=1), nn.Conv2d(256, 4, 3, padding=1))
        self.conf = nn.Sequential(nn.Conv2d(128, 42, 3, padding=1), nn.Conv2d(256, 2, 3, padding=1), nn.Conv2d(256, 2, 3, padding=1))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = F.max_pool2d(self.conv1(x), 3, 2, 1)
        x = F.max_pool2d(self.conv2(x), 3, 2, 1)
        first = self.inception3(self.inception2(self.inception1(x)))
        second = self.conv3_2(self.conv3_1(first))
        third = self.conv4_2(self.conv4_1(second))
        locs, confs = [], []
        for source, loc, conf in zip((first, second, third), self.loc, self.conf):
            locs.append(loc(source).permute(0, 2, 3, 1).reshape(x.shape[0], -1, 4))
            confs.append(conf(source).permute(0, 2, 3, 1).reshape(x.shape[0], -1, 2))
        return torch.cat(locs, 1), torch.softmax(torch.cat(confs, 1), dim=-1)[..., 1]


def anchors(height: int, width: int) -> np.ndarray:
    """[A, 4] anchors (cx, cy, w, h) normalised by the image size, in the network's output order."""
    out = []
    for step, sizes in zip(STEPS, ANCHORS):
        for i, j in product(range(ceil(height / step)), range(ceil(width / step))):
            for size in sizes:
                offsets = {32: (0, 0.25, 0.5, 0.75), 64: (0, 0.5)}.get(size, (0.5,))
                for dy, dx in product(offsets, offsets):
                    out.append(((j + dx) * step / width, (i + dy) * step / height, size / width, size / height))
    return np.array(out, dtype=np.float32)


def nms(boxes: np.ndarray, scores: np.ndarray, iou: float) -> list[int]:
    """Greedy NMS with +1-pixel areas (as 3DDFA_V2's ``py_cpu_nms``); indices kept, best first."""
    x1, y1, x2, y2 = boxes.T
    areas = (x2 - x1 + 1) * (y2 - y1 + 1)
    order = scores.argsort()[::-1]
    keep = []
    while order.size:
        best, rest = order[0], order[1:]
        keep.append(int(best))
        w = np.maximum(0.0, np.minimum(x2[best], x2[rest]) - np.maximum(x1[best], x1[rest]) + 1)
        h = np.maximum(0.0, np.minimum(y2[best], y2[rest]) - np.maximum(y1[best], y1[rest]) + 1)
        overlap = w * h / (areas[best] + areas[rest] - w * h)
        order = rest[overlap <= iou]
    return keep


def seeded_faceboxes(seed: int) -> FaceBoxesNet:
    """A labelled stand-in detector with seeded weights (:func:`dualinv.data.tddfa.seed_parameters`)."""

    return seed_parameters(FaceBoxesNet(), seed).eval()


class FaceBoxes:
    """Face boxes [(left, top, right, bottom, score)] of a BGR uint8 image."""

    def __init__(self, net: FaceBoxesNet) -> None:
        self.net = net.eval()

    @classmethod
    def from_file(cls, path: str | Path | None) -> "FaceBoxes":
        if path is None or not Path(path).expanduser().is_file():
            raise MissingWeightsError(f"FaceBoxes detector FaceBoxesProd.pth not found at {str(path)!r}: get it from "
                                      f"{FACEBOXES_SOURCE} and set weights.faceboxes")
        try:
            loaded = torch.load(Path(path).expanduser(), map_location="cpu", weights_only=True)
        except Exception as error:  # noqa: BLE001
            raise CheckpointError(f"{path} cannot be read by torch.load(weights_only=True) ({type(error).__name__}); "
                                  f"expected FaceBoxesProd.pth from {FACEBOXES_SOURCE}") from None
        state = loaded.get("state_dict", loaded) if isinstance(loaded, dict) else {}
        state = {name.split("module.", 1)[-1] if name.startswith("module.") else name: value for name, value in state.items()}
        net = FaceBoxesNet()
        expected = net.state_dict()
        wrong = [name for name, tensor in expected.items()
                 if not name.endswith("num_batches_tracked") and (name not in state or state[name].shape != tensor.shape)]
        if wrong:
            raise CheckpointError(f"{path} does not match FaceBoxes (first mismatched names: {wrong[:3]}); is it FaceBoxesProd.pth?")
        net.load_state_dict({name: state.get(name, tensor) for name, tensor in expected.items()})
        return cls(net)

    @torch.no_grad()
    def __call__(self, image_bgr: np.ndarray) -> list[tuple[float, float, float, float, float]]:
        import cv2  # OpenCV loads only when this runs, not on CLI start-up

        height, width = image_bgr.shape[:2]
        scale = 1.0
        if height > MAX_HEIGHT:
            scale = MAX_HEIGHT / height
        if width * scale > MAX_WIDTH:
            scale *= MAX_WIDTH / (width * scale)
        picture = image_bgr if scale == 1 else cv2.resize(image_bgr, (int(scale * width), int(scale * height)))
        picture = np.float32(picture) - np.array(PIXEL_MEAN_BGR, dtype=np.float32)
        h, w = picture.shape[:2]
        loc, score = self.net(torch.from_numpy(picture.transpose(2, 0, 1).copy())[None])
        priors = torch.from_numpy(anchors(h, w))
        loc = loc[0]
        centres = priors[:, :2] + loc[:, :2] * VARIANCES[0] * priors[:, 2:]
        sizes = priors[:, 2:] * torch.exp(loc[:, 2:] * VARIANCES[1])
        boxes = torch.cat([centres - sizes / 2, centres + sizes / 2], 1) * torch.tensor([w, h, w, h], dtype=torch.float32) / scale
        boxes, scores = boxes.numpy(), score[0].numpy()
        chosen = np.where(scores > CANDIDATE_SCORE)[0]
        chosen = chosen[scores[chosen].argsort()[::-1][:TOP_K]]
        boxes, scores = boxes[chosen].astype(np.float32), scores[chosen].astype(np.float32)
        kept = nms(boxes, scores, NMS_IOU)[:KEEP_TOP_K]
        return [(*map(float, boxes[k]), float(scores[k])) for k in kept if scores[k] > FACE_SCORE]
