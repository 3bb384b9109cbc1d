"""The demo generator: a CPU-sized PanoHead whose weights render textured 3D heads (issue 14).

The architecture is exactly :meth:`PanoHeadConfig.mini` (tri-grid 32², depth 3, 12 + 12 samples,
16² neural rendering, 2× super-resolution). Its weights are made here, deterministically from a
seed, with no download:

* the parts after the tri-grid are set in closed form: the OSG decoder turns feature channel 0/1
  (head ellipsoid / neck cylinder "insideness") into a raw density that crosses PanoHead's σ = 10
  iso-level on the surface, and passes channels 2-4 through as colour; the raw ToRGB picks those
  channels, the super-resolution and background ToRGBs are zeroed so the final image is the
  upsampled raw render on a grey background, and the Δt camera offset and camera conditioning are off;
* the backbone (mapping + synthesis) is fitted by regression, ``z`` → the closed-form tri-grid of
  a procedural head whose shape (head width/height/depth) and colours (skin, hair) are functions of
  the first ``z`` coordinates (:func:`head_parameters`), with a face (eyes, brows, nose, mouth) on the
  front (+z) and hair on the back and top.

``python -m dualinv.demo_generator --out FILE`` writes the fitted state dict (weights only, about
11 MB). These are demonstration weights, not a model of real faces. Status: 600 single-thread steps
(6.5 min on a loaded 2-core machine) reach a tri-grid MSE of 0.038, which renders blurred,
semi-transparent heads; the fit needs more steps before it meets issue 14's opacity and face tests.
"""

from __future__ import annotations

import argparse
import hashlib
import math
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from dualinv.camera import FRONTAL_HORIZONTAL, FRONTAL_VERTICAL, focal_to_intrinsics, gaussian_camera, make_label
from dualinv.errors import CheckpointError
from dualinv.panohead.config import PanoHeadConfig
from dualinv.panohead.generator import PanoHeadGenerator
from dualinv.panohead.trigrid import TRIGRID_FEATURES
from dualinv.standin import build_seeded
from dualinv.views import colorize_depth, contact_sheet, depth_range, write_png

DEMO_WEIGHTS = Path(__file__).resolve().parent / "assets" / "demo_generator.pt"
"""The shipped, fitted state dict (rebuilt by :func:`fit_demo_generator`)."""

SURFACE_SIGMA = 10.0
"""Raw density on the head surface: PanoHead's own mesh iso-level."""

_DENSITY_SLOPE = 20.0  # softplus slope on the insideness g
_DENSITY_OFFSET = 10.0  # raw density far outside (-10: empty space)
_DENSITY_SCALE = (SURFACE_SIGMA + _DENSITY_OFFSET) / math.log(2.0)  # sigma(g = 0) = SURFACE_SIGMA
_COLOUR_SHIFT = 4.0  # softplus(x + 4) - 4 ~ x on [-1, 1]
_INSIDE_CLAMP = (-3.0, 3.0)  # per-plane clamp of the insideness terms (keeps the regression target bounded)
_NECK_RADIUS = 0.12
_NECK_Z = -0.02
_HEAD_Y = 0.06  # head centre height (world units; the tri-grid box spans [-0.5, 0.5]^3)


@dataclass(frozen=True)
class HeadParameters:
    """One procedural identity: ellipsoid semi-axes (x, y, z) and skin / hair colours in [-1, 1]."""

    axes: torch.Tensor  # [B,3]
    skin: torch.Tensor  # [B,3]
    hair: torch.Tensor  # [B,3]


def head_parameters(z: torch.Tensor) -> HeadParameters:
    """Identity of latent ``z [B,z_dim]`` from its first nine coordinates (shape 0-2, skin 3-5, hair 6-8)."""
    t = torch.tanh(z[:, :9] / 1.5)
    axes = torch.stack([0.26 + 0.03 * t[:, 0], 0.31 + 0.03 * t[:, 1], 0.30 + 0.03 * t[:, 2]], 1)
    skin = torch.tensor([0.75, 0.35, 0.15]) + torch.stack([0.2 * t[:, 3], 0.2 * t[:, 3] + 0.1 * t[:, 4], 0.2 * t[:, 3] + 0.1 * t[:, 5]], 1)
    hair = torch.tensor([-0.45, -0.6, -0.7]) + 0.45 * t[:, 6:9] + torch.tensor([0.35, 0.25, 0.1]) * t[:, 6:7]
    return HeadParameters(axes=axes, skin=skin.clamp(-1, 1), hair=hair.clamp(-1, 1))


def _plane_coordinates(size: int) -> torch.Tensor:
    """World coordinates of the pixel centres of a ``size``² plane spanning [-0.5, 0.5] (align_corners=False)."""
    return (torch.arange(size, dtype=torch.float32) + 0.5) / size - 0.5


def _gauss(u: torch.Tensor, v: torch.Tensor, cu: float, cv: float, su: float, sv: float) -> torch.Tensor:
    return torch.exp(-(((u - cu) / su) ** 2) - ((v - cv) / sv) ** 2)


def head_trigrid(params: HeadParameters, size: int = 32, depth: int = 3) -> torch.Tensor:
    """The closed-form tri-grid ``[B,3,D*32,H,W]`` of procedural heads (channel index ``c*D + d``).

    Insideness g = 1 - Σ(axis/semi-axis)² is split so each axis appears on its two planes with
    weight 1.5 (the decoder averages the 3 planes); colour = skin + (hair - skin)·hair_mask(y, z)
    from the YZ plane + face details on the front depth slice of the XY plane.
    """
    batch = params.axes.shape[0]
    s = _plane_coordinates(size)
    v_grid, u_grid = torch.meshgrid(s, s, indexing="ij")  # rows index v (H), columns u (W)
    a, b, c = (params.axes[:, i].view(batch, 1, 1) for i in range(3))
    feats = torch.zeros(batch, 3, TRIGRID_FEATURES, depth, size, size)
    lo, hi = _INSIDE_CLAMP
    # plane 0: XY (u = x, v = y, depth along z); plane 1: XZ (u = x, v = z); plane 2: YZ (u = y, v = z)
    x0, y0 = u_grid, v_grid - _HEAD_Y
    feats[:, 0, 0] = (1 - 1.5 * ((x0 / a) ** 2 + (y0 / b) ** 2)).clamp(lo, hi).unsqueeze(1)
    feats[:, 1, 0] = (1 - 1.5 * ((u_grid / a) ** 2 + (v_grid / c) ** 2)).clamp(lo, hi).unsqueeze(1)
    feats[:, 2, 0] = (1 - 1.5 * (((u_grid - _HEAD_Y) / b) ** 2 + (v_grid / c) ** 2)).clamp(lo, hi).unsqueeze(1)
    # neck: 1 - (x² + (z - zn)²)/r² - gate(y), y below the head centre
    r2 = _NECK_RADIUS**2
    feats[:, 0, 1] = (-3 * u_grid**2 / r2).clamp(lo, hi).expand(batch, size, size).unsqueeze(1)
    feats[:, 1, 1] = (-3 * (v_grid - _NECK_Z) ** 2 / r2).clamp(lo, hi).expand(batch, size, size).unsqueeze(1)
    gate = torch.sigmoid((u_grid - (_HEAD_Y - 0.1)) / 0.03) * 6  # YZ plane: u = y
    feats[:, 2, 1] = (3 * (1 - gate)).clamp(lo, hi).expand(batch, size, size).unsqueeze(1)
    # nose: a density bump on the front slice of the XY plane
    nose = _gauss(u_grid, v_grid, 0.0, _HEAD_Y - 0.02, 0.035, 0.06)
    feats[:, 0, 0, depth - 1] += 3 * 0.45 * nose
    # colour: skin everywhere (XY plane), hair mask on the YZ plane (back and top)
    skin = params.skin.view(batch, 3, 1, 1, 1)
    hair = params.hair.view(batch, 3, 1, 1, 1)
    y_yz, z_yz = u_grid - _HEAD_Y, v_grid  # YZ plane
    hairline_z = 0.0 + 3.0 * (y_yz - 0.1).clamp(min=0)  # behind the ears, and over the whole top
    hair_mask = torch.sigmoid((hairline_z - z_yz) / 0.025) * torch.sigmoid((y_yz + 0.07) / 0.03)
    feats[:, 0, 2:5] = 3 * skin.expand(batch, 3, depth, size, size)
    feats[:, 2, 2:5] = 3 * (hair - skin) * hair_mask.view(1, 1, 1, size, size)
    # face details on the front slice of the XY plane
    x, y = u_grid, v_grid - _HEAD_Y
    eyes = _gauss(x, y, -0.085, 0.04, 0.045, 0.028) + _gauss(x, y, 0.085, 0.04, 0.045, 0.028)
    pupils = _gauss(x, y, -0.085, 0.04, 0.022, 0.022) + _gauss(x, y, 0.085, 0.04, 0.022, 0.022)
    brows = _gauss(x, y, -0.085, 0.09, 0.045, 0.012) + _gauss(x, y, 0.085, 0.09, 0.045, 0.012)
    mouth = _gauss(x, y, 0.0, -0.12, 0.075, 0.025)
    front = feats[:, 0, 2:5, depth - 1]
    white = torch.tensor([0.9, 0.9, 0.9]).view(1, 3, 1, 1)
    dark = torch.tensor([-0.9, -0.9, -0.8]).view(1, 3, 1, 1)
    lips = torch.tensor([0.55, -0.55, -0.45]).view(1, 3, 1, 1)
    skin2 = params.skin.view(batch, 3, 1, 1)
    hair2 = params.hair.view(batch, 3, 1, 1)
    front += 3 * eyes.clamp(max=1) * (white - skin2)
    front += 3 * pupils.clamp(max=1) * (dark - white)
    front += 3 * brows.clamp(max=1) * (hair2 - skin2)
    front += 3 * mouth.clamp(max=1) * (lips - skin2)
    front -= 3 * 0.25 * nose.clamp(max=1) * (skin2 - torch.tensor([0.6, 0.2, 0.05]).view(1, 3, 1, 1))
    feats[:, 0, 2:5, depth - 1] = front
    return feats.reshape(batch, 3, TRIGRID_FEATURES * depth, size, size)


def _set_fc(layer, weight: torch.Tensor, bias: torch.Tensor) -> None:
    """Give a FullyConnectedLayer the *effective* weight/bias (undoing its gains)."""
    layer.weight.copy_(weight / layer.weight_gain)
    layer.bias.copy_(bias / layer.bias_gain)


@torch.no_grad()
def _set_closed_form_parts(generator: PanoHeadGenerator) -> None:
    """Decoder, raw ToRGB, super-resolution, background, Δt and camera conditioning in closed form."""
    hidden = generator.decoder.hidden_dim
    fc1, fc2 = generator.decoder.net[0], generator.decoder.net[2]
    w1 = torch.zeros(hidden, TRIGRID_FEATURES)
    b1 = torch.full((hidden,), -30.0)  # unused hidden units: softplus(-30) ~ 0
    w1[0, 0] = w1[1, 1] = _DENSITY_SLOPE
    b1[0] = b1[1] = 0.0
    for k in range(3):
        w1[2 + k, 2 + k] = 1.0
        b1[2 + k] = _COLOUR_SHIFT
    _set_fc(fc1, w1, b1)
    w2 = torch.zeros(1 + TRIGRID_FEATURES, hidden)
    b2 = torch.zeros(1 + TRIGRID_FEATURES)
    w2[0, 0] = w2[0, 1] = _DENSITY_SCALE
    b2[0] = -_DENSITY_OFFSET
    for k in range(3):
        w2[1 + k, 2 + k] = 1.0
        b2[1 + k] = -_COLOUR_SHIFT
    _set_fc(fc2, w2, b2)
    # raw ToRGB: styles = affine(w)·gain with affine weight 0, bias 1 -> constant; pick channels 0-2
    torgb = generator.torgb
    torgb.affine.weight.zero_()
    torgb.affine.bias.fill_(1.0)
    torgb.weight.zero_()
    torgb.weight[:, :3, 0, 0] = torch.eye(3) / torgb.weight_gain
    torgb.bias.zero_()
    for block in (generator.superresolution.block0, generator.superresolution.block1):
        block.torgb.weight.zero_()
        block.torgb.bias.zero_()
    if generator.bcg_synthesis is not None:  # background = 0 (mid grey) feature image
        for name, module in generator.bcg_synthesis.named_modules():
            if name.endswith("torgb"):
                module.weight.zero_()
                module.bias.zero_()
    last = [m for m in generator.t_mapping.modules() if hasattr(m, "weight_gain")][-1]
    last.weight.zero_()
    last.bias.zero_()
    embed = getattr(generator.backbone.mapping, "embed", None)
    if embed is not None:  # camera conditioning off: identities do not change with the camera
        embed.weight.zero_()
        embed.bias.zero_()


def closed_form_generator(seed: int = 0) -> PanoHeadGenerator:
    """The mini PanoHead with the closed-form tail set (backbone still seeded random), eval and frozen.

    Rendering :func:`head_trigrid` through it shows the procedural heads the backbone is fitted to.
    """

    generator = build_seeded(lambda: PanoHeadGenerator(PanoHeadConfig.mini()), seed)
    _set_closed_form_parts(generator)
    return generator.eval().requires_grad_(False)


def fit_demo_generator(seed: int = 0, steps: int = 600, batch_size: int = 8, progress: bool = True) -> tuple[PanoHeadGenerator, dict]:
    """Build the demo generator: closed-form heads/decoder, backbone regressed onto :func:`head_trigrid`.

    Returns the generator (eval, frozen) and a summary (fit seconds, final tri-grid MSE).
    """

    config = PanoHeadConfig.mini()
    generator = build_seeded(lambda: PanoHeadGenerator(config), seed)
    _set_closed_form_parts(generator)
    backbone = generator.backbone
    with torch.no_grad():  # no per-pixel noise: the tri-grid is the same in 'const' and 'random' noise modes
        for name, parameter in backbone.named_parameters():
            if name.endswith("noise_strength"):
                parameter.zero_()
    params = [p for name, p in backbone.named_parameters() if not name.endswith("noise_strength")]
    optimiser = torch.optim.Adam(params, lr=3e-3, betas=(0.0, 0.99))
    rng = torch.Generator().manual_seed(seed + 1)
    camera = torch.zeros(batch_size, 25)
    size, depth = config.rendering.triplane_size, config.rendering.triplane_depth
    start = time.time()
    iterator = range(steps)
    if progress:
        iterator = tqdm(iterator, desc="fitting demo generator", mininterval=5)
    loss_value = float("nan")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed + 2)
        for step in iterator:
            z = torch.randn(batch_size, config.z_dim, generator=rng)
            target = head_trigrid(head_parameters(z), size, depth)
            ws = generator.mapping(z, camera)
            planes = generator.synthesize_trigrid(ws, noise_mode="const", fused_modconv=False)
            loss = F.mse_loss(planes, target)
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()
            if step == int(steps * 0.7):
                for group in optimiser.param_groups:
                    group["lr"] *= 0.3
            loss_value = float(loss.detach())
    with torch.no_grad():  # w_avg for truncation
        z = torch.randn(4096, config.z_dim, generator=rng)
        backbone.mapping.w_avg.copy_(generator.mapping(z, torch.zeros(4096, 25))[:, 0].mean(0))
    summary = {"seed": seed, "steps": steps, "batch_size": batch_size, "fit_seconds": time.time() - start, "final_trigrid_mse": loss_value}
    return generator.eval().requires_grad_(False), summary


def yaw_cameras(yaws_deg, pitch_deg: float = 0.0) -> torch.Tensor:
    """Camera labels ``[len(yaws),25]`` on PanoHead's orbit (radius 2.7, looking at the origin); yaw 0 = front."""

    labels = [make_label(gaussian_camera(FRONTAL_HORIZONTAL + math.radians(yaw), FRONTAL_VERTICAL + math.radians(pitch_deg)),
                         focal_to_intrinsics()) for yaw in yaws_deg]
    return torch.cat(labels)


def load_demo_generator(path: str | Path | None = None) -> PanoHeadGenerator:
    """The demo generator from its shipped weights-only file (``weights_only=True``), eval and frozen."""

    path = Path(path) if path is not None else DEMO_WEIGHTS
    if not path.is_file():
        raise CheckpointError(f"demo generator weights {path} are missing; rebuild them with `python -m dualinv.demo_generator --out {path}`")
    state = torch.load(path, map_location="cpu", weights_only=True)
    generator = PanoHeadGenerator(PanoHeadConfig.mini())
    generator.load_state_dict({k: v.float() for k, v in state.items()}, strict=True)
    return generator.eval().requires_grad_(False)


@torch.no_grad()
def turntable_sheet(generator: PanoHeadGenerator, seeds=(0, 1, 2), yaws=(0, 45, 90, 135, 180, -135, -90, -45),
                    neural_rendering_resolution: int = 32, thumbnail: int = 128):
    """Contact sheet: per identity one row of images and one of depth maps around the head (uint8 [H,W,3])."""

    cameras = yaw_cameras(yaws)
    frames = []
    for seed in seeds:
        z = torch.randn(1, generator.z_dim, generator=torch.Generator().manual_seed(seed))
        ws = generator.mapping(z, cameras[:1])
        trigrid = generator.synthesize_trigrid(ws, noise_mode="const")
        out = generator.render_trigrid(trigrid.expand(len(yaws), -1, -1, -1, -1), ws.expand(len(yaws), -1, -1), cameras,
                                       neural_rendering_resolution=neural_rendering_resolution, noise_mode="const")
        images = ((out["image"].clamp(-1, 1) + 1) * 127.5).round().byte().permute(0, 2, 3, 1).numpy()
        near, far = depth_range(out["image_depth"], out["image_mask"])
        frames += list(images)
        frames += [colorize_depth(d, near=near, far=far, mask=m) for d, m in zip(out["image_depth"], out["image_mask"])]
    return np.asarray(contact_sheet(frames, columns=len(yaws), thumbnail=thumbnail))


def sha256_of(path: str | Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Fit the demo PanoHead generator (procedural textured heads).")
    parser.add_argument("--out", type=Path, default=DEMO_WEIGHTS)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--steps", type=int, default=600)
    parser.add_argument("--sheet", type=Path, default=None, help="only write a turntable contact sheet PNG of --out")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)  # faster than 2 threads on a shared 2-core machine
    if args.sheet is not None:
        write_png(args.sheet, turntable_sheet(load_demo_generator(args.out)))
        return
    generator, summary = fit_demo_generator(args.seed, args.steps)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.out.with_suffix(".tmp")
    torch.save({k: v.detach().clone() for k, v in generator.state_dict().items()}, tmp)
    tmp.replace(args.out)
    print({**summary, "out": str(args.out), "sha256": sha256_of(args.out)})


if __name__ == "__main__":
    main()
