"""``dualinv invert``: portrait photos → 360° heads with the dual encoder (paper §3.4, Fig. 1, 9, 12).

Raw photos by default: each is prepared (:mod:`dualinv.data`: face, pose, PanoHead crop,
background; kept under ``<out>/prepared/``), inverted with its estimated camera, and written to
``<out>/<stem>/`` by :func:`dualinv.dual.outputs.write_head_outputs` (``input.png``,
``reconstruction.png``, ``depth.png``, ``occlusion.png``, ``turntable/`` GIF + MP4, coloured
``mesh.ply``/``mesh.obj``, ``outputs.json``, ``index.html``). A photo the preparation rejects is
reported with its reason (and in ``<out>/rejects.csv``) and the others go on. ``--aligned`` takes
crops that are already aligned, with cameras from ``--labels dataset.json`` or the frontal one.

The networks come from flags, a study config or seeded stand-ins (:mod:`dualinv.dual.networks`).
The helpers here that add and read the network and output flags are shared with ``dualinv edit``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

from dualinv.camera import canonical_cameras, yaw_pitch_from_label
from dualinv.commands.arguments import int_at_least, positive_int
from dualinv.commands.data import add_pose_arguments, pose_config_from_args
from dualinv.config import load_config
from dualinv.data.alignment import PoseConfig, study_pose_config
from dualinv.data.background import BackgroundConfig
from dualinv.data.dataset import read_labels
from dualinv.data.decode import decode_image
from dualinv.data.prepare import PrepareConfig
from dualinv.dual.networks import build_inverter, check_sources, is_stand_in, network_provenance, resolve_sources
from dualinv.dual.outputs import HeadOutputOptions
from dualinv.dual.photos import AlignedPhoto, invert_aligned, invert_photos
from dualinv.errors import BadImageError, ConfigError, DatasetFormatError, DatasetLossError
from dualinv.output_names import output_stem

DEFAULT_FRAMES = 36
DEFAULT_MESH_RESOLUTION = 64


def aligned_inputs(photos: list[Path], labels_file: Path | None) -> list:
    """The :class:`~dualinv.dual.photos.AlignedPhoto` of each aligned square crop (all checked first).

    Cameras come from ``labels_file`` (a ``dataset.json``, keyed by file name) or, without one,
    the canonical front camera.
    """
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
                                "drop --aligned to prepare raw photos, or align it first (dualinv prepare)")
        camera = front
        if labels is not None:
            key = next((name for name in labels if Path(name).name == photo.name), None)
            if key is None:
                raise DatasetFormatError(f"{labels_file}: no camera for {photo.name!r}")
            camera = torch.from_numpy(labels[key].astype(np.float32))
        image = torch.from_numpy(np.array(pixels)).permute(2, 0, 1).float() / 127.5 - 1.0
        yaw, pitch = yaw_pitch_from_label(camera)
        inputs.append(AlignedPhoto(output_stem(photo.name), str(photo), image, camera, float(yaw[0]), float(pitch[0])))
    return inputs


def add_network_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags naming the networks (:mod:`dualinv.dual.networks`), the device and the outputs' size."""
    networks = parser.add_argument_group("networks")
    networks.add_argument("--encoder1", metavar="PATH",
                          help="Encoder 1 checkpoint (visible regions; from dualinv train encoder1)")
    networks.add_argument("--encoder2", metavar="PATH",
                          help="Encoder 2 checkpoint (occluded regions; from dualinv train encoder2)")
    networks.add_argument("--network", metavar="PATH", help="PanoHead network (.pkl/.pt); default: the one the encoders recorded")
    networks.add_argument("--config", action="append", default=[], metavar="YAML",
                          help="study config (config.yaml); repeat to apply presets, e.g. "
                               "--config config.yaml --config presets/mini.yaml")
    networks.add_argument("--stand-in", action="store_true",
                          help="seeded stand-in encoders and generator (no checkpoints; outputs labelled stand-in)")
    networks.add_argument("--device", default="cpu", help="cpu or cuda[:N] (default cpu)")
    outputs = parser.add_argument_group("outputs")
    outputs.add_argument("--frames", type=positive_int, default=DEFAULT_FRAMES,
                         help=f"frames of the 360° turntable (default {DEFAULT_FRAMES})")
    outputs.add_argument("--mesh-resolution", type=int_at_least(8), default=DEFAULT_MESH_RESOLUTION,
                         help=f"marching-cubes grid per side (default {DEFAULT_MESH_RESOLUTION})")
    outputs.add_argument("--mesh", action=argparse.BooleanOptionalAction, default=True,
                         help="write the coloured mesh.ply / mesh.obj (on by default; --no-mesh skips the marching cubes)")
    outputs.add_argument("--no-progress", action="store_true",
                         help="no progress bars (alignment, inversion, turntable frames, mesh) on stderr")


def sources_from_args(args: argparse.Namespace):
    """The :class:`~dualinv.dual.networks.NetworkSources` the flags name (checked, nothing loaded)."""
    sources = resolve_sources(encoder1=args.encoder1, encoder2=args.encoder2, network=args.network,
                              stand_in=args.stand_in, configs=tuple(args.config), device=args.device,
                              face_parsing=getattr(args, "face_parsing", None))  # the flag is edit's only
    check_sources(sources)
    return sources


def output_options_from_args(args: argparse.Namespace):
    return HeadOutputOptions(frames=args.frames, mesh=args.mesh, mesh_resolution=args.mesh_resolution,
                             progress=not args.no_progress)


def prepare_config(sources, args: argparse.Namespace | None = None):
    """Preparation settings for ``sources`` (``weights.u2net`` from the config, if any) and the alignment:
    the study config's ``data.pose`` and 3DDFA files when ``--config`` is given, then the alignment flags;
    ``--stand-in`` also allows seeded stand-in TDDFA/BFM (labelled)."""
    configs = tuple(getattr(args, "config", None) or ())
    if configs:
        pose = study_pose_config(load_config(configs[0], configs[1:]))
    else:
        pose = PoseConfig(stand_in=sources.stand_in, min_face_size=0.0)  # a photo asked for is not size-filtered
    if args is not None and hasattr(args, "pose_stand_in"):
        pose = pose_config_from_args(args, pose)
    pose.check()
    progress = args is not None and not getattr(args, "no_progress", True)
    return PrepareConfig(progress=progress, background=BackgroundConfig(u2net_path=sources.u2net), pose=pose)


def _invert(args: argparse.Namespace) -> int:
    if args.labels and not args.aligned:
        raise ConfigError("--labels gives the cameras of aligned crops; add --aligned (raw photos get their "
                          "camera from the estimated pose)")
    photos = [Path(photo) for photo in args.photos]
    options = output_options_from_args(args)
    sources = sources_from_args(args)
    aligned = aligned_inputs(photos, Path(args.labels) if args.labels else None) if args.aligned else None
    inverter = build_inverter(sources)
    prepare = None if args.aligned else prepare_config(sources, args)  # missing alignment files stop us here
    stand_in = is_stand_in(sources, inverter)
    if stand_in:
        print("dualinv invert: STAND-IN networks (seeded random weights): the outputs show the path, "
              "not a reconstruction")
    common = dict(stand_in=stand_in, provenance=network_provenance(sources, inverter), options=options)
    if aligned is not None:
        batch = invert_aligned(aligned, args.out, inverter, **common)
    else:
        batch = invert_photos(photos, args.out, inverter, prepare=prepare, **common)
    return _summarise(batch, len(photos), Path(args.out))


def _summarise(batch, total: int, out_dir: Path) -> int:
    """Print what happened; 0 when at least one head was written."""
    if not batch.written:
        raise DatasetLossError(f"none of the {total} photo(s) could be inverted; the reasons are above and in "
                               f"{out_dir / 'rejects.csv'}")
    mean = sum(batch.seconds.values()) / len(batch.seconds)
    failed = f"; {len(batch.rejects)} rejected (see {out_dir / 'rejects.csv'})" if batch.rejects else ""
    print(f"{len(batch.written)} of {total} photo(s) inverted, {mean:.3f} s/image on average{failed}")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("invert", help="portrait photos -> 360° heads (dual-encoder inversion)",
                                   description=__doc__.split("\n\n")[0])
    parser.add_argument("photos", nargs="+", help="portrait photos (or aligned crops with --aligned)")
    parser.add_argument("--out", required=True, help="output folder (one sub-folder per photo)")
    parser.add_argument("--aligned", action="store_true",
                        help="the inputs are aligned square crops in the PanoHead convention (skip preparation)")
    parser.add_argument("--labels", metavar="PATH", help="with --aligned: dataset.json with the crops' cameras (default: frontal)")
    add_network_arguments(parser)
    add_pose_arguments(parser)
    parser.set_defaults(func=_invert)
