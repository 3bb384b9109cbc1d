"""``dualinv panohead render | convert``: look at a PanoHead network, and convert official pickles.

``render`` writes, per seed, a 360° turntable (frames, GIF, MP4, contact sheet), colour-mapped depth
maps and, with ``--mesh``, a vertex-coloured PLY from marching cubes of the density field (§4.5).
``convert`` turns an official ``.pkl`` into dualinv's weights-only ``.pt`` (read safely, §7).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from dualinv import camera
from dualinv.commands.arguments import add_hidden_alias, finite_float, int_at_least, positive_float, positive_int
from dualinv.errors import ConfigError
from dualinv.devices import check_device
from dualinv.fileio import write_json_atomic
from dualinv.mesh import PANOHEAD_ISO_LEVEL, extract_mesh, write_ply
from dualinv.panohead.checkpoint import load_network, save_network
from dualinv.seeding import make_generator
from dualinv.views import render_turntable, trigrid_fields, write_turntable


def parse_seeds(text: str) -> list[int]:
    """``"0-3"`` → [0, 1, 2, 3]; ``"1,5,7-8"`` → [1, 5, 7, 8]."""
    seeds: list[int] = []
    try:
        for part in text.split(","):
            if "-" in part.strip()[1:]:
                first, last = part.rsplit("-", 1)
                seeds.extend(range(int(first), int(last) + 1))
            else:
                seeds.append(int(part))
    except ValueError as error:
        raise ConfigError(f"--seeds {text!r}: expected integers and ranges such as 0-3 or 1,5,7-8") from error
    if not seeds or any(seed < 0 or seed >= 2**32 for seed in seeds):
        raise ConfigError(f"--seeds {text!r}: give at least one seed in [0, 2^32)")
    return seeds


def seed_list(text: str) -> list[int]:
    """The argparse type of ``--seeds``: :func:`parse_seeds`, its refusal in argparse's format."""
    try:
        return parse_seeds(text)
    except ConfigError as error:
        raise argparse.ArgumentTypeError(f"{str(error).split(': ', 1)[1]}, got {text}") from None


def latent_for_seed(seed: int, z_dim: int) -> torch.Tensor:
    """z as the official scripts draw it: ``np.random.RandomState(seed).randn(1, z_dim)`` (§1.4)."""
    return torch.from_numpy(np.random.RandomState(seed).randn(1, z_dim)).float()


def _render(args: argparse.Namespace) -> int:
    seeds = args.seeds
    device = check_device(args.device)
    generator = load_network(args.network, device=device)
    radius = float(generator.rendering_kwargs.get("avg_camera_radius") or camera.CAMERA_RADIUS)
    # Conditioning and path as gen_videos.py --cfg Head (§6.5): frontal, lookat origin, f = 4.2647.
    conditioning = camera.camera_at_yaw(0.0, radius=radius, device=device)
    cameras = camera.orbit_cameras(args.frames, radius=radius, device=device)
    out = Path(args.out)
    progress = tqdm(total=len(seeds) * args.frames, desc="rendering", unit="frame", disable=args.no_progress)
    with torch.no_grad():
        for seed in seeds:
            ws = generator.mapping(latent_for_seed(seed, generator.z_dim).to(device), conditioning,
                                   truncation_psi=args.truncation, truncation_cutoff=None)
            trigrid = generator.synthesize_trigrid(ws, noise_mode="const")
            frames = render_turntable(generator, trigrid, ws, cameras, rng=make_generator(seed, device),
                                      batch_size=args.batch_size, on_frames=progress.update)
            seed_dir = out / f"seed{seed:04d}"
            write_turntable(seed_dir, frames, fps=args.fps)
            if args.mesh:
                progress.set_postfix_str(f"mesh seed {seed}")
                density, color = trigrid_fields(generator, trigrid, ws)
                mesh = extract_mesh(density, color=color, resolution=args.mesh_resolution, iso_level=args.iso_level,
                                    device=device)
                if mesh.is_empty:
                    tqdm.write(f"seed {seed}: the density never reaches the iso-level; {seed_dir / 'mesh.ply'} is empty")
                write_ply(seed_dir / "mesh.ply", mesh)
            write_json_atomic(seed_dir / "render.json", {
                "network": str(args.network), "seed": seed, "truncation_psi": args.truncation,
                "frames": args.frames, "fps": args.fps, "camera_radius": radius,
                "conditioning_camera": conditioning[0].tolist(),
                "mesh_resolution": args.mesh_resolution if args.mesh else None,
                "iso_level": args.iso_level if args.mesh else None,
            })
    progress.close()
    print(f"wrote {len(seeds)} turntable(s) under {out}")
    return 0


def _convert(args: argparse.Namespace) -> int:
    generator = load_network(args.input)
    save_network(generator, args.output)
    count = len(generator.state_dict())
    print(json.dumps({"input": str(args.input), "output": str(args.output), "tensors": count}))
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    panohead = subparsers.add_parser("panohead", help="render a PanoHead network, convert official pickles")
    commands = panohead.add_subparsers(dest="panohead_command", metavar="SUBCOMMAND", required=True)

    render = commands.add_parser("render", help="360° turntables (PNG, GIF, MP4, sheets), depth maps, meshes")
    render.add_argument("--network", required=True, type=Path, metavar="PATH",
                        help="official .pkl or dualinv .pt (loaded safely)")
    render.add_argument("--seeds", type=seed_list, default="0", help="seeds, e.g. 0-3 or 1,5,7-8 (default 0)")
    render.add_argument("--out", required=True, type=Path, help="output folder; one seedNNNN/ per seed")
    render.add_argument("--frames", type=positive_int, default=36, help="frames per 360° turn (default 36)")
    render.add_argument("--fps", type=positive_float, default=24.0, help="GIF/MP4 frame rate (default 24)")
    render.add_argument("--truncation", type=finite_float, default=0.7, help="truncation ψ on all ws (default 0.7)")
    render.add_argument("--mesh", action="store_true", help="also write mesh.ply (marching cubes, σ = 10)")
    render.add_argument("--mesh-resolution", type=int_at_least(8), default=64,
                        help="marching-cubes grid points per axis over [-0.5,0.5]^3 (default 64; 512 as official)")
    render.add_argument("--iso-level", type=finite_float, default=PANOHEAD_ISO_LEVEL,
                        help=f"raw density of the mesh surface (default {PANOHEAD_ISO_LEVEL:g}, as gen_samples.py)")
    batch_size = render.add_argument("--batch-size", type=positive_int, default=1,
                                     help="frames rendered per forward pass (default 1)")
    add_hidden_alias(render, "--batch", batch_size)
    render.add_argument("--device", default="cpu", help="cpu or cuda[:N] (default cpu)")
    no_progress = render.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_hidden_alias(render, "--quiet", no_progress)
    render.set_defaults(func=_render)

    convert = commands.add_parser("convert", help="official PanoHead .pkl → dualinv weights-only .pt")
    convert.add_argument("input", type=Path, help="network pickle (read without executing anything)")
    convert.add_argument("output", type=Path, help="dualinv checkpoint to write (atomically)")
    convert.set_defaults(func=_convert)
