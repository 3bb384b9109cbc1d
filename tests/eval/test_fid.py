"""FID against clean-fid's own computation and an analytic case; Inception loaded only from the config."""

from __future__ import annotations

import hashlib
import subprocess
import sys

import numpy as np
import pytest
import torch
from scipy.linalg import hadamard

from dualinv.errors import ConfigError, MissingWeightsError
from dualinv.eval.fid import (
    FeatureModel,
    FidProtocol,
    folder_features,
    frechet_distance,
    image_features,
    image_features_each,
    load_inception,
    standin_feature_model,
)
from dualinv.fileio import save_image
from dualinv.weights import REGISTRY

PUBLISHED_INCEPTION_SHA256 = "f58cb9b6ec323ed63459aa4fb441fe750cfe39fafad6da5cb504a16f19e958f4"
"""sha256 of inception-2015-12-05.pt as clean-fid and NVlabs' metrics file list publish it."""


def _images(seed: int, count: int, shift: float = 0.0) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return (torch.rand(count, 3, 40, 48, generator=generator) * 1.6 - 0.8 + shift).clamp(-1, 1)


def test_fid_equals_clean_fid_compute_fid_on_folders(tmp_path):
    from cleanfid.fid import compute_fid

    model = standin_feature_model(seed=3, dim=6)
    first, second = _images(0, 12), _images(1, 12, shift=0.2)
    for name, images in (("a", first), ("b", second)):
        for index, image in enumerate(images):
            save_image(tmp_path / name / f"{index:03d}.png", image)
    reference = compute_fid(str(tmp_path / "a"), str(tmp_path / "b"), custom_feat_extractor=model.extract,
                            mode="clean", num_workers=0, batch_size=8, device=torch.device("cpu"), verbose=False)
    in_memory = frechet_distance(image_features([first[:5], first[5:]], model, batch_size=4),
                                 image_features([second], model))
    from_folders = frechet_distance(folder_features(tmp_path / "a", model), folder_features(tmp_path / "b", model))
    assert reference > 0.01
    assert in_memory == pytest.approx(reference, rel=1e-5)
    assert from_folders == pytest.approx(reference, rel=1e-9)


def test_frechet_distance_analytic_for_diagonal_covariances():
    # Hadamard columns 1..d are orthogonal and zero-mean: sample covariances are exactly diagonal.
    n, dims = 16, 4
    basis = hadamard(n)[:, 1:dims + 1].astype(np.float64)
    scales_a, scales_b = np.array([1.0, 2.0, 0.5, 3.0]), np.array([2.0, 2.0, 1.0, 1.0])
    mean_a, mean_b = np.array([0.0, 1.0, 2.0, 3.0]), np.array([1.0, 1.0, 0.0, 3.0])
    features_a, features_b = basis * scales_a + mean_a, basis * scales_b + mean_b
    var_a, var_b = scales_a**2 * n / (n - 1), scales_b**2 * n / (n - 1)
    expected = np.sum((mean_a - mean_b) ** 2) + np.sum(var_a + var_b - 2 * np.sqrt(var_a * var_b))
    assert frechet_distance(features_a, features_b) == pytest.approx(expected, rel=1e-9)
    assert frechet_distance(features_a, features_a) == pytest.approx(0.0, abs=1e-6)


@pytest.mark.parametrize("count, dims", [(40, 8), (5, 12)])  # the second: a singular product, the eps retry
def test_frechet_distance_equals_clean_fid(count, dims):
    from cleanfid.fid import fid_from_feats

    rng = np.random.default_rng(count)
    features_a = rng.normal(size=(count, dims))
    features_b = rng.normal(loc=0.3, scale=1.5, size=(count, dims))
    assert frechet_distance(features_a, features_b) == pytest.approx(float(fid_from_feats(features_a, features_b)),
                                                                     rel=1e-9, abs=1e-9)


def test_computing_a_fid_imports_no_torchvision():
    code = ("import sys, numpy as np; from dualinv.eval.fid import frechet_distance; "
            "frechet_distance(np.eye(3), np.eye(3)[::-1]); assert 'torchvision' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


def test_frechet_distance_refuses_bad_sets():
    with pytest.raises(ConfigError, match="at least 2"):
        frechet_distance(np.zeros((1, 3)), np.zeros((5, 3)))
    with pytest.raises(ConfigError, match="feature sizes differ"):
        frechet_distance(np.zeros((4, 3)), np.zeros((4, 2)))


class _Trunk(torch.nn.Module):  # the layout InceptionV3W expects: .layers -> 2048 features
    def __init__(self):
        super().__init__()
        self.layers = torch.nn.Sequential(torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(),
                                          torch.nn.Linear(3, 2048))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)


def _saved_trunk(path) -> torch.jit.ScriptModule:
    """A small TorchScript network saved at ``path``: loadable by clean-fid, but not the published file."""
    trunk = torch.jit.script(_Trunk().eval())
    path.parent.mkdir(parents=True, exist_ok=True)
    trunk.save(str(path))
    return trunk


def _pinned(path) -> str:
    return "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()


def test_inception_is_loaded_from_the_configured_file_only(tmp_path):
    with pytest.raises(MissingWeightsError, match="weights.inception is not set"):
        load_inception(None)
    with pytest.raises(MissingWeightsError, match="missing file"):
        load_inception(tmp_path / "absent.pt")

    stored = tmp_path / "weights" / "my-inception.pt"  # not clean-fid's file name
    trunk = _saved_trunk(stored)
    model = load_inception(stored, checksum=_pinned(stored))  # a config pin stands in for the published sha256
    images = torch.rand(2, 3, 299, 299) * 255
    expected = trunk.layers((images - 128) / 128)
    assert not model.stand_in
    assert torch.allclose(model.extract(images), expected)


def test_a_tampered_inception_file_is_refused_before_torch_jit_load(tmp_path, monkeypatch):
    """A TorchScript file under the published name but with other bytes never reaches ``torch.jit.load``
    (which would run its code): the published sha256 is checked first, and the error names the file,
    what it should be and where to get it."""
    stored = tmp_path / "inception-2015-12-05.pt"
    _saved_trunk(stored)  # loads fine, so only the checksum can stop it
    loaded = []
    real_load = torch.jit.load
    monkeypatch.setattr(torch.jit, "load", lambda *args, **kwargs: loaded.append(args) or real_load(*args, **kwargs))

    with pytest.raises(MissingWeightsError) as caught:
        load_inception(stored)
    message = str(caught.value)
    assert loaded == []
    assert REGISTRY["inception"].checksum == f"sha256:{PUBLISHED_INCEPTION_SHA256}"
    assert f"weights.inception = {str(stored)!r}" in message
    assert "does not match its checksum" in message and PUBLISHED_INCEPTION_SHA256 in message
    assert REGISTRY["inception"].url in message

    load_inception(stored, checksum=_pinned(stored))  # the spy sees a load the check lets through
    assert len(loaded) == 1


def test_protocol_yaws_cover_the_circle_and_are_seeded():
    protocol = FidProtocol(num_images=2000, seed=5)
    yaws = protocol.yaws_deg()
    assert yaws.shape == (2000,) and yaws.min() >= -180 and yaws.max() < 180
    assert np.histogram(yaws, bins=4, range=(-180, 180))[0].min() > 400  # every quadrant, back included
    assert np.array_equal(yaws, FidProtocol(num_images=2000, seed=5).yaws_deg())
    assert not np.array_equal(yaws, FidProtocol(num_images=2000, seed=6).yaws_deg())
    assert "uniformly in [−180°, +180°)" in protocol.describe()
    with pytest.raises(ConfigError, match="fid_yaw_range_deg"):
        FidProtocol(yaw_range_deg=200)


def test_the_authors_fid_mode_leaves_the_resize_to_the_network():
    """clean mode resizes to 299 outside the network (PIL bicubic); legacy_tensorflow hands over the uint8 image at
    its own size, and the TF-aligned network resizes it bilinearly inside (its stand-in does the same)."""
    seen = {}

    def recording(mode):
        def extract(images):
            seen[mode] = images.clone()
            return images.flatten(1)[:, :4]
        return FeatureModel(extract=extract, name=mode, stand_in=True, mode=mode)

    images = _images(0, 2)
    image_features_each([images], [recording("clean"), recording("legacy_tensorflow")])
    assert seen["clean"].shape == (2, 3, 299, 299)
    assert seen["legacy_tensorflow"].shape == (2, 3, 40, 48)
    expected = torch.round((images + 1) * 127.5).clamp(0, 255)  # the 8-bit levels a PNG holds
    assert torch.allclose(seen["legacy_tensorflow"], expected, atol=0.5 + 1e-4)
    assert torch.equal(seen["legacy_tensorflow"], seen["legacy_tensorflow"].round())

    legacy = standin_feature_model(1, dim=5, mode="legacy_tensorflow")
    clean = standin_feature_model(1, dim=5, mode="clean")
    batch = expected
    resized = torch.nn.functional.interpolate(batch, size=(299, 299), mode="bilinear", align_corners=False)
    assert torch.allclose(legacy.extract(batch), clean.extract(resized), atol=1e-6)
    with pytest.raises(ConfigError, match="FID mode"):
        FeatureModel(extract=lambda x: x, name="x", stand_in=True, mode="tensorflow")
