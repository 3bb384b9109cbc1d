"""Ground-truth 360° protocol (issue 14; beyond the paper's ±60°): invert the front view of generator
samples and compare the inversion's renders with the generator's own renders all around the head.

An *inverter* is any callable ``image [B,3,S,S] in [-1,1], camera [B,25] -> (trigrid, ws)``, so the
protocol runs unchanged on the demo generator and on the released PanoHead. Per yaw it reports the
image L2 (MSE in [-1,1]) and the depth error (mean |Δ ray distance| over the union of both
foreground masks); perceptual and identity metrics are added by the caller where weights exist.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

from dualinv.demo_generator import yaw_cameras

GT360_YAWS = (0, 30, -30, 60, -60, 90, -90, 120, -120, 150, -150, 180)
"""Yaw angles (degrees, 0 = front) of the ground-truth comparison."""

InvertFunction = Callable[[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]]


@torch.no_grad()
def gt360_errors(generator, invert: InvertFunction, z: torch.Tensor, yaws: Sequence[float] = GT360_YAWS,
                 truncation_psi: float = 0.7, seed: int = 0) -> dict[float, dict[str, float]]:
    """Mean image L2 and depth error per yaw of ``invert`` on the heads of latents ``z [B,z_dim]``.

    Both renders of a view use the same seeded ray jitter, so an exact inversion scores zero.
    """

    cameras = yaw_cameras(yaws).to(z.device)
    batch = z.shape[0]
    front = cameras[:1].expand(batch, -1)
    ws_true = generator.mapping(z, front, truncation_psi=truncation_psi)
    trigrid_true = generator.synthesize_trigrid(ws_true, noise_mode="const")
    target_front = generator.render_trigrid(trigrid_true, ws_true, front, noise_mode="const")["image"]
    trigrid_inv, ws_inv = invert(target_front, front)
    errors: dict[float, dict[str, float]] = {}
    for index, yaw in enumerate(yaws):
        camera = cameras[index:index + 1].expand(batch, -1)
        truth = generator.render_trigrid(trigrid_true, ws_true, camera, noise_mode="const",
                                         generator=torch.Generator(z.device).manual_seed(seed + index))
        guess = generator.render_trigrid(trigrid_inv, ws_inv, camera, noise_mode="const",
                                         generator=torch.Generator(z.device).manual_seed(seed + index))
        foreground = ((truth["image_mask"] > 0.5) | (guess["image_mask"] > 0.5)).float()
        depth_error = ((truth["image_depth"] - guess["image_depth"]).abs() * foreground).sum() / foreground.sum().clamp(min=1)
        errors[float(yaw)] = {"l2": float((truth["image"] - guess["image"]).square().mean()), "depth": float(depth_error)}
    return errors
