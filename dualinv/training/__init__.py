"""Training of the encoders: the experiment registry, the loop, checkpoints and resume."""

from dualinv.training.experiments import EXPERIMENTS, Experiment, get_experiment

__all__ = ["EXPERIMENTS", "Experiment", "get_experiment"]
