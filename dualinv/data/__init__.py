"""Data preparation and datasets: raw portraits -> PanoHead-ready crops, masks and camera labels.

Public surface: :func:`prepare_images` (the ``prepare`` command), :class:`HeadDataset`, and the study's
workflow entry points :func:`prepare_study_shard`, :func:`merge_study_shards` and :func:`split_dataset`.
"""

from dualinv.data.dataset import HeadDataset
from dualinv.data.prepare import PrepareConfig, PrepareSummary, prepare_images
from dualinv.data.study_sets import SplitSummary, merge_study_shards, prepare_study_images, prepare_study_shard, split_dataset

__all__ = ["HeadDataset", "PrepareConfig", "PrepareSummary", "SplitSummary", "merge_study_shards", "prepare_images",
           "prepare_study_images", "prepare_study_shard", "split_dataset"]
