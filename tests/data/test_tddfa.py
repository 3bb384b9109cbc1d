"""The TDDFA port and the BFM decoding against the official 3DDFA_V2 code (golden outputs of
tools/make_tddfa_golden.py: seeded stand-in weights and BFM read by the official loaders)."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest
import torch

from dualinv.data.tddfa import (Bfm, MobileNetV1, ParamWhitening, Tddfa, decompose_camera, load_regressor,
                                read_array_pickle, regressor_state, roi_box_from_face_box, roi_box_from_landmarks,
                                rotation_angles, seeded_regressor)
from dualinv.errors import CheckpointError, MissingWeightsError
from tools.make_tddfa_golden import BFM_SEED, FACE_BOX, REGRESSOR_SEED, ROI_BOX, WHITENING_SEED, golden_image

GOLDEN = Path(__file__).parent / "fixtures" / "tddfa_golden.npz"


@pytest.fixture(scope="module")
def golden() -> dict[str, np.ndarray]:
    return dict(np.load(GOLDEN))


def test_roi_boxes_match_official(golden):
    assert np.allclose(roi_box_from_face_box(FACE_BOX), golden["roi_box_from_face_box"])
    corners = np.array([[ROI_BOX[0], ROI_BOX[1]], [ROI_BOX[2], ROI_BOX[3]], [70.0, 60.0]])
    assert np.allclose(roi_box_from_landmarks(corners), golden["roi_box_from_landmarks"])


@pytest.mark.parametrize("width,tag", [(1.0, "mb1"), (0.5, "mb05")])
def test_regressor_matches_official(golden, width, tag, tmp_path):
    # Through the checkpoint format the official loader reads: module. prefix, fc_param names.
    state = seeded_regressor(width, REGRESSOR_SEED).state_dict()
    torch.save({"state_dict": {("module." + k).replace("module.fc.", "module.fc_param."): v for k, v in state.items()}},
               tmp_path / f"{tag}.pth")
    with open(tmp_path / "whitening.pkl", "wb") as handle:
        whitening = ParamWhitening.seeded(WHITENING_SEED)
        pickle.dump({"mean": whitening.mean, "std": whitening.std}, handle)
    tddfa = Tddfa(load_regressor(tmp_path / f"{tag}.pth", width), ParamWhitening.from_file(tmp_path / "whitening.pkl"))
    image = golden_image(160, 150)
    for policy, box in (("landmark", golden["roi_box_from_landmarks"]), ("box", golden["roi_box_from_face_box"])):
        expected = golden[f"{tag}_params_{policy}_policy"]
        got = tddfa.params(image, tuple(box))
        scale = np.abs(expected) + whitening.std
        assert np.max(np.abs(got - expected) / scale) < 1e-4, policy


def test_bfm_decoding_matches_official(golden):
    bfm = Bfm.seeded(BFM_SEED)
    box = tuple(golden["roi_box_from_face_box"])
    sparse = bfm.vertices(golden["bfm_params"], box, dense=False)
    dense = bfm.vertices(golden["bfm_params"], box, dense=True)
    for got, expected in ((sparse, golden["bfm_sparse"]), (dense, golden["bfm_dense"])):
        assert got.shape == expected.shape
        assert np.allclose(got, expected, rtol=1e-4, atol=1e-3 * np.abs(expected).max())


def test_camera_decomposition_and_angles():
    rotation = torch.linalg.matrix_exp(torch.tensor([[0.0, -0.2, 0.3], [0.2, 0.0, -0.1], [-0.3, 0.1, 0.0]])).numpy()
    params = np.zeros(62, dtype=np.float32)
    params[:12] = np.concatenate([2.5e-4 * rotation, np.array([[60.0], [61.0], [0.0]])], axis=1).reshape(-1)
    scale, got, translation = decompose_camera(params)
    assert np.isclose(scale, 2.5e-4, rtol=1e-5) and np.allclose(got, rotation, atol=1e-5)
    assert np.allclose(translation, [60.0, 61.0, 0.0])
    yaw, pitch, roll = rotation_angles(got)
    assert np.isclose(np.sin(np.radians(yaw)), rotation[2, 0], atol=1e-6)
    assert np.isclose(np.tan(np.radians(pitch)), rotation[2, 1] / rotation[2, 2], atol=1e-6)
    assert np.isclose(np.tan(np.radians(roll)), rotation[1, 0] / rotation[0, 0], atol=1e-6)


def test_regressor_names_and_widths():
    assert set(regressor_state({"module.fc_param.weight": torch.zeros(1)})) == {"fc.weight"}
    assert MobileNetV1(0.5).fc.in_features == 512 and MobileNetV1(1.0).fc.in_features == 1024
    with pytest.raises(ValueError):
        MobileNetV1(0.75)


def test_missing_files_name_the_file(tmp_path):
    with pytest.raises(MissingWeightsError, match="mb05_120x120.pth.*3DDFA_V2"):
        load_regressor(tmp_path / "absent.pth", 0.5)
    with pytest.raises(MissingWeightsError, match="bfm_noneck_v3.pkl"):
        Bfm.from_file(None)
    with pytest.raises(MissingWeightsError, match="param_mean_std_62d_120x120.pkl"):
        ParamWhitening.from_file(tmp_path / "absent.pkl")


def test_wrong_width_checkpoint_is_refused(tmp_path):
    torch.save({"state_dict": seeded_regressor(1.0, 0).state_dict()}, tmp_path / "mb1.pth")
    with pytest.raises(CheckpointError, match="width-0.5"):
        load_regressor(tmp_path / "mb1.pth", 0.5)


class _Payload:
    def __reduce__(self):
        return (print, ("executed",))


def test_array_pickle_refuses_code(tmp_path):
    (tmp_path / "evil.pkl").write_bytes(pickle.dumps({"mean": _Payload()}))
    with pytest.raises(CheckpointError, match="builtins.print"):
        read_array_pickle(tmp_path / "evil.pkl")
    (tmp_path / "object.pkl").write_bytes(pickle.dumps({"u": np.array([object()], dtype=object)}))
    with pytest.raises(CheckpointError):
        read_array_pickle(tmp_path / "object.pkl")
    (tmp_path / "ok.pkl").write_bytes(pickle.dumps({"u": np.arange(6, dtype=np.float32).reshape(2, 3), "k": [np.int64(3)]}))
    content = read_array_pickle(tmp_path / "ok.pkl")
    assert content["u"].tolist() == [[0, 1, 2], [3, 4, 5]] and content["k"] == [3]
