"""Both metric protocols of one evaluation: which lands under the paper's keys, what the authors' way computes,
and how MTCNN misses are counted."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from dualinv.eval.authors_protocol import downscale_real_images
from dualinv.eval.metrics import l2_per_image
from dualinv.eval.protocols import authors_real_images, evaluate_pairs_both
from dualinv.fileio import load_image, save_image
from tests.eval.standins import TemplateLandmarks, tiny_metric_suite


def _pairs(tmp_path, count=3, side=512, black=()):
    """Sharp random 512² real images (2×2 blocks, where bicubic and box downscaling differ most), renders = the
    real image plus noise; the ``black`` ones are all black."""
    generator = torch.Generator().manual_seed(0)
    pairs = []
    for index in range(count):
        coarse = torch.rand(3, side // 2, side // 2, generator=generator) * 2 - 1
        real = F.interpolate(coarse[None], size=(side, side), mode="nearest")[0]
        if index in black:
            real = -torch.ones_like(real)
        render = (real + 0.2 * torch.randn(real.shape, generator=generator)).clamp(-1, 1)
        pair = (tmp_path / "renders" / f"{index}.png", tmp_path / "real" / f"{index}.png")
        save_image(pair[0], render)
        save_image(pair[1], real)
        pairs.append(pair)
    return pairs


def _authors_l2(render_path, real_path):
    """The authors' L2 recomputed from its parts: real ×2 MATLAB-bicubic down and rounded to 8 bits, the render
    2×2-averaged (512 → 256), MSE on [0, 1]."""
    real = downscale_real_images(load_image(real_path)[None].double(), 2)
    real = ((real + 1) * 127.5).round().clamp(0, 255) / 255
    render = (F.avg_pool2d(load_image(render_path)[None].double(), 2) + 1) / 2
    return float((render - real).pow(2).mean())


def test_the_protocol_switch_chooses_what_lands_under_the_paper_keys(tmp_path):
    pairs = _pairs(tmp_path)
    authors_l2 = sum(_authors_l2(*pair) for pair in pairs) / len(pairs)
    ours_l2 = float(torch.cat([l2_per_image(load_image(r)[None], load_image(t)[None]) for r, t in pairs]).mean())
    assert abs(authors_l2 - ours_l2) > 0.01 * ours_l2  # the two ways differ here, so the switch is visible

    by_authors, _ = evaluate_pairs_both(pairs, tiny_metric_suite("authors"), resamples=20)
    by_ours, _ = evaluate_pairs_both(pairs, tiny_metric_suite("ours"), resamples=20)
    assert set(by_authors) == {"l2", "lpips", "id", "l2:ours", "lpips:ours", "id:ours"}
    assert set(by_ours) == {"l2", "lpips", "id", "l2:authors", "lpips:authors", "id:authors"}
    # float32 here, float64 above: a few 8-bit roundings of the real image may fall the other way
    assert by_authors["l2"].value == pytest.approx(authors_l2, rel=1e-3)
    assert by_ours["l2"].value == pytest.approx(ours_l2, rel=1e-5)
    assert by_ours["l2:authors"].value == by_authors["l2"].value and by_authors["l2:ours"].value == by_ours["l2"].value
    assert {value.computed_as for key, value in by_authors.items() if ":" not in key} == {"authors"}
    assert {value.computed_as for key, value in by_authors.items() if ":" in key} == {"ours"}
    for key in ("lpips", "id"):
        assert by_authors[key].value == pytest.approx(by_ours[f"{key}:authors"].value)
        assert by_ours[key].value == pytest.approx(by_authors[f"{key}:ours"].value)
        assert by_authors[key].stand_in and by_ours[key].stand_in  # seeded stand-in networks (mini preset)
    assert not by_authors["l2"].stand_in


def test_the_authors_lpips_reads_the_unrescaled_zero_one_images_at_256(tmp_path):
    pairs = _pairs(tmp_path, count=2)
    suite = tiny_metric_suite("authors")
    metrics, _ = evaluate_pairs_both(pairs, suite, resamples=20)
    values = []
    for render_path, real_path in pairs:
        real = (authors_real_images(load_image(real_path)[None]) + 1) / 2
        render = (F.avg_pool2d(load_image(render_path)[None], 2) + 1) / 2
        with torch.no_grad():
            values.append(float(suite.authors.lpips(render, real)))
    assert metrics["lpips"].value == pytest.approx(sum(values) / len(values), rel=1e-5)
    assert metrics["lpips"].value != pytest.approx(metrics["lpips:ours"].value, rel=1e-3)


def test_faces_mtcnn_misses_are_left_out_and_counted(tmp_path):
    pairs = _pairs(tmp_path, count=4, black=(1, 3))
    misses_black = TemplateLandmarks(misses=lambda image: bool(image.max() == 0))
    metrics, misses = evaluate_pairs_both(pairs, tiny_metric_suite("authors", misses_black), resamples=20)
    assert misses == {"id": {"misses": 2, "pairs": 4}}
    assert metrics["id"].n == 2 and metrics["id:ours"].n == 4 and metrics["l2"].n == 4
    found_only, _ = evaluate_pairs_both([pairs[0], pairs[2]], tiny_metric_suite("authors", misses_black), resamples=20)
    assert metrics["id"].value == pytest.approx(found_only["id"].value)  # the mean over the found pairs

    # every face missed: no authors' ID at all (never a made-up number), the count says why; keyed beside ours
    nothing = TemplateLandmarks(misses=lambda image: True)
    metrics, misses = evaluate_pairs_both(pairs, tiny_metric_suite("ours", nothing), resamples=20)
    assert "id:authors" not in metrics and "id" in metrics
    assert misses == {"id:authors": {"misses": 4, "pairs": 4}}


def test_the_mini_stand_ins_are_tiny_and_marked(tmp_path):
    suite = tiny_metric_suite("authors")
    weights = sum(parameter.numel() for parameter in suite.authors.face_network.parameters())
    assert weights < 2_000_000  # not a 65 M-weight IR-101
    assert suite.stand_in_flags() == {"lpips_alex": True, "ir_se50": True, "curricularface": True, "inception": True}
    assert suite.fid_ours.mode == "clean" and suite.fid_authors.mode == "legacy_tensorflow"
