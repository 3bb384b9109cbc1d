"""``edit`` on raw photos: align and invert both, transfer the part, write the edited head (§5.3, Fig. 10)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from dualinv.data.prepare import PrepareConfig
from dualinv.dual.invert import DualInverter
from dualinv.dual.outputs import HeadOutputOptions, HeadReport, Panel, write_head_outputs
from dualinv.dual.photos import align_one, head_of, part_image
from dualinv.edit.transfer import EditConfig, Segmenter, transfer_part
from dualinv.occlusion import save_occlusion_debug
from dualinv.views import write_png


def edit_photos(source: str | Path, reference: str | Path, out_dir: str | Path, inverter: DualInverter,
                segmenter: Segmenter, config: EditConfig = EditConfig(), *, stand_in: bool,
                provenance: dict | None = None, options: HeadOutputOptions = HeadOutputOptions(),
                prepare: PrepareConfig = PrepareConfig(progress=False)) -> dict[str, Path]:
    """Copy ``config.part`` from the reference photo's head into the source photo's head.

    Writes ``out_dir`` as :func:`dualinv.dual.outputs.write_head_outputs` does for the edited head
    (seen at the source's camera), plus ``reference.png``, ``reference_part.png`` (the 2D part
    mask on the reference) and ``part_cells.png`` (the lifted cells per plane). A rejected photo
    raises ``NoFaceError`` naming it; nothing is written for the edit then.
    """

    out_dir = Path(out_dir)
    source_photo = align_one(source, out_dir, prepare, "source")
    reference_photo = align_one(reference, out_dir, prepare, "reference")
    device = next(inverter.generator.parameters()).device
    heads = [head_of(inverter.invert(photo.image[None].to(device), photo.camera[None].to(device)))
             for photo in (source_photo, reference_photo)]
    reference_image = part_image(reference_photo)
    edit = transfer_part(inverter.generator, heads[0], heads[1], reference_image, segmenter, config)
    write_png(out_dir / "reference.png", reference_image)
    save_occlusion_debug(edit.part_cells.cpu(), out_dir / "part_cells.png")
    overlay = _overlay(reference_image, edit.pixel_masks[0])
    report = HeadReport(f"{Path(source_photo.source).name} with the {config.part} of {Path(reference_photo.source).name}", stand_in=stand_in,
                        notes=[f"part cells: {int(edit.part_cells.sum())} of {edit.part_cells.numel()} "
                               f"(feather {config.feather} texels, views: input + {len(config.extra_yaws)} renders)"],
                        provenance={"source": source_photo.source, "reference": reference_photo.source,
                                    "part": config.part, "feather": config.feather,
                                    "part_cells": int(edit.part_cells.sum()),
                                    "extra_yaws": list(config.extra_yaws), **(provenance or {})})
    panels = [Panel("reference.png", "reference (aligned)"),
              Panel("reference_part.png", f"{config.part} on the reference", overlay),
              Panel("part_cells.png", "lifted part cells (XY | XZ | YZ)")]
    return write_head_outputs(out_dir, inverter.generator, edit.head, report, input_image=source_photo.image,
                              panels=panels, options=options)


def _overlay(image: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """The image with the part tinted red, where the mask (any size) covers it."""

    if mask.shape != image.shape[:2]:
        mask = np.asarray(Image.fromarray(mask.astype(np.uint8) * 255).resize(image.shape[1::-1])) >= 128
    tinted = image.astype(np.float32)
    tinted[mask] = 0.5 * tinted[mask] + 0.5 * np.array([255.0, 0.0, 0.0])
    return tinted.round().astype(np.uint8)
