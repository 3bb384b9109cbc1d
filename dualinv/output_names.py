"""Output names built from a user's file names, kept to one path component inside the output folder.

A photo called ``...png`` has the stem ``..``; written as ``<out>/<stem>/`` it would land in the
parent of ``--out`` and overwrite what is there. Every output named after an input (``invert``'s
head folders, ``prepare``'s crops, masks and labels, the workflow's per-item renders, latents and
records) takes its name from :func:`output_stem` or :func:`item_stem`, and a folder is joined with
:func:`inside`, which refuses any result outside the output folder. Ordinary names pass unchanged.
"""

from __future__ import annotations

import hashlib
from pathlib import Path, PurePosixPath

from dualinv.errors import DatasetFormatError

MAX_NAME_BYTES = 180
"""Longer names are cut and end in 8 hex digits of their sha256 (file systems allow 255 bytes;
room is left for suffixes such as ``.png`` and for the atomic writer's temporary names)."""


def safe_component(text: str) -> str:
    """``text`` as one harmless path component: separators and control characters become ``_``,
    leading dots become ``_`` (no ``.``/``..``, no hidden names that clash with temporaries), and an
    over-long name is shortened with a hash so that names stay distinct."""
    cleaned = "".join("_" if char in "/\\" or ord(char) < 32 or ord(char) == 127 else char for char in text)
    stripped = cleaned.lstrip(".")
    cleaned = "_" * (len(cleaned) - len(stripped)) + stripped
    if not cleaned:
        cleaned = "_"
    encoded = cleaned.encode("utf-8", "surrogatepass")
    if len(encoded) > MAX_NAME_BYTES:
        digest = hashlib.sha256(encoded).hexdigest()[:8]
        cleaned = encoded[:MAX_NAME_BYTES - 9].decode("utf-8", "ignore") + "-" + digest
    return cleaned


def output_stem(key: str) -> str:
    """The file stem of an input's outputs: its key without suffix, folders joined by ``__``, made safe."""
    path = PurePosixPath(str(key).replace("\\", "/"))
    joined = path.with_suffix("").as_posix() if path.name not in ("", ".", "..") else path.as_posix()
    return safe_component(joined.replace("/", "__"))


def item_stem(name: str) -> str:
    """The stem of a dataset item ``images/<stem>.png`` in the workflow's per-item outputs, made safe."""
    return safe_component(PurePosixPath(str(name).replace("\\", "/")).stem)


def inside(out_dir: str | Path, name: str) -> Path:
    """``out_dir / name``, refused when it would resolve outside ``out_dir`` (a name from a file)."""
    out_dir = Path(out_dir)
    target = out_dir / name
    root = out_dir.resolve()
    resolved = target.resolve()
    if resolved == root or root not in resolved.parents:
        raise DatasetFormatError(f"output name {name!r} would be written outside {out_dir}; rename the input")
    return target
