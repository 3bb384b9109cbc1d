"""Write tests/data/fixtures/tddfa_golden.npz from the OFFICIAL 3DDFA_V2 + PanoHead code.

Run outside CI, with a checkout of cleardusk/3DDFA_V2 (PanoHead's ``recrop_images.py`` copied into
its root) and its Python dependencies:

    python tools/make_tddfa_golden.py --official-root /path/to/3DDFA_V2 --landmarks landmarks68.pkl

The networks and files are seeded stand-ins built by dualinv (:func:`seeded_regressor`,
:meth:`ParamWhitening.seeded`, :meth:`Bfm.seeded`), written to the official formats and read by the
official loaders; the test image is a fixed analytic pattern (:func:`golden_image`). What the
official code computes from them is stored: TDDFA's parameters at widths 1 and 0.5, its ROI boxes,
the BFM's sparse and dense vertices, and ``recrop_images.main``'s label and quad for one set of 68
landmarks (TDDFA's landmark crop policy, as dualinv uses). Unused rendering imports of the official
scripts are stubbed; nothing else is changed.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import pickle
import sys
import tempfile
import types
from pathlib import Path

import numpy as np

REGRESSOR_SEED = 7
WHITENING_SEED = 3
BFM_SEED = 1
ROI_BOX = (-10.3, 5.6, 140.2, 156.1)
FACE_BOX = (30.0, 20.0, 130.0, 135.0)


def golden_image(height: int, width: int) -> np.ndarray:
    """A deterministic BGR uint8 pattern (no RNG involved)."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float64)
    channels = [127.5 + 100 * np.sin(x / (7 + k)) * np.cos(y / (11 - k)) + 20 * np.sin((x + y) / 23) for k in range(3)]
    return np.clip(np.rint(np.stack(channels, axis=-1)), 0, 255).astype(np.uint8)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--official-root", required=True)
    parser.add_argument("--landmarks", required=True, help="pickle {name: [68, 2]} of one photo's landmarks")
    parser.add_argument("--out", default="tests/data/fixtures/tddfa_golden.npz")
    args = parser.parse_args()
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    import torch

    from dualinv.data.tddfa import Bfm, ParamWhitening, seeded_regressor

    root = Path(args.official_root).resolve()
    work = Path(tempfile.mkdtemp())
    np.long = np.int64  # the official BFM loader predates numpy 2
    for name, attr in (("utils.render", "render"), ("utils.depth", "depth"), ("utils.pncc", "pncc"), ("utils.uv", "uv_tex")):
        stub = types.ModuleType(name)
        setattr(stub, attr, None)
        sys.modules[name] = stub
    spec = importlib.util.spec_from_file_location("pynms", root / "FaceBoxes/utils/nms/py_cpu_nms.py")
    pynms = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(pynms)
    nms = types.ModuleType("FaceBoxes.utils.nms.cpu_nms")
    nms.cpu_nms, nms.cpu_soft_nms = pynms.py_cpu_nms, None
    sys.modules["FaceBoxes.utils.nms.cpu_nms"] = nms
    sys.path.insert(0, str(root))
    os.chdir(root)
    original_load = torch.load
    torch.load = lambda *a, **k: original_load(*a, **{**k, "weights_only": False})
    import recrop_images
    from TDDFA import TDDFA
    from utils.functions import parse_roi_box_from_bbox, parse_roi_box_from_landmark

    whitening = ParamWhitening.seeded(WHITENING_SEED)
    with open(work / "whitening.pkl", "wb") as handle:
        pickle.dump({"mean": whitening.mean, "std": whitening.std}, handle)
    bfm = Bfm.seeded(BFM_SEED)
    with open(work / "bfm_standin.pkl", "wb") as handle:
        pickle.dump({"u": bfm.mean_shape.reshape(-1, 1), "w_shp": bfm.shape_basis, "w_exp": bfm.expression_basis,
                     "keypoints": bfm.keypoints, "tri": np.zeros((3, 1), np.int32)}, handle)
    image = golden_image(160, 150)
    out: dict[str, np.ndarray] = {"roi_box_input": np.array(ROI_BOX), "face_box": np.array(FACE_BOX)}
    for width, tag in ((1.0, "mb1"), (0.5, "mb05")):
        state = seeded_regressor(width, REGRESSOR_SEED).state_dict()
        renamed = {("module." + k).replace("module.fc.", "module.fc_param."): v for k, v in state.items()}
        torch.save({"state_dict": renamed}, work / f"{tag}.pth")
        config = dict(arch="mobilenet", widen_factor=width, checkpoint_fp=str(work / f"{tag}.pth"),
                      bfm_fp=str(work / "bfm_standin.pkl"), param_mean_std_fp=str(work / "whitening.pkl"),
                      size=120, num_params=62)
        tddfa = TDDFA(gpu_mode=False, **config)
        landmark_obj = np.array([[ROI_BOX[0], ROI_BOX[2], 70.0], [ROI_BOX[1], ROI_BOX[3], 60.0]])
        params, boxes = tddfa(image, [landmark_obj], crop_policy="landmark")
        out[f"{tag}_params_landmark_policy"] = params[0]
        out["roi_box_from_landmarks"] = np.array(boxes[0])
        params, boxes = tddfa(image, [np.array(FACE_BOX)], crop_policy="box")
        out[f"{tag}_params_box_policy"] = params[0]
        out["roi_box_from_face_box"] = np.array(boxes[0])
        if tag == "mb05":
            out["bfm_sparse"] = tddfa.recon_vers([params[0]], [boxes[0]], dense_flag=False)[0]
            out["bfm_dense"] = tddfa.recon_vers([params[0]], [boxes[0]], dense_flag=True)[0]
            out["bfm_params"] = params[0]
    assert np.allclose(parse_roi_box_from_bbox(FACE_BOX), out["roi_box_from_face_box"])
    del parse_roi_box_from_landmark

    # recrop_images.main with the mb05 stand-in and the landmark crop policy.
    with open(args.landmarks, "rb") as handle:
        landmarks = next(iter(pickle.load(handle).values()))
    landmarks = np.asarray(landmarks, dtype=np.float64)
    photo = golden_image(563, 563)
    import cv2

    cv2.imwrite(str(work / "photo.png"), photo)
    with open(work / "landmarks.pkl", "wb") as handle:
        pickle.dump({str(work / "photo.png"): landmarks}, handle)
    current: dict[str, np.ndarray] = {}
    original_crop, original_bound = recrop_images.crop_image, recrop_images.get_crop_bound

    def crop_image(img, mat, w, h, **kw):
        current["mat"] = mat
        return original_crop(img, mat, w, h, **kw)

    def get_crop_bound(lm, method="ffhq"):
        current["lm"] = np.asarray(lm)
        return original_bound(lm, method)

    class LandmarkBoxes:
        def __call__(self, img):
            return [(current["lm"] @ current["mat"][:, :2].T + current["mat"][:, 2]).T]

    original_call = recrop_images.TDDFA.__call__
    recrop_images.crop_image, recrop_images.get_crop_bound, recrop_images.FaceBoxes = crop_image, get_crop_bound, LandmarkBoxes
    recrop_images.TDDFA.__call__ = lambda self, img, objs, **kw: original_call(self, img, objs, crop_policy="landmark")
    config_path = work / "mb05.yml"
    import yaml

    yaml.safe_dump(dict(arch="mobilenet", widen_factor=0.5, checkpoint_fp=str(work / "mb05.pth"),
                        bfm_fp=str(work / "bfm_standin.pkl"), param_mean_std_fp=str(work / "whitening.pkl"),
                        size=120, num_params=62), open(config_path, "w"))
    ns = argparse.Namespace(input_path=str(work / "landmarks.pkl"), output=str(work / "quads.pkl"),
                            output_json="dataset.json", prefix="", size=1024, out_dir=str(work / "crops"), mode="cpu",
                            config=str(config_path), individual=False, onnx=False)
    recrop_images.main(ns)
    labels = json.loads((work / "crops" / "dataset.json").read_text())["labels"]
    with open(work / "quads.pkl", "rb") as handle:
        quads = pickle.load(handle)
    out["recrop_landmarks"] = landmarks
    out["recrop_label"] = np.array(labels[0][1], dtype=np.float64)
    out["recrop_quad"] = np.asarray(next(iter(quads.values())), dtype=np.float64)
    np.savez_compressed(Path(__file__).resolve().parents[1] / args.out if not Path(args.out).is_absolute() else args.out, **out)
    print({key: value.shape for key, value in out.items()})


if __name__ == "__main__":
    main()
