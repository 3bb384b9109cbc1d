"""Decode any portrait file into an 8-bit RGB array, or say exactly why it cannot be used.

Photos arrive as JPEG, PNG or WebP in every mode a camera or editor writes: EXIF-rotated, grayscale,
CMYK, with alpha, 16-bit. The size is read from the header and checked *before* pixels are decoded
(a decompression-bomb guard that does not touch Pillow's global limit), and a truncated file is an
error rather than a grey half-image (Pillow's ``LOAD_TRUNCATED_IMAGES`` stays off).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from dualinv.errors import UnusableImageError

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".gif")
"""Photos a folder is searched for; a GIF is read as its first frame (as ``dualinv invert`` reads one)."""
"""File suffixes (lower case) that ``prepare`` picks up from a folder."""


@dataclass(frozen=True)
class DecodeLimits:
    """What an input image must satisfy before any pixel is decoded."""

    max_pixels: int = 64_000_000
    """Larger images are refused (decompression-bomb guard); 64 MP covers any camera photo."""
    min_side: int = 64
    """Images whose shorter side is smaller cannot hold a face worth a 512² crop."""

    def __post_init__(self) -> None:
        if self.max_pixels <= 0 or self.min_side <= 0:
            raise ValueError(f"DecodeLimits needs positive values, got {self}")


def _to_rgb(image: Image.Image, matte: tuple[int, int, int]) -> np.ndarray:
    """[H, W, 3] uint8 from any Pillow mode; alpha is composited onto ``matte``."""
    if image.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
        values = np.asarray(image, dtype=np.float64)
        scale = 257.0 if values.max(initial=0) > 255 or image.mode != "I" else 1.0
        gray = np.clip(np.rint(values / scale), 0, 255).astype(np.uint8)
        return np.repeat(gray[:, :, None], 3, axis=2)
    if image.mode == "F":
        values = np.asarray(image, dtype=np.float64)
        gray = np.clip(np.rint(values * (255.0 if values.max(initial=0) <= 1.0 else 1.0)), 0, 255).astype(np.uint8)
        return np.repeat(gray[:, :, None], 3, axis=2)
    has_alpha = image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info)
    if has_alpha:
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (*matte, 255))
        return np.asarray(Image.alpha_composite(background, rgba).convert("RGB"))
    return np.asarray(image.convert("RGB"))  # L, 1, P, CMYK, YCbCr, LAB, HSV, RGB


def decode_image(
    path: str | Path,
    limits: DecodeLimits = DecodeLimits(),
    matte: tuple[int, int, int] = (255, 255, 255),
) -> np.ndarray:
    """The upright RGB pixels [H, W, 3] uint8 of ``path``; :class:`UnusableImageError` says why not."""
    path = Path(path)
    try:
        size = path.stat().st_size
    except OSError as error:
        raise UnusableImageError(f"{path}: cannot read the file ({error.strerror}); check that it exists", "unreadable") from None
    if size == 0:
        raise UnusableImageError(f"{path}: empty file (0 bytes); re-copy or remove it", "empty")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as handle:
                width, height = handle.size
                if width * height > limits.max_pixels:
                    raise UnusableImageError(
                        f"{path}: {width}x{height} pixels exceeds the limit of {limits.max_pixels} "
                        "(decompression-bomb guard); downscale the photo or raise max_pixels",
                        "too_large",
                    )
                if min(width, height) < limits.min_side:
                    raise UnusableImageError(
                        f"{path}: {width}x{height} is too small (shorter side < {limits.min_side} px); "
                        "use a larger photo",
                        "too_small",
                    )
                handle.load()
                upright = ImageOps.exif_transpose(handle)
                return _to_rgb(upright, matte)
    except UnusableImageError:
        raise
    except UnidentifiedImageError:
        raise UnusableImageError(
            f"{path}: not an image Pillow can identify (JPEG, PNG or WebP expected)", "not_an_image"
        ) from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        raise UnusableImageError(f"{path}: refused as a decompression bomb ({error})", "too_large") from None
    except (OSError, SyntaxError, ValueError) as error:
        raise UnusableImageError(
            f"{path}: corrupt or truncated image data ({error}); re-export the file", "corrupt"
        ) from None
