"""Part masks from the BiSeNet face parser of reference [8] (``weights.face_parsing``, ``--face-parsing``).

The network is :class:`dualinv.edit.bisenet.BiSeNet`; its weights come only from a configured file
(zllrunning/face-parsing.PyTorch's ``79999_iter.pth``; nothing is downloaded), read with
``torch.load(weights_only=True)`` and matched name by name and shape by shape before a
``strict=True`` load, so a file that is not that checkpoint is refused with what differs. No
checksum of the file is published: the registry checks existence, and the layout check recognises
the file (36 conv weights and 31 BatchNorms: 191 tensors, 13,300,416 parameters). A file saved
before PyTorch 0.4.1 lacks the BatchNorms' ``num_batches_tracked`` counters (unused in eval
mode); those keep the module's value, as PyTorch's own loader does for such files.

Input as the reference's ``test.py``: the RGB image resized to 512² (PIL bilinear), scaled to
[0, 1] and normalised with the ImageNet mean and std; the label of a pixel is the arg-max of the
main head, and the label map is resized back to the image (nearest). Labels are the 19 classes of
CelebAMask-HQ in the reference's ``prepropess_data.py`` order (:data:`CELEBAMASK_HQ_CLASSES`,
hair = 17); :data:`PART_CLASSES` maps them to the parts ``dualinv edit`` supports.
"""

from __future__ import annotations

from pathlib import Path
from typing import Mapping

import numpy as np
import torch
from PIL import Image

from dualinv.edit.bisenet import NUM_CLASSES, BiSeNet
from dualinv.edit.parts import PartName, check_part
from dualinv.errors import CheckpointError
from dualinv.standin import build_seeded
from dualinv.state_dicts import layout_problem, read_state_dict, with_batch_counters
from dualinv.weights import REGISTRY

WEIGHTS_KEY = "face_parsing"
"""Key of the parser's file under ``weights:`` and in :data:`dualinv.weights.REGISTRY`."""

CELEBAMASK_HQ_CLASSES: tuple[str, ...] = (
    "background", "skin", "l_brow", "r_brow", "l_eye", "r_eye", "eye_g", "l_ear", "r_ear", "ear_r",
    "nose", "mouth", "u_lip", "l_lip", "neck", "neck_l", "cloth", "hair", "hat",
)
"""Label index → CelebAMask-HQ class (0 background, then the 18 annotated attributes)."""

PART_CLASSES: Mapping[PartName, tuple[str, ...]] = {
    "hair": ("hair",),
    "face": ("skin", "l_brow", "r_brow", "l_eye", "r_eye", "eye_g", "nose", "mouth", "u_lip", "l_lip"),
    "eyes": ("l_eye", "r_eye"),
    "brows": ("l_brow", "r_brow"),
    "nose": ("nose",),
    "mouth": ("mouth", "u_lip", "l_lip"),
}
"""The classes whose union is each supported part. ``face`` is everything inside the face outline
(as the face-oval hull of the mediapipe path), glasses included; ears, neck, hat and cloth belong
to no part. Unlike the mediapipe ``hair`` (the person matte above the chin), ``hair`` here is the
hair class alone: no ears, no headwear, and hair below the chin included."""

INPUT_SIZE = 512
"""Side of the square input the parser was trained on."""
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def class_indices(part: str) -> list[int]:
    """The label indices of ``part`` (a supported part name)."""
    return [CELEBAMASK_HQ_CLASSES.index(name) for name in PART_CLASSES[check_part(part)]]


def part_mask_from_labels(labels: np.ndarray, part: str) -> np.ndarray:
    """bool [H, W]: the pixels of a label map [H, W] whose class belongs to ``part``."""
    return np.isin(labels, class_indices(part))


def load_face_parser(path: str | Path, device: str | torch.device = "cpu") -> BiSeNet:
    """The BiSeNet of ``path`` in eval mode on ``device``; a missing, unreadable or foreign file is
    refused (``MissingWeightsError`` / ``CheckpointError``) with the file's name and where to get it."""

    entry = REGISTRY[WEIGHTS_KEY]
    where = f"Expected {entry.filename}, the BiSeNet face-parsing checkpoint; get it from {entry.url}"
    network = BiSeNet(NUM_CLASSES)
    state = with_batch_counters(network, read_state_dict(WEIGHTS_KEY, path, hint=where))
    problem = layout_problem(network, state)
    if problem is not None:
        raise CheckpointError(f"weights.{WEIGHTS_KEY} = {str(path)!r} is not the BiSeNet face-parsing checkpoint "
                              f"({problem}). {where}")
    network.load_state_dict(state, strict=True)
    return network.to(device).eval().requires_grad_(False)


def standin_face_parser(seed: int = 0) -> BiSeNet:
    """A BiSeNet with seeded random weights (eval mode): exercises the path, segments nothing real."""

    return build_seeded(lambda: BiSeNet(NUM_CLASSES), seed).eval().requires_grad_(False)


class FaceParsingSegmenter:
    """Part masks from a BiSeNet face parser (the :class:`~dualinv.edit.transfer.Segmenter` protocol)."""

    def __init__(self, network: BiSeNet) -> None:
        self.network = network
        self.device = next(network.parameters()).device

    @classmethod
    def from_file(cls, path: str | Path, device: str | torch.device = "cpu") -> "FaceParsingSegmenter":
        return cls(load_face_parser(path, device))

    def __enter__(self) -> "FaceParsingSegmenter":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Nothing to release (the mediapipe segmenter's interface)."""

    @torch.no_grad()
    def labels(self, image: np.ndarray) -> np.ndarray:
        """uint8 [H, W] CelebAMask-HQ labels of ``image`` [H, W, 3] uint8 RGB (module doc)."""

        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise ValueError(f"image: expected [H, W, 3] uint8 RGB, got {image.shape} {image.dtype}")
        resized = Image.fromarray(np.ascontiguousarray(image)).resize((INPUT_SIZE, INPUT_SIZE), Image.BILINEAR)
        pixels = torch.from_numpy(np.asarray(resized, dtype=np.float32) / 255.0).permute(2, 0, 1)  # [3,S,S]
        mean, std = torch.tensor(IMAGENET_MEAN)[:, None, None], torch.tensor(IMAGENET_STD)[:, None, None]
        logits = self.network(((pixels - mean) / std)[None].to(self.device))  # [1,19,S,S]
        labels = logits[0].argmax(dim=0).to(torch.uint8).cpu().numpy()
        if labels.shape != image.shape[:2]:
            labels = np.asarray(Image.fromarray(labels).resize(image.shape[1::-1], Image.NEAREST))
        return labels

    def part_mask(self, image: np.ndarray, part: str) -> np.ndarray:
        """bool [H, W] mask of ``part`` on ``image`` [H, W, 3] uint8 RGB."""
        check_part(part)
        return part_mask_from_labels(self.labels(image), part)
