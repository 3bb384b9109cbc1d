"""Which methods, test sets, checkpoints and inputs each table needs (dualinv.study)."""

from __future__ import annotations

from pathlib import Path

import pytest

from dualinv.config import from_mapping, load_config, merge_overrides, read_yaml
from dualinv.errors import ConfigError, MissingInputsError
from dualinv.study import (
    check_inputs,
    input_problems,
    prepared_dir,
    required_checkpoints,
    required_datasets,
    study_evaluations,
    table_methods,
    trained_experiments,
)
from dualinv.models.experiments import EXPERIMENTS

from tests.conftest import REPO_ROOT

ALL = list(EXPERIMENTS)


def test_table_rows_match_the_paper():
    # Row counts and order read off the paper's tables (Table 1: 7 methods, Table 3: 4 rows, ...).
    assert table_methods(1, ALL) == ["dual", "psp", "e4e", "triplanenet_v2", "goae", "w_optim", "pti"]
    assert table_methods(2, ALL) == table_methods(1, ALL)
    assert table_methods(3, ALL) == ["encoder1", "encoder2", "d_image", "d_triplane"]
    assert table_methods(4, ALL) == ["encoder1", "real_z", "real_zplus", "real_wplus", "zplus_wplus"]
    assert table_methods(5, ALL) == ["encoder1", "encoder2", "dual"]


def test_a_table_only_lists_configured_experiments():
    assert table_methods(3, ["encoder2", "dual"]) == ["encoder2"]
    with pytest.raises(ConfigError, match="no Table 6"):
        table_methods(6, ALL)


def test_evaluations_pair_methods_with_each_tables_test_sets():
    assert study_evaluations(["pti"]) == [("pti", "val"), ("pti", "celebahq"), ("pti", "mead")]
    assert study_evaluations(["encoder1"]) == [("encoder1", "val")]  # Tables 3, 4, 5, without repeats


def test_checkpoints_needed_by_each_kind_of_method():
    assert required_checkpoints("dual") == ("encoder1", "encoder2")
    assert required_checkpoints("psp") == ("psp",)
    assert required_checkpoints("pti") == ()
    assert trained_experiments(["dual", "pti"]) == ["encoder1", "encoder2"]


def test_required_datasets_follow_the_tables():
    assert required_datasets(["encoder1"]) == ["ffhq", "lpff"]
    assert required_datasets(["pti"]) == ["ffhq", "lpff", "celebahq", "mead"]  # val split, CelebA-HQ, MEAD


def test_mini_preset_needs_no_file():
    config = load_config(REPO_ROOT / "config.yaml", presets=(REPO_ROOT / "presets" / "mini.yaml",))
    assert input_problems(config) == []
    check_inputs(config)


def test_every_missing_input_is_reported_together(tmp_path):
    values = read_yaml(REPO_ROOT / "config.yaml")
    values["data"]["ffhq"]["path"] = str(tmp_path / "ffhq")
    (tmp_path / "ffhq").mkdir()
    (tmp_path / "ffhq" / "0.png").write_bytes(b"x")  # present: not reported
    config = from_mapping(values)
    with pytest.raises(MissingInputsError) as caught:
        check_inputs(config)
    message = str(caught.value)
    expected = ("weights.panohead", "weights.ir_se50", "weights.lpips_alex", "weights.lpips_vgg", "weights.inception",
                "weights.u2net", "weights.goae_swin", "weights.curricularface", "data.celebahq_test_split.partition_file",
                "data.celebahq_test_split.mapping_file", "data.lpff.path", "data.celebahq.path", "data.mead.path",
                "weights.tddfa", "weights.tddfa_whitening", "weights.bfm", "weights.faceboxes")
    assert message.startswith(f"{len(expected)} input(s)")  # PanoHead's alignment adds tddfa, tddfa_whitening, bfm, faceboxes
    for key in expected:
        assert key in message
    assert "data.ffhq" not in message and "facenet" not in message


def test_every_missing_input_says_what_it_is_and_where_to_get_it(tmp_path):
    from dualinv.study import DATASET_ORIGINS, SOURCE_DATASETS
    from dualinv.weights import REGISTRY

    values = read_yaml(REPO_ROOT / "config.yaml")
    values["generator"]["network"] = str(tmp_path / "missing.pkl")
    problems = input_problems(from_mapping(values))
    configured = [key for key, path in values["weights"].items() if path is not None]  # face_parsing and others: null
    assert len(problems) == len(configured) + 1 + len(SOURCE_DATASETS) + 2  # + CelebA-HQ's two split files
    by_key = {problem.split(" = ")[0].split(". ")[-1]: problem for problem in problems}
    for key, path in values["weights"].items():
        if path is not None:
            entry = REGISTRY[key]
            assert entry.description in by_key[f"weights.{key}"] and entry.url in by_key[f"weights.{key}"]
    for name in SOURCE_DATASETS:
        origin = DATASET_ORIGINS[name]
        assert "https://" in origin and origin in by_key[f"data.{name}.path"], name
    assert REGISTRY["panohead"].url in by_key["generator.network"]


def test_lpips_vgg_is_described_as_what_the_optimisation_baselines_use():
    """W+ optimisation and PTI compute LPIPS-VGG from weights.lpips_vgg (dualinv.eval.inverters)."""
    from dualinv.weights import REGISTRY

    description = REGISTRY["lpips_vgg"].description
    assert "optional" not in description and "W+ optimisation" in description and "PTI" in description


def test_an_unused_dataset_is_not_required():
    merged = merge_overrides(read_yaml(REPO_ROOT / "config.yaml"), read_yaml(REPO_ROOT / "presets" / "mini.yaml"))
    merged["experiments"] = ["encoder1"]
    merged["data"]["celebahq"] = {"source": "photos", "path": "does/not/exist"}
    merged["data"]["mead"] = {"source": "prepared", "path": "does/not/exist"}
    # encoder1 feeds only Tables 3-5 (validation split): CelebA-HQ and MEAD are not needed.
    assert input_problems(from_mapping(merged)) == []
    merged["experiments"] = ["encoder1", "dual"]  # dual feeds Tables 1 and 2
    assert [problem.split(" =")[0] for problem in input_problems(from_mapping(merged))] == [
        "data.celebahq.path", "data.mead.path"]


def test_prepared_folders(tmp_path):
    config = load_config(REPO_ROOT / "config.yaml", presets=(REPO_ROOT / "presets" / "mini.yaml",))
    assert prepared_dir(config, "train") == REPO_ROOT.joinpath("results/mini/data/train").relative_to(REPO_ROOT)
    paper = load_config(REPO_ROOT / "config.yaml")
    assert prepared_dir(paper, "mead") == Path("results/data/mead")  # source: videos, frames prepared by the workflow
    values = read_yaml(REPO_ROOT / "config.yaml")
    values["data"]["mead"] = {"source": "prepared", "path": "data/prepared/mead"}
    assert prepared_dir(from_mapping(values), "mead") == Path("data/prepared/mead")  # source: prepared, the user's folder
    with pytest.raises(ConfigError, match="unknown dataset"):
        prepared_dir(paper, "imagenet")


def test_mead_videos_are_checked_for_meads_layout(tmp_path):
    values = read_yaml(REPO_ROOT / "config.yaml")
    values["data"]["mead"] = {"source": "videos", "path": str(tmp_path / "mead")}
    (tmp_path / "mead" / "M003" / "video" / "front" / "angry" / "level_1").mkdir(parents=True)
    problems = [problem for problem in input_problems(from_mapping(values)) if problem.startswith("data.mead")]
    assert len(problems) == 1 and "no MEAD videos" in problems[0] and "wywu.github.io" in problems[0]
    (tmp_path / "mead" / "M003" / "video" / "front" / "angry" / "level_1" / "001.mp4").write_bytes(b"mp4")
    assert not [problem for problem in input_problems(from_mapping(values)) if problem.startswith("data.mead")]
    values["data"]["ffhq"] = {"source": "videos", "path": str(tmp_path / "mead")}
    with pytest.raises(ConfigError, match="data.ffhq.source: videos is MEAD's"):
        from_mapping(values)
