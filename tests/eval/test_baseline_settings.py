"""The study's ``baselines`` section reaches the optimisation baselines (docs/baselines.md)."""

import pytest

from dualinv.baselines import PTIConfig, WOptimConfig
from dualinv.config import REPO_ROOT, load_config
from dualinv.errors import ConfigError
from dualinv.eval.inverters import optimisation_config


def test_paper_config_gives_panoheads_published_settings():
    paper = load_config()
    w_optim, pti = optimisation_config("w_optim", paper), optimisation_config("pti", paper)
    assert isinstance(w_optim, WOptimConfig) and isinstance(pti, PTIConfig)
    # PanoHead project / project_pti (docs/baselines.md): 500 steps lr 0.1, w_avg from 10k z; 350 steps lr 3e-4
    assert (w_optim.steps, w_optim.learning_rate, w_optim.w_avg_samples, w_optim.lpips_resolution) == (500, 0.1, 10_000, 256)
    assert (pti.pivot.steps, pti.steps, pti.learning_rate, pti.lambda_mse, pti.seed) == (500, 350, 3e-4, 0.1, 303)


def test_mini_preset_runs_a_few_steps():
    mini = load_config(presets=(REPO_ROOT / "presets" / "mini.yaml",))
    w_optim, pti = optimisation_config("w_optim", mini), optimisation_config("pti", mini)
    assert (w_optim.steps, w_optim.w_avg_samples, pti.pivot.steps, pti.steps) == (5, 256, 5, 5)
    assert pti.pivot.w_avg_samples == 256 and not w_optim.progress


def test_an_encoder_is_not_an_optimisation_baseline():
    with pytest.raises(ConfigError, match="psp"):
        optimisation_config("psp", load_config())
