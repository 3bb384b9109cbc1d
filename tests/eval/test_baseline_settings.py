"""The study's ``baselines`` section reaches the optimisation baselines (docs/baselines.md)."""

import pytest

from dualinv.baselines import PivotalTuning, WPlusOptimiser, build_inverter
from dualinv.config import REPO_ROOT, PTISettings, WOptimSettings, load_config
from dualinv.errors import ConfigError
from dualinv.losses import LPIPSLoss
from tests.training.tiny import tiny_generator


def test_defaults_are_panoheads_published_settings():
    # PanoHead project / project_pti (docs/baselines.md): 500 steps lr 0.1, w_avg from 10k z; 350 steps lr 3e-4
    w_optim, pti = WOptimSettings(), PTISettings()
    assert (w_optim.steps, w_optim.learning_rate, w_optim.w_avg_samples, w_optim.lpips_resolution) == (500, 0.1, 10_000, 256)
    assert (pti.pivot_steps, pti.steps, pti.learning_rate, pti.lambda_mse, pti.seed) == (500, 350, 3e-4, 0.1, 303)


def test_paper_config_gives_panoheads_published_settings():
    paper = load_config().baselines
    w_optim, pti = paper.w_optim, paper.pti
    assert (w_optim.steps, w_optim.learning_rate, w_optim.w_avg_samples, w_optim.lpips_resolution) == (500, 0.1, 10_000, 256)
    assert (pti.pivot_steps, pti.steps, pti.learning_rate, pti.lambda_mse, pti.seed) == (500, 350, 3e-4, 0.1, 303)


def test_mini_preset_runs_a_few_steps():
    mini = load_config(presets=(REPO_ROOT / "presets" / "mini.yaml",))
    generator = tiny_generator()[0]
    lpips = LPIPSLoss("vgg", seed=1)
    w_optim = build_inverter("w_optim", generator, baselines=mini.baselines, lpips_loss=lpips)
    pti = build_inverter("pti", generator, baselines=mini.baselines, lpips_loss=lpips)
    assert isinstance(w_optim, WPlusOptimiser) and isinstance(pti, PivotalTuning)
    assert (w_optim.config.steps, w_optim.config.w_avg_samples, pti.pivot_config.steps, pti.config.steps) == (5, 256, 5, 5)
    assert pti.pivot_config.w_avg_samples == 256 and not w_optim.progress


def test_an_encoder_is_not_an_optimisation_baseline():
    with pytest.raises(ConfigError, match="psp"):
        build_inverter("psp", tiny_generator()[0], baselines=load_config().baselines,
                       lpips_loss=LPIPSLoss("vgg", seed=1))
