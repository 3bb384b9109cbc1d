"""IR-SE50: stage table, pSp state-dict names, strict loading from a configured file."""

from __future__ import annotations

import hashlib

import pytest
import torch

from dualinv.encoders import ArcFace, BackboneConfig, EncoderConfig, build_encoder, load_backbone_weights
from dualinv.encoders.backbone import IR_SE50_STAGES, IRBackbone, load_ir_se50_state
from dualinv.errors import CheckpointError, ConfigError, MissingWeightsError
from dualinv.standin import build_seeded

TINY = BackboneConfig(units_per_stage=(1, 1, 1, 1), width=0.125)
BN = ("weight", "bias", "running_mean", "running_var")


def psp_ir_se50_names(with_head: bool) -> set[str]:
    """The names of pSp's ``Backbone(112, 50, 'ir_se')`` state dict, written out from its layout.

    pSp model_irse.py / helpers.py: input_layer = (Conv, BN, PReLU); 24 bottleneck_IR_SE units
    whose res_layer = (BN, Conv, PReLU, Conv, BN, SEModule(fc1, fc2)); a (Conv, BN) shortcut only
    where channels change (units 3, 7, 21; the other shortcuts are parameter-free MaxPool);
    output_layer = (BN2d, Dropout, Flatten, Linear, BN1d). num_batches_tracked is left out.
    """
    names = {"input_layer.0.weight", "input_layer.2.weight"} | {f"input_layer.1.{t}" for t in BN}
    for unit in range(24):
        prefix = f"body.{unit}.res_layer"
        names |= {f"{prefix}.0.{t}" for t in BN} | {f"{prefix}.4.{t}" for t in BN}
        names |= {f"{prefix}.1.weight", f"{prefix}.2.weight", f"{prefix}.3.weight",
                  f"{prefix}.5.fc1.weight", f"{prefix}.5.fc2.weight"}
        if unit in (3, 7, 21):
            names |= {f"body.{unit}.shortcut_layer.0.weight"} | {f"body.{unit}.shortcut_layer.1.{t}" for t in BN}
    if with_head:
        names |= {f"output_layer.0.{t}" for t in BN} | {f"output_layer.4.{t}" for t in BN}
        names |= {"output_layer.3.weight", "output_layer.3.bias"}
    return names


def test_stage_table_is_ir_se50():
    assert [(s.channels, s.units) for s in IR_SE50_STAGES] == [(64, 3), (128, 4), (256, 14), (512, 3)]
    config = BackboneConfig()
    assert config.stage_end == (2, 6, 20, 23)  # pSp taps c1 = 6, c2 = 20, c3 = 23 (§1.1)
    assert config.stage_start == (0, 3, 7, 21)  # TriPlaneNet c3 = 21


def test_arcface_state_dict_names_match_psp():
    with torch.device("meta"):
        arcface = ArcFace()
        backbone = IRBackbone()
    names = {n for n in arcface.state_dict() if not n.endswith("num_batches_tracked")}
    expected = psp_ir_se50_names(with_head=True)
    assert len(expected) == 343
    assert names == expected
    assert {n for n in backbone.state_dict() if not n.endswith("num_batches_tracked")} == psp_ir_se50_names(False)
    assert len(psp_ir_se50_names(False)) == 333


def test_arcface_output_is_unit_embedding_at_paper_size():
    with torch.device("meta"):
        arcface = ArcFace()
        out = arcface(torch.empty(2, 3, 112, 112))
    assert out.shape == (2, 512)


def _save(tmp_path, state, name="model_ir_se50.pth"):
    path = tmp_path / name
    torch.save(state, path)
    return path, "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()


def test_load_ir_se50_into_encoder_drops_head_and_keeps_every_tensor(tmp_path):
    source = build_seeded(lambda: ArcFace(TINY), seed=3)
    state = {k: v for k, v in source.state_dict().items() if not k.endswith("num_batches_tracked")}
    path, checksum = _save(tmp_path, state)
    encoder = build_encoder(EncoderConfig(backbone=TINY, input_resolution=32, num_ws=4, w_dim=8), seed=0)
    load_backbone_weights(encoder, path, checksum=checksum)
    loaded = encoder.backbone.state_dict()
    for name, value in state.items():
        if not name.startswith("output_layer."):
            assert torch.equal(loaded[name], value), name


def test_wider_input_layer_keeps_rgb_weights_and_seeds_the_rest(tmp_path):
    source = build_seeded(lambda: ArcFace(TINY), seed=3)
    path, checksum = _save(tmp_path, source.state_dict())
    nine = BackboneConfig(units_per_stage=(1, 1, 1, 1), width=0.125, input_channels=9)
    first, second = IRBackbone(nine), IRBackbone(nine)
    for module in (first, second):
        load_backbone_weights(type("E", (), {"backbone": module})(), path, checksum=checksum, seed=5)
    weight = first.input_layer[0].weight
    assert torch.equal(weight[:, :3], source.input_layer[0].weight)
    assert torch.equal(weight, second.input_layer[0].weight)  # seeded extra channels


def test_mismatched_file_names_the_tensor(tmp_path):
    state = build_seeded(lambda: ArcFace(TINY), seed=3).state_dict()
    state["body.0.res_layer.1.weight"] = torch.zeros(1, 1, 3, 3)
    del state["input_layer.2.weight"]
    with pytest.raises(CheckpointError, match="input_layer.2.weight") as error:
        load_ir_se50_state(ArcFace(TINY), state, source="test")
    assert "body.0.res_layer.1.weight" in str(error.value)


def test_unset_or_missing_path_is_a_user_error(tmp_path):
    encoder = build_encoder(EncoderConfig(backbone=TINY, input_resolution=32, num_ws=4, w_dim=8))
    with pytest.raises(MissingWeightsError, match="ir_se50"):
        load_backbone_weights(encoder, None)
    with pytest.raises(MissingWeightsError, match="missing file"):
        load_backbone_weights(encoder, tmp_path / "absent.pth")


@pytest.mark.parametrize("bad", [dict(units_per_stage=(1, 1, 1)), dict(width=0.0), dict(mode="resnet")])
def test_backbone_config_is_validated(bad):
    with pytest.raises(ConfigError):
        BackboneConfig(**bad)
