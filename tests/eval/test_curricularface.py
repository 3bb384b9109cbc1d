"""CurricularFace IR-101 layout, written out from TreB1eN's model_irse/get_blocks(100) as gen_metrics uses it."""
import pytest
import torch

from dualinv.errors import CheckpointError
from dualinv.eval.curricularface import curricularface_ir101, load_curricularface

BN = ("weight", "bias", "running_mean", "running_var", "num_batches_tracked")


def _bn(prefix, channels, affine=True):
    names = BN if affine else BN[2:]
    return {f"{prefix}.{n}": (() if n == "num_batches_tracked" else (channels,)) for n in names}


def _published_layout():
    """Names and shapes of IR_101(input_size=112): get_blocks(100) = 64x3, 128x13, 256x30, 512x3 units,
    each stage's first unit with stride 2 and input channels of the previous stage."""
    layout = {"input_layer.0.weight": (64, 3, 3, 3), **_bn("input_layer.1", 64), "input_layer.2.weight": (64,)}
    units, previous = [], 64
    for depth, count in ((64, 3), (128, 13), (256, 30), (512, 3)):
        units += [(previous, depth)] + [(depth, depth)] * (count - 1)
        previous = depth
    for i, (cin, depth) in enumerate(units):
        p = f"body.{i}"
        if cin != depth:
            layout[f"{p}.shortcut_layer.0.weight"] = (depth, cin, 1, 1)
            layout.update(_bn(f"{p}.shortcut_layer.1", depth))
        layout.update(_bn(f"{p}.res_layer.0", cin))
        layout[f"{p}.res_layer.1.weight"] = (depth, cin, 3, 3)
        layout[f"{p}.res_layer.2.weight"] = (depth,)
        layout[f"{p}.res_layer.3.weight"] = (depth, depth, 3, 3)
        layout.update(_bn(f"{p}.res_layer.4", depth))
    layout.update(_bn("output_layer.0", 512))
    layout["output_layer.3.weight"] = (512, 512 * 7 * 7)
    layout["output_layer.3.bias"] = (512,)
    layout.update(_bn("output_layer.4", 512, affine=False))
    return layout


def test_layout_matches_the_published_network_on_meta():
    with torch.device("meta"):
        network = curricularface_ir101()
    ours = {name: tuple(t.shape) for name, t in network.state_dict().items()}
    assert len(network.body) == 49
    assert ours == _published_layout()


def test_loads_a_file_of_that_layout_and_embeds_unit_vectors(tmp_path):
    generator = torch.Generator().manual_seed(0)
    state = {name: (0.02 * torch.randn(shape, generator=generator) if shape else torch.tensor(0))
             for name, shape in _published_layout().items()}
    for name in state:
        if name.endswith("running_var") or (name.endswith(".weight") and state[name].dim() == 1):
            state[name] = torch.ones_like(state[name])  # unit BN scales and variances keep activations finite
    path = tmp_path / "CurricularFace_Backbone.pth"
    torch.save(state, path)
    network = load_curricularface(path)
    embedding = network(torch.rand(2, 3, 112, 112) * 2 - 1)
    assert embedding.shape == (2, 512)
    assert torch.allclose(embedding.norm(dim=1), torch.ones(2), atol=1e-5)


def test_wrong_layout_names_the_file_and_where_to_get_it(tmp_path):
    state = {name: torch.zeros(shape) for name, shape in _published_layout().items()}
    state["output_layer.4.weight"] = torch.ones(512)  # an affine head is not CurricularFace's
    path = tmp_path / "other.pth"
    torch.save(state, path)
    with pytest.raises(CheckpointError, match="unexpected.*pixel2style2pixel"):
        load_curricularface(path)


def test_stand_in_is_seeded_and_labelled():
    from dualinv.eval.curricularface import curricularface_or_stand_in
    from dualinv.weights import STAND_IN

    first, label = curricularface_or_stand_in(None, seed=3)
    second, _ = curricularface_or_stand_in(None, seed=3)
    other, _ = curricularface_or_stand_in(None, seed=4)
    assert label == STAND_IN
    weight = "body.0.res_layer.1.weight"
    assert torch.equal(first.state_dict()[weight], second.state_dict()[weight])
    assert not torch.equal(first.state_dict()[weight], other.state_dict()[weight])


def test_a_tiny_stand_in_keeps_the_ir_layout_at_a_fraction_of_the_weights():
    """The mini preset's stand-in: the IR-101 head and unit kind, a tiny body (seconds saved per evaluation job)."""
    import dataclasses

    from dualinv.eval.curricularface import curricularface_or_stand_in
    from dualinv.models.encoders import TINY_BACKBONE

    tiny, _ = curricularface_or_stand_in(None, seed=0, backbone=dataclasses.replace(TINY_BACKBONE, mode="ir"))
    full = curricularface_ir101()
    assert sum(p.numel() for p in tiny.parameters()) < sum(p.numel() for p in full.parameters()) / 30
    assert not tiny.output_layer[4].affine  # CurricularFace's non-affine final BatchNorm1d
    embedding = tiny(torch.rand(2, 3, 112, 112) * 2 - 1)
    assert embedding.shape == (2, 512) and torch.allclose(embedding.norm(dim=1), torch.ones(2), atol=1e-5)
