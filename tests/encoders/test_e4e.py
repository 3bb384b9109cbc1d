import pytest
import torch
import torch.nn.functional as F

from dualinv.encoders import BackboneConfig, E4EConfig, Encoder4Editing, EncoderConfig, build_encoder
from dualinv.encoders.e4e import LatentCodesPool, LatentDiscriminator, progressive_stage
from dualinv.encoders.gradual_style import GradualStyleEncoder
from dualinv.config import REPO_ROOT, E4ESettings, from_mapping, merge_overrides, read_yaml
from dualinv.errors import ConfigError
from dualinv.losses.e4e import active_codes, delta_regularisation, latent_encoder_adversarial_loss

TINY = EncoderConfig(backbone=BackboneConfig(units_per_stage=(1, 1, 1, 1), width=0.125), input_resolution=32,
                     num_ws=10, w_dim=16)


def tiny_e4e(**changes) -> Encoder4Editing:
    config = E4EConfig(encoder=TINY, **changes)
    return build_encoder(config, seed=3, w_avg=torch.linspace(-1, 1, 16))


def test_progressive_schedule_matches_e4e_steps():
    recipe = E4ESettings(progressive_start=100, progressive_step_every=20)
    # e4e progressive_steps = [0, 100, 120, 140, ...]: stage i from progressive_steps[i]
    expected = {0: 0, 99: 0, 100: 1, 119: 1, 120: 2, 139: 2, 140: 3, 100 + 20 * 7: 8, 100 + 20 * 8: 9, 10_000: 9}
    assert {step: progressive_stage(step, recipe, TINY.num_ws) for step in expected} == expected


def test_forward_is_base_plus_active_deltas_plus_w_avg():
    encoder = tiny_e4e().eval()
    image = torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        raw = GradualStyleEncoder.forward(encoder, image)  # pSp heads on the same weights: [B, L, K]
        for stage in (0, 2, 5, 9):
            encoder.set_stage(stage)
            ws = encoder(image)
            expected = raw[:, :1].repeat(1, 10, 1).clone()
            expected[:, 1:stage + 1] += raw[:, 1:stage + 1]
            torch.testing.assert_close(ws, expected + encoder.w_avg)


def test_default_stage_is_inference_with_every_delta():
    assert tiny_e4e().stage == TINY.num_ws - 1
    with pytest.raises(ValueError, match="stage"):
        tiny_e4e().set_stage(10)


def test_pyramid_is_built_only_when_a_delta_needs_it():
    encoder = tiny_e4e()
    encoder.set_stage(2)  # deltas 1, 2 read c3 only
    encoder(torch.randn(1, 3, 32, 32)).sum().backward()
    assert encoder.latlayer1.weight.grad is None and encoder.latlayer2.weight.grad is None
    assert encoder.styles[3].linear.weight.grad is None
    encoder.zero_grad(set_to_none=True)
    encoder.set_stage(7)  # delta 7 reads p1
    encoder(torch.randn(1, 3, 32, 32)).sum().backward()
    assert encoder.latlayer2.weight.grad is not None and encoder.styles[8].linear.weight.grad is None


def test_delta_regularisation_sums_active_delta_norms():
    w0 = torch.randn(3, 1, 4)
    steps = torch.zeros(3, 6, 4)
    steps[:, :, 1] = torch.arange(6.0)  # row i = w0 + (0, i, 0, 0): ||w_i - w_0||_2 = i
    ws = w0 + steps
    assert float(delta_regularisation(ws, 0)) == 0.0
    assert float(delta_regularisation(ws, 3)) == pytest.approx(1 + 2 + 3)
    assert float(delta_regularisation(ws, 5)) == pytest.approx(15)
    assert float(delta_regularisation(ws, 3, p=1)) == pytest.approx(6)


def test_latent_adversarial_term_averages_per_dimension_like_e4e():
    discriminator = LatentDiscriminator(w_dim=16)
    ws = torch.randn(4, 10, 16)
    stage = 3
    logits = discriminator(active_codes(ws, stage))
    assert logits.shape == (4 * 4, 1)
    per_dim = sum(F.softplus(-discriminator(ws[:, i])).mean() for i in range(stage + 1)) / (stage + 1)
    torch.testing.assert_close(latent_encoder_adversarial_loss(logits, stage), per_dim)


def test_latent_discriminator_architecture():
    discriminator = LatentDiscriminator(w_dim=512)
    linears = [m for m in discriminator.modules() if isinstance(m, torch.nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linears] == [(512, 512)] * 3 + [(512, 1)]
    assert all(m.negative_slope == 0.2 for m in discriminator.modules() if isinstance(m, torch.nn.LeakyReLU))


def test_codes_pool_fills_then_swaps_half_the_time():
    pool = LatentCodesPool(size=4)
    rng = torch.Generator().manual_seed(0)
    first = torch.arange(4.0)[:, None].repeat(1, 2)
    torch.testing.assert_close(pool.query(first, rng), first)  # filling: returned as given
    new = -torch.arange(1.0, 401.0)[:, None].repeat(1, 2)
    out = pool.query(new, rng)
    from_pool = int((out[:, 0] != new[:, 0]).sum())
    assert set(out[:, 0].tolist()) <= set(new[:, 0].tolist()) | set(first[:, 0].tolist())
    assert 150 < from_pool < 250  # p = 0.5 of 400 (binomial sd 10)
    assert len(pool.codes) == 4
    restored = LatentCodesPool()
    restored.load_state_dict(pool.state_dict())
    assert restored.size == 4 and all(torch.equal(a, b) for a, b in zip(restored.codes, pool.codes))


def test_config_is_validated():
    with pytest.raises(ConfigError, match="w_plus"):
        E4EConfig(encoder=EncoderConfig(kind="z"))
    # the schedule is the study config's baselines.e4e, checked at the config door
    values = merge_overrides(read_yaml(REPO_ROOT / "config.yaml"), {"baselines": {"e4e": {"progressive_step_every": 0}}})
    with pytest.raises(ConfigError, match=r"baselines\.e4e\.progressive_step_every"):
        from_mapping(values)
