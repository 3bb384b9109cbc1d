"""Checks on weights files before and after they are read: sizes first, then values (docs/security.md).

A weights file is refused, with a ``CheckpointError`` naming it, when its zip container would
inflate beyond its own size (``torch.save`` stores members uncompressed, so a compressed member is
foreign), when a tensor that should hold real numbers holds integers, or when a floating tensor
holds NaN or infinity (a network with such a weight renders garbage, silently).
"""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Mapping

import torch

from dualinv.errors import CheckpointError

MAX_NAMED = 5
"""How many offending tensor names an error shows."""


def check_zip_members(path: str | Path, source: str | None = None) -> None:
    """Refuse a zip whose declared member sizes exceed the file (a zip bomb) or that compresses members.

    Checked from the zip's directory, before ``torch.load`` allocates anything; a file that is not
    a zip is left to its reader."""
    path = Path(path)
    source = source or str(path)
    if not zipfile.is_zipfile(path):
        return
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as error:
        raise CheckpointError(f"{source}: a corrupt zip container ({error})") from error
    compressed = [member.filename for member in members if member.compress_type != zipfile.ZIP_STORED]
    if compressed:
        raise CheckpointError(f"{source}: zip members {compressed[:MAX_NAMED]} are compressed; torch.save never "
                              "compresses, so this is not a checkpoint written by torch (refused before inflating)")
    declared = sum(member.file_size for member in members)
    if declared > path.stat().st_size:
        raise CheckpointError(f"{source}: its zip members declare {declared} bytes, more than the file's "
                              f"{path.stat().st_size}; refused before reading")


def check_tensor_values(tensors: Mapping[str, torch.Tensor], source: str,
                        expected: Mapping[str, torch.Tensor] | None = None) -> None:
    """Refuse NaN/inf in floating tensors and integer/bool tensors where ``expected`` has floats."""
    wrong_kind = [f"{name} ({tensor.dtype}, expected {expected[name].dtype})" for name, tensor in tensors.items()
                  if expected is not None and name in expected and expected[name].is_floating_point()
                  and not tensor.is_floating_point()]
    if wrong_kind:
        raise CheckpointError(f"{source}: {len(wrong_kind)} tensor(s) hold integers where weights are real numbers: "
                              f"{', '.join(wrong_kind[:MAX_NAMED])}; the file is damaged or not these weights")
    non_finite = [name for name, tensor in tensors.items()
                  if tensor.is_floating_point() and tensor.numel() and not bool(torch.isfinite(tensor).all())]
    if non_finite:
        raise CheckpointError(f"{source}: {len(non_finite)} tensor(s) hold NaN or infinite values: "
                              f"{', '.join(non_finite[:MAX_NAMED])}; the file is damaged, download it again")
