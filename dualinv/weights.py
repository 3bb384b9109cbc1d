"""The registry of pretrained files, and the checks that run before any work starts.

Nothing in dualinv downloads anything. Every pretrained file is named by a key of the ``weights``
section of the config and given as a local path; this module knows, for each key, the file a user
needs, what it is, where to get it and (where one is published) its checksum. A missing or
mismatching file stops a run before any work with a message naming the config key, the file and
the URL. A key whose path is ``None`` runs with a seeded *stand-in* network, and every result
produced that way says so (``STAND_IN``).
"""

from __future__ import annotations

import hashlib
import importlib.util
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Mapping

from dualinv.errors import MissingWeightsError

STAND_IN = "stand-in"
"""Provenance value recorded for a network built with seeded random weights instead of a file."""


@dataclass(frozen=True)
class WeightsFile:
    """One pretrained file the study can use."""

    key: str
    """Key under ``weights:`` in the config."""
    filename: str
    """The file's published name."""
    description: str
    """What the file is and what uses it."""
    url: str
    """Where a user downloads it (never fetched by dualinv)."""
    checksum: str | None = None
    """``"sha256:<hex>"``, ``"sha256-prefix:<hex>"`` (torchvision's file-name convention) or
    ``"md5:<hex>"``; ``None`` where no checksum is published (then only existence is checked,
    unless the config pins one)."""


REGISTRY: Mapping[str, WeightsFile] = MappingProxyType({
    entry.key: entry
    for entry in (
        WeightsFile(
            key="panohead",
            filename="easy-khair-180-gpc0.8-trans10-025000.pkl",
            description="PanoHead generator (G_ema), the released network the whole study inverts into",
            url="https://github.com/SizheAn/PanoHead#download-models (Google Drive link in the README)",
        ),
        WeightsFile(
            key="curricularface",
            filename="CurricularFace_Backbone.pth",
            description="CurricularFace IR-101: the ID metric as the authors' script computes it "
                        "(evaluation.protocol: authors); no checksum is published, the file is recognised by its "
                        "state-dict names and shapes (dualinv.eval.curricularface)",
            url="https://github.com/eladrich/pixel2style2pixel#pretrained-models (CurricularFace Backbone)",
        ),
        WeightsFile(
            key="ir_se50",
            filename="model_ir_se50.pth",
            description="ArcFace IR-SE50: initialises the encoders' backbone and computes the identity loss/metric",
            url="https://github.com/eladrich/pixel2style2pixel#pretrained-models (model_ir_se50.pth)",
        ),
        WeightsFile(
            key="lpips_alex",
            filename="alexnet-owt-7be5be79.pth",
            description="torchvision AlexNet trunk for LPIPS, the training loss (as in pSp and TriPlaneNet v2) and the metric; the linear heads ship with the lpips package",
            url="https://download.pytorch.org/models/alexnet-owt-7be5be79.pth",
            checksum="sha256-prefix:7be5be79",
        ),
        WeightsFile(
            key="lpips_vgg",
            filename="vgg16-397923af.pth",
            description="torchvision VGG16 trunk for LPIPS-VGG: the loss of the W+ optimisation and PTI baselines "
                        "(as PanoHead's projector), and the training loss when training.lpips_net is vgg",
            url="https://download.pytorch.org/models/vgg16-397923af.pth",
            checksum="sha256-prefix:397923af",
        ),
        WeightsFile(
            key="inception",
            filename="inception-2015-12-05.pt",
            description="Inception-v3 TorchScript feature extractor used by clean-fid for FID (loaded with "
                        "torch.jit.load, which runs the file's code: only the published file is accepted)",
            url="https://nvlabs-fi-cdn.nvidia.com/stylegan2-ada-pytorch/pretrained/metrics/inception-2015-12-05.pt",
            # As published by clean-fid and NVlabs' metrics file list.
            checksum="sha256:f58cb9b6ec323ed63459aa4fb441fe750cfe39fafad6da5cb504a16f19e958f4",
        ),
        WeightsFile(
            key="u2net",
            filename="u2net.onnx",
            description="U^2-Net background removal model for rembg (data preparation)",
            url="https://github.com/danielgatis/rembg/releases/download/v0.0.0/u2net.onnx",
            checksum="md5:60024c5c889badc19c04ad937298a77b",
        ),
        WeightsFile(
            key="goae_swin",
            filename="swinv2_base_patch4_window12to16_192to256_22kto1k_ft.pth",
            description="Microsoft's ImageNet SwinV2-B* (22K pretraining at 192² / window 12, 1K fine-tuning at "
                        "256² / window 16): the Swin-V2 the GOAE baseline starts from, the configuration of GOAE's "
                        "swinv2.yaml. No checksum is published: the file is recognised by its state-dict names and "
                        "shapes (dualinv.encoders.swin_v2) and its sha256 is recorded in provenance",
            url="https://github.com/SwinTransformer/storage/releases/download/v2.0.0/"
                "swinv2_base_patch4_window12to16_192to256_22kto1k_ft.pth (microsoft/Swin-Transformer MODELHUB.md)",
        ),
        WeightsFile(
            key="face_parsing",
            filename="79999_iter.pth",
            description="BiSeNet face parser (ResNet-18, 19 CelebAMask-HQ classes) of zllrunning/face-parsing.PyTorch, "
                        "localises the part on the reference for `dualinv edit` (paper §5.3, as in [8]); optional, "
                        "null uses the bundled mediapipe face mesh and selfie matte. No checksum is published: the "
                        "file is recognised by its state-dict names and shapes (dualinv.edit.face_parsing)",
            url="https://github.com/zllrunning/face-parsing.PyTorch#training (the 'pre-trained model' Google Drive "
                "link, file id 154JgKpzCPW82qINcVieuPH3fZ2e0P812)",
        ),
        WeightsFile(
            key="tddfa",
            filename="mb1_120x120.pth",
            description="3DDFA_V2 TDDFA regressor (MobileNet v1; mb05_120x120.pth with data.pose.tddfa_width 0.5): the "
                        "head pose and recentring of PanoHead's alignment (dualinv.data.tddfa)",
            url="https://github.com/cleardusk/3DDFA_V2/tree/master/weights (mb1_120x120.pth, mb05_120x120.pth)",
        ),
        WeightsFile(
            key="tddfa_whitening",
            filename="param_mean_std_62d_120x120.pkl",
            description="3DDFA_V2 mean/std of TDDFA's 62 parameters (read by a numpy-only unpickler)",
            url="https://github.com/cleardusk/3DDFA_V2/tree/master/configs",
        ),
        WeightsFile(
            key="bfm",
            filename="bfm_noneck_v3.pkl",
            description="3DDFA_V2 Basel Face Model without neck (mean shape and bases; read by a numpy-only unpickler)",
            url="https://github.com/cleardusk/3DDFA_V2/tree/master/configs (bfm_noneck_v3.pkl, Git LFS)",
        ),
        WeightsFile(
            key="faceboxes",
            filename="FaceBoxesProd.pth",
            description="3DDFA_V2's FaceBoxes face detector: the box TDDFA's crop comes from in PanoHead's alignment",
            url="https://github.com/cleardusk/3DDFA_V2/tree/master/FaceBoxes/weights",
        ),
        WeightsFile(
            key="dlib_landmarks",
            filename="shape_predictor_68_face_landmarks.dat",
            description="dlib's 68-point landmark predictor, which PanoHead's cropping starts from (needs the dlib package)",
            url="https://github.com/davisking/dlib-models (shape_predictor_68_face_landmarks.dat.bz2; unpack with bunzip2)",
        ),
    )
})


def _entry(key: str) -> WeightsFile:
    try:
        return REGISTRY[key]
    except KeyError:
        known = ", ".join(sorted(REGISTRY))
        raise MissingWeightsError(f"unknown weights key {key!r}; known keys: {known}") from None


def file_digest(path: str | Path, algorithm: str = "sha256") -> str:
    """Hex digest of a file, read in chunks (weights files are hundreds of MB)."""
    digest = hashlib.new(algorithm)
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _checksum_problem(path: Path, checksum: str) -> str | None:
    """The mismatch as a sentence, or ``None`` when the file matches ``checksum``."""
    kind, _, expected = checksum.partition(":")
    expected = expected.lower()
    if kind == "sha256":
        actual = file_digest(path, "sha256")
        return None if actual == expected else f"sha256 {actual} != expected {expected}"
    if kind == "sha256-prefix":
        actual = file_digest(path, "sha256")
        return None if actual.startswith(expected) else f"sha256 {actual} does not start with {expected}"
    if kind == "md5":
        actual = file_digest(path, "md5")
        return None if actual == expected else f"md5 {actual} != expected {expected}"
    raise ValueError(f"unknown checksum kind {kind!r} in {checksum!r}")


def weights_problem(key: str, path: str | Path | None, checksum: str | None = None) -> str | None:
    """Why the file configured under ``key`` cannot be used, or ``None`` when it can.

    ``path`` ``None`` means "use a stand-in" and is never a problem. ``checksum`` (from the
    config) overrides the registry's published one.
    """
    if path is None:
        return None
    entry = _entry(key)
    where = f"weights.{key} = {str(path)!r}: {entry.description}. Expected file {entry.filename}; get it from {entry.url}"
    file = Path(path).expanduser()
    if not file.is_file():
        return f"missing file. {where}"
    if file.stat().st_size == 0:
        return f"empty file. {where}"
    expected = checksum or entry.checksum
    if expected is not None:
        mismatch = _checksum_problem(file, expected)
        if mismatch is not None:
            return f"file does not match its checksum ({mismatch}); it is corrupt or not the published file. {where}"
    return None


def check_weights(paths: Mapping[str, str | Path | None], checksums: Mapping[str, str] | None = None) -> None:
    """Check every configured file at once and report all problems together, before any job runs."""
    checksums = checksums or {}
    problems = [
        problem
        for key, path in paths.items()
        if (problem := weights_problem(key, path, checksums.get(key))) is not None
    ]
    if problems:
        raise MissingWeightsError(
            f"{len(problems)} pretrained file(s) cannot be used:\n  - " + "\n  - ".join(problems)
            + "\nSet each path in the config (or null to run with a seeded stand-in network, "
            "whose results are labelled as such)."
        )


LPIPS_HEADS_SHA256: Mapping[str, str] = MappingProxyType({
    "alex": "df73285e35b22355a2df87cdb6b70b343713b667eddbda73e1977e0c860835c0",
    "vgg": "a78928a0af1e5f0fcb1f3b9e8f8c3a2a5a3de244d830ad5c1feddc79b8432868",
})
"""Full sha256 of the calibrated linear heads that ship in the ``lpips==0.1.4`` wheel
(``lpips/weights/v0.1/<net>.pth``), computed from the installed files. They are not the
torchvision trunks (``weights.lpips_alex``/``lpips_vgg``), whose published prefixes they do not share."""


def lpips_heads_path(net: str) -> Path:
    """Where the installed ``lpips`` package keeps the linear heads of ``net`` (found without importing it)."""
    spec = importlib.util.find_spec("lpips")
    if spec is None or spec.origin is None:
        raise MissingWeightsError("the lpips package is not installed; install lpips==0.1.4")
    return Path(spec.origin).parent / "weights" / "v0.1" / f"{net}.pth"


def lpips_heads_provenance(net: str) -> str:
    """``"sha256:<hex>"`` of the installed LPIPS heads of ``net``, or ``MissingWeightsError`` when the
    file differs from the one ``lpips==0.1.4`` ships (a damaged or altered install)."""

    path = lpips_heads_path(net)
    if not path.is_file():
        raise MissingWeightsError(f"{path}: the lpips package's {net} heads are missing; reinstall lpips==0.1.4")
    actual = file_digest(path, "sha256")
    if net in LPIPS_HEADS_SHA256 and actual != LPIPS_HEADS_SHA256[net]:
        raise MissingWeightsError(f"{path}: sha256 {actual} is not that of the lpips==0.1.4 {net} heads "
                                  f"({LPIPS_HEADS_SHA256[net]}); reinstall lpips==0.1.4")
    return "sha256:" + actual


MTCNN_SHA256: Mapping[str, str] = MappingProxyType({
    "pnet": "a2a71925e0b9996a42f63e47efc1ca19043e69558b5c523b978d611dfae49c8f",
    "rnet": "bbb937de72efc9ef83b186c49f5f558467a1d7e3453a8ece0d71a886633f6a86",
    "onet": "165bfbe42940416ccfb977545cf0e976d5bf321f67083ae2aaaa5c764280118d",
})
"""Full sha256 of the MTCNN P/R/O-Net state dicts that ship in the ``facenet-pytorch==2.5.3`` wheel
(``facenet_pytorch/data/<net>.pt``), computed from the installed files."""


def mtcnn_weights_path(net: str) -> Path:
    """The checked file of facenet-pytorch's ``net`` (``pnet``, ``rnet`` or ``onet``), found without
    importing the package (its import pulls in torchvision); ``MissingWeightsError`` when the package
    is absent or the file is missing or altered."""
    spec = importlib.util.find_spec("facenet_pytorch")
    if spec is None or spec.origin is None:
        raise MissingWeightsError("the facenet-pytorch package (MTCNN's weights) is not installed; "
                                  "install facenet-pytorch==2.5.3")
    path = Path(spec.origin).parent / "data" / f"{net}.pt"
    if not path.is_file():
        raise MissingWeightsError(f"{path}: facenet-pytorch's MTCNN {net} weights are missing; "
                                  "reinstall facenet-pytorch==2.5.3")
    actual = file_digest(path, "sha256")
    if actual != MTCNN_SHA256[net]:
        raise MissingWeightsError(f"{path}: sha256 {actual} is not that of the facenet-pytorch==2.5.3 "
                                  f"{net} ({MTCNN_SHA256[net]}); reinstall facenet-pytorch==2.5.3")
    return path


def require_weights(key: str, path: str | Path | None, checksum: str | None = None) -> Path:
    """The checked path of one configured file (raises :class:`MissingWeightsError` otherwise)."""
    if path is None:
        entry = _entry(key)
        raise MissingWeightsError(
            f"weights.{key} is not set: {entry.description}. Download {entry.filename} from "
            f"{entry.url} and set its path in the config."
        )
    check_weights({key: path}, {key: checksum} if checksum else None)
    return Path(path).expanduser()


def weights_provenance(key: str, path: str | Path | None) -> str:
    """What a result records about the file it used: ``"sha256:<hex>"`` or ``STAND_IN``."""
    _entry(key)
    if path is None:
        return STAND_IN
    return "sha256:" + file_digest(path, "sha256")
