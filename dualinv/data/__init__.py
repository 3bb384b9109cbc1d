"""Data preparation and datasets: raw portraits -> PanoHead-ready crops, masks and camera labels.

Public surface: :func:`prepare_images` (the ``prepare`` command) and :class:`HeadDataset`.
"""

from dualinv.data.dataset import HeadDataset
from dualinv.data.prepare import PrepareConfig, PrepareSummary, prepare_images

__all__ = ["HeadDataset", "PrepareConfig", "PrepareSummary", "prepare_images"]
