"""MTCNN (Zhang et al., 2016) in plain PyTorch: the face boxes and five landmarks of the authors' ID metric.

facenet-pytorch's ``MTCNN`` computes the same thing, but importing the package imports torchvision
(for ``batched_nms``), and with it torch._dynamo: about 1.5 s of CPU in every evaluation job, more
than the detection itself. This module holds the three networks with facenet-pytorch's layer names,
so the P/R/O-Net files its wheel ships (``weights.mtcnn_weights_path``) load by name, and the
cascade its ``detect_face`` runs, with a plain-torch NMS. ``tests/eval/test_mtcnn.py`` checks it
against facenet-pytorch itself.

The cascade, on an image of pixel values in [0, 255]:

1. **Proposals.** An image pyramid (scales 12 / ``min_face_size`` · ``factor``^k while the short side
   stays ≥ 12 px, each level area-resized to ``int(side · scale + 1)``); P-Net scores every 12×12
   window (stride 2); windows with face probability ≥ threshold become boxes; NMS (IoU 0.5) within
   each scale, then across scales (IoU 0.7); P-Net's offsets move the corners (in units of the box
   side); the boxes are squared about their centre.
2. **Refinement.** Each box, truncated to integers and clipped to the image (not zero-padded: the
   clipped crop is stretched), is area-resized to 24² for R-Net; boxes with probability > threshold
   survive NMS (IoU 0.7), are moved by R-Net's offsets (side + 1 convention) and squared.
3. **Output.** The same crops at 48² for O-Net; boxes with probability > threshold get O-Net's five
   landmarks (relative to the O-Net input box), then O-Net's offsets, then an NMS that divides the
   intersection by the *smaller* area ("Min", IoU 0.7, side + 1 areas).

Float conventions follow facenet-pytorch exactly: float32 throughout, the same operation order, and
the same memory layouts (its images arrive as HWC arrays, so its pyramid levels are channels-last
tensors while its crops are not; oneDNN rounds the convolutions of the two layouts differently, by
a few ulps). So do two orderings that decide which of two equally scored boxes survives an NMS: torchvision's
re-sort of more than 1000 boxes (on CPU) with an unstable sort, and NumPy's ``argsort`` in the last
stage. Where facenet-pytorch would fail (a box wholly outside the image gives an empty crop), the
box is dropped.

CPU time of ``FaceLandmarks()`` plus three detections at the authors' thresholds (two 256² faces and
a grey image; one thread, after ``import dualinv.eval.evaluate``): 0.32-0.36 s, against 1.61-1.70 s
with facenet-pytorch, whose import alone (torchvision, torch._dynamo) took 1.50-1.55 s.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from dualinv.errors import CheckpointError
from dualinv.shapes import assert_shape
from dualinv.weights import mtcnn_weights_path

CELL = 12
"""Side of the window P-Net classifies (px of a pyramid level)."""
CELL_STRIDE = 2
"""Step of P-Net's windows on a pyramid level (its one 2× pool)."""
PIXEL_CENTRE = 127.5
PIXEL_SCALE = 0.0078125
"""Network input: (pixel - 127.5) · 1/128."""
PROPOSAL_NMS_PER_SCALE = 0.5
"""IoU above which a P-Net box is suppressed by a better one of the same pyramid level..."""
STAGE_NMS = 0.7
"""...and of all levels; the same bound in R-Net's NMS and (intersection / smaller area) in O-Net's."""
CROP_BATCH = 512
"""R-Net and O-Net see their crops in chunks of this many (as facenet-pytorch runs them)."""
REFINE_SIZE, OUTPUT_SIZE = 24, 48
"""Input sides of R-Net and O-Net (px)."""
NMS_BLOCK = 256
"""Boxes whose overlaps with all later boxes one NMS step computes at once."""
TORCHVISION_RESORT_ABOVE = {"cpu": 1000, "other": 25_000}
"""Boxes beyond which torchvision's ``batched_nms`` re-sorts its result, by device type."""


class PNet(nn.Module):
    """Proposal network: [B, 3, H, W] -> (offsets [B, 4, h, w], probabilities [B, 2, h, w]), one cell per
    12×12 window (h = ceil((H - 2) / 2) - 4); channel 1 of the probabilities is "face"."""

    def __init__(self):
        super().__init__()
        self.conv1, self.prelu1 = nn.Conv2d(3, 10, 3), nn.PReLU(10)
        self.pool1 = nn.MaxPool2d(2, 2, ceil_mode=True)
        self.conv2, self.prelu2 = nn.Conv2d(10, 16, 3), nn.PReLU(16)
        self.conv3, self.prelu3 = nn.Conv2d(16, 32, 3), nn.PReLU(32)
        self.conv4_1 = nn.Conv2d(32, 2, 1)  # face / not face
        self.conv4_2 = nn.Conv2d(32, 4, 1)  # corner offsets

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.pool1(self.prelu1(self.conv1(x)))
        x = self.prelu3(self.conv3(self.prelu2(self.conv2(x))))
        return self.conv4_2(x), torch.softmax(self.conv4_1(x), dim=1)


def _caffe_flatten(x: torch.Tensor) -> torch.Tensor:
    """[B, C, H, W] -> [B, W·H·C]: the element order the converted Caffe dense weights expect."""
    return x.permute(0, 3, 2, 1).reshape(x.shape[0], -1)


class RNet(nn.Module):
    """Refinement network: [B, 3, 24, 24] -> (offsets [B, 4], probabilities [B, 2])."""

    def __init__(self):
        super().__init__()
        self.conv1, self.prelu1 = nn.Conv2d(3, 28, 3), nn.PReLU(28)
        self.pool1 = nn.MaxPool2d(3, 2, ceil_mode=True)
        self.conv2, self.prelu2 = nn.Conv2d(28, 48, 3), nn.PReLU(48)
        self.pool2 = nn.MaxPool2d(3, 2, ceil_mode=True)
        self.conv3, self.prelu3 = nn.Conv2d(48, 64, 2), nn.PReLU(64)
        self.dense4, self.prelu4 = nn.Linear(576, 128), nn.PReLU(128)  # 576 = 3·3·64
        self.dense5_1 = nn.Linear(128, 2)
        self.dense5_2 = nn.Linear(128, 4)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.pool1(self.prelu1(self.conv1(x)))
        x = self.pool2(self.prelu2(self.conv2(x)))
        x = self.prelu4(self.dense4(_caffe_flatten(self.prelu3(self.conv3(x)))))
        return self.dense5_2(x), torch.softmax(self.dense5_1(x), dim=1)


class ONet(nn.Module):
    """Output network: [B, 3, 48, 48] -> (offsets [B, 4], landmarks [B, 10] (five x, then five y, as
    fractions of the box side), probabilities [B, 2])."""

    def __init__(self):
        super().__init__()
        self.conv1, self.prelu1 = nn.Conv2d(3, 32, 3), nn.PReLU(32)
        self.pool1 = nn.MaxPool2d(3, 2, ceil_mode=True)
        self.conv2, self.prelu2 = nn.Conv2d(32, 64, 3), nn.PReLU(64)
        self.pool2 = nn.MaxPool2d(3, 2, ceil_mode=True)
        self.conv3, self.prelu3 = nn.Conv2d(64, 64, 3), nn.PReLU(64)
        self.pool3 = nn.MaxPool2d(2, 2, ceil_mode=True)
        self.conv4, self.prelu4 = nn.Conv2d(64, 128, 2), nn.PReLU(128)
        self.dense5, self.prelu5 = nn.Linear(1152, 256), nn.PReLU(256)  # 1152 = 3·3·128
        self.dense6_1 = nn.Linear(256, 2)
        self.dense6_2 = nn.Linear(256, 4)
        self.dense6_3 = nn.Linear(256, 10)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        x = self.pool1(self.prelu1(self.conv1(x)))
        x = self.pool2(self.prelu2(self.conv2(x)))
        x = self.pool3(self.prelu3(self.conv3(x)))
        x = self.prelu5(self.dense5(_caffe_flatten(self.prelu4(self.conv4(x)))))
        return self.dense6_2(x), self.dense6_3(x), torch.softmax(self.dense6_1(x), dim=1)


# ---------------------------------------------------------------------------------------------------
# Non-maximum suppression


def _greedy_suppression(order: torch.Tensor, exceeds) -> torch.Tensor:
    """Walk the box indices in ``order``; keep each box that no kept box suppresses.

    ``exceeds(rows, cols)`` -> bool [len(rows), len(cols)]: whether box ``rows[r]``, once kept, removes
    box ``cols[c]``. The overlaps are computed for blocks of :data:`NMS_BLOCK` boxes still alive
    against every later box; the walk itself runs over NumPy bools. Returns the kept indices in order.
    """
    alive = np.ones(order.numel(), dtype=bool)  # by position in ``order``
    kept = []
    for start in range(0, order.numel(), NMS_BLOCK):
        rows = start + np.flatnonzero(alive[start:start + NMS_BLOCK])
        if rows.size == 0:
            continue
        removes = exceeds(order[torch.from_numpy(rows).to(order.device)], order[start:]).cpu().numpy()
        later = alive[start:]  # a view: the walk below updates ``alive``
        for row, position in zip(removes, rows):
            if later[position - start]:
                kept.append(int(position))
                later &= ~row  # removes the kept box itself too, which is already decided
    return order[torch.tensor(kept, dtype=torch.long, device=order.device)]


def nms(boxes: torch.Tensor, scores: torch.Tensor, iou_threshold: float) -> torch.Tensor:
    """``torchvision.ops.nms``: indices of the boxes [N, 4] (x1, y1, x2, y2) kept, best score first (ties:
    lower index first); a box goes when its IoU with a kept one exceeds ``iou_threshold``."""
    x1, y1, x2, y2 = boxes.unbind(1)
    areas = (x2 - x1) * (y2 - y1)

    def exceeds(rows, cols):
        r, c = rows[:, None], cols[None, :]
        width = (torch.minimum(x2[r], x2[c]) - torch.maximum(x1[r], x1[c])).clamp(min=0)
        height = (torch.minimum(y2[r], y2[c]) - torch.maximum(y1[r], y1[c])).clamp(min=0)
        inter = width * height
        iou = inter / (areas[r] + areas[c] - inter)
        return iou.double() > iou_threshold  # torchvision compares the float IoU with a double

    return _greedy_suppression(scores.sort(descending=True, stable=True).indices, exceeds)


def _nms_as_batched(boxes: torch.Tensor, scores: torch.Tensor, iou_threshold: float) -> torch.Tensor:
    """What torchvision's ``batched_nms`` returns for boxes of one image: :func:`nms`, except that above
    a device-dependent count it re-sorts the kept indices by score with an unstable sort, which can
    reorder equal scores (and the next NMS sees that order)."""
    keep = nms(boxes, scores, iou_threshold)
    device = "cpu" if boxes.device.type == "cpu" else "other"
    if boxes.shape[0] > TORCHVISION_RESORT_ABOVE[device]:
        keep = keep.sort().values
        keep = keep[scores[keep].sort(descending=True).indices]
    return keep


def nms_min(boxes: torch.Tensor, scores: torch.Tensor, threshold: float) -> torch.Tensor:
    """facenet-pytorch's NumPy "Min" NMS of the last stage: areas with side + 1, overlap = intersection /
    smaller area, a box goes unless overlap ≤ threshold (in float32); the order is NumPy's ``argsort``,
    walked from the end."""
    x1, y1, x2, y2 = boxes.unbind(1)
    areas = (x2 - x1 + 1) * (y2 - y1 + 1)

    def exceeds(rows, cols):
        r, c = rows[:, None], cols[None, :]
        width = (torch.minimum(x2[r], x2[c]) - torch.maximum(x1[r], x1[c]) + 1).clamp(min=0)
        height = (torch.minimum(y2[r], y2[c]) - torch.maximum(y1[r], y1[c]) + 1).clamp(min=0)
        overlap = width * height / torch.minimum(areas[r], areas[c])
        return ~(overlap <= threshold)  # float32, as NumPy compares a float32 array with a Python float

    order = np.argsort(scores.detach().cpu().numpy())[::-1].copy()
    return _greedy_suppression(torch.from_numpy(order).to(boxes.device), exceeds)


# ---------------------------------------------------------------------------------------------------
# The cascade


@dataclass(frozen=True)
class FaceDetections:
    """Faces of one image, best first (the order of the last NMS)."""

    boxes: torch.Tensor
    """[N, 4] (x1, y1, x2, y2) in pixels, float32."""
    probabilities: torch.Tensor
    """[N] O-Net's face probability."""
    landmarks: torch.Tensor
    """[N, 5, 2] (x, y): left eye, right eye, nose, left and right mouth corner."""


def pyramid_scales(height: int, width: int, min_face_size: float, factor: float) -> list[float]:
    """Scales at which a face of ``min_face_size`` px, and every ``1/factor`` larger one, fills P-Net's cell."""
    scale = CELL / min_face_size
    short_side = min(height, width) * scale
    scales = []
    while short_side >= CELL:
        scales.append(scale)
        scale, short_side = scale * factor, short_side * factor
    return scales


def _normalised(pixels: torch.Tensor) -> torch.Tensor:
    return (pixels - PIXEL_CENTRE) * PIXEL_SCALE


def _square(boxes: torch.Tensor) -> torch.Tensor:
    """Boxes [N, 5] (corners, score) grown to squares of their longer side about the same centre."""
    width, height = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
    side = torch.maximum(width, height)
    left = boxes[:, 0] + width * 0.5 - side * 0.5
    top = boxes[:, 1] + height * 0.5 - side * 0.5
    return torch.stack([left, top, left + side, top + side, boxes[:, 4]], dim=1)


def _shifted(boxes: torch.Tensor, offsets: torch.Tensor, extra: float = 1.0) -> torch.Tensor:
    """Corners moved by ``offsets`` [N, 4] in units of the box side (side = x2 - x1 + ``extra``)."""
    width = boxes[:, 2] - boxes[:, 0] + extra
    height = boxes[:, 3] - boxes[:, 1] + extra
    sides = torch.stack([width, height, width, height], dim=1)
    return torch.cat([boxes[:, :4] + offsets * sides, boxes[:, 4:5]], dim=1)


def _crops(pixels: torch.Tensor, boxes: torch.Tensor, size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Normalised [M, 3, size, size] crops of the boxes truncated to integers and clipped to the
    image (1-based corners, as MTCNN's Matlab origin), and the bool [N] of the boxes that had one."""
    height, width = pixels.shape[-2:]
    corners = boxes[:, :4].trunc().int()
    left, top = corners[:, 0].clamp(min=1).tolist(), corners[:, 1].clamp(min=1).tolist()
    right, bottom = corners[:, 2].clamp(max=width).tolist(), corners[:, 3].clamp(max=height).tolist()
    crops, found = [], []
    for x1, y1, x2, y2 in zip(left, top, right, bottom):
        found.append(x2 > x1 - 1 and y2 > y1 - 1)
        if found[-1]:
            window = pixels[0, :, y1 - 1:y2, x1 - 1:x2][None]  # a batch stride of 3, as facenet-pytorch's crops
            crops.append(F.interpolate(window, size=(size, size), mode="area"))
    crops = torch.cat(crops) if crops else pixels.new_empty(0, 3, size, size)
    return _normalised(crops), torch.tensor(found, dtype=torch.bool, device=boxes.device)


def _in_chunks(net: nn.Module, crops: torch.Tensor) -> tuple[torch.Tensor, ...]:
    outputs = [net(crops[start:start + CROP_BATCH]) for start in range(0, crops.shape[0], CROP_BATCH)]
    return tuple(torch.cat(parts) for parts in zip(*outputs))


def _proposals(pnet: PNet, pixels: torch.Tensor, threshold: float, min_face_size: float,
               factor: float) -> torch.Tensor:
    """Stage 1: squared P-Net boxes [N, 5] (corners, score)."""
    height, width = pixels.shape[-2:]
    per_scale = []
    for scale in pyramid_scales(height, width, min_face_size, factor):
        level = F.interpolate(pixels, size=(int(height * scale + 1), int(width * scale + 1)), mode="area")
        offsets, probabilities = pnet(_normalised(level))  # [1,4,h,w], [1,2,h,w]
        face = probabilities[0, 1]
        hit = face >= threshold
        cells = hit.nonzero().flip(1).to(face.dtype)  # [N,2] (column, row), row-major order
        top_left = ((CELL_STRIDE * cells + 1) / scale).floor()
        bottom_right = ((CELL_STRIDE * cells + CELL) / scale).floor()
        found = torch.cat([top_left, bottom_right, face[hit][:, None], offsets[0][:, hit].T], dim=1)  # [N,9]
        per_scale.append(found[_nms_as_batched(found[:, :4], found[:, 4], PROPOSAL_NMS_PER_SCALE)])
    found = torch.cat(per_scale)
    found = found[_nms_as_batched(found[:, :4], found[:, 4], STAGE_NMS)]
    return _square(_shifted(found[:, :5], found[:, 5:9], extra=0.0))


def _refined(rnet: RNet, pixels: torch.Tensor, boxes: torch.Tensor, threshold: float) -> torch.Tensor:
    """Stage 2: the proposals R-Net keeps, moved by its offsets and squared [N, 5]."""
    crops, found = _crops(pixels, boxes, REFINE_SIZE)
    offsets, probabilities = _in_chunks(rnet, crops)
    score = probabilities[:, 1]
    passed = score > threshold
    boxes = torch.cat([boxes[found][passed, :4], score[passed, None]], dim=1)
    offsets = offsets[passed]
    keep = _nms_as_batched(boxes[:, :4], boxes[:, 4], STAGE_NMS)
    return _square(_shifted(boxes[keep], offsets[keep]))


def _output(onet: ONet, pixels: torch.Tensor, boxes: torch.Tensor, threshold: float) -> FaceDetections:
    """Stage 3: O-Net's faces, landmarks and moved boxes after the "Min" NMS."""
    crops, found = _crops(pixels, boxes, OUTPUT_SIZE)
    offsets, points, probabilities = _in_chunks(onet, crops)
    score = probabilities[:, 1]
    passed = score > threshold
    boxes = torch.cat([boxes[found][passed, :4], score[passed, None]], dim=1)
    points, offsets = points[passed], offsets[passed]
    width = (boxes[:, 2] - boxes[:, 0] + 1)[:, None]
    height = (boxes[:, 3] - boxes[:, 1] + 1)[:, None]
    landmarks = torch.stack([width * points[:, :5] + boxes[:, 0:1] - 1,
                             height * points[:, 5:] + boxes[:, 1:2] - 1], dim=2)  # [N,5,2]
    boxes = _shifted(boxes, offsets)
    keep = nms_min(boxes[:, :4], boxes[:, 4], STAGE_NMS)
    return FaceDetections(boxes[keep, :4], boxes[keep, 4], landmarks[keep])


class MtcnnDetector(nn.Module):
    """The three networks and the cascade's settings; :meth:`detect` finds the faces of one image.

    The networks start with PyTorch's default initialisation; :func:`load_mtcnn` builds one with
    facenet-pytorch's weights.
    """

    def __init__(self,
                 thresholds: tuple[float, float, float] = (0.6, 0.7, 0.7),  # P/R/O-Net face probability to keep a box
                 min_face_size: float = 20.0,                                # px; smallest face searched for
                 factor: float = 0.709):                                     # scale step of the image pyramid
        super().__init__()
        self.pnet, self.rnet, self.onet = PNet(), RNet(), ONet()
        self.thresholds = tuple(float(t) for t in thresholds)
        self.min_face_size = float(min_face_size)
        self.factor = float(factor)

    def extra_repr(self) -> str:
        return f"thresholds={self.thresholds}, min_face_size={self.min_face_size}, factor={self.factor}"

    @torch.no_grad()
    def detect(self, pixels: torch.Tensor) -> FaceDetections:
        """Faces of ``pixels`` [3, H, W], values in [0, 255] (integers, as decoded from 8-bit images)."""
        assert_shape(pixels, [3, None, None], "pixels")
        device = self.pnet.conv1.weight.device
        pixels = pixels.permute(1, 2, 0).contiguous()[None].permute(0, 3, 1, 2)  # [1,3,H,W] over HWC memory
        pixels = pixels.to(device=device, dtype=torch.float32)
        boxes = _proposals(self.pnet, pixels, self.thresholds[0], self.min_face_size, self.factor)
        if boxes.shape[0] > 0:
            boxes = _refined(self.rnet, pixels, boxes, self.thresholds[1])
        if boxes.shape[0] == 0:
            return FaceDetections(boxes[:, :4], boxes[:, 4], boxes.new_empty(0, 5, 2))
        return _output(self.onet, pixels, boxes, self.thresholds[2])


def _load_net(net: nn.Module, name: str) -> None:
    """Load facenet-pytorch's ``<name>.pt`` into ``net`` after asserting its names and shapes."""
    path = mtcnn_weights_path(name)
    state = torch.load(path, map_location="cpu", weights_only=True)
    own = net.state_dict()
    if not isinstance(state, dict) or set(state) != set(own):
        raise CheckpointError(f"{path}: its tensors are not the {name} layers MTCNN expects "
                              f"({', '.join(own)}); reinstall facenet-pytorch==2.5.3")
    wrong = [key for key in own if state[key].shape != own[key].shape]
    if wrong:
        raise CheckpointError(f"{path}: shapes differ from MTCNN's {name} in {', '.join(wrong)}; "
                              "reinstall facenet-pytorch==2.5.3")
    net.load_state_dict(state, strict=True)


def load_mtcnn(thresholds: tuple[float, float, float] = (0.6, 0.7, 0.7), device: str = "cpu",
               min_face_size: float = 20.0, factor: float = 0.709) -> MtcnnDetector:
    """An :class:`MtcnnDetector` with the P/R/O-Net weights of the installed facenet-pytorch, in eval mode."""
    detector = MtcnnDetector(thresholds, min_face_size, factor)
    for name in ("pnet", "rnet", "onet"):
        _load_net(getattr(detector, name), name)
    return detector.to(device).eval().requires_grad_(False)
