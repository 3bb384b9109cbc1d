"""Training as a chain of resumable segments (dualinv.training.segments)."""

from __future__ import annotations

import os

import pytest

from dualinv.training.segments import Segment, finalize_checkpoint, previous_segment, segments


def test_segments_cover_the_steps_in_order():
    assert segments(10, 4) == [Segment(0, 0, 4), Segment(1, 4, 8), Segment(2, 8, 10)]
    assert segments(8, 4) == [Segment(0, 0, 4), Segment(1, 4, 8)]
    assert segments(3, 10) == [Segment(0, 0, 3)]
    assert len(segments(500_000, 25_000)) == 20


@pytest.mark.parametrize("iterations, length", [(1, 1), (7, 3), (500_000, 25_000), (500_001, 25_000)])
def test_each_segment_resumes_where_the_previous_stopped(iterations, length):
    chain = segments(iterations, length)
    assert chain[0].start == 0 and chain[-1].stop == iterations
    for before, after in zip(chain, chain[1:]):
        assert after.start == before.stop and previous_segment(after.index) == before.index
    assert all(0 < item.stop - item.start <= length for item in chain)
    assert previous_segment(0) is None


def test_bad_lengths_are_refused():
    with pytest.raises(ValueError):
        segments(10, 0)
    with pytest.raises(ValueError):
        previous_segment(-1)


def test_finalize_publishes_the_last_segment_without_copying(tmp_path):
    last = tmp_path / "segments" / "1.pt"
    last.parent.mkdir()
    last.write_bytes(b"weights")
    final = tmp_path / "checkpoint.pt"
    finalize_checkpoint(last, final)
    assert final.read_bytes() == b"weights"
    assert os.stat(final).st_ino == os.stat(last).st_ino  # a hard link
    last.unlink()  # the segment is temp() in the workflow: the published checkpoint survives
    assert final.read_bytes() == b"weights"
    assert sorted(path.name for path in tmp_path.iterdir()) == ["checkpoint.pt", "segments"]
