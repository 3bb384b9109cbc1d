"""MEAD frames for Table 2, chosen and extracted from the dataset's videos (rule ``extract_mead_frames``).

MEAD (Wang et al. 2020) ships one video per camera: ``<actor>/video/<view>/<emotion>/<level>/<clip>.mp4``
(e.g. ``M003/video/front/angry/level_1/001.mp4``), with seven synchronised cameras per take. Table 2 feeds
the front view (0° yaw) and compares renders with the ±30° and ±60° cameras (``left_30``, ``left_60``,
``right_30``, ``right_60``; paper §4.3: "from 60° to 0° yaw"). The paper does not say which frames it
used; this module fixes the choice and documents it:

* a take (actor, emotion, level, clip) is used when all five cameras have its video;
* its frame count is the smallest of the five videos' (the cameras record the same take; a video that
  is a few frames longer only adds frames without a counterpart);
* ``frames_per_clip`` frame indices are drawn uniformly without replacement from that count with a
  generator seeded by (``seed``, actor, emotion, level, clip), so a take's frames never depend on which
  other takes exist, and the *same* indices are taken from all five cameras (the same instant);
* ``max_clips`` (optional) keeps a seeded sample of the takes, for a cheaper Table 2.

Frames are decoded with imageio-ffmpeg (its bundled ffmpeg) and written as
``<out>/<actor>/<view>/<emotion>/<level>/<clip>/<frame:06d>.jpg`` (JPEG quality 95), the layout whose
prepared stems ``actor__view__emotion__level__clip__frame`` :func:`dualinv.data.manifests.mead_pairs`
parses. ``frames.json`` records every take's frame count and chosen indices, and each skipped take
with its reason. A take whose five frame files exist is not decoded again (a rerun resumes).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
from PIL import Image
from tqdm import tqdm

from dualinv.errors import DatasetFormatError
from dualinv.fileio import atomic_path, write_json_atomic
from dualinv.seeding import derive_seed

MEAD_VIEWS = ("front", "left_30", "left_60", "right_30", "right_60")
"""The cameras Table 2 uses: the input (front) and the four novel views."""
VIDEO_SUFFIX = ".mp4"
FRAMES_FILE = "frames.json"
JPEG_QUALITY = 95


@dataclass(frozen=True)
class MeadTake:
    """One recorded take: the same actor, emotion, level and clip on every camera."""

    actor: str
    emotion: str
    level: str
    clip: str

    def video(self, root: Path, view: str) -> Path:
        return root / self.actor / "video" / view / self.emotion / self.level / f"{self.clip}{VIDEO_SUFFIX}"

    def frame_path(self, out: Path, view: str, frame: int) -> Path:
        return out / self.actor / view / self.emotion / self.level / self.clip / f"{frame:06d}.jpg"

    @property
    def key(self) -> str:
        return "/".join((self.actor, self.emotion, self.level, self.clip))


def find_takes(root: str | Path) -> tuple[list[MeadTake], dict[str, str]]:
    """The takes of a MEAD folder that every camera of :data:`MEAD_VIEWS` has, and the others with why."""
    root = Path(root)
    seen: dict[MeadTake, set[str]] = {}
    for video in root.glob(f"*/video/*/*/*/*{VIDEO_SUFFIX}"):
        actor, _, view, emotion, level = video.relative_to(root).parts[:5]
        seen.setdefault(MeadTake(actor, emotion, level, video.stem), set()).add(view)
    if not seen:
        raise DatasetFormatError(f"{root}: no MEAD videos <actor>/video/<view>/<emotion>/<level>/<clip>.mp4 "
                                 f"(docs/data.md, MEAD)")
    complete, skipped = [], {}
    for take in sorted(seen, key=lambda item: item.key):
        missing = [view for view in MEAD_VIEWS if view not in seen[take]]
        if missing:
            skipped[take.key] = f"no video for {', '.join(missing)}"
        else:
            complete.append(take)
    return complete, skipped


def choose_frames(take: MeadTake, frame_count: int, frames_per_clip: int, seed: int) -> list[int]:
    """Sorted frame indices of ``take``: ``frames_per_clip`` drawn without replacement from ``frame_count``,
    seeded by (seed, take) alone."""
    rng = np.random.default_rng(derive_seed(seed, "mead_frames", take.key))
    count = min(frames_per_clip, frame_count)
    return sorted(int(index) for index in rng.choice(frame_count, size=count, replace=False))


def choose_takes(takes: Sequence[MeadTake], max_clips: int | None, seed: int) -> list[MeadTake]:
    """Every take, or a seeded sample of ``max_clips`` of them (the same sample whatever their order)."""
    if max_clips is None or max_clips >= len(takes):
        return list(takes)
    ranked = sorted(takes, key=lambda take: (derive_seed(seed, "mead_takes", take.key), take.key))
    return sorted(ranked[:max_clips], key=lambda take: take.key)


def count_frames(video: Path) -> int:
    """Frames of a video, decoded by imageio-ffmpeg (container frame counts are not trusted)."""
    import imageio_ffmpeg  # imageio-ffmpeg loads only when this runs, not on CLI start-up

    try:
        frames, _ = imageio_ffmpeg.count_frames_and_secs(str(video))
    except Exception as error:  # noqa: BLE001 - ffmpeg's own message says what is wrong with the file
        raise DatasetFormatError(f"{video}: ffmpeg cannot read it ({error})") from error
    return int(frames)


def read_frames(video: Path, indices: Iterable[int]) -> dict[int, np.ndarray]:
    """The frames ``indices`` of ``video`` as [H, W, 3] uint8, decoding only up to the last one."""
    import imageio_ffmpeg  # imageio-ffmpeg loads only when this runs, not on CLI start-up

    wanted = set(indices)
    frames: dict[int, np.ndarray] = {}
    reader = imageio_ffmpeg.read_frames(str(video), pix_fmt="rgb24")
    try:
        meta = next(reader)
        width, height = meta["size"]
        for index, raw in enumerate(reader):
            if index in wanted:
                frames[index] = np.frombuffer(raw, dtype=np.uint8).reshape(height, width, 3).copy()
            if len(frames) == len(wanted):
                break
    finally:
        reader.close()
    if len(frames) != len(wanted):
        raise DatasetFormatError(f"{video}: ended before frame {max(wanted - set(frames))}")
    return frames


def _save_jpeg(array: np.ndarray, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as temporary:
        Image.fromarray(array).save(temporary, format="JPEG", quality=JPEG_QUALITY)


@dataclass(frozen=True)
class MeadFramesSummary:
    """What :func:`extract_mead_frames` wrote."""

    takes: int
    """Takes whose frames are in the output."""
    frames: int
    """Frame files written or kept, all cameras."""
    skipped: int
    """Takes left out (a camera's video missing)."""


def extract_mead_frames(videos: str | Path, output: str | Path, *, frames_per_clip: int = 1,
                        max_clips: int | None = None, seed: int = 0, progress: bool = True) -> MeadFramesSummary:
    """Choose and extract the Table 2 frames of the MEAD videos folder ``videos`` (see the module docstring)."""
    if frames_per_clip < 1:
        raise DatasetFormatError(f"frames_per_clip must be >= 1, got {frames_per_clip}")
    videos, output = Path(videos), Path(output)
    takes, skipped = find_takes(videos)
    takes = choose_takes(takes, max_clips, seed)
    output.mkdir(parents=True, exist_ok=True)
    record: dict[str, dict] = {}
    written = 0
    for take in tqdm(takes, desc="MEAD frames", disable=not progress, dynamic_ncols=True):
        counts = {view: count_frames(take.video(videos, view)) for view in MEAD_VIEWS}
        frame_count = min(counts.values())
        if frame_count < 1:
            skipped[take.key] = "a camera's video has no frames"
            continue
        indices = choose_frames(take, frame_count, frames_per_clip, seed)
        record[take.key] = {"frame_count": frame_count, "frames": indices}
        for view in MEAD_VIEWS:
            targets = {index: take.frame_path(output, view, index) for index in indices}
            pending = [index for index, path in targets.items() if not path.is_file()]
            if pending:
                for index, frame in read_frames(take.video(videos, view), pending).items():
                    _save_jpeg(frame, targets[index])
            written += len(targets)
    for key, reason in skipped.items():
        logging.getLogger(__name__).warning("MEAD take %s left out: %s", key, reason)
    write_json_atomic(output / FRAMES_FILE, {
        "views": list(MEAD_VIEWS), "frames_per_clip": frames_per_clip, "max_clips": max_clips, "seed": seed,
        "takes": record, "skipped": dict(sorted(skipped.items()))})
    return MeadFramesSummary(takes=len(record), frames=written, skipped=len(skipped))
