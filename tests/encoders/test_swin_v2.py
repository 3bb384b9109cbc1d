"""GOAE's Swin-V2 trunk against the official code: the published file's layout, and golden taps.

``golden/`` was written by GOAE's own ``goae/models/swin_transformer.py`` (jiangyzy/GOAE a36a2ef),
run outside the repository (golden/README.md): the names and shapes of its SwinV2-B at GOAE's
``swinv2.yaml`` configuration (plus the ImageNet-1K head of Microsoft's published file), and a tiny
trunk with seeded weights with the five token grids GOAE reads from it.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from dualinv.encoders.swin_v2 import SwinV2Trunk, load_published_swin, trunk_state_from_published
from dualinv.errors import CheckpointError
from dualinv.state_dicts import layout_problem

GOLDEN = Path(__file__).parent / "golden"


def _published_layout() -> dict[str, torch.Tensor]:
    shapes = json.loads((GOLDEN / "swinv2_b_goae_layout.json").read_text())
    return {name: torch.empty(shape, device="meta") for name, shape in shapes.items()}


def test_the_published_swinv2_b_fits_goaes_trunk_by_name_and_shape():
    from dualinv.encoders import GOAEConfig

    config = GOAEConfig()
    with torch.device("meta"):
        trunk = SwinV2Trunk(config.input_resolution, config.embed_dim, config.depths, config.heads, config.window,
                            config.drop_path, config.pretrained_windows)
    assert trunk.windows == [16, 16, 16, 8]  # Microsoft's code clips the last stage's window to its 8x8 grid
    published = _published_layout()
    assert published["head.weight"].shape == (1000, 1024) and len(published) == 475
    state = trunk_state_from_published(published, trunk)
    assert layout_problem(trunk, state) is None
    taken = {name for name in published if not name.startswith("head.") and not name.endswith(
        ("relative_coords_table", "relative_position_index", "attn_mask"))}
    parameters = dict(trunk.named_parameters())
    k_biases = sum(value.numel() // 3 for name, value in parameters.items() if name.endswith("attn.qkv.bias"))
    assert k_biases == 2 * 128 + 2 * 256 + 18 * 512 + 2 * 1024  # Swin-V2 has no k bias: our qkv bias holds zeros there
    assert sum(value.numel() for value in parameters.values()) == sum(published[name].numel() for name in taken) + k_biases
    assert state["stages.7.1.attn.qkv.bias"].shape == (3 * 1024,)  # q_bias, zero k, v_bias


def test_a_file_of_another_variant_is_refused_naming_what_differs(tmp_path):
    trunk = SwinV2Trunk(64, 4, (2, 2, 1, 2), (1, 1, 2, 2), 8, 0.0, (6, 6, 6, 3))
    published = torch.load(GOLDEN / "goae_swin_tiny_golden.pt", weights_only=True)["published_state"]
    del published["layers.1.blocks.1.mlp.fc1.weight"]
    torch.save({"model": published}, tmp_path / "other.pth")
    with pytest.raises(CheckpointError, match=r"goae_swin.*1 missing.*stages\.3\.1\.mlp\.0\.weight.*swinv2_base"):
        load_published_swin(trunk, tmp_path / "other.pth")


def test_trunk_taps_match_goaes_official_swin_on_seeded_weights(tmp_path):
    golden = torch.load(GOLDEN / "goae_swin_tiny_golden.pt", weights_only=True)
    config = golden["config"]
    trunk = SwinV2Trunk(config["input_resolution"], config["embed_dim"], tuple(config["depths"]),
                        tuple(config["heads"]), config["window"], 0.0, tuple(config["pretrained_windows"])).eval()
    assert trunk.windows == [8, 8, 4, 2]
    torch.save({"model": golden["published_state"]}, tmp_path / "swin.pth")
    load_published_swin(trunk, tmp_path / "swin.pth")
    with torch.no_grad():
        taps = trunk(golden["image"])
    for name, expected in golden["taps"].items():
        torch.testing.assert_close(getattr(taps, name), expected, atol=2e-5, rtol=1e-4, msg=name)


def test_the_goae_baseline_starts_from_the_configured_swin_file(tmp_path):
    from dualinv.models.encoders import build_inversion_encoder
    from dualinv.models.experiments import get_experiment
    from tests.training.tiny import tiny_config, tiny_generator

    generator, _ = tiny_generator()
    published = torch.load(GOLDEN / "goae_swin_tiny_golden.pt", weights_only=True)["published_state"]
    torch.save({"model": published}, tmp_path / "swin.pth")  # a Swin-V2 of another size than the tiny GOAE's
    settings = tiny_config(weights={"goae_swin": str(tmp_path / "swin.pth")})
    with pytest.raises(CheckpointError, match="goae_swin.*does not fit"):
        build_inversion_encoder(settings, get_experiment("goae"), generator, seed=0)
    stand_in = build_inversion_encoder(tiny_config(), get_experiment("goae"), generator, seed=0)
    assert stand_in.encoder.swin.windows == [4, 4, 4, 2]
