"""``dualinv edit``: copy a part (hair, face, eyes, ...) from a reference photo's head into a source's (§5.3, Fig. 10).

Both photos are prepared and inverted with the dual encoder, the part is found on the reference
(the BiSeNet face parser of ``--face-parsing`` / ``weights.face_parsing`` when given,
:mod:`dualinv.edit.face_parsing`; otherwise the bundled mediapipe models,
:class:`dualinv.edit.parts.PartSegmenter`), lifted into its tri-grid cells and blended into the
source's tri-grid (:func:`dualinv.edit.photos.edit_photos`). OUT gets the edited head's outputs
(as ``dualinv invert`` writes them) plus ``reference.png``, ``reference_part.png`` and
``part_cells.png``. The networks are chosen as for ``dualinv invert`` (flags, ``--config``,
``--stand-in``).
"""

from __future__ import annotations

import argparse

from dualinv.commands.arguments import finite_float, nonnegative_int
from dualinv.commands.invert import (add_network_arguments, output_options_from_args, prepare_config,
                                     sources_from_args)
from dualinv.dual.networks import build_inverter, check_device, is_stand_in, network_provenance
from dualinv.edit.face_parsing import WEIGHTS_KEY, FaceParsingSegmenter
from dualinv.edit.parts import SUPPORTED_PARTS, PartSegmenter
from dualinv.edit.photos import edit_photos
from dualinv.edit.transfer import EditConfig
from dualinv.weights import weights_provenance


def _edit(args: argparse.Namespace) -> int:
    options = output_options_from_args(args)
    sources = sources_from_args(args)
    segmenter, segmenter_source = part_segmenter(sources.face_parsing, check_device(sources.device))
    with segmenter:
        inverter = build_inverter(sources)
        # The part is lifted at the opacity the occlusion mask uses: Encoder 1's training setting
        # (the paper's 0.5), or 0.1 for the faint stand-in heads (dualinv.dual.networks.standin_inverter).
        config = EditConfig(part=args.part, feather=args.feather, extra_yaws=tuple(args.extra_yaw),
                            opacity_threshold=inverter.opacity_threshold)
        stand_in = is_stand_in(sources, inverter)
        if stand_in:
            print("dualinv edit: STAND-IN networks (seeded random weights): the outputs show the path, not an edit "
                  "of the real heads")
        provenance = {**network_provenance(sources, inverter), "part_segmenter": segmenter_source}
        files = edit_photos(args.source, args.reference, args.out, inverter, segmenter, config, stand_in=stand_in,
                            provenance=provenance, options=options, prepare=prepare_config(sources, args))
    print(f"{args.source} with the {args.part} of {args.reference} -> {files['index']}")
    return 0


def part_segmenter(face_parsing: str | None, device):
    """(segmenter, what ``outputs.json`` records about it): the face parser of ``face_parsing``
    (loaded and checked now, before any inversion) or, without one, the mediapipe segmenter."""
    if face_parsing is None:
        return PartSegmenter(), "mediapipe face mesh + selfie segmentation (bundled)"
    segmenter = FaceParsingSegmenter.from_file(face_parsing, device)
    return segmenter, f"BiSeNet face parser {face_parsing} ({weights_provenance(WEIGHTS_KEY, face_parsing)})"


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("edit", help="copy a part from a reference photo's 3D head into a source's",
                                   description=__doc__.split("\n\n")[0])
    parser.add_argument("out", metavar="OUT", help="output folder of the edited head")
    parser.add_argument("--source", required=True, metavar="PHOTO", help="photo whose head is edited")
    parser.add_argument("--reference", required=True, metavar="PHOTO", help="photo whose part is copied")
    parser.add_argument("--part", required=True, choices=SUPPORTED_PARTS, help="the part to copy")
    parser.add_argument("--feather", type=nonnegative_int, default=2,
                        help="texels of the linear blend on each side of the part's border (0: hard copy; default 2)")
    parser.add_argument("--extra-yaw", type=finite_float, action="append", default=[], metavar="DEG",
                        help="also segment a render of the reference at this yaw (repeatable), to reach the "
                             "part's sides and back")
    parser.add_argument("--face-parsing", metavar="PATH",
                        help="BiSeNet face-parsing checkpoint (79999_iter.pth of zllrunning/face-parsing.PyTorch) "
                             "that localises the part; default: weights.face_parsing of --config, else the "
                             "bundled mediapipe face mesh and selfie segmentation")
    add_network_arguments(parser)
    parser.set_defaults(func=_edit)
