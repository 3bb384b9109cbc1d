"""The pure-PyTorch StyleGAN2 ops against independent computations (specs/panohead.md §2.3–§2.4)."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.signal
import torch
import torch.nn.functional as F

from dualinv.panohead.ops import bias_act, modulated_conv2d, setup_filter, upsample2d


def test_filter_is_the_binomial_outer_product():
    expected = np.outer([1, 3, 3, 1], [1, 3, 3, 1]) / 64
    assert np.allclose(setup_filter().numpy(), expected)


def test_upsample2d_matches_scipy_upfirdn():
    # §2.3: zero insertion, pad (2,1), gain 4 == the full 1-D upfirdn with taps [1,3,3,1]/4 on
    # each axis, keeping samples 1 … 2n of the 2n+2 outputs.
    x = torch.randn(2, 3, 5, 7, dtype=torch.float64)
    taps = np.array([1, 3, 3, 1]) / 4
    rows = scipy.signal.upfirdn(taps, x.numpy(), up=2, axis=2)[:, :, 1 : 2 * 5 + 1]
    expected = scipy.signal.upfirdn(taps, rows, up=2, axis=3)[:, :, :, 1 : 2 * 7 + 1]
    actual = upsample2d(x, setup_filter().double())
    assert actual.shape == (2, 3, 10, 14)
    assert np.allclose(actual.numpy(), expected, atol=1e-12)


def test_bias_act_lrelu_gain_and_clamp():
    x = torch.tensor([[-1.0, 2.0, 300.0]]).reshape(1, 3, 1)
    out = bias_act(x, torch.tensor([0.0, 1.0, 0.0]), "lrelu", clamp=256)
    root2 = 2**0.5
    assert torch.allclose(out.flatten(), torch.tensor([-0.2 * root2, 3 * root2, 256.0]))


@pytest.mark.parametrize("up", [1, 2])
@pytest.mark.parametrize("demodulate", [True, False])
def test_modulated_conv_fused_equals_non_fused(up, demodulate):
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(3, 4, 6, 6, generator=generator, dtype=torch.float64)
    weight = torch.randn(5, 4, 3, 3, generator=generator, dtype=torch.float64)
    styles = torch.randn(3, 4, generator=generator, dtype=torch.float64)
    noise = torch.randn(3, 1, 6 * up, 6 * up, generator=generator, dtype=torch.float64)
    f = setup_filter().double()
    kwargs = dict(noise=noise, up=up, demodulate=demodulate, resample_filter=f)
    fused = modulated_conv2d(x, weight, styles, fused=True, **kwargs)
    separate = modulated_conv2d(x, weight, styles, fused=False, **kwargs)
    assert fused.shape == (3, 5, 6 * up, 6 * up)
    assert torch.allclose(fused, separate, atol=1e-10)


def test_modulated_conv_demodulation_is_per_sample_weight_normalisation():
    # Independent form of §2.4 with up=1: per-sample conv with w_n = W·s_n / ||W·s_n||.
    generator = torch.Generator().manual_seed(1)
    x = torch.randn(2, 3, 5, 5, generator=generator, dtype=torch.float64)
    weight = torch.randn(4, 3, 3, 3, generator=generator, dtype=torch.float64)
    styles = torch.randn(2, 3, generator=generator, dtype=torch.float64)
    expected = []
    for n in range(2):
        w_n = weight * styles[n].reshape(1, 3, 1, 1)
        w_n = w_n / (w_n.square().sum(dim=[1, 2, 3], keepdim=True) + 1e-8).sqrt()
        expected.append(F.conv2d(x[n : n + 1], w_n, padding=1))
    assert torch.allclose(modulated_conv2d(x, weight, styles), torch.cat(expected), atol=1e-10)
