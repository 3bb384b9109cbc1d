"""``dualinv prepare`` and ``dualinv pose``."""

from __future__ import annotations

import argparse
import json
from dataclasses import replace

from dualinv.commands.arguments import int_at_least, nonnegative_float, positive_int, unit_float
from dualinv.data.alignment import Aligner, PoseConfig
from dualinv.data.background import BackgroundConfig
from dualinv.data.decode import decode_image
from dualinv.data.pose import FaceFinder, pose_angles
from dualinv.data.prepare import PrepareConfig, prepare_images
from dualinv.errors import NoFaceError


def _colour(text: str) -> tuple[int, int, int]:
    parts = text.split(",")
    if len(parts) != 3 or not all(part.strip().isdigit() and int(part) <= 255 for part in parts):
        raise argparse.ArgumentTypeError(f"expected R,G,B with values 0..255, got {text!r}")
    return tuple(int(part) for part in parts)  # type: ignore[return-value]


def add_pose_arguments(parser: argparse.ArgumentParser) -> None:
    """The alignment flags shared by ``prepare``, ``pose`` and ``invert`` (:mod:`dualinv.data.alignment`)."""
    group = parser.add_argument_group("alignment and camera labels (default: PanoHead's 3DDFA_V2 pipeline)")
    group.add_argument("--pose", choices=("3ddfa", "mediapipe"), default=None,
                       help="3ddfa: PanoHead's own (68 landmarks + TDDFA + recentring; default); mediapipe: the face mesh's pose")
    group.add_argument("--tddfa", metavar="PATH", help="TDDFA regressor mb1_120x120.pth (or mb05_120x120.pth with --tddfa-width 0.5)")
    group.add_argument("--tddfa-width", type=float, choices=(1.0, 0.5), default=None, help="regressor width (default 1.0)")
    group.add_argument("--tddfa-whitening", metavar="PATH", help="3DDFA_V2 configs/param_mean_std_62d_120x120.pkl")
    group.add_argument("--bfm", metavar="PATH", help="3DDFA_V2 configs/bfm_noneck_v3.pkl")
    group.add_argument("--dlib-landmarks", metavar="PATH", help="shape_predictor_68_face_landmarks.dat (needs the dlib package); "
                       "not given: the face mesh's 68 points (fallback)")
    group.add_argument("--faceboxes", metavar="PATH", help="3DDFA_V2 FaceBoxes/weights/FaceBoxesProd.pth: TDDFA's crop as the "
                       "authors (not given: TDDFA's landmark crop rule, labelled landmark-roi)")
    group.add_argument("--pose-stand-in", action="store_true", help="seeded stand-in TDDFA/BFM where no file is given (labelled)")
    group.add_argument("--min-face-size", type=nonnegative_float, default=None, help="smallest crop quad side in photo pixels (default 256, PanoHead's)")


def pose_config_from_args(args: argparse.Namespace, base=None, stand_in: bool = False):
    """The :class:`PoseConfig` of ``base`` (a study config's, or the default) overridden by the flags."""
    config = base if base is not None else PoseConfig()
    changes = {field: value for field, value in (
        ("method", args.pose), ("tddfa", args.tddfa), ("tddfa_width", args.tddfa_width),
        ("tddfa_whitening", args.tddfa_whitening), ("bfm", args.bfm), ("dlib_landmarks", args.dlib_landmarks), ("faceboxes", args.faceboxes),
        ("min_face_size", args.min_face_size)) if value is not None}
    if args.pose_stand_in or stand_in:
        changes["stand_in"] = True
    return replace(config, **changes)


def register(subparsers: argparse._SubParsersAction) -> None:
    prepare = subparsers.add_parser(
        "prepare",
        help="raw portraits -> PanoHead-ready 512² crops, masks, dataset.json and rejects.csv",
        description="Detect, pose, align, crop and matte every photo of IN into OUT (resumable).",
    )
    prepare.add_argument("inputs", metavar="IN", help="folder of photos (searched recursively) or a .txt list of paths")
    prepare.add_argument("out", metavar="OUT", help="output dataset folder")
    prepare.add_argument("--workers", type=positive_int, default=1, help="worker processes (default 1)")
    prepare.add_argument("--size", type=int_at_least(64), default=512, help="crop side in pixels, 64 or more (default 512)")
    prepare.add_argument("--u2net", default=None, metavar="PATH", help="u2net.onnx (weights key u2net); not given: mediapipe selfie matting; given but absent: selfie, with a warning")
    prepare.add_argument("--matting", choices=("auto", "u2net", "selfie"), default="auto", help="matting model (default auto)")
    prepare.add_argument("--background", type=_colour, default=(255, 255, 255), metavar="R,G,B", help="background colour (default 255,255,255)")
    prepare.add_argument("--keep-background", action="store_true", help="keep the photo's background (masks are still written)")
    prepare.add_argument("--max-reject-share", type=unit_float, default=0.5, help="fail when more inputs are rejected (default 0.5)")
    prepare.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_pose_arguments(prepare)
    prepare.set_defaults(func=run_prepare)

    pose = subparsers.add_parser("pose", help="print the yaw, pitch and 25-value camera label of a photo (measured on its aligned crop, as prepare writes it)")
    pose.add_argument("photo", metavar="PHOTO", help="portrait photo (aligned and measured as prepare does)")
    pose.add_argument("--json", action="store_true", help="print one JSON object")
    add_pose_arguments(pose)
    pose.set_defaults(func=run_pose)


def run_prepare(args: argparse.Namespace) -> int:
    config = PrepareConfig(
        size=args.size,
        workers=args.workers,
        max_reject_share=args.max_reject_share,
        progress=not args.no_progress,
        background=BackgroundConfig(
            matting=args.matting, u2net_path=args.u2net, colour=args.background, enabled=not args.keep_background
        ),
        pose=pose_config_from_args(args),
    )
    print(prepare_images(args.inputs, args.out, config))
    return 0


def run_pose(args: argparse.Namespace) -> int:
    pose_config = pose_config_from_args(args, PoseConfig(min_face_size=0.0))  # one photo asked for: no size filter
    pose_config.check()
    photo = decode_image(args.photo)
    with FaceFinder() as finder:
        aligner = Aligner(finder, pose_config)
        try:
            label = aligner.align(photo, source=args.photo).label  # the label `prepare` writes
        except NoFaceError as error:
            raise NoFaceError(f"{args.photo}: {error}") from None
    angles = pose_angles(label)
    values = [round(float(value), 6) for value in label]
    if args.json:
        print(json.dumps({"yaw": angles.yaw, "pitch": angles.pitch, "roll": angles.roll, "label": values,
                          "alignment": aligner.name}))
    else:
        print(f"yaw {angles.yaw:+.2f}  pitch {angles.pitch:+.2f}  roll {angles.roll:+.2f}  (degrees; {aligner.name})")
        print("label " + " ".join(f"{value:.6f}" for value in values))
    return 0
