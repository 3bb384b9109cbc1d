"""``dualinv invert``: aligned portrait crops → 360° heads with the dual encoder (paper §3.4).

For each input it writes ``<out>/<stem>/`` with :func:`dualinv.dual.outputs.write_head_outputs`
(``input.png``, ``reconstruction.png`` at the same view, ``depth.png``, ``turntable/`` frames, GIF,
MP4 and sheets, coloured ``mesh.ply``/``mesh.obj``, ``outputs.json``, ``index.html``) plus
``occlusion.png`` (the mask O per plane); it prints the seconds each inversion took (encoders,
mask and stitch).

Inputs must already be aligned 512² crops in the PanoHead convention, with cameras from a
``dataset.json`` (``--labels``) or the frontal default. :func:`aligned_inputs` is the one place
where raw-photo preparation (detection, pose, alignment: ``dualinv.data``) will plug in.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch

from dualinv.errors import BadImageError, ConfigError, DatasetFormatError

DEFAULT_FRAMES = 36


def aligned_inputs(photos: list[Path], labels_file: Path | None) -> list[tuple[str, torch.Tensor, torch.Tensor]]:
    """(stem, image [3,H,W] in [-1,1], camera [25]) per photo: decoded crops and their cameras.

    Cameras come from ``labels_file`` (a ``dataset.json``, keyed by file name) or, without one,
    the canonical front camera. Raw photos are not aligned here (a later issue).
    """
    from dualinv.camera import canonical_cameras
    from dualinv.data.dataset import read_labels
    from dualinv.data.decode import decode_image

    labels = None
    if labels_file is not None:
        if labels_file.name != "dataset.json":
            raise ConfigError(f"--labels {labels_file}: give the dataset.json file that holds the cameras")
        labels = read_labels(labels_file.parent)
    front = canonical_cameras()["front"][0]
    inputs = []
    for photo in photos:
        pixels = decode_image(photo)
        if pixels.shape[0] != pixels.shape[1]:
            raise BadImageError(f"{photo}: {pixels.shape[1]}x{pixels.shape[0]} is not a square aligned crop; "
                                "align it first (dualinv prepare)")
        camera = front
        if labels is not None:
            key = next((name for name in labels if Path(name).name == photo.name), None)
            if key is None:
                raise DatasetFormatError(f"{labels_file}: no camera for {photo.name!r}")
            camera = torch.from_numpy(labels[key].astype(np.float32))
        image = torch.from_numpy(np.ascontiguousarray(pixels)).permute(2, 0, 1).float() / 127.5 - 1.0
        inputs.append((photo.stem, image, camera))
    return inputs


def _invert(args: argparse.Namespace) -> int:
    from dualinv.dual.invert import DualInverter
    from dualinv.dual.outputs import HeadOutputOptions, HeadReport, Panel, write_head_outputs
    from dualinv.dual.photos import head_of
    from dualinv.occlusion import save_occlusion_debug
    from dualinv.weights import STAND_IN

    options = HeadOutputOptions(frames=args.frames, mesh_resolution=args.mesh_resolution)
    inputs = aligned_inputs([Path(photo) for photo in args.photos], Path(args.labels) if args.labels else None)
    inverter = DualInverter.from_checkpoints(args.encoder1, args.encoder2, network=args.network, device=args.device)
    stand_in = inverter.generator_source.startswith(STAND_IN)
    for stem, image, camera in inputs:
        start = time.perf_counter()
        inversion = inverter.invert(image[None], camera[None])
        seconds = time.perf_counter() - start
        directory = Path(args.out) / stem
        save_occlusion_debug(inversion.occlusion_mask.cpu(), directory / "occlusion.png")
        report = HeadReport(f"{stem}: dual-encoder inversion", stand_in=stand_in,
                            notes=[f"inversion {seconds:.2f} s on {inverter.device}"],
                            provenance={"photo": str(stem), "camera": camera.tolist(), "seconds": seconds,
                                        "encoder1": str(args.encoder1), "encoder2": str(args.encoder2),
                                        "generator": inverter.generator_source})
        write_head_outputs(directory, inverter.generator, head_of(inversion), report, input_image=image,
                           panels=[Panel("occlusion.png", "occlusion mask O (XY | XZ | YZ; white = visible)")],
                           options=options)
        print(f"{stem}: inverted in {seconds:.3f} s/image -> {directory}")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("invert", help="dual-encoder inversion of aligned crops into 360° heads",
                                   description=__doc__.split("\n\n")[0])
    parser.add_argument("photos", nargs="+", help="aligned square crops (PanoHead convention, 512²)")
    parser.add_argument("--encoder1", required=True, help="Encoder 1 checkpoint (visible regions, encoder1)")
    parser.add_argument("--encoder2", required=True, help="Encoder 2 checkpoint (occluded regions, encoder2)")
    parser.add_argument("--out", required=True, help="output folder (one sub-folder per photo)")
    parser.add_argument("--labels", help="dataset.json with the crops' cameras (default: frontal camera)")
    parser.add_argument("--network", help="PanoHead network (.pkl/.pt); default: the one the encoders recorded")
    parser.add_argument("--device", default="cpu", help="cpu or cuda[:N] (default cpu)")
    parser.add_argument("--frames", type=int, default=DEFAULT_FRAMES,
                        help=f"frames of the turntable (default {DEFAULT_FRAMES})")
    parser.add_argument("--mesh-resolution", type=int, default=64, help="marching-cubes grid per side (default 64)")
    parser.set_defaults(func=_invert)
