"""CelebA-HQ's test split from files in the official formats of CelebA and CelebA-HQ."""

from __future__ import annotations

import numpy as np
import pytest

from dualinv.data.celebahq import (CELEBAHQ_TEST_IMAGES, celebahq_partition_indices, celebahq_test_photos,
                                   read_celeba_partition)
from dualinv.errors import DatasetFormatError

CELEBA_IMAGES = 202_599
CELEBA_LAST_TRAIN, CELEBA_LAST_VAL = 162_770, 182_637
"""CelebA's official partition boundaries (1-based file numbers): train ≤ 162,770, validation ≤ 182,637."""
HQ_PER_PARTITION = (24_183, 2_993, 2_824)
"""CelebA-HQ images per CelebA partition, as pSp reports them (24,183 train / 2,824 test of 30,000)."""


def official_partition_file(path):
    """``list_eval_partition.txt`` as CelebA ships it: ``000001.jpg 0`` … ``202599.jpg 2``, CRLF line ends."""
    lines = [f"{number:06d}.jpg {0 if number <= CELEBA_LAST_TRAIN else 1 if number <= CELEBA_LAST_VAL else 2}"
             for number in range(1, CELEBA_IMAGES + 1)]
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode())
    return path


def official_mapping_file(path, seed=0):
    """``CelebA-HQ-to-CelebA-mapping.txt`` in its format (header ``idx orig_idx orig_file``, aligned columns),
    30,000 HQ images drawn without repeats from each CelebA partition in pSp's proportions."""
    rng = np.random.default_rng(seed)
    ranges = [(1, CELEBA_LAST_TRAIN), (CELEBA_LAST_TRAIN + 1, CELEBA_LAST_VAL), (CELEBA_LAST_VAL + 1, CELEBA_IMAGES)]
    numbers = np.concatenate([rng.choice(np.arange(low, high + 1), size=count, replace=False)
                              for (low, high), count in zip(ranges, HQ_PER_PARTITION)])
    rng.shuffle(numbers)
    rows = ["idx         orig_idx        orig_file"]
    rows += [f"{index:<12d}{number - 1:<16d}{number:06d}.jpg" for index, number in enumerate(numbers)]
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path, {str(index) for index, number in enumerate(numbers) if number > CELEBA_LAST_VAL}


def test_the_test_split_has_pSps_2824_images(tmp_path):
    partition = official_partition_file(tmp_path / "list_eval_partition.txt")
    mapping, expected = official_mapping_file(tmp_path / "CelebA-HQ-to-CelebA-mapping.txt")
    assert len(read_celeba_partition(partition)) == CELEBA_IMAGES
    test = celebahq_partition_indices(mapping, partition)
    assert len(test) == CELEBAHQ_TEST_IMAGES == 2824 and test == expected
    assert len(celebahq_partition_indices(mapping, partition, partition=1)) == 2_993
    assert len(celebahq_partition_indices(mapping, partition, partition=0)) == 24_183


def test_test_photos_are_selected_from_the_folder_and_a_partial_folder_is_refused(tmp_path):
    partition = tmp_path / "list_eval_partition.txt"
    partition.write_text("000001.jpg 0\n000002.jpg 2\n000003.jpg 1\n000004.jpg 2\n", encoding="utf-8")
    mapping = tmp_path / "mapping.txt"
    mapping.write_text("idx orig_idx orig_file\n0 3 000004.jpg\n1 0 000001.jpg\n2 1 000002.jpg\n3 2 000003.jpg\n",
                       encoding="utf-8")
    photos = tmp_path / "CelebA-HQ-img"
    photos.mkdir()
    for index in range(4):
        (photos / f"{index}.jpg").write_bytes(b"jpeg")
    assert [path.name for path in celebahq_test_photos(photos, mapping, partition)] == ["0.jpg", "2.jpg"]
    (photos / "2.jpg").unlink()
    with pytest.raises(DatasetFormatError, match="1 of the 2 CelebA-HQ test images are missing.*e.g. 2"):
        celebahq_test_photos(photos, mapping, partition)


def test_files_of_another_format_are_refused(tmp_path):
    partition = tmp_path / "p.txt"
    partition.write_text("000001.jpg train\n", encoding="utf-8")
    with pytest.raises(DatasetFormatError, match=r"p.txt:1.*list_eval_partition"):
        read_celeba_partition(partition)
    partition.write_text("000001.jpg 2\n", encoding="utf-8")
    mapping = tmp_path / "m.txt"
    mapping.write_text("0 0 000001.jpg\n", encoding="utf-8")
    with pytest.raises(DatasetFormatError, match="header 'idx orig_idx orig_file'"):
        celebahq_partition_indices(mapping, partition)
    mapping.write_text("idx orig_idx orig_file\n0 4 000005.jpg\n", encoding="utf-8")
    with pytest.raises(DatasetFormatError, match="no partition for 000005.jpg"):
        celebahq_partition_indices(mapping, partition)
