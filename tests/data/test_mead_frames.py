"""MEAD frames chosen and extracted from tiny generated videos in MEAD's layout."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from dualinv.data.manifests import mead_pairs
from dualinv.data.mead_frames import MEAD_VIEWS, MeadTake, choose_frames, extract_mead_frames

FRAMES = 12
SIDE = 32


def write_video(path, frames: int, view_offset: int) -> None:
    """A tiny MP4 whose frame k is flat grey 16·k + 3·(the view's offset): frame and camera can be read back."""
    import imageio_ffmpeg

    path.parent.mkdir(parents=True, exist_ok=True)
    writer = imageio_ffmpeg.write_frames(str(path), (SIDE, SIDE), fps=25, quality=10, macro_block_size=1,
                                         output_params=["-g", "1"])
    writer.send(None)
    for index in range(frames):
        writer.send(np.full((SIDE, SIDE, 3), (16 * index + 3 * view_offset) % 256, dtype=np.uint8).tobytes())
    writer.close()


@pytest.fixture(scope="module")
def mead_videos(tmp_path_factory):
    root = tmp_path_factory.mktemp("mead")
    for offset, view in enumerate(MEAD_VIEWS + ("top",)):
        write_video(root / "M003" / "video" / view / "angry" / "level_1" / "001.mp4", FRAMES + offset, offset)
    for view in MEAD_VIEWS[:3]:  # a take that two cameras lack
        write_video(root / "M003" / "video" / view / "happy" / "level_2" / "002.mp4", 4, 0)
    return root


def test_the_same_seeded_frames_come_from_all_five_cameras(mead_videos, tmp_path):
    summary = extract_mead_frames(mead_videos, tmp_path / "frames", frames_per_clip=3, seed=5, progress=False)
    assert (summary.takes, summary.skipped, summary.frames) == (1, 1, 15)
    record = json.loads((tmp_path / "frames" / "frames.json").read_text())
    take = record["takes"]["M003/angry/level_1/001"]
    assert take["frame_count"] == FRAMES  # the shortest camera's count
    assert take["frames"] == choose_frames(MeadTake("M003", "angry", "level_1", "001"), FRAMES, 3, seed=5)
    assert len(set(take["frames"])) == 3 and all(0 <= index < FRAMES for index in take["frames"])
    assert record["skipped"]["M003/happy/level_2/002"] == "no video for right_30, right_60"
    for offset, view in enumerate(MEAD_VIEWS):
        for index in take["frames"]:
            frame = np.asarray(Image.open(tmp_path / "frames" / "M003" / view / "angry" / "level_1" / "001"
                                          / f"{index:06d}.jpg"), dtype=np.float64)
            assert frame.shape == (SIDE, SIDE, 3)
            assert abs(frame.mean() - (16 * index + 3 * offset)) < 1.5, (view, index)  # that instant and camera
    assert not (tmp_path / "frames" / "M003" / "top").exists()
    stems = [path.relative_to(tmp_path / "frames").with_suffix("").as_posix().replace("/", "__")
             for path in sorted((tmp_path / "frames").rglob("*.jpg"))]
    pairs = mead_pairs(stems)  # the names `dualinv prepare` gives these files
    assert len(pairs) == 3 * 4 and {pair["view"] for pair in pairs} == set(MEAD_VIEWS[1:])


def test_the_choice_is_seeded_per_take_and_a_rerun_resumes(mead_videos, tmp_path):
    take = MeadTake("M003", "angry", "level_1", "001")
    assert choose_frames(take, 500, 4, seed=0) == choose_frames(take, 500, 4, seed=0)
    assert choose_frames(take, 500, 4, seed=0) != choose_frames(take, 500, 4, seed=1)
    assert choose_frames(take, 2, 4, seed=0) == [0, 1]  # a short take gives what it has
    extract_mead_frames(mead_videos, tmp_path / "frames", seed=0, progress=False)
    first = sorted((tmp_path / "frames").rglob("*.jpg"))
    stamps = [path.stat().st_mtime_ns for path in first]
    extract_mead_frames(mead_videos, tmp_path / "frames", seed=0, progress=False)
    assert sorted((tmp_path / "frames").rglob("*.jpg")) == first and len(first) == 5
    assert [path.stat().st_mtime_ns for path in first] == stamps  # kept, not decoded again
