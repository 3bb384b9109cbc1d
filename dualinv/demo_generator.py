"""The demo generator: a CPU-sized PanoHead whose weights render textured 3D heads (issue 14).

The architecture is exactly :meth:`PanoHeadConfig.mini` (tri-grid 32², depth 3, 12 + 12 samples,
16² neural rendering, 2× super-resolution). Its weights are made here, deterministically from a
seed, with no download:

* the parts after the tri-grid are set in closed form: the OSG decoder turns feature channel 0/1
  (head ellipsoid / neck cylinder "insideness") into a raw density that crosses PanoHead's σ = 10
  iso-level on the surface, and passes channels 2-4 through as colour; the raw ToRGB picks those
  channels, the super-resolution and background ToRGBs are zeroed so the final image is the
  upsampled raw render on a grey background, and the Δt camera offset and camera conditioning are off;
* the backbone makes the tri-grid of a procedural head (:func:`head_trigrid`: an ellipsoid head and
  a neck, skin, hair over the back and top, eyes, brows, nose and mouth on the front, +z) whose nine
  parameters (:class:`HeadParameters`: inverse squared semi-axes, skin and hair colours) are affine
  functions of ``w``. The tri-grid is affine in them, so the last ToRGB can mix it exactly from
  ``w``-independent feature maps; only those maps are fitted (input-free, seconds), everything
  else is solved (:func:`build_demo_generator`).

``python -m dualinv.demo_generator --out FILE`` rebuilds the shipped state dict
(``dualinv/assets/demo_generator.pt``, weights only, 11 MB) in about a minute on 2 cores; ``--sheet
PNG`` draws a turntable contact sheet of a written file. These are demonstration weights, not a
model of real faces: everything rendered with them is labelled stand-in.
"""

from __future__ import annotations

import argparse
import functools
import math
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from dualinv.camera import camera_at_yaw
from dualinv.errors import CheckpointError
from dualinv.panohead.config import PanoHeadConfig
from dualinv.panohead.generator import PanoHeadGenerator
from dualinv.panohead.trigrid import TRIGRID_FEATURES
from dualinv.standin import build_seeded
from dualinv.views import colorize_depth, contact_sheet, depth_range, write_png
from dualinv.weights import file_digest

DEMO_WEIGHTS = Path(__file__).resolve().parent / "assets" / "demo_generator.pt"
"""The shipped state dict (rebuilt by ``python -m dualinv.demo_generator``, :func:`build_demo_generator`)."""

SURFACE_SIGMA = 10.0
"""Raw density on the head surface: PanoHead's own mesh iso-level."""

_DENSITY_SLOPE = 20.0  # softplus slope on the insideness g
_DENSITY_OFFSET = 10.0  # raw density far outside (-10: empty space)
_DENSITY_SCALE = (SURFACE_SIGMA + _DENSITY_OFFSET) / math.log(2.0)  # sigma(g = 0) = SURFACE_SIGMA
_COLOUR_SHIFT = 4.0  # softplus(x + 4) - 4 ~ x on [-1, 1]
_INSIDE_CLAMP = (-3.0, 3.0)  # clamp of the neck's insideness terms (keeps the tri-grid bounded)
_NECK_RADIUS = 0.12
_NECK_Z = -0.02
_HEAD_Y = 0.06  # head centre height (world units; the tri-grid box spans [-0.5, 0.5]^3)


@dataclass(frozen=True)
class HeadParameters:
    """One procedural identity: inverse squared semi-axes (x, y, z) and skin / hair colours.

    The tri-grid of :func:`head_trigrid` is *affine* in these nine numbers, which is what lets the
    demo generator produce it exactly from a linear function of ``w`` (:func:`build_demo_generator`).
    """

    inverse_axes_sq: torch.Tensor  # [B,3] 1/a², 1/b², 1/c²
    skin: torch.Tensor  # [B,3] in about [-1, 1]
    hair: torch.Tensor  # [B,3]

    def vector(self) -> torch.Tensor:
        """``[B,9]``: the parameters in the order of :data:`PARAMETER_MEAN`."""
        return torch.cat([self.inverse_axes_sq, self.skin, self.hair], 1)

    @classmethod
    def from_vector(cls, theta: torch.Tensor) -> HeadParameters:
        return cls(theta[:, 0:3], theta[:, 3:6], theta[:, 6:9])

    @property
    def axes(self) -> torch.Tensor:
        """Semi-axes ``[B,3]`` (width, height, depth half-lengths)."""
        return self.inverse_axes_sq.clamp(min=1e-3).rsqrt()


PARAMETER_MEAN = torch.tensor([1 / 0.26**2, 1 / 0.31**2, 1 / 0.30**2, 0.75, 0.35, 0.15, -0.45, -0.6, -0.7])
"""The average head: semi-axes 0.26 / 0.31 / 0.30, a warm skin tone, dark hair."""

PARAMETER_STD = torch.tensor([1.6, 1.0, 1.1, 0.15, 0.15, 0.12, 0.3, 0.3, 0.3])
"""Spread of each parameter over untruncated samples (about ±10 % in each semi-axis)."""


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
    ia, ib, ic = (params.inverse_axes_sq[:, i].view(batch, 1, 1, 1) for i in range(3))
    feats = torch.zeros(batch, 3, TRIGRID_FEATURES, depth, size, size)
    lo, hi = _INSIDE_CLAMP
    # plane 0: XY (u = x, v = y, depth along z); plane 1: XZ (u = x, v = z); plane 2: YZ (u = y, v = z)
    x0, y0 = u_grid, v_grid - _HEAD_Y
    feats[:, 0, 0] = 1 - 1.5 * (x0**2 * ia + y0**2 * ib)  # not clamped: affine in the parameters
    feats[:, 1, 0] = 1 - 1.5 * (u_grid**2 * ia + v_grid**2 * ic)
    feats[:, 2, 0] = 1 - 1.5 * ((u_grid - _HEAD_Y) ** 2 * ib + v_grid**2 * ic)
    # neck: 1 - (x² + (z - zn)²)/r² - gate(y), y below the head centre
    r2 = _NECK_RADIUS**2
    # (clamped at 3·lo: far in front or behind the neck, the first two terms outweigh the third's +3)
    feats[:, 0, 1] = (-3 * u_grid**2 / r2).clamp(3 * lo, hi).expand(batch, size, size).unsqueeze(1)
    feats[:, 1, 1] = (-3 * (v_grid - _NECK_Z) ** 2 / r2).clamp(3 * lo, hi).expand(batch, size, size).unsqueeze(1)
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


def _trigrid_basis(size: int, depth: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The average head's tri-grid ``[C,H·W]`` and the change per unit of each parameter ``[9,C,H·W]``.

    Exact, because :func:`head_trigrid` is affine in the parameters.
    """

    centre = PARAMETER_MEAN[None]
    steps = centre + torch.eye(9)
    grids = head_trigrid(HeadParameters.from_vector(torch.cat([centre, steps])), size, depth).flatten(1, 2).flatten(2)
    return grids[0], grids[1:] - grids[:1]


def _channel_plan(average: torch.Tensor, basis: torch.Tensor, channels: int, tolerance: float = 1e-4):
    """Split the last synthesis block's ``channels`` feature maps between the nine parameters and the
    average head: each parameter gets as many maps as its basis tri-grid has rank, the average head the rest.

    Returns ``(owner [channels] (-1 = average head, -2 = unused), spatial maps [channels,H·W])``.
    """

    owners, maps = [], []
    for index, change in enumerate(basis):
        _, singular, right = torch.linalg.svd(change.double(), full_matrices=False)
        rank = int((singular > tolerance * singular[0]).sum())
        owners += [index] * rank
        maps.append(right[:rank].float())
    spare = channels - len(owners)
    if spare < 1:
        raise ValueError(f"the procedural heads need {len(owners)} + 1 feature maps, the synthesis has {channels}")
    _, singular, right = torch.linalg.svd(average.double(), full_matrices=False)
    rank = min(spare, int((singular > tolerance * singular[0]).sum()))
    owners += [-1] * rank + [-2] * (spare - rank)  # -2: an unused map, fitted to zero
    maps += [right[:rank].float(), torch.zeros(spare - rank, right.shape[1])]
    return torch.tensor(owners), torch.cat(maps) * math.sqrt(average.shape[1])  # unit RMS per map


@functools.lru_cache(maxsize=2)
def _feature_plan(size: int, depth: int, channels: int):
    """``(average, basis, owners, maps)`` of :func:`_trigrid_basis` and :func:`_channel_plan` (cached:
    :func:`identity_of` needs the owners on every call)."""
    average, basis = _trigrid_basis(size, depth)
    return (average, basis, *_channel_plan(average, basis, channels))


def build_demo_generator(seed: int = 0, feature_steps: int = 4000, progress: bool = True) -> tuple[PanoHeadGenerator, dict]:
    """Build the demo generator: every weight set in closed form except the feature path, which is fitted.

    * The last synthesis block's ToRGB makes the tri-grid. Its 64 input feature maps do not depend on
      ``w`` (every other style is constant, noise is off); they are fitted, input-free, to the spatial
      singular vectors of the tri-grid's change per head parameter (:func:`_channel_plan`).
    * Each map's style is one head parameter, an affine function of ``w``: a seeded random direction
      of ``w``, scaled so the parameter has :data:`PARAMETER_STD` over mapped samples; the ToRGB weights
      are the least-squares mixing of the fitted maps into :func:`head_trigrid`'s tri-grid.

    So the tri-grid is :func:`head_trigrid` of :func:`identity_of` ``(ws)`` up to the feature fit's
    residual (returned as ``trigrid_rmse``), and truncation towards ``w_avg`` shrinks every head
    towards the average one. Returns the generator (eval, frozen) and a summary.
    """

    start = time.time()
    config = PanoHeadConfig.mini()
    generator = build_seeded(lambda: PanoHeadGenerator(config), seed)
    _set_closed_form_parts(generator)
    synthesis, mapping = generator.backbone.synthesis, generator.backbone.mapping
    size, depth = config.rendering.triplane_size, config.rendering.triplane_depth
    blocks = [getattr(synthesis, f"b{res}") for res in synthesis.block_resolutions]
    last = blocks[-1]
    average, basis, owners, maps = _feature_plan(size, depth, last.torgb.in_channels)
    with torch.no_grad():
        for name, parameter in synthesis.named_parameters():
            if name.endswith("noise_strength"):
                parameter.zero_()
        for block in blocks:
            for layer in (getattr(block, "conv0", None), block.conv1):
                if layer is not None:
                    layer.affine.weight.zero_()  # constant styles: the feature maps do not depend on w
            if block is not last:
                block.torgb.weight.zero_()
                block.torgb.bias.zero_()
    feature_parameters = [p for block in blocks for name, p in block.named_parameters()
                          if not name.startswith("torgb") and not name.endswith(("noise_strength", "affine.weight"))]
    ws = torch.zeros(1, generator.num_ws, generator.w_dim)
    target = maps.view(1, -1, size, size)
    optimiser = torch.optim.Adam(feature_parameters, lr=1e-2, betas=(0.9, 0.99))
    iterator = range(feature_steps)
    if progress:
        iterator = tqdm(iterator, desc="fitting the demo generator's feature maps", mininterval=5)
    for step in iterator:
        features = _last_block_features(synthesis, last, ws)
        loss = F.mse_loss(features, target)
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()
        if step == int(feature_steps * 0.75):
            for group in optimiser.param_groups:
                group["lr"] *= 0.1
    with torch.no_grad():
        features = _last_block_features(synthesis, last, ws)[0].flatten(1)  # [K,H·W]
        feature_rmse = float((features - maps).square().mean().sqrt())
        # head parameters as affine functions of w
        rng = torch.Generator().manual_seed(seed + 1)
        samples = mapping(torch.randn(4096, config.z_dim, generator=rng), torch.zeros(4096, config.c_dim))[:, 0]
        w_mean = samples.mean(0)
        directions = torch.linalg.qr(torch.randn(config.w_dim, 9, generator=rng))[0].T  # [9,w_dim] orthonormal
        spread = ((samples - w_mean) @ directions.T).std(0)
        slope = directions * (PARAMETER_STD / spread)[:, None]  # parameter - mean = slope · (w - w_mean)
        mapping.w_avg.copy_(w_mean)
        # ToRGB: style_k = parameter deviation of its owner (or 1 for the average head's maps)
        style_weight = torch.zeros(len(owners), config.w_dim)
        style_bias = torch.ones(len(owners))
        mixing = torch.zeros(average.shape[0], len(owners))
        for index in range(-1, 9):
            chosen = (owners == index).nonzero().flatten()
            target_grid = average if index < 0 else basis[index]
            mixing[:, chosen] = torch.linalg.lstsq(features[chosen].T.double(), target_grid.T.double()).solution.T.float()
            if index >= 0:
                style_weight[chosen] = slope[index]
                style_bias[chosen] = -(slope[index] @ w_mean)
        torgb = last.torgb
        _set_fc(torgb.affine, style_weight, style_bias)
        torgb.weight.copy_((mixing / torgb.weight_gain)[:, :, None, None])
        torgb.bias.zero_()
        generator.eval().requires_grad_(False)
        z = torch.randn(16, config.z_dim, generator=rng)
        ws_check = generator.mapping(z, torch.zeros(16, config.c_dim))
        made = generator.synthesize_trigrid(ws_check, noise_mode="const")
        wanted = head_trigrid(identity_of(generator, ws_check), size, depth)
        trigrid_rmse = float((made - wanted).square().mean().sqrt())
    summary = {"seed": seed, "feature_steps": feature_steps, "build_seconds": round(time.time() - start, 1),
               "feature_rmse": feature_rmse, "trigrid_rmse": trigrid_rmse, "trigrid_rms": float(wanted.square().mean().sqrt())}
    return generator, summary


def _last_block_features(synthesis, last_block, ws: torch.Tensor) -> torch.Tensor:
    """The last synthesis block's feature maps: the input of the ToRGB that makes the tri-grid."""
    captured = []
    hook = last_block.torgb.register_forward_pre_hook(lambda module, inputs: captured.append(inputs[0]))
    try:
        synthesis(ws, noise_mode="const", fused_modconv=False)
    finally:
        hook.remove()
    return captured[0]


def identity_of(generator: PanoHeadGenerator, ws: torch.Tensor) -> HeadParameters:
    """The procedural identity the demo generator draws for ``ws [B,num_ws,w_dim]`` (read off its last ToRGB styles)."""
    synthesis = generator.backbone.synthesis
    torgb = getattr(synthesis, f"b{synthesis.block_resolutions[-1]}").torgb
    styles = torgb.affine(ws[:, -1])  # [B,K]: parameter deviations, then the average head's constant maps
    rendering = generator.config.rendering
    owners = _feature_plan(rendering.triplane_size, rendering.triplane_depth, torgb.in_channels)[2]
    firsts = [int((owners == index).nonzero()[0]) for index in range(9)]
    return HeadParameters.from_vector(PARAMETER_MEAN + styles[:, firsts])


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

    cameras = camera_at_yaw(torch.tensor(yaws, dtype=torch.float32))
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


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Fit the demo PanoHead generator (procedural textured heads).")
    parser.add_argument("--out", type=Path, default=DEMO_WEIGHTS)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--steps", type=int, default=4000, help="feature-map fitting steps")
    parser.add_argument("--sheet", type=Path, default=None, help="only write a turntable contact sheet PNG of --out")
    args = parser.parse_args(argv)
    if args.sheet is not None:
        write_png(args.sheet, turntable_sheet(load_demo_generator(args.out)))
        return
    generator, summary = build_demo_generator(args.seed, args.steps)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.out.with_suffix(".tmp")
    torch.save({k: v.detach().clone() for k, v in generator.state_dict().items()}, tmp)
    tmp.replace(args.out)
    print({**summary, "out": str(args.out), "sha256": file_digest(args.out)})


if __name__ == "__main__":
    main()
