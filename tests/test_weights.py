import hashlib
from types import SimpleNamespace

import pytest

from dualinv.errors import MissingWeightsError
from dualinv.weights import REGISTRY, STAND_IN, check_weights, require_weights, weights_problem, weights_provenance


def test_every_entry_names_a_file_and_where_to_get_it():
    for key, entry in REGISTRY.items():
        assert entry.key == key
        assert entry.filename and entry.url.startswith("https://")


def test_none_means_stand_in_and_is_not_a_problem():
    assert weights_problem("panohead", None) is None
    assert weights_provenance("panohead", None) == STAND_IN


def test_all_missing_files_are_reported_together(tmp_path):
    with pytest.raises(MissingWeightsError) as caught:
        check_weights({"panohead": tmp_path / "nope.pkl", "ir_se50": tmp_path / "nope.pth", "inception": None})
    message = str(caught.value)
    assert "2 pretrained file(s)" in message
    assert "weights.panohead" in message and "easy-khair-180-gpc0.8-trans10-025000.pkl" in message
    assert "weights.ir_se50" in message and "pixel2style2pixel" in message
    assert "inception" not in message.split("\n")[0]


def test_tampered_file_fails_its_published_checksum(tmp_path):
    fake = tmp_path / "u2net.onnx"
    fake.write_bytes(b"not the published model")
    problem = weights_problem("u2net", fake)
    assert problem is not None and "md5" in problem and "u2net.onnx" in problem


def test_config_pinned_sha256_is_enforced(tmp_path):
    blob = tmp_path / "network.pkl"
    blob.write_bytes(b"some bytes")
    good = "sha256:" + hashlib.sha256(b"some bytes").hexdigest()
    assert require_weights("panohead", blob, checksum=good) == blob
    with pytest.raises(MissingWeightsError, match="checksum"):
        require_weights("panohead", blob, checksum="sha256:" + "0" * 64)
    assert weights_provenance("panohead", blob) == good


def test_unset_required_file_says_where_to_get_it():
    with pytest.raises(MissingWeightsError, match="model_ir_se50.pth"):
        require_weights("ir_se50", None)


def test_unknown_key_is_named():
    with pytest.raises(MissingWeightsError, match="unknown weights key 'foo'"):
        weights_problem("foo", "x")


def test_lpips_heads_are_the_ones_lpips_0_1_4_ships(tmp_path, monkeypatch) -> None:
    from pathlib import Path

    import lpips

    from dualinv.weights import lpips_heads_provenance

    for net in ("alex", "vgg"):
        installed = Path(lpips.__file__).parent / "weights" / "v0.1" / f"{net}.pth"
        digest = hashlib.sha256(installed.read_bytes()).hexdigest()
        assert lpips_heads_provenance(net) == f"sha256:{digest}"
        # the published prefix belongs to the torchvision trunk, not to these heads
        assert not digest.startswith(REGISTRY[f"lpips_{net}"].checksum.split(":")[1])
    altered = tmp_path / "lpips"
    (altered / "weights" / "v0.1").mkdir(parents=True)
    (altered / "weights" / "v0.1" / "alex.pth").write_bytes(b"altered")
    import dualinv.weights

    def altered_spec(name):
        return SimpleNamespace(origin=str(altered / "__init__.py")) if name == "lpips" else None

    monkeypatch.setattr(dualinv.weights.importlib.util, "find_spec", altered_spec)
    with pytest.raises(MissingWeightsError, match="reinstall lpips"):
        lpips_heads_provenance("alex")
