"""The BiSeNet face parser: the published checkpoint's layout, safe strict loading, input handling, parts.

The expected layout is written out here from the reference's ``model.py``/``resnet.py`` (module
by module, channels by hand) and, for the ResNet-18 trunk, from torchvision's own ResNet-18 (the
reference loads torchvision's weights into its trunk by name), not read from our network.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torchvision

from dualinv.edit.bisenet import BiSeNet
from dualinv.edit.face_parsing import (CELEBAMASK_HQ_CLASSES, IMAGENET_MEAN, IMAGENET_STD, INPUT_SIZE,
                                       FaceParsingSegmenter, load_face_parser, part_mask_from_labels,
                                       standin_face_parser)
from dualinv.edit.parts import SUPPORTED_PARTS
from dualinv.errors import CheckpointError, MissingWeightsError

# (module, kind, shape of its conv weight); kind "cbr" = ConvBNReLU (conv + bn), "conv", or "bn" (channels).
HEAD_LAYOUT = [
    ("cp.arm16.conv", "cbr", (128, 256, 3, 3)), ("cp.arm16.conv_atten", "conv", (128, 128, 1, 1)),
    ("cp.arm16.bn_atten", "bn", 128),
    ("cp.arm32.conv", "cbr", (128, 512, 3, 3)), ("cp.arm32.conv_atten", "conv", (128, 128, 1, 1)),
    ("cp.arm32.bn_atten", "bn", 128),
    ("cp.conv_head32", "cbr", (128, 128, 3, 3)), ("cp.conv_head16", "cbr", (128, 128, 3, 3)),
    ("cp.conv_avg", "cbr", (128, 512, 1, 1)),
    ("ffm.convblk", "cbr", (256, 256, 1, 1)), ("ffm.conv1", "conv", (64, 256, 1, 1)),
    ("ffm.conv2", "conv", (256, 64, 1, 1)),
    ("conv_out.conv", "cbr", (256, 256, 3, 3)), ("conv_out.conv_out", "conv", (19, 256, 1, 1)),
    ("conv_out16.conv", "cbr", (64, 128, 3, 3)), ("conv_out16.conv_out", "conv", (19, 64, 1, 1)),
    ("conv_out32.conv", "cbr", (64, 128, 3, 3)), ("conv_out32.conv_out", "conv", (19, 64, 1, 1)),
]
RESNET18_PARAMETERS = 11_689_512 - (512 * 1000 + 1000)
"""torchvision's documented ResNet-18 parameter count without its 1000-class ``fc``."""


def bn_entries(prefix: str, channels: int) -> dict[str, tuple[int, ...]]:
    return {f"{prefix}.{name}": (channels,) for name in ("weight", "bias", "running_mean", "running_var")} | \
        {f"{prefix}.num_batches_tracked": ()}


def expected_layout() -> dict[str, tuple[int, ...]]:
    reference_trunk = torchvision.models.resnet18(weights=None).state_dict()
    trunk = {f"cp.resnet.{name}": tuple(value.shape) for name, value in reference_trunk.items()
             if not name.startswith("fc.")}
    head: dict[str, tuple[int, ...]] = {}
    for module, kind, shape in HEAD_LAYOUT:
        if kind == "cbr":
            head |= {f"{module}.conv.weight": shape} | bn_entries(f"{module}.bn", shape[0])
        elif kind == "conv":
            head[f"{module}.weight"] = shape
        else:
            head |= bn_entries(module, shape)
    return trunk | head


def test_the_state_dict_has_the_published_checkpoints_names_and_shapes() -> None:
    ours = {name: tuple(value.shape) for name, value in BiSeNet().state_dict().items()}
    assert ours == expected_layout()
    assert len(ours) == 191 and sum(name.endswith("num_batches_tracked") for name in ours) == 31
    trainable = sum(p.numel() for p in BiSeNet().parameters())
    assert trainable == RESNET18_PARAMETERS + sum(head_parameters(kind, shape) for _, kind, shape in HEAD_LAYOUT)
    assert trainable == 13_300_416  # the same sum worked by hand: 11,176,512 trunk + 2,123,904 head


def head_parameters(kind: str, shape) -> int:
    """Trainable numbers of one HEAD_LAYOUT entry: conv weight, plus BN scale and shift."""
    if kind == "bn":
        return 2 * shape
    return int(np.prod(shape)) + (2 * shape[0] if kind == "cbr" else 0)


def test_forward_gives_19_logits_per_input_pixel() -> None:
    logits = standin_face_parser(0)(torch.zeros(1, 3, 96, 64))
    assert logits.shape == (1, 19, 96, 64) and torch.isfinite(logits).all()


def save(state: dict, path) -> str:
    torch.save(state, path)
    return str(path)


def test_a_checkpoint_file_loads_by_exact_names_and_is_deterministic(tmp_path) -> None:
    state = standin_face_parser(seed=3).state_dict()
    network = load_face_parser(save(state, tmp_path / "79999_iter.pth"))
    assert not network.training and all(torch.equal(network.state_dict()[k], v) for k, v in state.items())
    assert not torch.equal(standin_face_parser(4).state_dict()["conv_out.conv_out.weight"],
                           state["conv_out.conv_out.weight"])
    # A file saved before PyTorch 0.4.1 has no num_batches_tracked counters: still the checkpoint.
    old = {name: value for name, value in state.items() if not name.endswith("num_batches_tracked")}
    load_face_parser(save(old, tmp_path / "old.pth"))


def test_missing_unreadable_and_foreign_files_are_refused_with_where_to_get_the_checkpoint(tmp_path) -> None:
    with pytest.raises(MissingWeightsError, match="missing file.*79999_iter.pth.*zllrunning/face-parsing.PyTorch"):
        load_face_parser(tmp_path / "absent.pth")
    (tmp_path / "text.pth").write_text("not a checkpoint")
    with pytest.raises(CheckpointError, match="text.pth.*cannot be read.*79999_iter.pth.*zllrunning"):
        load_face_parser(tmp_path / "text.pth")
    eighteen = save(BiSeNet(num_classes=18).state_dict(), tmp_path / "eighteen.pth")
    with pytest.raises(CheckpointError, match=r"eighteen.pth.*not the BiSeNet.*shape mismatch conv_out.conv_out.weight"
                                              r" \(18, 256, 1, 1\) != \(19, 256, 1, 1\).*zllrunning"):
        load_face_parser(eighteen)
    wrapped = save({f"module.{k}": v for k, v in BiSeNet().state_dict().items()}, tmp_path / "ddp.pth")
    with pytest.raises(CheckpointError, match="160 missing.*191 unexpected"):  # 31 counters are filled in
        load_face_parser(wrapped)


def test_classes_and_parts_follow_celebamask_hq() -> None:
    assert len(CELEBAMASK_HQ_CLASSES) == 19 and CELEBAMASK_HQ_CLASSES.index("hair") == 17  # [8]: hair = 17
    labels = np.arange(19, dtype=np.uint8)[None].repeat(2, axis=0)  # [2, 19]: one column per class
    masks = {part: part_mask_from_labels(labels, part)[0] for part in SUPPORTED_PARTS}
    named = {part: {CELEBAMASK_HQ_CLASSES[i] for i in np.flatnonzero(mask)} for part, mask in masks.items()}
    assert named["hair"] == {"hair"} and named["nose"] == {"nose"}
    assert named["eyes"] == {"l_eye", "r_eye"} and named["brows"] == {"l_brow", "r_brow"}
    assert named["mouth"] == {"mouth", "u_lip", "l_lip"}
    for inner in ("eyes", "brows", "nose", "mouth"):
        assert named[inner] < named["face"]  # the face is everything inside its outline
    assert not any(masks[part][0] for part in SUPPORTED_PARTS)  # background is no part
    assert not named["face"] & (named["hair"] | {"l_ear", "r_ear", "neck", "cloth", "hat"})


class RecordingParser(torch.nn.Module):
    """Records its input; labels the top half of the 512² input hair (17) and the bottom half skin (1)."""

    def __init__(self) -> None:
        super().__init__()
        self.anchor = torch.nn.Parameter(torch.zeros(()))
        self.inputs: list[torch.Tensor] = []

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        self.inputs.append(image)
        logits = torch.zeros(image.shape[0], 19, *image.shape[2:])
        logits[:, 17, : image.shape[2] // 2] = 1.0
        logits[:, 1, image.shape[2] // 2:] = 1.0
        return logits


def test_the_segmenter_feeds_imagenet_normalised_512_inputs_and_maps_labels_back() -> None:
    network = RecordingParser()
    segmenter = FaceParsingSegmenter(network)
    image = np.full((128, 96, 3), 255, np.uint8)
    hair = segmenter.part_mask(image, "hair")
    (seen,) = network.inputs
    assert seen.shape == (1, 3, INPUT_SIZE, INPUT_SIZE)
    white = [(1.0 - mean) / std for mean, std in zip(IMAGENET_MEAN, IMAGENET_STD)]  # 2.249, 2.429, 2.640
    assert torch.allclose(seen[0].amin(dim=(1, 2)), torch.tensor(white)) and torch.allclose(
        seen[0].amax(dim=(1, 2)), torch.tensor(white))
    assert hair.shape == (128, 96) and hair.dtype == bool
    assert hair[:64].all() and not hair[64:].any()
    assert segmenter.part_mask(image, "face")[64:].all()  # skin


def test_the_stand_in_parser_segments_a_real_portrait_to_a_full_size_mask() -> None:
    from skimage.data import astronaut

    with FaceParsingSegmenter(standin_face_parser(0)) as segmenter:
        labels = segmenter.labels(astronaut()[:300, 100:400])
    assert labels.shape == (300, 300) and labels.dtype == np.uint8 and labels.max() < 19
