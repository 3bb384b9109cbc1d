"""Training of the encoders: the experiment registry, the loop, checkpoints and resume."""

from dualinv.training.config import GeneratorSource, TrainingSettings, settings_from_study, tiny_training_config
from dualinv.training.experiments import EXPERIMENTS, Experiment, get_experiment
from dualinv.training.loop import SegmentResult, train_segment

__all__ = ["EXPERIMENTS", "Experiment", "GeneratorSource", "SegmentResult", "TrainingSettings", "get_experiment",
           "settings_from_study", "tiny_training_config", "train_segment"]
