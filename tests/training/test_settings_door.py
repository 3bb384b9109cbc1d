"""Config files are typed at the door (dualinv.config.read_yaml + check_type): one-line errors naming file and key."""

from __future__ import annotations

import pytest
import torch

from dualinv.cli import main
from dualinv.config import read_yaml
from dualinv.errors import ConfigError


def _train(tmp_path, *extra: str) -> list[str]:
    return ["train", "real_wplus", "--stand-in", "--stop", "1", "--checkpoint-out", str(tmp_path / "s1.pt"), *extra]


@pytest.mark.parametrize("text, key", [("batch_size: two\n", "training.batch_size"),
                                       ("iterations: 1.5\n", "training.iterations"),
                                       ("mirror_probability: yes\n", "training.mirror_probability")])
def test_wrong_typed_setting_is_a_one_line_error_naming_file_and_key(tmp_path, capsys, text, key) -> None:
    settings = tmp_path / "settings.yaml"
    settings.write_text("training:\n  " + text)
    assert main(_train(tmp_path, "--config", "config.yaml", "--config", str(settings))) == 2
    error = capsys.readouterr().err.strip()
    assert error.count("\n") == 0 and str(settings) in error and key in error


def test_exponent_without_a_dot_is_read_as_a_number(tmp_path) -> None:
    path = tmp_path / "settings.yaml"
    path.write_text("learning_rate: 1e-4\nlambda_adv: 5E+2\nname: 1e-4x\n")
    values = read_yaml(path)
    assert values == {"learning_rate": 1e-4, "lambda_adv": 500.0, "name": "1e-4x"}


def test_yaml_syntax_error_names_file_and_line(tmp_path, capsys) -> None:
    path = tmp_path / "settings.yaml"
    path.write_text("batch_size: 2\nlearning_rate: [1e-4\n")
    with pytest.raises(ConfigError, match=rf"{path}, line \d+"):
        read_yaml(path)
    assert main(_train(tmp_path, "--config", str(path))) == 2
    assert str(path) in capsys.readouterr().err


def test_train_on_a_missing_gpu_is_a_one_line_error(tmp_path, capsys, monkeypatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert main(_train(tmp_path, "--device", "cuda")) == 2
    error = capsys.readouterr().err.strip()
    assert error.count("\n") == 0 and "no CUDA device" in error
