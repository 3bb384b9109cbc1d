"""Background removal: a soft head-and-shoulders matte, and compositing on a constant colour.

The paper removes portrait backgrounds for training and evaluation (§4.1). Two matting models, both
offline: rembg's U^2-Net (weights key ``u2net``, loaded from the configured file: rembg finds it
through ``U2NET_HOME``, set to the file's folder while the explicit session is built, so it never
downloads) and mediapipe's bundled selfie segmentation (softer edges; specs/offline-weights.md).

:func:`choose_matting` decides before any work (issue 4): selfie when asked or when no file is
configured; selfie with a loud :class:`MattingFallbackWarning` when ``auto`` names a file that does
not exist; U^2-Net when the file exists and matches its published checksum. A file that exists but
is empty, corrupt or tampered with stops the run (``MissingWeightsError``), as does an absent file
when ``u2net`` was asked for explicitly.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol

import numpy as np
from PIL import Image

from dualinv.errors import ConfigError
from dualinv.native_logs import mediapipe_quiet
from dualinv.weights import REGISTRY, require_weights, weights_problem

DEFAULT_BACKGROUND = (255, 255, 255)
"""Default colour behind the head: white."""

MattingKind = Literal["auto", "u2net", "selfie"]


@dataclass(frozen=True)
class BackgroundConfig:
    """How the background is removed and replaced."""

    matting: MattingKind = "auto"
    """``u2net`` (needs ``u2net_path``, which must exist), ``selfie`` (mediapipe, bundled) or ``auto``
    (u2net when ``u2net_path`` exists; selfie, with a warning, when it is set but absent; selfie when
    it is not set)."""
    u2net_path: str | None = None
    """Path of ``u2net.onnx`` (weights key ``u2net``); ``None``: not available."""
    colour: tuple[int, int, int] = DEFAULT_BACKGROUND
    """RGB colour composited behind the head."""
    enabled: bool = True
    """``False`` keeps the photo's background (the mask is still written)."""

    def __post_init__(self) -> None:
        if self.matting not in ("auto", "u2net", "selfie"):
            raise ConfigError(f"background.matting must be auto, u2net or selfie, got {self.matting!r}")
        if self.matting == "u2net" and self.u2net_path is None:
            raise ConfigError("background.matting is 'u2net' but weights.u2net is not set; set its path or use 'selfie'")
        if len(self.colour) != 3 or not all(0 <= int(value) <= 255 for value in self.colour):
            raise ConfigError(f"background.colour must be three integers in 0..255, got {self.colour!r}")


class Matting(Protocol):
    """A model returning a soft foreground matte [H, W] in [0, 1] for an RGB image [H, W, 3] uint8."""

    name: str

    def matte(self, image: np.ndarray) -> np.ndarray: ...

    def close(self) -> None: ...


def checked_u2net_file(path: str | Path) -> Path:
    """``path`` when it is the published ``u2net.onnx`` (exists, checksum, name rembg accepts);
    ``MissingWeightsError`` or ``ConfigError`` otherwise."""
    model_file = require_weights("u2net", path)
    expected = REGISTRY["u2net"].filename
    if model_file.name != expected:
        raise ConfigError(f"weights.u2net = {str(model_file)!r}: rembg only loads a file named {expected}; rename it")
    return model_file


class U2NetMatting:
    """rembg's U^2-Net through an explicit session on the configured file."""

    name = "u2net"

    def __init__(self, u2net_path: str | Path) -> None:
        model_file = checked_u2net_file(u2net_path)
        import rembg  # after the checks: its import compiles numba kernels (tens of seconds on a fresh install)

        previous = os.environ.get("U2NET_HOME")
        os.environ["U2NET_HOME"] = str(model_file.parent.resolve())
        try:
            self._session = rembg.new_session("u2net")
        finally:
            if previous is None:
                os.environ.pop("U2NET_HOME", None)
            else:
                os.environ["U2NET_HOME"] = previous

    def matte(self, image: np.ndarray) -> np.ndarray:
        mask = self._session.predict(Image.fromarray(image))[0]
        return np.asarray(mask, dtype=np.float32) / 255.0

    def close(self) -> None:
        self._session = None


class SelfieMatting:
    """mediapipe's bundled selfie segmentation (general model, square input)."""

    name = "selfie"

    def __init__(self) -> None:
        with mediapipe_quiet():
            import mediapipe as mp  # mediapipe loads only when this runs, not on CLI start-up

            self._segmenter = mp.solutions.selfie_segmentation.SelfieSegmentation(model_selection=0)

    def matte(self, image: np.ndarray) -> np.ndarray:
        with mediapipe_quiet():
            result = self._segmenter.process(np.ascontiguousarray(image))
        return np.clip(np.asarray(result.segmentation_mask, dtype=np.float32), 0.0, 1.0)

    def close(self) -> None:
        with mediapipe_quiet():
            self._segmenter.close()


class MattingFallbackWarning(UserWarning):
    """The configured U^2-Net file does not exist; mediapipe's selfie segmentation is used instead."""


@dataclass(frozen=True)
class MattingChoice:
    """The matting model a run uses, and why it is not the configured one (if it is not)."""

    kind: Literal["u2net", "selfie"]
    """The model that runs."""
    fallback: str | None = None
    """Why the configured U^2-Net file was not used (missing file, where to get it); ``None`` otherwise."""


def choose_matting(config: BackgroundConfig) -> MattingChoice:
    """The matting model for ``config`` (see the module docstring). Checks the U^2-Net file's
    existence, name and checksum without importing rembg; raises before any work when a present
    file cannot be used."""
    if config.matting == "selfie" or config.u2net_path is None:
        return MattingChoice("selfie")
    model_file = Path(config.u2net_path).expanduser()
    if config.matting == "auto" and not model_file.exists():
        problem = weights_problem("u2net", model_file)
        return MattingChoice("selfie", f"{problem}. Background removal FALLS BACK to mediapipe selfie "
                                       "segmentation (softer edges than U^2-Net, not the paper's matting).")
    checked_u2net_file(model_file)
    return MattingChoice("u2net")


def build_matting(kind: Literal["u2net", "selfie"], u2net_path: str | None = None) -> Matting:
    """The matting model ``kind`` (what :func:`choose_matting` chose)."""
    if kind == "u2net":
        if u2net_path is None:
            raise ConfigError("u2net matting needs weights.u2net (the path of u2net.onnx)")
        return U2NetMatting(u2net_path)
    if kind == "selfie":
        return SelfieMatting()
    raise ConfigError(f"unknown matting model {kind!r}; use u2net or selfie")


def composite(image: np.ndarray, matte: np.ndarray, colour: tuple[int, int, int] = DEFAULT_BACKGROUND) -> np.ndarray:
    """``image·matte + colour·(1 − matte)`` as uint8 [H, W, 3]."""
    alpha = np.clip(matte, 0.0, 1.0)[:, :, None]
    mixed = image.astype(np.float32) * alpha + np.asarray(colour, dtype=np.float32) * (1.0 - alpha)
    return np.clip(np.rint(mixed), 0, 255).astype(np.uint8)
