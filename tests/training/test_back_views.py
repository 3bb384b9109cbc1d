import numpy as np
import pytest
import torch

from dualinv.camera import yaw_pitch_from_label
from dualinv.training.back_views import back_view_cameras, sample_back_view_yaws


def test_back_view_cameras_lie_behind_the_head_by_panoheads_yaw():
    labels = back_view_cameras(4000, torch.Generator().manual_seed(0))
    yaw, _ = yaw_pitch_from_label(labels)
    assert np.all(np.abs(yaw) >= 90.0 - 1e-3) and np.all(np.abs(yaw) <= 180.0 + 1e-3)
    position = labels[:, :16].reshape(-1, 4, 4)[:, :3, 3]
    assert torch.all(position[:, 2] <= 1e-4)  # PanoHead's back hemisphere: camera z < 0
    assert torch.allclose(position[:, 1], torch.zeros(len(labels)), atol=1e-5)  # level views
    # both sides, and the whole band [90, 180] is reached
    assert (yaw > 0).mean() == pytest.approx(0.5, abs=0.03)
    magnitudes = np.abs(yaw)
    assert magnitudes.min() < 92.0 and magnitudes.max() > 178.0
    counts, _ = np.histogram(magnitudes, bins=9, range=(90.0, 180.0))
    assert counts.min() > 0.7 * counts.mean()  # uniform in magnitude


def test_back_view_yaws_honour_a_narrower_band_and_are_seeded():
    yaws = sample_back_view_yaws(1000, torch.Generator().manual_seed(3), min_yaw_deg=135.0)
    assert torch.all(yaws.abs() >= 135.0) and torch.all(yaws.abs() <= 180.0)
    again = sample_back_view_yaws(1000, torch.Generator().manual_seed(3), min_yaw_deg=135.0)
    assert torch.equal(yaws, again)
    with pytest.raises(ValueError, match="min_yaw_deg"):
        sample_back_view_yaws(2, torch.Generator(), min_yaw_deg=200.0)
