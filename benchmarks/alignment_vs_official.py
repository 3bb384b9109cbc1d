"""Side by side: dualinv's PanoHead alignment vs the official 3DDFA_V2 + ``recrop_images.py`` run.

Not run in CI (it needs the real 3DDFA_V2 files and the official run's outputs). Steps:

1. Run the official code on the same photos with the same 68 landmarks (written by this script's
   ``--write-landmarks`` as ``{path: [68, 2]}`` in a pickle, the format ``dlib_kps.py`` writes), e.g.
   ``python recrop_images.py -i landmarks68.pkl -o quads.pkl -j dataset.json --out_dir out --config configs/mb05_120x120.yml``
   from a 3DDFA_V2 checkout with PanoHead's ``recrop_images.py`` copied in.
2. ``python benchmarks/alignment_vs_official.py PHOTOS... --official-json out/dataset.json
   --official-quads quads.pkl --regressor weights/mb05_120x120.pth --width 0.5
   --whitening configs/param_mean_std_62d_120x120.pkl --bfm configs/bfm_noneck_v3.pkl``
   (``--bfm`` omitted = the seeded stand-in BFM, which then must be the one the official run read).

Prints per photo: yaw/pitch/roll (``get_poseangle`` of the label) of both, their difference, and the
largest crop-corner distance in photo pixels. ``--reference-json`` adds the difference to a third
label file (PanoHead's own ``crop_samples/img/dataset.json``).
"""

from __future__ import annotations

import argparse
import json
import pickle
from pathlib import Path

import numpy as np
from PIL import Image

from dualinv.camera import pose_angles_from_label
from dualinv.data.landmarks import landmarks_from_mesh
from dualinv.data.pose import FaceFinder, FaceFinderConfig
from dualinv.data.recrop import recrop
from dualinv.data.tddfa import Bfm, ParamWhitening, Tddfa, load_regressor


def _labels(path: str | None) -> dict[str, np.ndarray]:
    if path is None:
        return {}
    return {Path(name).name: np.array(values, dtype=np.float64) for name, values in json.loads(Path(path).read_text())["labels"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("photos", nargs="+")
    parser.add_argument("--write-landmarks", help="write the 68 landmarks of the photos here and stop")
    parser.add_argument("--official-json")
    parser.add_argument("--official-quads")
    parser.add_argument("--reference-json")
    parser.add_argument("--regressor")
    parser.add_argument("--width", type=float, default=1.0)
    parser.add_argument("--whitening")
    parser.add_argument("--bfm")
    parser.add_argument("--faceboxes", help="FaceBoxesProd.pth (the authors' ROI); not given: TDDFA's landmark ROI")
    parser.add_argument("--stand-in-bfm-seed", type=int, default=1)
    args = parser.parse_args()

    photos = {path: np.asarray(Image.open(path).convert("RGB")) for path in args.photos}
    with FaceFinder(FaceFinderConfig()) as faces:
        landmarks = {path: landmarks_from_mesh(faces.largest_face(photo).mesh_points) for path, photo in photos.items()}
    if args.write_landmarks:
        with open(args.write_landmarks, "wb") as handle:
            pickle.dump(landmarks, handle)
        return
    tddfa = Tddfa(load_regressor(args.regressor, args.width), ParamWhitening.from_file(args.whitening))
    bfm = Bfm.from_file(args.bfm) if args.bfm else Bfm.seeded(args.stand_in_bfm_seed)
    from dualinv.data.faceboxes import FaceBoxes

    face_boxes = FaceBoxes.from_file(args.faceboxes) if args.faceboxes else None
    official, reference = _labels(args.official_json), _labels(args.reference_json)
    quads = {}
    if args.official_quads:
        with open(args.official_quads, "rb") as handle:
            quads = {Path(name).name: np.asarray(quad, dtype=np.float64) for name, quad in pickle.load(handle).items()}
    rows = []
    for path, photo in photos.items():
        name = Path(path).name
        ours = recrop(photo, landmarks[path], tddfa, bfm, source=name, min_side=0, face_boxes=face_boxes)
        angles = pose_angles_from_label(ours.label[None])[0]
        row = {"photo": name, "ours_ypr": np.round(angles, 3).tolist()}
        for label_set, key in ((official, "official"), (reference, "reference")):
            if name in label_set:
                theirs = pose_angles_from_label(label_set[name][None])[0]
                row[f"{key}_ypr"] = np.round(theirs, 3).tolist()
                row[f"diff_{key}_deg"] = np.round(angles - theirs, 3).tolist()
        if name in quads:
            row["crop_corner_max_px"] = round(float(np.abs(ours.quad - quads[name]).max()), 3)
        rows.append(row)
        print(json.dumps(row))


if __name__ == "__main__":
    main()
