"""Where the inverter's networks come from: config defaults, the mini preset's fallback, stand-in weights."""

from __future__ import annotations

import pytest
import torch

from dualinv.config import REPO_ROOT
from dualinv.dual.networks import resolve_sources, standin_inverter

MINI = (str(REPO_ROOT / "config.yaml"), str(REPO_ROOT / "presets/mini.yaml"))


def test_the_mini_preset_uses_its_trained_encoders_once_they_exist(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert resolve_sources(configs=MINI).stand_in  # nothing trained yet: stand-ins
    from dualinv.config import load_config

    models = tmp_path / load_config(*MINI[:1], presets=MINI[1:]).output.results / "models"
    for name in ("encoder1", "encoder2"):
        (models / name).mkdir(parents=True)
        (models / name / "checkpoint.pt").write_bytes(b"x")
    sources = resolve_sources(configs=MINI)
    assert not sources.stand_in and sources.encoder1.endswith("models/encoder1/checkpoint.pt")
    assert sources.network is None  # the mini generator is a stand-in: the checkpoints record it


def test_flags_override_the_config(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    sources = resolve_sources(encoder1="a.pt", configs=(str(REPO_ROOT / "config.yaml"),), network="g.pkl")
    assert (sources.encoder1, sources.network) == ("a.pt", "g.pkl")
    assert sources.encoder2 == "results/models/encoder2/checkpoint.pt"


@pytest.mark.parametrize("name", ["encoder1", "encoder2"])
def test_standin_encoders_are_the_encoders_training_starts_from(name):
    from dualinv.config import load_config
    from dualinv.models.experiments import get_experiment
    from dualinv.training.build import build_components

    mini = load_config(presets=(REPO_ROOT / "presets" / "mini.yaml",))
    inverter = standin_inverter()
    components = build_components(mini, get_experiment(name), [None], generator=inverter.generator, identity=None)
    encoder = inverter.encoder_visible if name == "encoder1" else inverter.encoder_occluded
    expected = components.encoder.state_dict()
    assert encoder.state_dict().keys() == expected.keys()
    assert all(torch.equal(value, expected[key]) for key, value in encoder.state_dict().items())
    assert inverter.opacity_threshold == mini.training.occlusion_opacity_threshold == 0.5
