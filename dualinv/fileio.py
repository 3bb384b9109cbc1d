"""Atomic file writing and the image <-> tensor convention.

Outputs are written to a temporary file beside the target and renamed into place, so an
interrupted job never leaves a half-written result that a resumed job would mistake for a finished
one. The temporary is named ``.<target>.<host>-<pid>.<random>.tmp``; the next write of the same
target removes those a killed process left (its pid is gone on this host, or the file is older than
:data:`STALE_TEMPORARY_SECONDS`). Written files get the mode a plain ``open()`` would give them
(``0666`` less the umask), not ``mkstemp``'s ``0600``. ``.pt`` files are serialised in memory first,
so equal content gives equal bytes (``torch.save`` to a path records the path's name in the zip). Inside the library images are float tensors in [-1, 1] shaped [3, H, W]; on disk they are
uint8 PNG (DESIGN.md, Conventions).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import socket
import tempfile
import time
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import torch
from PIL import Image

STALE_TEMPORARY_SECONDS = 24 * 3600
"""A temporary of another host (or of an unknown name) older than this is a kill's leftover."""


def _current_umask() -> int:
    """The process umask, read without changing it where Linux allows (``os.umask`` sets it, briefly
    racing other threads' file creation)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _owner_tag() -> str:
    """``<host>-<pid>`` of this process, as written into its temporaries' names."""
    return f"{socket.gethostname().replace('.', '_')}-{os.getpid()}"


def _temporary_glob(target: Path) -> str:
    return f".{glob_escape(target.name)}.*.tmp"


def glob_escape(name: str) -> str:
    """``name`` with glob metacharacters escaped (a file called ``a[1].png`` is matched literally)."""
    return "".join(f"[{char}]" if char in "*?[" else char for char in name)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale_temporaries(target: str | Path) -> list[Path]:
    """Delete the temporaries of ``target`` that a killed writer left; return what was removed.

    A temporary of this host whose process is gone is stale at once; one of another host (a shared
    filesystem) or with a name not written by :func:`atomic_path` only after
    :data:`STALE_TEMPORARY_SECONDS`, so a live writer elsewhere is never disturbed.
    """
    target = Path(target)
    if not target.parent.is_dir():
        return []
    host, removed, now = _owner_tag().rpartition("-")[0], [], time.time()
    prefix = f".{target.name}."
    for candidate in target.parent.glob(_temporary_glob(target)):
        middle = candidate.name[len(prefix):-len(".tmp")]
        owner = middle.split(".", 1)[0]
        owner_host, _, owner_pid = owner.rpartition("-")
        if owner_host == host and owner_pid.isdigit():
            stale = int(owner_pid) != os.getpid() and not _pid_alive(int(owner_pid))
        else:
            try:
                stale = now - candidate.lstat().st_mtime > STALE_TEMPORARY_SECONDS
            except FileNotFoundError:
                continue
        if stale and candidate.is_file():
            candidate.unlink(missing_ok=True)
            removed.append(candidate)
    return removed


@contextlib.contextmanager
def atomic_path(target: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; on success it is renamed onto ``target``.

    On an exception the temporary file is removed and ``target`` is left as it was. The result has
    the umask's mode (as ``open()`` would create it), and stale temporaries of ``target`` are removed.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(target)
    handle, temporary = tempfile.mkstemp(prefix=f".{target.name}.{_owner_tag()}.", suffix=".tmp", dir=target.parent)
    os.close(handle)
    temporary_path = Path(temporary)
    try:
        yield temporary_path
        if temporary_path.is_file():
            os.chmod(temporary_path, 0o666 & ~_current_umask())
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
    """``torch.save`` through a temporary file (checkpoints must never be half written).

    Serialised to memory first: saving to a path names the zip's records after that (temporary)
    path, so the same payload would give different bytes, and content hashes of checkpoints
    (the inversion jobs' resume fingerprint) would change after an identical rerun."""
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    write_bytes_atomic(target, buffer.getvalue())


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

    with atomic_path(target) as temporary:
        Image.fromarray(tensor_to_uint8(image)).save(temporary, format="PNG")


def load_image(path: str | Path) -> torch.Tensor:
    """Read an RGB image file as a [3, H, W] tensor in [-1, 1] (robust decoding lives in dualinv.data)."""

    with Image.open(path) as handle:
        return uint8_to_tensor(np.asarray(handle.convert("RGB")))
