"""Training of the encoders: the loop, segments, checkpoints and resume (the registry is dualinv.models.experiments)."""

from dualinv.training.launch import train_segment_job
from dualinv.training.loop import SegmentResult, train_segment

__all__ = ["SegmentResult", "train_segment", "train_segment_job"]
