"""PanoHeadGenerator structure, API and randomness (specs/panohead.md §1, §5, §10)."""

from __future__ import annotations

import json

import pytest
import torch

from dualinv.errors import CheckpointError
from dualinv.panohead import PanoHeadConfig, PanoHeadGenerator
from dualinv.panohead.config import SR_CLASS_NAMES, SR_MODULE_PREFIX, SR_OUTPUT_RESOLUTION
from dualinv.panohead.superresolution import SUPERRESOLUTION_SPECS, Superresolution


def small_config(sr_class: str = "SuperresolutionHybrid2X", **rendering) -> PanoHeadConfig:
    """The tiny fixture architecture with a cheap SR head and few samples, for fast API tests."""
    kwargs = PanoHeadConfig.tiny().to_init_kwargs()
    kwargs["img_resolution"] = SR_OUTPUT_RESOLUTION[sr_class]
    overrides = {"superresolution_module": SR_MODULE_PREFIX + sr_class, "depth_resolution": 6,
                 "depth_resolution_importance": 6, **rendering}  # fmt: skip
    return PanoHeadConfig.from_init_kwargs(kwargs, neural_rendering_resolution=8, rendering_overrides=overrides)


@pytest.fixture(scope="module")
def small():
    torch.manual_seed(0)
    return PanoHeadGenerator(small_config()).eval().requires_grad_(False)


def frontal_cameras(batch: int) -> torch.Tensor:
    camera = torch.tensor([1, 0, 0, 0, 0, -1, 0, 0, 0, 0, -1, 2.7, 0, 0, 0, 1, 4.2647, 0, 0.5, 0, 4.2647, 0.5, 0, 0, 1.0])
    return camera.expand(batch, 25).clone()


def test_released_state_dict_matches_the_manifest_exactly(shared):
    manifest = json.loads((shared / "fixtures" / "panohead-released-manifest.json").read_text())["entries"]
    with torch.device("meta"):
        model = PanoHeadGenerator(PanoHeadConfig.released())
    ours = [[name, list(t.shape), str(t.dtype).removeprefix("torch.")] for name, t in model.state_dict().items()]
    assert ours == manifest
    assert model.num_ws == 14 and model.bcg_synthesis.num_ws == 12


@pytest.mark.parametrize("sr_class", SR_CLASS_NAMES)
def test_each_superresolution_variant_produces_its_output_size(sr_class):
    spec = SUPERRESOLUTION_SPECS[sr_class]
    torch.manual_seed(0)
    module = Superresolution(spec, channels=32, sr_num_fp16_res=4).eval()
    size = 16
    with torch.no_grad():
        out = module(torch.randn(1, 3, size, size), torch.randn(1, 32, size, size), torch.randn(1, 14, 512))
    assert out.shape == (1, 3, SR_OUTPUT_RESOLUTION[sr_class], SR_OUTPUT_RESOLUTION[sr_class])
    assert ("resample_filter" in dict(module.named_buffers())) == (sr_class != "SuperresolutionHybrid8XDC")


def test_generator_argument_makes_synthesis_reproducible(small):
    ws = small.mapping(torch.randn(2, 512), frontal_cameras(2))
    run = lambda seed: small.synthesis(ws, frontal_cameras(2), noise_mode="random", generator=torch.Generator().manual_seed(seed))  # noqa: E731
    first, second, other = run(5), run(5), run(6)
    for key in ("image", "image_raw", "image_depth", "image_mask"):
        assert torch.equal(first[key], second[key]), key
    assert not torch.equal(first["image_depth"], other["image_depth"])
    assert first["image"].shape == (2, 3, 128, 128) and first["image_depth"].shape == (2, 1, 8, 8)


def test_global_rng_path_draws_in_the_official_order(small):
    # With generator=None the global RNG is used; re-seeding reproduces the draw.
    ws = small.mapping(torch.randn(1, 512), frontal_cameras(1))
    torch.manual_seed(3)
    first = small.synthesis(ws, frontal_cameras(1))
    torch.manual_seed(3)
    assert torch.equal(first["image"], small.synthesis(ws, frontal_cameras(1))["image"])


def test_render_trigrid_of_synthesized_trigrid_equals_synthesis(small):
    ws = small.mapping(torch.randn(2, 512), frontal_cameras(2))
    expected = small.synthesis(ws, frontal_cameras(2), noise_mode="const", generator=torch.Generator().manual_seed(1))
    trigrid = small.synthesize_trigrid(ws)  # [B,3,D*C,H,W]
    assert trigrid.shape == (2, 3, 96, 32, 32)
    actual = small.render_trigrid(trigrid, ws, frontal_cameras(2), generator=torch.Generator().manual_seed(1))
    for key in expected:
        assert torch.equal(actual[key], expected[key]), key


def test_synthesis_does_not_change_module_state(small):
    ws = small.mapping(torch.randn(1, 512), frontal_cameras(1))
    before = {k: v.clone() for k, v in small.state_dict().items()}
    out = small.synthesis(ws, frontal_cameras(1), neural_rendering_resolution=4, noise_mode="const")
    assert out["image_raw"].shape == (1, 3, 4, 4)
    assert small.neural_rendering_resolution == 8 and small._last_planes is None
    assert all(torch.equal(before[k], v) for k, v in small.state_dict().items())


def test_truncation_formula(small):
    z, c = torch.randn(2, 512), frontal_cameras(2)
    w_avg = small.backbone.mapping.w_avg
    plain = small.mapping(z, c)
    assert plain.shape == (2, small.num_ws, 512)
    cut = small.mapping(z, c, truncation_psi=0.5, truncation_cutoff=3)
    assert torch.allclose(cut[:, :3], w_avg + 0.5 * (plain[:, :3] - w_avg), atol=1e-6)
    assert torch.equal(cut[:, 3:], plain[:, 3:])
    full = small.mapping(z, c, truncation_psi=0.0)
    assert torch.allclose(full, w_avg.expand_as(full))


def test_forward_applies_the_camera_offset(small):
    z, c = torch.randn(1, 512), frontal_cameras(1)
    camera, delta = small.apply_delta_c(z, c)
    assert torch.allclose(camera[:, [3, 7, 11]], c[:, [3, 7, 11]] + delta)
    mask = torch.ones(25, dtype=torch.bool)
    mask[[3, 7, 11]] = False
    assert torch.equal(camera[:, mask], c[:, mask])


def test_load_official_state_dict_tolerates_only_dataset_label_std(small):
    model = PanoHeadGenerator(small_config())
    state = dict(small.state_dict())
    state["dataset_label_std"] = torch.full([25], 0.5)
    model.load_official_state_dict(state)
    assert torch.equal(model.dataset_label_std, torch.full([25], 0.5))
    assert torch.equal(model.decoder.net[0].weight, small.decoder.net[0].weight)
    with pytest.raises(CheckpointError, match="unexpected.*extra_key"):
        model.load_official_state_dict({**state, "extra_key": torch.zeros(1)})
    del state["torgb.bias"]
    with pytest.raises(CheckpointError, match="missing.*torgb.bias"):
        model.load_official_state_dict(state)
