"""Cameras of the back-view image discriminator (Table 3 row "D w image domain", paper A.1).

A.1 calls the ablation's discriminator a "back-view image discriminator"; §5.2 says it judges "novel
images generated using randomly sampled camera parameters". PanoHead's convention fixes what "back"
means: a label's dataset yaw (``get_poseangle``, :func:`dualinv.camera.yaw_pitch_from_label`) is a
back view when |yaw| ≥ 90°, i.e. the camera sits behind the head (z < 0); its training set repeats
exactly those images (``--min_yaw 0 --max_yaw 180 --back_repeat 4``, |yaw| ∈ [max(90, min_yaw), max_yaw]).

The sampler draws the yaw magnitude uniformly in [``min_yaw_deg``, 180°] with a random side, at the
level pitch of the canonical cameras, radius 2.7 and focal 4.2647. The paper gives no pitch rule, so
the views are level; the default ``min_yaw_deg`` = 90° is PanoHead's back/front boundary.
"""

from __future__ import annotations

import torch

from dualinv.camera import camera_at_yaw
from dualinv.seeding import uniform

BACK_VIEW_MIN_YAW_DEG = 90.0
"""PanoHead's back-view boundary: |dataset yaw| ≥ 90° (specs/panohead.md §6.2 and §8.1)."""
BACK_VIEW_MAX_YAW_DEG = 180.0
"""The view straight behind the head."""


def sample_back_view_yaws(batch: int, generator: torch.Generator, *,
                          min_yaw_deg: float = BACK_VIEW_MIN_YAW_DEG) -> torch.Tensor:
    """[batch] dataset yaws in degrees with |yaw| uniform in [``min_yaw_deg``, 180°] and a random side.

    The draws come from ``generator`` alone (two uniform draws per sample: magnitude, then side), so
    the ablation's views are a pure function of the training seed and step.
    """
    if not 0.0 <= min_yaw_deg <= BACK_VIEW_MAX_YAW_DEG:
        raise ValueError(f"min_yaw_deg must lie in [0, 180], got {min_yaw_deg}")
    device = generator.device
    magnitude = min_yaw_deg + uniform((batch,), generator, device=device) * (BACK_VIEW_MAX_YAW_DEG - min_yaw_deg)
    side = torch.where(uniform((batch,), generator, device=device) < 0.5, -1.0, 1.0)
    return magnitude * side


def back_view_cameras(batch: int, generator: torch.Generator, *, min_yaw_deg: float = BACK_VIEW_MIN_YAW_DEG,
                      device: str | torch.device = "cpu") -> torch.Tensor:
    """[batch,25] level LookAt labels at back-view yaws (:func:`sample_back_view_yaws`)."""
    yaws = sample_back_view_yaws(batch, generator, min_yaw_deg=min_yaw_deg)
    return camera_at_yaw(yaws.cpu(), device=device)
