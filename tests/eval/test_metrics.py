"""Same-view metrics: L2 convention, LPIPS equal to the lpips package, ID invariant to resizing."""

from __future__ import annotations

import warnings

import lpips
import pytest
import torch
import torch.nn.functional as F

from dualinv.encoders.backbone import BackboneConfig
from dualinv.errors import PairingError
from dualinv.eval.metrics import (
    build_metric_networks,
    evaluate_pairs,
    l2_per_image,
    paired_files,
    per_image_metrics,
)
from dualinv.fileio import save_image
from dualinv.models.inversion import timed_per_image

TINY_ARCFACE = BackboneConfig(units_per_stage=(1, 1, 1, 1), width=0.125)


@pytest.fixture(scope="module")
def networks():
    return build_metric_networks(seed=7, backbone=TINY_ARCFACE)


def _images(seed: int, count: int = 3, side: int = 256) -> torch.Tensor:
    return torch.rand(count, 3, side, side, generator=torch.Generator().manual_seed(seed)) * 2 - 1


def test_l2_is_mse_on_zero_one_pixels():
    targets = _images(0).clamp(-0.7, 0.7)
    # +0.2 on [-1, 1] is +0.1 on [0, 1]: MSE 0.01 exactly.
    assert torch.allclose(l2_per_image(targets + 0.2, targets), torch.full((3,), 0.01), atol=1e-7)
    # 512 inputs are average-pooled to 256: a 2x2-constant image pools to itself.
    big = targets.repeat_interleave(2, dim=2).repeat_interleave(2, dim=3)
    assert torch.allclose(l2_per_image(big + 0.2, targets), torch.full((3,), 0.01), atol=1e-6)


def test_lpips_equals_the_lpips_package_with_the_same_trunk(networks):
    renders, targets = _images(1), _images(2)
    with warnings.catch_warnings(), torch.random.fork_rng(devices=[]):
        warnings.simplefilter("ignore", UserWarning)
        torch.manual_seed(7)  # the seeded stand-in trunk: same seed, same weights
        reference = lpips.LPIPS(net="alex", pnet_rand=True, verbose=False).eval()
    with torch.no_grad():
        expected = reference(renders, targets).reshape(-1)
    assert torch.allclose(networks.lpips(renders, targets), expected, atol=1e-6)
    assert expected.min() > 0


def test_identical_inputs_score_perfectly(networks):
    images = _images(3)
    scores = per_image_metrics(images, images.clone(), networks)
    assert torch.equal(scores["l2"], torch.zeros(3))
    assert torch.allclose(scores["lpips"], torch.zeros(3), atol=1e-7)
    assert torch.allclose(scores["id"], torch.ones(3), atol=1e-5)


def test_identity_is_invariant_to_the_input_being_resized(networks):
    renders, targets = _images(4, side=256), _images(5, side=256)
    # Upsampling by pixel repetition then the shared face crop's average-pool to 256 gives the same input.
    def upsample(x):
        return x.repeat_interleave(2, dim=2).repeat_interleave(2, dim=3)

    at_256 = networks.identity(renders, targets)
    assert torch.allclose(networks.identity(upsample(renders), upsample(targets)), at_256, atol=1e-5)
    assert torch.allclose(networks.identity(upsample(renders), targets), at_256, atol=1e-5)
    assert (at_256 < 0.999).all()


def _smooth_images(seed: int, count: int = 4) -> torch.Tensor:
    """[count, 3, 256, 256] with detail down to ~8 px (a 32² random field, bicubic-upsampled): face-like
    frequency content, unlike white noise, which no resampler preserves."""
    coarse = torch.rand(count, 3, 32, 32, generator=torch.Generator().manual_seed(seed)) * 2 - 1
    return F.interpolate(coarse, size=256, mode="bicubic", align_corners=False).clamp(-1, 1)


# Largest |ΔID| measured for these seeded inputs and the stand-in ArcFace (seed 7), resized then pooled back
# to 256 by the face crop: bicubic 512 3.0e-4, bilinear 512 3.7e-3, bicubic 371 3.1e-3, bilinear 371 6.4e-3.
# White noise instead moves ID by up to 0.13, so the inputs matter. Tolerances: about 3x the measurement for
# the 2x bicubic, and 0.01 (one unit of the paper's printed ID precision) for the bilinear and odd sizes.
@pytest.mark.parametrize("mode, side, tolerance", [("bicubic", 512, 1e-3), ("bilinear", 512, 1e-2),
                                                   ("bicubic", 371, 1e-2), ("bilinear", 371, 1e-2)])
def test_identity_is_invariant_to_an_interpolating_resize(networks, mode, side, tolerance):
    renders, targets = _smooth_images(8), _smooth_images(9)
    def resize(x):
        return F.interpolate(x, size=side, mode=mode, align_corners=False)

    at_256 = networks.identity(renders, targets)
    assert (at_256 < 1 - 50 * tolerance).all()  # distinct images score far from 1: a resize is no identity change
    assert torch.allclose(networks.identity(resize(renders), resize(targets)), at_256, atol=tolerance, rtol=0)
    assert torch.allclose(networks.identity(resize(renders), targets), at_256, atol=tolerance, rtol=0)
    assert (networks.identity(resize(renders), renders) > 1 - tolerance).all()


def test_evaluate_pairs_from_folders(tmp_path, networks):
    renders, targets = _images(6, count=4, side=64), _images(7, count=4, side=64)
    for index in range(4):
        save_image(tmp_path / "renders" / f"{index}.png", renders[index])
        save_image(tmp_path / "targets" / f"{index}.png", targets[index])
    pairs = paired_files(tmp_path / "renders", tmp_path / "targets")
    assert [render.name for render, _ in pairs] == ["0.png", "1.png", "2.png", "3.png"]
    metrics = evaluate_pairs(pairs, networks, batch_size=3, resamples=100)
    assert metrics["l2"].n == 4 and metrics["lpips"].stand_in and not metrics["l2"].stand_in
    assert metrics["l2"].ci95[0] <= metrics["l2"].value <= metrics["l2"].ci95[1]
    (tmp_path / "targets" / "3.png").unlink()
    with pytest.raises(PairingError, match="no counterpart"):
        paired_files(tmp_path / "renders", tmp_path / "targets")


def test_timed_per_image_divides_by_the_batch():
    result, seconds = timed_per_image(lambda: sum(range(10)), batch_size=4)
    assert result == 45 and 0 <= seconds < 1
