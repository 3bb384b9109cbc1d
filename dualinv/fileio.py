"""Atomic file writing and the image <-> tensor convention.

Outputs are written to a temporary file beside the target and renamed into place, so an
interrupted job never leaves a half-written result that a resumed job would mistake for a finished
one. Inside the library images are float tensors in [-1, 1] shaped [3, H, W]; on disk they are
uint8 PNG (DESIGN.md, Conventions).
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import torch


@contextlib.contextmanager
def atomic_path(target: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; on success it is renamed onto ``target``.

    On an exception the temporary file is removed and ``target`` is left as it was.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(handle)
    temporary_path = Path(temporary)
    try:
        yield temporary_path
        os.replace(temporary_path, target)
    finally:
        temporary_path.unlink(missing_ok=True)


def write_bytes_atomic(target: str | Path, data: bytes) -> None:
    with atomic_path(target) as temporary:
        temporary.write_bytes(data)


def write_text_atomic(target: str | Path, text: str) -> None:
    write_bytes_atomic(target, text.encode("utf-8"))


def write_json_atomic(target: str | Path, payload: Any) -> None:
    write_text_atomic(target, json.dumps(payload, indent=2, sort_keys=False) + "\n")


def torch_save_atomic(target: str | Path, payload: Any) -> None:
    """``torch.save`` through a temporary file (checkpoints must never be half written)."""
    with atomic_path(target) as temporary:
        torch.save(payload, temporary)


def tensor_to_uint8(image: torch.Tensor) -> np.ndarray:
    """[3, H, W] (or [1, H, W]) float in [-1, 1] -> [H, W, 3] uint8, rounding as the official scripts do."""
    if image.ndim != 3:
        raise ValueError(f"expected an image [C, H, W], got shape {tuple(image.shape)}")
    array = (image.detach().float().cpu() * 127.5 + 128).clamp(0, 255).to(torch.uint8)
    array = array.permute(1, 2, 0).numpy()
    return np.repeat(array, 3, axis=2) if array.shape[2] == 1 else array


def uint8_to_tensor(array: np.ndarray) -> torch.Tensor:
    """[H, W, 3] uint8 -> [3, H, W] float in [-1, 1]."""
    if array.dtype != np.uint8 or array.ndim != 3 or array.shape[2] != 3:
        raise ValueError(f"expected an RGB uint8 array [H, W, 3], got {array.dtype} {array.shape}")
    return torch.from_numpy(np.array(array, copy=True)).permute(2, 0, 1).float() / 127.5 - 1.0


def save_image(target: str | Path, image: torch.Tensor) -> None:
    """Write a [-1, 1] image tensor as a PNG, atomically."""
    from PIL import Image

    with atomic_path(target) as temporary:
        Image.fromarray(tensor_to_uint8(image)).save(temporary, format="PNG")


def load_image(path: str | Path) -> torch.Tensor:
    """Read an RGB image file as a [3, H, W] tensor in [-1, 1] (robust decoding lives in dualinv.data)."""
    from PIL import Image

    with Image.open(path) as handle:
        return uint8_to_tensor(np.asarray(handle.convert("RGB")))
