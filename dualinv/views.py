"""Seeing a head: 360° turntable renders of a tri-grid, depth colouring, GIF/MP4/contact-sheet writers.

Shared by ``dualinv panohead render`` (a generated tri-grid) and by the inversion and editing
commands (a stitched tri-grid): anything that has a generator, a tri-grid ``[1,3,D*C,H,W]`` and its
``ws`` can be turned into the same set of files. Every file is written atomically.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from dualinv.fileio import atomic_path, tensor_to_uint8
from dualinv.panohead.rendering import run_decoder

if TYPE_CHECKING:
    from dualinv.panohead.generator import PanoHeadGenerator


@dataclass(frozen=True)
class TurntableFrames:
    """Renders of one head along a camera path."""

    images: torch.Tensor
    """[F,3,S,S] super-resolved images in [−1, 1]."""
    depths: torch.Tensor
    """[F,1,R,R] expected ray distance (§10.6) at the neural rendering resolution."""
    masks: torch.Tensor
    """[F,1,R,R] rendered opacity."""


@torch.no_grad()
def render_turntable(generator: PanoHeadGenerator, trigrid: torch.Tensor, ws: torch.Tensor, cameras: torch.Tensor, *,
                     rng: torch.Generator | None = None, batch_size: int = 1,
                     on_frames: Callable[[int], None] | None = None) -> TurntableFrames:
    """Render ``trigrid`` [1,3,D*C,H,W] with ``ws`` [1,num_ws,w_dim] from each camera [F,25] in turn."""
    images, depths, masks = [], [], []
    device = trigrid.device
    for start in range(0, cameras.shape[0], batch_size):
        camera = cameras[start:start + batch_size].to(device)
        count = camera.shape[0]
        output = generator.render_trigrid(trigrid.expand(count, *trigrid.shape[1:]), ws.expand(count, *ws.shape[1:]),
                                          camera, generator=rng, noise_mode="const")
        images.append(output["image"].cpu())
        depths.append(output["image_depth"].cpu())
        masks.append(output["image_mask"].cpu())
        if on_frames is not None:
            on_frames(count)
    return TurntableFrames(torch.cat(images), torch.cat(depths), torch.cat(masks))


def trigrid_fields(generator: PanoHeadGenerator, trigrid: torch.Tensor, ws: torch.Tensor
                   ) -> tuple[Callable[[torch.Tensor], torch.Tensor], Callable[[torch.Tensor], torch.Tensor]]:
    """Density and colour functions of a tri-grid, for :func:`dualinv.mesh.extract_mesh`.

    Density is the decoder's raw σ with no crop (as ``G.sample_mixed``, §4.5). Colour passes the
    decoder features through the raw ToRGB layer styled by ``ws[:, -1]`` — the same map that makes
    ``image_raw`` from the feature image — or takes the first three features if there is none.
    """

    rendering = generator.config.rendering

    def decode(points: torch.Tensor) -> dict[str, torch.Tensor]:
        points = points.to(trigrid.device).reshape(1, -1, 3)
        return run_decoder(trigrid, generator.decoder, points, torch.zeros_like(points), rendering, None)

    def density(points: torch.Tensor) -> torch.Tensor:
        return decode(points)["sigma"].reshape(-1)

    def color(points: torch.Tensor) -> torch.Tensor:
        features = decode(points)["rgb"]  # [1,N,32]
        if generator.torgb is None:
            return features[0, :, :3]
        feature_image = features.permute(0, 2, 1).unsqueeze(-1)  # [1,32,N,1]
        rgb = generator.torgb(feature_image, ws[:, -1], fused_modconv=False)  # [1,3,N,1]
        return rgb[0, :, :, 0].T

    return density, color


def colorize_depth(depth: torch.Tensor, *, near: float, far: float, mask: torch.Tensor | None = None,
                   colormap: str = "turbo") -> np.ndarray:
    """[1,H,W] depth → [H,W,3] uint8: near is warm, far is cool; background (mask < 0.5) black."""
    from matplotlib import colormaps  # matplotlib loads only when this runs, not on CLI start-up

    values = depth.reshape(depth.shape[-2], depth.shape[-1]).float().numpy()
    scaled = np.clip((far - values) / max(far - near, 1e-8), 0.0, 1.0)
    rgb = (colormaps[colormap](scaled)[..., :3] * 255).round().astype(np.uint8)
    if mask is not None:
        rgb[mask.reshape(values.shape).numpy() < 0.5] = 0
    return rgb


def depth_range(depths: torch.Tensor, masks: torch.Tensor) -> tuple[float, float]:
    """Near and far over the foreground of all frames (all pixels if nothing is foreground)."""
    foreground = depths[masks >= 0.5]
    values = foreground if foreground.numel() > 0 else depths.reshape(-1)
    return float(values.min()), float(values.max())


def resize_uint8(image: np.ndarray, size: int, nearest: bool = False) -> np.ndarray:
    """Resize an [H,W,3] uint8 image to size×size (area average, or nearest for small depth maps)."""
    tensor = torch.from_numpy(image).permute(2, 0, 1)[None].float()
    mode = "nearest" if nearest else "area"
    resized = F.interpolate(tensor, size=(size, size), mode=mode)
    return resized[0].permute(1, 2, 0).round().clamp(0, 255).to(torch.uint8).numpy()


def contact_sheet(frames: Sequence[np.ndarray], *, columns: int | None = None, thumbnail: int = 256,
                  nearest: bool = False) -> np.ndarray:
    """Tile frames [H,W,3] uint8 into one image, row-major, each resized to ``thumbnail``²."""
    if not frames:
        raise ValueError("contact_sheet needs at least one frame")
    columns = columns or int(np.ceil(np.sqrt(len(frames))))
    rows = int(np.ceil(len(frames) / columns))
    sheet = np.zeros((rows * thumbnail, columns * thumbnail, 3), dtype=np.uint8)
    for index, frame in enumerate(frames):
        row, column = divmod(index, columns)
        sheet[row * thumbnail:(row + 1) * thumbnail, column * thumbnail:(column + 1) * thumbnail] = (
            resize_uint8(frame, thumbnail, nearest))
    return sheet


def write_png(path: str | Path, image: np.ndarray) -> None:
    with atomic_path(path) as temporary:
        Image.fromarray(image).save(temporary, format="PNG")


def _write_with_suffix(path: Path, write: Callable[[Path], None]) -> None:
    """Atomic write through a temporary name that keeps the target's suffix (encoders pick formats by it)."""
    with atomic_path(path) as temporary:
        staged = temporary.with_name(temporary.name + path.suffix)
        try:
            write(staged)
            os.replace(staged, temporary)
        finally:
            staged.unlink(missing_ok=True)


def write_gif(path: str | Path, frames: Sequence[np.ndarray], fps: float = 24.0) -> None:
    """Looping animated GIF."""
    import imageio.v3 as iio  # imageio loads only when this runs, not on CLI start-up

    _write_with_suffix(Path(path), lambda staged: iio.imwrite(staged, np.stack(frames), duration=1000.0 / fps, loop=0))


def write_mp4(path: str | Path, frames: Sequence[np.ndarray], fps: float = 24.0) -> None:
    """H.264 MP4 through imageio-ffmpeg (frames of even size; 512² and 256² are)."""
    import imageio.v2 as imageio  # imageio loads only when this runs, not on CLI start-up

    def write(staged: Path) -> None:
        with imageio.get_writer(staged, format="FFMPEG", mode="I", fps=fps, codec="libx264", quality=8,
                                macro_block_size=1, ffmpeg_log_level="error") as writer:
            for frame in frames:
                writer.append_data(frame)

    _write_with_suffix(Path(path), write)


def write_turntable(directory: str | Path, frames: TurntableFrames, *, fps: float = 24.0,
                    thumbnail: int = 256) -> dict[str, Path]:
    """Write frames, depth maps, GIF, MP4 and contact sheets of one turntable into ``directory``.

    Layout: ``frames/frame_NNN.png``, ``depth/depth_NNN.png`` (colour-mapped, shared near/far),
    ``turntable.gif``, ``turntable.mp4``, ``sheet.png`` and ``depth_sheet.png``.
    """
    directory = Path(directory)
    images = [tensor_to_uint8(image) for image in frames.images]
    near, far = depth_range(frames.depths, frames.masks)
    depth_images = [colorize_depth(depth, near=near, far=far, mask=mask)
                    for depth, mask in zip(frames.depths, frames.masks)]
    for index, (image, depth_image) in enumerate(zip(images, depth_images)):
        write_png(directory / "frames" / f"frame_{index:03d}.png", image)
        write_png(directory / "depth" / f"depth_{index:03d}.png", depth_image)
    written = {
        "gif": directory / "turntable.gif", "mp4": directory / "turntable.mp4",
        "sheet": directory / "sheet.png", "depth_sheet": directory / "depth_sheet.png",
    }
    write_gif(written["gif"], images, fps)
    write_mp4(written["mp4"], images, fps)
    write_png(written["sheet"], contact_sheet(images, thumbnail=thumbnail))
    write_png(written["depth_sheet"], contact_sheet(depth_images, thumbnail=thumbnail, nearest=True))
    return written
