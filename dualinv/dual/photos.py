"""From raw photos to 3D heads: preparation, dual-encoder inversion, per-photo outputs (paper Fig. 1, 9, 12).

A layer on top of the dual-encoder inverter: each photo goes through the data preparation of
:mod:`dualinv.data` (decode, face and pose, PanoHead crop, background; the aligned crop and its
label are kept under ``<out>/prepared/``), the aligned crop and its camera go to
``inverter.invert`` (:class:`dualinv.dual.invert.DualInverter` or anything with its interface), and
the stitched head's files are written by :func:`dualinv.dual.outputs.write_head_outputs` into
``<out>/<stem>/``. :func:`invert_aligned` is that last loop on its own, for crops that are
already aligned (``dualinv invert --aligned``). A photo the preparation rejects is recorded in ``<out>/rejects.csv`` with its
reason, and the others go on. The reference-based edit (§5.3) reuses the same steps.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from tqdm import tqdm

import dualinv.models.inversion as inversions
from dualinv.data.dataset import IMAGES_DIR
from dualinv.data.prepare import ImagePreparer, PrepareConfig
from dualinv.data.rejects import REJECTS_FILE, Reject, write_rejects
from dualinv.dual.invert import DualInverter
from dualinv.dual.outputs import HeadCode, HeadOutputOptions, HeadReport, Panel, write_head_outputs
from dualinv.errors import DatasetFormatError, NoFaceError
from dualinv.fileio import load_image, tensor_to_uint8
from dualinv.occlusion import save_occlusion_debug
from dualinv.output_names import inside, output_stem

PREPARED_DIR = "prepared"
OCCLUSION_CAPTION = "occlusion mask O (XY | XZ | YZ, v up; white = occluded in every depth slice, black = visible)"
"""Caption of ``occlusion.png``: the picture is O itself (Eq. 3, True on occluded cells), averaged over
depth slices by :func:`dualinv.occlusion.save_occlusion_debug`."""


@dataclass(frozen=True)
class AlignedPhoto:
    """A prepared photo: the crop the encoders see and its camera."""

    stem: str
    source: str
    image: torch.Tensor
    """[3, S, S] in [−1, 1] (background composited as configured)."""
    camera: torch.Tensor
    """[25] label: from the estimated head pose, or the crop's ``dataset.json``."""
    yaw: float
    """Dataset yaw in degrees (of the camera)."""
    pitch: float


@dataclass
class PhotoBatch:
    """What :func:`invert_photos` did."""

    written: dict[str, Path] = field(default_factory=dict)
    """stem → its output folder."""
    rejects: list[Reject] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)
    """stem → seconds of its inversion (encoders, mask and stitch; outputs not counted)."""


def align_photos(photos: Sequence[str | Path], out_dir: Path, config: PrepareConfig = PrepareConfig()
                 ) -> tuple[list[AlignedPhoto], list[Reject]]:
    """Prepare each photo into ``out_dir/prepared`` and read the aligned crops back."""

    prepared_dir = out_dir / PREPARED_DIR
    preparer = ImagePreparer(prepared_dir, config)
    aligned, rejects = [], []
    try:
        for photo in tqdm(photos, desc="aligning", unit="photo", leave=False, disable=not config.progress):
            outcome = preparer.prepare(Path(photo), Path(photo).name)
            if isinstance(outcome, Reject):
                rejects.append(outcome)
                continue
            image = load_image(prepared_dir / IMAGES_DIR / f"{outcome.stem}.png")
            aligned.append(AlignedPhoto(outcome.stem, str(photo), image, torch.tensor(outcome.label, dtype=torch.float32),
                                        outcome.yaw, outcome.pitch))
    finally:
        preparer.close()
    return aligned, rejects


def head_of(inversion) -> HeadCode:
    """The stitched head of a one-image dual :class:`~dualinv.models.inversion.Inversion`."""
    return HeadCode(inversion.trigrid[:1], inversion.ws[:1], inversion.cameras[:1])


def invert_photos(photos: Sequence[str | Path], out_dir: str | Path, inverter: DualInverter, *, stand_in: bool,
                  provenance: dict | None = None, options: HeadOutputOptions = HeadOutputOptions(),
                  prepare: PrepareConfig = PrepareConfig(progress=False), log=tqdm.write) -> PhotoBatch:
    """Raw photos → ``<out>/<stem>/`` folders (files: :mod:`dualinv.dual.outputs`) + ``rejects.csv``."""
    out_dir = Path(out_dir)
    _check_unique_stems(photos)
    aligned, rejects = align_photos(photos, out_dir, prepare)
    for reject in rejects:
        log(f"{reject.source}: rejected ({reject.reason}): {reject.detail}")
    write_rejects(out_dir / REJECTS_FILE, rejects)
    batch = invert_aligned(aligned, out_dir, inverter, stand_in=stand_in, provenance=provenance, options=options,
                           log=log)
    batch.rejects = rejects
    return batch


def invert_aligned(aligned: Sequence[AlignedPhoto], out_dir: str | Path, inverter: DualInverter, *, stand_in: bool,
                   provenance: dict | None = None, options: HeadOutputOptions = HeadOutputOptions(),
                   log=tqdm.write) -> PhotoBatch:
    """Aligned crops → dual inversion (§3.4) → ``<out>/<stem>/`` with the head outputs and ``occlusion.png``.

    The one loop of ``dualinv invert`` for raw photos (after :func:`align_photos`) and for crops
    that are already aligned (``--aligned``). Seconds count the inversion only (encoders, mask and
    stitch), not the outputs; on CUDA the device is synchronised before reading the clock
    (:func:`dualinv.models.inversion.timed_per_image`), so queued kernels are counted.
    """

    out_dir = Path(out_dir)
    batch = PhotoBatch()
    device = next(inverter.generator.parameters()).device
    for photo in tqdm(aligned, desc="inverting", unit="photo", disable=not options.progress or len(aligned) < 2):
        inversion, batch.seconds[photo.stem] = inversions.timed_per_image(
            lambda: inverter.invert(photo.image[None].to(device), photo.camera[None].to(device)), 1, device)
        directory = inside(out_dir, photo.stem)
        save_occlusion_debug(inversion.dual.occlusion_mask.cpu(), directory / "occlusion.png")
        report = HeadReport(f"{Path(photo.source).name}: dual-encoder inversion", stand_in=stand_in,
                            notes=[f"pose: yaw {photo.yaw:+.1f}°, pitch {photo.pitch:+.1f}°",
                                   f"inversion {batch.seconds[photo.stem]:.2f} s on {device}"],
                            provenance={"photo": photo.source, "yaw": photo.yaw, "pitch": photo.pitch,
                                        "camera": photo.camera.tolist(), "seconds": batch.seconds[photo.stem],
                                        **(provenance or {})})
        write_head_outputs(directory, inverter.generator, head_of(inversion), report, input_image=photo.image,
                           panels=[Panel("occlusion.png", OCCLUSION_CAPTION)],
                           options=options)
        batch.written[photo.stem] = directory
        log(f"{photo.source}: inverted in {batch.seconds[photo.stem]:.3f} s/image -> {directory / 'index.html'}")
    return batch


def align_one(photo: str | Path, out_dir: Path, prepare: PrepareConfig, role: str) -> AlignedPhoto:
    """The aligned crop of one photo, or a ``NoFaceError`` that names the photo, its role and the reason."""
    aligned, rejects = align_photos([photo], out_dir, prepare)
    if rejects:
        raise NoFaceError(f"{role} photo {photo}: rejected ({rejects[0].reason}): {rejects[0].detail}")
    return aligned[0]


def part_image(aligned: AlignedPhoto) -> np.ndarray:
    """The aligned crop as [S, S, 3] uint8 RGB, as the part segmenter takes it."""

    return tensor_to_uint8(aligned.image)


def _check_unique_stems(photos: Sequence[str | Path]) -> None:
    seen: dict[str, str] = {}
    for photo in photos:
        stem = output_stem(Path(photo).name)
        if seen.setdefault(stem, str(photo)) != str(photo):
            raise DatasetFormatError(f"photos {seen[stem]!r} and {str(photo)!r} would share the output folder "
                                     f"{stem}/; rename one")
