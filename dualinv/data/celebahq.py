"""The CelebA-HQ test split of pSp, e4e and GOAE: the 2,824 CelebA-HQ images whose CelebA original is in
CelebA's official test partition.

Two published files define it (dualinv never downloads them):

* CelebA's ``Eval/list_eval_partition.txt``: one line ``<celeba file> <partition>`` per CelebA image
  (``000001.jpg 0``), 0 = train, 1 = validation, 2 = test (202,599 lines);
* ``CelebA-HQ-to-CelebA-mapping.txt`` (shipped with CelebA-HQ / CelebAMask-HQ): a header line
  ``idx orig_idx orig_file``, then one line per CelebA-HQ image, ``<hq index> <celeba index> <celeba file>``.

CelebA-HQ image ``<hq index>.jpg`` is in the test split when its ``orig_file`` has partition 2; the
official files give 24,183 train, 2,993 validation and 2,824 test images (pSp §4; e4e and GOAE evaluate
on the same 2,824).
"""

from __future__ import annotations

from pathlib import Path

from dualinv.data.decode import IMAGE_SUFFIXES
from dualinv.errors import DatasetFormatError

CELEBA_TEST_PARTITION = 2
"""Partition number of CelebA's test images in ``list_eval_partition.txt``."""
CELEBAHQ_TEST_IMAGES = 2824
"""Size of the CelebA-HQ test split from the official files (pSp, e4e, GOAE)."""


def read_celeba_partition(path: str | Path) -> dict[str, int]:
    """``{celeba file: partition}`` of ``list_eval_partition.txt``; a malformed line is an error."""
    partition: dict[str, int] = {}
    for number, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), start=1):
        parts = line.split()
        if not parts:
            continue
        if len(parts) != 2 or parts[1] not in ("0", "1", "2"):
            raise DatasetFormatError(f"{path}:{number}: {line.strip()!r} is not '<celeba file> <0|1|2>' "
                                     f"(CelebA's Eval/list_eval_partition.txt)")
        partition[parts[0]] = int(parts[1])
    if not partition:
        raise DatasetFormatError(f"{path}: no partition lines (expected CelebA's Eval/list_eval_partition.txt)")
    return partition


def read_celebahq_mapping(path: str | Path) -> dict[str, str]:
    """``{hq index: celeba file}`` of ``CelebA-HQ-to-CelebA-mapping.txt`` (its header line skipped)."""
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    if not lines or lines[0].split()[:3] != ["idx", "orig_idx", "orig_file"]:
        raise DatasetFormatError(f"{path}: the first line is not the header 'idx orig_idx orig_file' of "
                                 f"CelebA-HQ-to-CelebA-mapping.txt")
    mapping: dict[str, str] = {}
    for number, line in enumerate(lines[1:], start=2):
        parts = line.split()
        if not parts:
            continue
        if len(parts) != 3 or not parts[0].isdigit():
            raise DatasetFormatError(f"{path}:{number}: {line.strip()!r} is not '<hq index> <celeba index> "
                                     f"<celeba file>'")
        mapping[parts[0]] = parts[2]
    return mapping


def celebahq_partition_indices(mapping_file: str | Path, partition_file: str | Path,
                               partition: int = CELEBA_TEST_PARTITION) -> set[str]:
    """CelebA-HQ indices (``"0"`` … ``"29999"``) whose CelebA original is in ``partition`` (default: test)."""
    partitions = read_celeba_partition(partition_file)
    chosen = set()
    for hq_index, celeba_file in read_celebahq_mapping(mapping_file).items():
        if celeba_file not in partitions:
            raise DatasetFormatError(f"{partition_file}: no partition for {celeba_file}, named in {mapping_file}")
        if partitions[celeba_file] == partition:
            chosen.add(hq_index)
    return chosen


def celebahq_test_photos(folder: str | Path, mapping_file: str | Path, partition_file: str | Path) -> list[Path]:
    """The photos of ``folder`` (``CelebA-HQ-img/``: ``0.jpg`` … ``29999.jpg``) in the test split, sorted by
    index. Every test image must be there: a partial folder would silently change the test set."""
    test = celebahq_partition_indices(mapping_file, partition_file)
    photos = {path.stem: path for path in Path(folder).iterdir() if path.suffix.lower() in IMAGE_SUFFIXES}
    missing = sorted(test - set(photos), key=int)
    if missing:
        raise DatasetFormatError(f"{folder}: {len(missing)} of the {len(test)} CelebA-HQ test images are missing "
                                 f"(e.g. {', '.join(missing[:5])}); give the whole CelebA-HQ-img folder")
    return [photos[index] for index in sorted(test, key=int)]
