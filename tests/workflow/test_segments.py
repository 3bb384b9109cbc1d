"""Training as a chain of resumable segments (dualinv.training.segments)."""

from __future__ import annotations

import os

import pytest
import torch

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


def test_finalize_publishes_the_trained_encoder_without_the_resume_state(tmp_path):
    """models/<experiment>/checkpoint.pt: the encoder and what it is, a quarter of the segment's size;
    it inverts as the segment does and refuses to resume training."""
    from dualinv.errors import CheckpointError
    from dualinv.models.checkpoint import load_trained_encoder, load_training_checkpoint
    from dualinv.models.experiments import get_experiment
    from dualinv.training import train_segment
    from dualinv.training.build import build_components
    from tests.training.tiny import rendered_heads, tiny_config, tiny_generator, train_tiny

    last = tmp_path / "segments" / "1.pt"
    last.parent.mkdir()
    train_tiny("encoder2", last, steps=1)
    final = tmp_path / "checkpoint.pt"
    finalize_checkpoint(last, final)
    published, full = load_training_checkpoint(final), load_training_checkpoint(last)
    assert published["published"] is True and "encoder_optimiser" not in published and "rng" not in published
    assert all(torch.equal(published["encoder"][key], full["encoder"][key]) for key in full["encoder"])
    assert final.stat().st_size < 0.4 * last.stat().st_size
    last.unlink()  # the segment is temp() in the workflow: the published checkpoint stands alone
    encoder, config, _, identity = load_trained_encoder(final)
    assert config.encoder.input_resolution == 32 and identity.stand_in
    config = tiny_config(encoder={"input_resolution": 32}, training={"batch_size": 1})
    generator, identity = tiny_generator()
    components = build_components(config, get_experiment("encoder2"), rendered_heads(generator, 3),
                                  generator=generator, identity=identity)
    with pytest.raises(CheckpointError, match="published encoder"):
        train_segment(config, "encoder2", 1, 2, final, tmp_path / "more.pt", components=components)
