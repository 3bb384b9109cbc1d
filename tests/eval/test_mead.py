"""MEAD protocol: the pairing picks the right views, and each yaw group is scored on its own renders."""

from __future__ import annotations

import pytest
import torch

from dualinv.data.manifests import mead_pairs
from dualinv.errors import PairingError
from dualinv.eval.mead import evaluate_mead, mead_render_path, pairs_by_group, yaw_group
from dualinv.fileio import save_image
from tests.eval.standins import TemplateLandmarks, tiny_metric_suite

VIEWS = ("front", "left_30", "left_60", "right_30", "right_60", "top", "down")


def _names():
    names = [f"M003__{view}__angry__level_1__001__{frame}.png" for frame in ("000010", "000020") for view in VIEWS]
    names.append("W009__left_60__happy__level_2__004__000001.png")  # no frontal frame: never a pair
    return names


def test_pairing_selects_the_matching_views():
    grouped = pairs_by_group(mead_pairs(_names()))
    assert sorted(grouped) == ["30", "60"]
    for group, members in grouped.items():
        assert len(members) == 4  # 2 frames x (left, right)
        for pair in members:
            assert pair["input"] == pair["target"].replace(f"__{pair['view']}__", "__front__")
            assert pair["view"] in (f"left_{group}", f"right_{group}")
    assert yaw_group("right_30") == "30"
    with pytest.raises(PairingError, match="not one of"):
        yaw_group("top")
    with pytest.raises(PairingError, match="no MEAD pairs for ±60"):
        pairs_by_group([p for p in mead_pairs(_names()) if p["view"].endswith("30")])


@pytest.mark.slow
def test_evaluate_mead_scores_each_group_against_its_targets(tmp_path):
    generator = torch.Generator().manual_seed(0)
    pairs = mead_pairs(_names())
    for name in _names():
        save_image(tmp_path / "frames" / name, torch.rand(3, 32, 32, generator=generator) * 2 - 1)
    for pair in pairs:
        target = tmp_path / "frames" / pair["target"]
        render = mead_render_path(tmp_path / "renders", pair)
        render.parent.mkdir(parents=True, exist_ok=True)
        if pair["view"].endswith("30"):  # perfect renders at ±30°, unrelated noise at ±60°
            render.write_bytes(target.read_bytes())
        else:
            save_image(render, torch.rand(3, 32, 32, generator=generator) * 2 - 1)
    # the left_60 frames are black, where the stand-in detector finds no face (MTCNN's own: test_authors_protocol)
    for pair in pairs:
        if pair["view"] == "left_60":
            save_image(tmp_path / "frames" / pair["target"], -torch.ones(3, 32, 32))
    suite = tiny_metric_suite("ours", TemplateLandmarks(misses=lambda image: bool(image.max() == 0)))
    metrics, misses = evaluate_mead(pairs, tmp_path / "renders", lambda name: tmp_path / "frames" / name, suite,
                                    batch_size=3, resamples=50)
    paper_keys = ["fid_30", "fid_60", "id_30", "id_60", "lpips_30", "lpips_60"]
    assert sorted(key for key in metrics if ":" not in key) == paper_keys
    assert sorted(key.removesuffix(":authors") for key in metrics if ":" in key) == paper_keys
    assert {metric.computed_as for key, metric in metrics.items() if ":" not in key} == {"ours"}
    assert metrics["lpips_30"].value == pytest.approx(0.0, abs=1e-6) and metrics["lpips_60"].value > 0.01
    assert metrics["id_30"].value == pytest.approx(1.0, abs=1e-5) and metrics["id_60"].value < 0.999
    assert metrics["fid_30"].value == pytest.approx(0.0, abs=1e-4) and metrics["fid_60"].value > 1e-3
    assert metrics["lpips_60"].n == 4 and metrics["fid_60"].stand_in and "left_60/right_60" in metrics["fid_60"].protocol
    # the authors' way resizes a real frame (MATLAB bicubic) unlike a render (pooling), so a copied frame is
    # close but not equal; the two left_60 misses are counted, not averaged
    assert 0 < metrics["lpips_30:authors"].value < metrics["lpips_60:authors"].value
    assert metrics["id_30:authors"].value > metrics["id_60:authors"].value
    assert misses == {"id_30:authors": {"misses": 0, "pairs": 4}, "id_60:authors": {"misses": 2, "pairs": 4}}
    assert metrics["id_60:authors"].n == 2 and metrics["lpips_60:authors"].n == 4
    (tmp_path / "frames" / pairs[0]["target"]).unlink()
    with pytest.raises(PairingError, match="missing MEAD image"):
        evaluate_mead(pairs, tmp_path / "renders", lambda name: tmp_path / "frames" / name, suite, resamples=10)
