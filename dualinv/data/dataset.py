"""Prepared datasets: an image folder with ``dataset.json`` (25-value labels), masks, mirroring.

The layout is PanoHead's (spec panohead.md §8.1): ``{"labels": [[relative_path, [25 values]], ...]}``,
values as numbers or as the ``%.6f`` strings of the official files, paths relative to the dataset
root; masks are single-channel PNGs in a mask folder, matched to an image by its relative path
without suffix (the official trainer's rule: ``00000/img00000000`` in an extracted
``testdata_seg.zip``) or else by its file stem (``masks/<stem>.png`` of ``dualinv prepare``).

Both official forms are read as they are: the 3DDFA cropping output (563² JPEG canvases, masks in
a sibling folder such as ``testdata_seg/``) and an extracted ``dataset_tool_seg.py`` zip (512²
PNGs). Give ``resolution`` to get every item at one size: images and masks of another size are
resized whole with Lanczos, exactly as ``dataset_tool_seg.py --resolution`` turns the 563² canvas
into 512² (spec §8.2 step 11; no crop, the normalised intrinsics are unchanged). Mirroring flips
image and mask and negates label entries 1, 2, 3, 4, 8, doubling the dataset as ``--mirror 1`` does.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import torch
from PIL import Image

from dualinv.camera import LABEL_SIZE, mirror_label
from dualinv.errors import DatasetFormatError
from dualinv.fileio import write_json_atomic

DATASET_FILE = "dataset.json"
IMAGES_DIR = "images"
MASKS_DIR = "masks"


def read_labels(root: str | Path) -> dict[str, np.ndarray]:
    """``{relative_path: label float64 [25]}`` from ``root/dataset.json``, in file order."""
    path = Path(root) / DATASET_FILE
    try:
        payload = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DatasetFormatError(f"{path}: missing; prepare the dataset with `dualinv prepare` first") from None
    except json.JSONDecodeError as error:
        raise DatasetFormatError(f"{path}: not valid JSON ({error}); re-create it") from None
    entries = payload.get("labels") if isinstance(payload, dict) else None
    if not isinstance(entries, list):
        raise DatasetFormatError(f'{path}: expected {{"labels": [[file, [25 values]], ...]}}')
    labels: dict[str, np.ndarray] = {}
    for position, entry in enumerate(entries):
        try:
            name, values = entry
            label = np.asarray([float(value) for value in values], dtype=np.float64)
        except (TypeError, ValueError):
            raise DatasetFormatError(f"{path}: labels[{position}] is not [file, [25 numbers]]") from None
        if label.shape != (LABEL_SIZE,) or not np.isfinite(label).all():
            raise DatasetFormatError(f"{path}: label of {name!r} must be {LABEL_SIZE} finite numbers, got {label.size}")
        labels[str(name)] = label
    return labels


def write_labels(root: str | Path, labels: Mapping[str, np.ndarray], alignment: str | None = None) -> None:
    """Write ``root/dataset.json`` atomically (numbers rounded to 6 decimals, as the official files);
    ``alignment`` (how the labels were estimated) is recorded beside them when given."""
    entries = [[name, [round(float(value), 6) for value in label]] for name, label in sorted(labels.items())]
    extra = {} if alignment is None else {"alignment": alignment}
    write_json_atomic(Path(root) / DATASET_FILE, {"labels": entries, **extra})


class HeadDataset(torch.utils.data.Dataset):
    """A prepared dataset: item ``i`` is ``{"image": [3,H,W] in [-1,1], "camera": [25], "name": str}``
    plus ``"mask": [1,H,W] in [0,1]`` when masks exist. With ``mirror`` the dataset is twice as long
    and items ``n..2n-1`` are the x-flipped copies with mirrored cameras (spec §8.1). H = W =
    ``resolution`` when given, else each file's own size."""

    def __init__(
        self,
        root: str | Path,                      # dataset folder holding dataset.json
        names: Sequence[str] | None = None,    # the items, in order (a split, a rebalanced list); None: all labels
        mirror: bool = False,                  # append x-flipped copies with mirrored cameras
        mask_root: str | Path | None = None,   # folder of masks matched by path or stem; None: root/masks if present
        resolution: int | None = None,         # side every image and mask is resized to (Lanczos); None: as stored
    ) -> None:
        if resolution is not None and resolution < 1:
            raise DatasetFormatError(f"resolution must be a positive side in pixels, got {resolution}")
        self.resolution = resolution
        self.root = Path(root)
        self.labels = read_labels(self.root)
        self.names = list(self.labels) if names is None else list(names)
        unknown = [name for name in self.names if name not in self.labels]
        if unknown:
            raise DatasetFormatError(f"{self.root / DATASET_FILE}: no label for {len(unknown)} requested item(s), e.g. {unknown[0]!r}")
        self.mirror = mirror
        default_masks = self.root / MASKS_DIR
        self.mask_root = Path(mask_root) if mask_root is not None else (default_masks if default_masks.is_dir() else None)

    def __len__(self) -> int:
        return len(self.names) * (2 if self.mirror else 1)

    def mask_path(self, name: str) -> Path | None:
        """The mask of item ``name``: ``mask_root/<name without suffix>.png``, else ``mask_root/<stem>.png``."""
        if self.mask_root is None:
            return None
        for candidate in (self.mask_root / Path(name).with_suffix(".png"), self.mask_root / f"{Path(name).stem}.png"):
            if candidate.is_file():
                return candidate
        return None

    def _read(self, path: Path, mode: str) -> np.ndarray:
        """Pixels of ``path`` in ``mode``, resized to ``resolution``² when that is set and differs."""

        with Image.open(path) as handle:
            picture = handle.convert(mode)
        if self.resolution is not None and picture.size != (self.resolution, self.resolution):
            if picture.width != picture.height:
                raise DatasetFormatError(f"{path}: {picture.width}x{picture.height} is not square; PanoHead crops are "
                                         "square canvases (re-crop it with `dualinv prepare`)")
            picture = picture.resize((self.resolution, self.resolution), Image.LANCZOS)
        return np.array(picture)

    def __getitem__(self, index: int) -> dict[str, object]:
        if not 0 <= index < len(self):
            raise IndexError(index)
        flipped = index >= len(self.names)
        name = self.names[index % len(self.names)]
        pixels = self._read(self.root / name, "RGB")
        label = self.labels[name]
        if flipped:
            pixels = pixels[:, ::-1]
            label = mirror_label(label)
        item: dict[str, object] = {
            "image": torch.from_numpy(np.ascontiguousarray(pixels)).permute(2, 0, 1).float() / 127.5 - 1.0,
            "camera": torch.from_numpy(label.astype(np.float32)),
            "name": name,
            "mirrored": flipped,
        }
        mask_file = self.mask_path(name)
        if mask_file is not None:
            mask = self._read(mask_file, "L")
            if flipped:
                mask = mask[:, ::-1]
            item["mask"] = torch.from_numpy(np.ascontiguousarray(mask)).float()[None] / 255.0
        return item
