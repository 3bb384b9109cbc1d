"""PanoHead camera conventions: the 25-value label, LookAt poses, intrinsics and pose angles (specs/panohead.md §6).

A camera label is ``[cam2world (4×4 row-major, 16 values), K (3×3 row-major, 9 values)]``. cam2world
uses the OpenCV convention (x right, y down, z forward); the world has y up and the face towards +z.
K is normalised by the image size. The pose samplers reproduce the official ``LookAtPoseSampler``,
``GaussianCameraPoseSampler`` and ``UniformCameraPoseSampler`` op for op, including their two random
draws per call (made even when the spread is 0), so a seeded run consumes the RNG as the official
scripts do (§10.1). Pass ``generator`` to draw from an explicit ``torch.Generator`` instead.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np
import torch

LABEL_SIZE = 25
CAM2WORLD = slice(0, 16)
"""Label slots of the row-major 4×4 camera-to-world matrix."""
INTRINSICS = slice(16, 25)
"""Label slots of the row-major normalised 3×3 intrinsics K."""
TRANSLATION_INDICES = (3, 7, 11)
"""Label slots of the camera position (the translation column of cam2world); Δt is added here (§1.5)."""
MIRROR_NEGATED_INDICES = (1, 2, 3, 4, 8)
"""Label slots negated by the x-flip augmentation: cam2world (0,1), (0,2), (0,3), (1,0), (2,0) (§8.1)."""

DATASET_FOCAL = 4.2647
"""Normalised focal length of every dataset label and of the video/projector scripts (§6.1)."""
CAMERA_RADIUS = 2.7
"""Distance of the cameras from the world origin (``avg_camera_radius``)."""
FRONTAL_HORIZONTAL = math.pi / 2
"""The ``horizontal`` angle (radians) of the frontal camera; dataset yaw = horizontal − 90° (§6.2)."""
FRONTAL_VERTICAL = math.pi / 2
"""The ``vertical`` angle (radians) of a level camera; smaller puts the camera higher."""

CANONICAL_YAWS: dict[str, float] = {
    "front": 0.0, "yaw+30": 30.0, "yaw-30": -30.0, "yaw+60": 60.0, "yaw-60": -60.0, "back": 180.0,
}
"""Named evaluation views (degrees of dataset yaw, level): front, ±30°, ±60° (MEAD protocol) and back."""


def _as_batch_column(value: float | torch.Tensor, batch_size: int, device: torch.device) -> torch.Tensor:
    return torch.as_tensor(value, dtype=torch.float32, device=device).reshape(-1, 1).expand(batch_size, 1)


def _normalize(vectors: torch.Tensor) -> torch.Tensor:
    return vectors / torch.norm(vectors, dim=-1, keepdim=True)


def cam2world_from_forward(forward: torch.Tensor, origin: torch.Tensor) -> torch.Tensor:
    """[B,3] viewing directions and [B,3] positions → [B,4,4] OpenCV cam2world with world up +y (§6.2 step 6–7)."""
    forward = _normalize(forward)
    world_up = torch.tensor([0.0, 1.0, 0.0], device=origin.device).expand_as(forward)
    right = -_normalize(torch.cross(world_up, forward, dim=-1))
    up = _normalize(torch.cross(forward, right, dim=-1))
    rotation = torch.eye(4, device=origin.device).unsqueeze(0).repeat(forward.shape[0], 1, 1)
    rotation[:, :3, :3] = torch.stack((right, up, forward), dim=-1)
    translation = torch.eye(4, device=origin.device).unsqueeze(0).repeat(forward.shape[0], 1, 1)
    translation[:, :3, 3] = origin
    return translation @ rotation  # [B,4,4]


def _sample_angles(horizontal: float | torch.Tensor, vertical: float | torch.Tensor, horizontal_stddev: float,
                   vertical_stddev: float, batch_size: int, device: torch.device,
                   generator: torch.Generator | None, uniform: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """Two draws per call, h first then v, as the official samplers do (even with zero spread)."""
    def draw() -> torch.Tensor:
        if uniform:
            return torch.rand((batch_size, 1), device=device, generator=generator) * 2 - 1
        return torch.randn((batch_size, 1), device=device, generator=generator)

    h = draw() * horizontal_stddev + _as_batch_column(horizontal, batch_size, device)
    v = draw() * vertical_stddev + _as_batch_column(vertical, batch_size, device)
    return h, torch.clamp(v, 1e-5, math.pi - 1e-5)


def _origin_on_sphere(h: torch.Tensor, v: torch.Tensor, radius: float) -> torch.Tensor:
    """Camera position around the world origin: φ = arccos(1 − 2v/π), o = r(sinφ cos(π−h), cosφ, sinφ sin(π−h))."""
    phi = torch.arccos(1 - 2 * (v / math.pi))
    origin = torch.zeros((h.shape[0], 3), device=h.device)
    origin[:, 0:1] = radius * torch.sin(phi) * torch.cos(math.pi - h)
    origin[:, 2:3] = radius * torch.sin(phi) * torch.sin(math.pi - h)
    origin[:, 1:2] = radius * torch.cos(phi)
    return origin


def lookat_camera(horizontal: float | torch.Tensor, vertical: float | torch.Tensor, radius: float = CAMERA_RADIUS,
                  lookat: Sequence[float] | torch.Tensor = (0.0, 0.0, 0.0), *, horizontal_stddev: float = 0.0,
                  vertical_stddev: float = 0.0, batch_size: int = 1, device: str | torch.device = "cpu",
                  generator: torch.Generator | None = None) -> torch.Tensor:
    """``LookAtPoseSampler.sample``: [B,4,4] cam2world on a sphere around the origin, looking at ``lookat``."""
    device = torch.device(device)
    h, v = _sample_angles(horizontal, vertical, horizontal_stddev, vertical_stddev, batch_size, device,
                          generator, uniform=False)
    origin = _origin_on_sphere(h, v, radius)
    lookat = torch.as_tensor(lookat, dtype=torch.float32, device=device)
    return cam2world_from_forward(_normalize(lookat - origin), origin)


def gaussian_camera(horizontal: float, vertical: float, radius: float = CAMERA_RADIUS, *,
                    horizontal_stddev: float = 0.0, vertical_stddev: float = 0.0, batch_size: int = 1,
                    device: str | torch.device = "cpu", generator: torch.Generator | None = None) -> torch.Tensor:
    """``GaussianCameraPoseSampler.sample``: Gaussian angles, camera looking at the world origin."""
    device = torch.device(device)
    h, v = _sample_angles(horizontal, vertical, horizontal_stddev, vertical_stddev, batch_size, device,
                          generator, uniform=False)
    origin = _origin_on_sphere(h, v, radius)
    return cam2world_from_forward(_normalize(-origin), origin)


def uniform_camera(horizontal: float, vertical: float, radius: float = CAMERA_RADIUS, *,
                   horizontal_stddev: float = 0.0, vertical_stddev: float = 0.0, batch_size: int = 1,
                   device: str | torch.device = "cpu", generator: torch.Generator | None = None) -> torch.Tensor:
    """``UniformCameraPoseSampler.sample``: angles uniform in mean ± stddev, camera looking at the origin."""
    device = torch.device(device)
    h, v = _sample_angles(horizontal, vertical, horizontal_stddev, vertical_stddev, batch_size, device,
                          generator, uniform=True)
    origin = _origin_on_sphere(h, v, radius)
    return cam2world_from_forward(_normalize(-origin), origin)


def focal_to_intrinsics(focal: float = DATASET_FOCAL, device: str | torch.device = "cpu") -> torch.Tensor:
    """[3,3] normalised K = [[f,0,0.5],[0,f,0.5],[0,0,1]] (§6.1)."""
    return torch.tensor([[focal, 0.0, 0.5], [0.0, focal, 0.5], [0.0, 0.0, 1.0]], device=device)


def fov_to_intrinsics(fov_deg: float, device: str | torch.device = "cpu") -> torch.Tensor:
    """``FOV_to_intrinsics``: f = 1 / (tan(fov·3.14159/360)·1.414), with the code's truncated π and √2 (§6.3)."""
    focal = float(1 / (math.tan(fov_deg * 3.14159 / 360) * 1.414))
    return focal_to_intrinsics(focal, device)


def make_label(cam2world: torch.Tensor, intrinsics: torch.Tensor) -> torch.Tensor:
    """[B,4,4] cam2world and [3,3] or [B,3,3] K → [B,25] camera label."""
    batch = cam2world.shape[0]
    intrinsics = intrinsics.to(cam2world).reshape(-1, 9).expand(batch, 9)
    return torch.cat([cam2world.reshape(batch, 16), intrinsics], dim=1)


def mirror_label(label: torch.Tensor) -> torch.Tensor:
    """The label of the x-flipped image: slots 1, 2, 3, 4, 8 negated (§8.1); yaw changes sign."""
    mirrored = label.clone()
    mirrored[..., list(MIRROR_NEGATED_INDICES)] *= -1
    return mirrored


def _euler_from_world2cam(rotation: np.ndarray) -> tuple[float, float, float]:
    """``matrix2angle`` with PanoHead's back-view fix: (yaw, pitch, roll) in radians."""
    if rotation[2, 0] > 0.998:
        yaw, pitch = math.pi / 2, math.atan2(-rotation[0, 1], -rotation[0, 2])
    elif rotation[2, 0] < -0.998:
        yaw, pitch = -math.pi / 2, math.atan2(rotation[0, 1], rotation[0, 2])
    else:
        yaw = math.asin(rotation[2, 0])
        pitch = math.atan2(rotation[2, 1] / math.cos(yaw), rotation[2, 2] / math.cos(yaw))
    if abs(pitch) > math.pi / 2:  # the camera is behind the head: fold yaw into (90°, 180°]
        yaw = math.pi - yaw if yaw > 0 else -math.pi - yaw
    pitch = math.atan2(rotation[2, 1] / math.cos(yaw), rotation[2, 2] / math.cos(yaw))
    roll = math.atan2(rotation[1, 0] / math.cos(yaw), rotation[0, 0] / math.cos(yaw))
    return yaw, pitch, roll


def pose_angles_from_label(label: torch.Tensor | np.ndarray | Sequence[float]) -> np.ndarray:
    """``get_poseangle``: [25] or [B,25] label → [B,3] (yaw, pitch, roll) in degrees (§8.1)."""
    labels = np.asarray(torch.as_tensor(label, dtype=torch.float64).cpu(), dtype=np.float64).reshape(-1, LABEL_SIZE)
    opencv_to_opengl = np.diag([1.0, -1.0, -1.0, 1.0]).astype(np.float32)
    angles = []
    for row in labels:
        world2cam = np.linalg.inv(row[CAM2WORLD].reshape(4, 4) @ opencv_to_opengl)
        angles.append([math.degrees(angle) for angle in _euler_from_world2cam(world2cam[:3, :3])])
    return np.asarray(angles)


def yaw_pitch_from_label(label: torch.Tensor | np.ndarray | Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    """Dataset yaw and pitch in degrees per ``get_poseangle``; back views have |yaw| ≥ 90°."""
    angles = pose_angles_from_label(label)
    return angles[:, 0], angles[:, 1]


def camera_at_yaw(yaw_deg: float | torch.Tensor, *, vertical: float = FRONTAL_VERTICAL, radius: float = CAMERA_RADIUS,
                  lookat: Sequence[float] = (0.0, 0.0, 0.0), focal: float = DATASET_FOCAL,
                  device: str | torch.device = "cpu", generator: torch.Generator | None = None) -> torch.Tensor:
    """[B,25] label of a LookAt camera at dataset yaw ``yaw_deg`` (h = π/2 + yaw)."""
    yaw = torch.as_tensor(yaw_deg, dtype=torch.float32).reshape(-1)
    horizontal = FRONTAL_HORIZONTAL + torch.deg2rad(yaw)
    cam2world = lookat_camera(horizontal.to(device), vertical, radius, lookat, batch_size=yaw.shape[0],
                              device=device, generator=generator)
    return make_label(cam2world, focal_to_intrinsics(focal, device))


def canonical_cameras(*, radius: float = CAMERA_RADIUS, lookat: Sequence[float] = (0.0, 0.0, 0.0),
                      focal: float = DATASET_FOCAL, device: str | torch.device = "cpu") -> dict[str, torch.Tensor]:
    """Named [1,25] labels of the level views in :data:`CANONICAL_YAWS`."""
    return {name: camera_at_yaw(yaw, radius=radius, lookat=lookat, focal=focal, device=device)
            for name, yaw in CANONICAL_YAWS.items()}


def orbit_cameras(num_frames: int, *, radius: float = CAMERA_RADIUS, lookat: Sequence[float] = (0.0, 0.0, 0.0),
                  focal: float = DATASET_FOCAL, pitch_amplitude: float = 0.5, pitch_offset: float = 0.05,
                  device: str | torch.device = "cpu") -> torch.Tensor:
    """[F,25] labels of the 360° turntable of ``gen_videos.py --cfg Head`` (§6.5), starting at the front.

    Frame k: h = π/2 + 2πk/F, v = π/2 − ``pitch_offset`` + ``pitch_amplitude``·sin(2πk/F); set the
    amplitude and offset to 0 for a level orbit. Uses exact π (the script's 3.14 would not close the loop).
    """
    if num_frames < 1:
        raise ValueError(f"num_frames must be ≥ 1, got {num_frames}")
    turn = 2 * math.pi * torch.arange(num_frames, dtype=torch.float64) / num_frames
    horizontal = (FRONTAL_HORIZONTAL + turn).float().reshape(-1, 1).to(device)
    vertical = (FRONTAL_VERTICAL - pitch_offset + pitch_amplitude * torch.sin(turn)).float().reshape(-1, 1).to(device)
    cam2world = lookat_camera(horizontal, vertical, radius, lookat, batch_size=num_frames, device=device)
    return make_label(cam2world, focal_to_intrinsics(focal, device))
