import math

import pytest
import torch

from dualinv.baselines import WPlusOptimiser, build_inverter
from dualinv.baselines.w_optim import learning_rate_at, perturbation_scale, reconstruction_terms
from dualinv.config import REPO_ROOT, BaselinesConfig, WOptimSettings, from_mapping, merge_overrides, read_yaml
from dualinv.errors import BadImageError, ConfigError


def tiny_config(**changes) -> WOptimSettings:
    values = dict(steps=12, w_avg_samples=256, render_key="image_raw")
    return WOptimSettings(**{**values, **changes})


def refusal(w_optim: dict) -> str:
    """The study config door's message for config.yaml with ``baselines.w_optim`` overridden."""
    values = merge_overrides(read_yaml(REPO_ROOT / "config.yaml"), {"baselines": {"w_optim": w_optim}})
    with pytest.raises(ConfigError) as caught:
        from_mapping(values)
    return str(caught.value)


def test_learning_rate_schedule_matches_panohead_formula():
    config = WOptimSettings(steps=100, learning_rate=0.1)
    assert learning_rate_at(config, 0) == 0.0                      # t = 0: ramp-up factor 0
    assert learning_rate_at(config, 2) == pytest.approx(0.1 * 2 / 5)  # t = 0.02 of a 0.05 ramp-up
    assert learning_rate_at(config, 50) == pytest.approx(0.1)       # plateau
    # t = 0.875: (1 - t) / 0.25 = 0.5 -> 0.5 - 0.5 cos(pi/2) = 0.5
    assert learning_rate_at(config, 87.5) == pytest.approx(0.05)


def test_perturbation_decays_quadratically_to_zero():
    config = WOptimSettings(steps=100)
    assert perturbation_scale(config, 0, 2.0) == pytest.approx(2.0 * 0.05)
    assert perturbation_scale(config, 37.5, 2.0) == pytest.approx(2.0 * 0.05 * 0.25)  # (1 - 0.5)^2
    assert perturbation_scale(config, 80, 2.0) == 0.0


def test_config_refuses_bad_values():
    assert "baselines.w_optim.steps" in refusal({"steps": 0})
    assert "baselines.w_optim.render_key" in refusal({"render_key": "depth"})


@pytest.mark.slow  # ~10 s on an idle 2-core CPU (12 / 15 render steps)
def test_w_optim_lowers_the_reconstruction_loss(generator, lpips_vgg, target):
    images, cameras, _ = target
    optimiser = WPlusOptimiser(generator, lpips_vgg, tiny_config(), progress=False)

    def loss(ws):
        with torch.no_grad():
            render = generator.synthesis(ws, cameras, noise_mode="const",
                                         generator=torch.Generator().manual_seed(0))["image_raw"]
            terms = reconstruction_terms(render, images, lpips_vgg, 256)
        return float(0.1 * terms["loss_mse"] + terms["loss_lpips"]), float(terms["loss_mse"])

    start = optimiser.w_avg.repeat(2, generator.num_ws, 1)
    result = optimiser.invert(images, cameras)
    before, mse_before = loss(start)
    after, mse_after = loss(result.ws)
    print(f"W+ optim tiny: loss {before:.4f} -> {after:.4f}, mse {mse_before:.4f} -> {mse_after:.4f}")
    assert after < 0.6 * before
    assert mse_after < 0.6 * mse_before
    assert result.ws.shape == (2, generator.num_ws, generator.w_dim)
    assert result.trigrid.shape == (2, 3, 96, 32, 32)
    assert all(g is generator for g in result.generators)
    assert len(result.seconds_per_image) == 2 and all(s > 0 for s in result.seconds_per_image)
    assert not any(p.requires_grad for p in generator.parameters())


def test_w_statistics_are_those_of_front_camera_samples(generator):
    from dualinv.baselines.w_optim import w_statistics
    from dualinv.camera import canonical_cameras
    from dualinv.seeding import make_generator

    w_avg, w_std = w_statistics(generator, 64, seed=9, chunk=10)
    z = torch.randn(64, generator.z_dim, generator=make_generator(9))
    ws = generator.mapping(z, canonical_cameras()["front"].expand(64, -1))[:, 0]
    torch.testing.assert_close(w_avg[0, 0], ws.mean(0))
    assert w_std == pytest.approx(math.sqrt(float((ws - ws.mean(0)).square().sum()) / 64), rel=1e-5)


def test_inputs_are_checked(generator, lpips_vgg, target):
    images, cameras, _ = target
    inverter = build_inverter("w_optim", generator, lpips_loss=lpips_vgg,
                              baselines=BaselinesConfig(w_optim=tiny_config(steps=1)))
    with pytest.raises(BadImageError, match=r"\[-1, 1\]"):
        inverter.invert(images * 5, cameras)


def test_registry_names_and_errors(generator, lpips_vgg):
    with pytest.raises(ConfigError, match="unknown baseline"):
        build_inverter("stylegan_nada", generator)
    with pytest.raises(ConfigError, match="LPIPS"):
        build_inverter("w_optim", generator)
    with pytest.raises(ConfigError, match="trained encoder"):
        build_inverter("e4e", generator)
    from dualinv.models.experiments import EXPERIMENTS
    from dualinv.baselines import ENCODER_BASELINES, OPTIMISATION_BASELINES

    baseline_names = {name for name, e in EXPERIMENTS.items() if e.kind.startswith("baseline")}
    assert baseline_names == set(ENCODER_BASELINES) | set(OPTIMISATION_BASELINES)
