"""User-facing errors.

Every error a user can cause (a bad config, a missing or tampered weights file, an unreadable image,
a face that cannot be found, an unsafe pickle) is raised as a subclass of :class:`DualinvError` whose
message says what went wrong *and what to do*. The CLI prints these without a traceback; anything
else is a bug and keeps its traceback.
"""

from __future__ import annotations


class DualinvError(Exception):
    """Base class of every error a user can cause and fix."""


class ConfigError(DualinvError):
    """A configuration key is unknown, has the wrong type, or an invalid value."""


class MissingWeightsError(DualinvError):
    """A pretrained file named in the config is absent or does not match its expected hash."""


class CheckpointError(DualinvError):
    """A checkpoint or network pickle is truncated, corrupt, or not what it claims to be."""


class UnsafeCheckpointError(CheckpointError):
    """A pickle refers to a global outside the allowlist; nothing from it was executed."""


class BadImageError(DualinvError):
    """An input image cannot be decoded, is empty, too small or too large to decode safely."""


class NoFaceError(DualinvError):
    """No face was detected in an input photo."""


class UnusableImageError(BadImageError):
    """An input image refused for a named ``reason`` (the code written to ``rejects.csv``)."""

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


class DatasetLossError(DualinvError):
    """Data preparation rejected more of a dataset's images than the configured share allows."""


class DatasetFormatError(DualinvError):
    """A dataset folder, its ``dataset.json`` or a manifest's input layout is not as documented."""


class ResultsFormatError(DualinvError):
    """A metrics JSON file (``results/metrics/<method>/<dataset>.json``) is missing, unreadable or malformed."""


class PairingError(DualinvError):
    """Renders and targets (or MEAD views) cannot be paired: a file or a view is missing."""


class GeneratorMismatchError(CheckpointError):
    """An encoder checkpoint was trained against a different generator than the one given."""


class NonFiniteLossError(DualinvError):
    """A training loss became NaN or infinite; the last good checkpoint was kept."""


class MissingInputsError(DualinvError):
    """Pretrained files or datasets named in the config are absent; every one is listed at once."""


class MissingEntryPointError(DualinvError):
    """The workflow calls a dualinv function that this version of the library does not provide."""


class TrainingProcessError(DualinvError):
    """A process of a multi-GPU training run failed; its own error is in the job log above this one."""


class PreemptedError(DualinvError):
    """A job stopped itself on the scheduler's warning before its time limit, its progress saved: a retry continues."""
