"""``prepare``: raw portraits -> PanoHead-ready crops, masks, ``dataset.json`` and ``rejects.csv``.

For each photo: decode (:mod:`.decode`), find the largest face and its mesh (:mod:`.pose`), build
the camera label from the estimated head rotation, crop to PanoHead's convention (:mod:`.align`),
matte and composite the background (:mod:`.background`). Each prepared image leaves three files,
the label sidecar written last, so an interrupted run resumes by skipping every image whose
sidecar exists. Bad inputs are recorded in ``rejects.csv`` and counted, and the batch goes on; an
unexpected exception while preparing one photo becomes a reject too (reason ``error``, with the
exception's class and message), except :data:`FATAL_ERRORS` and interrupts, which stop the batch,
as does a failure to write the outputs. A batch that loses more than ``max_reject_share`` of its
inputs fails loudly at the end. The matting model is chosen once, before any work
(:func:`dualinv.data.background.choose_matting`); a fallback from a missing U^2-Net file is warned
about and recorded in ``summary.json`` and in each image's sidecar.
"""

from __future__ import annotations

import json
import logging
import multiprocessing
import os
import shutil
import time
import warnings
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
from PIL import Image
from tqdm import tqdm

from dualinv.data.align import CROP_SIZE
from dualinv.data.alignment import Aligner, PoseConfig
from dualinv.data.background import (
    BackgroundConfig,
    Matting,
    MattingFallbackWarning,
    build_matting,
    choose_matting,
    composite,
)
from dualinv.data.dataset import IMAGES_DIR, MASKS_DIR, write_labels
from dualinv.data.decode import IMAGE_SUFFIXES, DecodeLimits, decode_image
from dualinv.data.pose import FaceFinder, FaceFinderConfig, pose_angles
from dualinv.data.rejects import REJECTS_FILE, Reject, count_reasons, read_rejects, write_rejects
from dualinv.errors import ConfigError, DatasetFormatError, DatasetLossError, NoFaceError, UnusableImageError
from dualinv.fileio import atomic_path, write_json_atomic
from dualinv.output_names import output_stem

LABELS_DIR = "labels"
SUMMARY_FILE = "summary.json"
FATAL_ERRORS: tuple[type[BaseException], ...] = (MemoryError,)
"""Exceptions that stop the batch instead of rejecting one photo (``KeyboardInterrupt`` and
``SystemExit`` are not ``Exception`` and always stop it)."""


@dataclass(frozen=True)
class Shard:
    """Shard ``index`` of ``count`` of one preparation: the photos at listing positions ``index``,
    ``index + count``, ... (the listing is sorted, so every shard computes the same split). Shard 0
    also carries the listing's rejects (entries that are no photos). :func:`merge_prepared_shards`
    joins the shards' folders into the dataset one job would have written."""

    index: int = 0
    count: int = 1

    def __post_init__(self) -> None:
        if self.count < 1 or not 0 <= self.index < self.count:
            raise ConfigError(f"preparation shard {self.index} of {self.count} does not exist")

    def takes(self, position: int) -> bool:
        return position % self.count == self.index


@dataclass(frozen=True)
class PrepareConfig:
    """Settings of one ``prepare`` run."""

    size: int = CROP_SIZE
    """Side of the output crops."""
    workers: int = 1
    """Worker processes (each holds its own mediapipe graphs); 1 runs in this process."""
    max_reject_share: float = 0.5
    """Fail (``DatasetLossError``) when more than this share of the inputs is rejected."""
    progress: bool = True
    """Show a tqdm progress bar."""
    limits: DecodeLimits = field(default_factory=DecodeLimits)
    background: BackgroundConfig = field(default_factory=BackgroundConfig)
    face: FaceFinderConfig = field(default_factory=FaceFinderConfig)
    pose: PoseConfig = field(default_factory=PoseConfig)
    """Alignment and camera labels (:mod:`dualinv.data.alignment`; default PanoHead's 3DDFA pipeline)."""

    def __post_init__(self) -> None:
        if self.size < 64:
            raise ConfigError(f"prepare.size must be at least 64, got {self.size}")
        if self.workers < 1:
            raise ConfigError(f"prepare.workers must be at least 1, got {self.workers}")
        if not 0.0 <= self.max_reject_share <= 1.0:
            raise ConfigError(f"prepare.max_reject_share must be in [0, 1], got {self.max_reject_share}")


@dataclass(frozen=True)
class PrepareSummary:
    """What a run did; also written to ``summary.json``."""

    inputs: int
    prepared: int
    already_prepared: int
    rejected: int
    reasons: dict[str, int]
    matting: str
    """The matting model of this run: ``u2net`` or ``selfie``."""
    matting_fallback: str | None
    """Why the configured U^2-Net file was not used (selfie ran instead); ``None`` when it was, or none was configured."""
    seconds: float
    alignment: str = ""
    """The alignment and pose method (:attr:`dualinv.data.alignment.Aligner.name`), also in ``dataset.json``."""

    def __str__(self) -> str:
        reasons = ", ".join(f"{reason} {count}" for reason, count in self.reasons.items()) or "none"
        rate = self.prepared / self.seconds if self.seconds > 0 else 0.0
        text = (
            f"{self.inputs} input(s): {self.prepared} prepared, {self.already_prepared} already prepared, "
            f"{self.rejected} rejected ({reasons}); alignment {self.alignment}; matting {self.matting}; "
            f"{self.seconds:.1f} s ({rate:.2f} images/s)"
        )
        return text if self.matting_fallback is None else f"{text}\nWARNING: {self.matting_fallback}"


def list_inputs(source: str | Path | Sequence[str | Path]) -> list[tuple[Path, str]]:
    """(path, source key) of every photo: a folder (searched recursively for JPEG, PNG, WebP, GIF), a
    text file listing one path per line, or a sequence of paths. Keys are folder-relative or as given."""
    return list_inputs_and_rejects(source)[0]


def folder_entries(folder: Path) -> tuple[list[tuple[Path, str]], list[Reject]]:
    """The photos of ``folder`` (recursively) and a :class:`Reject` for every other entry that is not
    a folder: another file type, a folder named like a photo is listed as its contents plus a row of
    its own, a dangling symbolic link. Nothing is skipped without a ``rejects.csv`` row."""
    photos, rejects = [], []
    for path in sorted(folder.rglob("*")):
        key = path.relative_to(folder).as_posix()
        named_like_photo = path.suffix.lower() in IMAGE_SUFFIXES
        if path.is_symlink() and not path.exists():
            rejects.append(Reject(key, "broken_link", f"{path}: a symbolic link to {os.readlink(path)!r}, "
                                                      "which does not exist; fix or remove the link"))
        elif path.is_dir():
            if named_like_photo:
                rejects.append(Reject(key, "not_a_file", f"{path}: a folder named like a photo; its photos "
                                                         "are listed on their own"))
        elif not path.is_file():
            rejects.append(Reject(key, "not_a_file", f"{path}: not a regular file (a device, socket or pipe)"))
        elif named_like_photo:
            photos.append((path, key))
        else:
            rejects.append(Reject(key, "unsupported_format", f"{path}: {path.suffix or 'no suffix'} is not one of "
                                                             f"{', '.join(IMAGE_SUFFIXES)}; convert it or move it out"))
    return photos, rejects


def list_inputs_and_rejects(source: str | Path | Sequence[str | Path]) -> tuple[list[tuple[Path, str]], list[Reject]]:
    """:func:`list_inputs` plus the entries of a folder that are not photos (:func:`folder_entries`)."""
    if isinstance(source, (str, Path)):
        source = Path(source)
        if source.is_dir():
            return folder_entries(source)
        return _listed(source), []
    return [(Path(item), str(item)) for item in source], []


def _listed(source: Path) -> list[tuple[Path, str]]:
    """The photos of a list file (one path a line, ``#`` comments), or the one photo ``source``."""
    if source.is_file() and source.suffix.lower() in (".txt", ".lst"):
        lines = [line.strip() for line in source.read_text(encoding="utf-8").splitlines()]
        return [(Path(line), line) for line in lines if line and not line.startswith("#")]
    if source.is_file():
        return [(source, source.name)]
    raise DatasetFormatError(f"{source}: no such folder or list file; give a folder of photos or a .txt list of paths")


@dataclass(frozen=True)
class Prepared:
    """One image written: its stem, label and pose angles."""

    stem: str
    label: list[float]
    yaw: float
    pitch: float
    matting: str


class ImagePreparer:
    """One photo in, crop + mask + label out. Holds the mediapipe graphs: one per process.

    The matting model is :func:`choose_matting`'s choice for ``config.background`` (a fallback is
    warned about here); :func:`prepare_images` passes the model it chose, so workers agree."""

    def __init__(self, out_dir: Path, config: PrepareConfig) -> None:
        self.out_dir = out_dir
        self.config = config
        self.matting_choice = choose_matting(config.background)
        if self.matting_choice.fallback is not None:
            warnings.warn(self.matting_choice.fallback, MattingFallbackWarning, stacklevel=2)
        self.faces = FaceFinder(config.face)
        self.aligner = Aligner(self.faces, config.pose)
        self.matting: Matting = build_matting(self.matting_choice.kind, config.background.u2net_path)

    def close(self) -> None:
        self.faces.close()
        self.matting.close()

    def prepare(self, path: Path, key: str) -> Prepared | Reject:
        """Prepare one photo; a bad input or an unexpected error in one photo gives a :class:`Reject`."""
        try:
            outcome = self._crop_and_matte(path, key)
        except FATAL_ERRORS:
            raise
        except Exception as error:  # a bug or a library failure on one photo must not end the batch
            logging.getLogger(__name__).warning("%s: unexpected %s while preparing it", path, type(error).__name__, exc_info=True)
            return Reject(key, "error", f"{path}: {type(error).__name__}: {error}")
        if isinstance(outcome, Reject):
            return outcome
        image, matte, label = outcome
        stem = output_stem(key)  # writing errors (disk full, permissions) are not the photo's fault: they stop the batch
        _write_png(self.out_dir / IMAGES_DIR / f"{stem}.png", image)
        _write_png(self.out_dir / MASKS_DIR / f"{stem}.png", np.clip(np.rint(matte * 255), 0, 255).astype(np.uint8))
        angles = pose_angles(label)
        record = Prepared(stem, [float(value) for value in label], angles.yaw, angles.pitch, self.matting.name)
        write_json_atomic(self.out_dir / LABELS_DIR / f"{stem}.json", {"source": key, **asdict(record)})
        return record

    def _crop_and_matte(self, path: Path, key: str) -> tuple[np.ndarray, np.ndarray, np.ndarray] | Reject:
        """(composited crop, matte, label) of one photo, or the reason it cannot be used."""
        try:
            photo = decode_image(path, self.config.limits)
        except UnusableImageError as error:
            return Reject(key, error.reason, str(error))
        try:
            aligned = self.aligner.align(photo, self.config.size, str(path))
        except NoFaceError as error:
            return Reject(key, "no_face", f"{path}: {error}")
        except UnusableImageError as error:
            return Reject(key, error.reason, str(error))
        matte = self.matting.matte(aligned.crop) * aligned.coverage
        background = self.config.background
        image = composite(aligned.crop, matte, background.colour) if background.enabled else aligned.crop
        return image, matte, aligned.label


def _write_png(target: Path, pixels: np.ndarray) -> None:
    with atomic_path(target) as temporary:
        Image.fromarray(pixels).save(temporary, format="PNG")


def is_prepared(out_dir: Path, key: str) -> bool:
    stem = output_stem(key)
    return all(
        (out_dir / folder / f"{stem}{suffix}").is_file()
        for folder, suffix in ((LABELS_DIR, ".json"), (IMAGES_DIR, ".png"), (MASKS_DIR, ".png"))
    )


# Worker processes hold their ImagePreparer here (set by the pool initializer, only in workers).
_worker_preparer: list[ImagePreparer] = []


def _start_worker(out_dir: Path, config: PrepareConfig) -> None:
    _worker_preparer.append(ImagePreparer(out_dir, config))


def _work(path: Path, key: str) -> Prepared | Reject:
    return _worker_preparer[0].prepare(path, key)


def _run(todo: list[tuple[Path, str]], out_dir: Path, config: PrepareConfig) -> Iterable[Prepared | Reject]:
    if not todo:
        return  # nothing left to prepare: load no models
    if config.workers == 1 or len(todo) <= 1:
        preparer = ImagePreparer(out_dir, config)
        try:
            for path, key in todo:
                yield preparer.prepare(path, key)
        finally:
            preparer.close()
        return
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(config.workers, mp_context=context, initializer=_start_worker, initargs=(out_dir, config)) as pool:
        futures = [pool.submit(_work, path, key) for path, key in todo]
        for future in as_completed(futures):
            yield future.result()


def assemble_labels(out_dir: Path) -> dict[str, np.ndarray]:
    """``{images/<stem>.png: label}`` from every sidecar in ``out_dir/labels`` (this and earlier runs)."""
    labels = {}
    for sidecar in sorted((out_dir / LABELS_DIR).glob("*.json")):
        record = json.loads(sidecar.read_text(encoding="utf-8"))
        labels[f"{IMAGES_DIR}/{record['stem']}.png"] = np.asarray(record["label"], dtype=np.float64)
    return labels


def prepare_images(
    source: str | Path | Sequence[str | Path],
    out_dir: str | Path,
    config: PrepareConfig = PrepareConfig(),
    shard: Shard = Shard(),
) -> PrepareSummary:
    """Prepare every photo of ``source`` (or only ``shard``'s) into ``out_dir`` (see the module docstring).

    A shard of several does not apply ``max_reject_share``: the share is judged over the whole dataset
    when the shards are merged (:func:`merge_prepared_shards`)."""

    started = time.perf_counter()
    out_dir = Path(out_dir)
    inputs, listing_rejects = list_inputs_and_rejects(source)
    stems: dict[str, str] = {}
    for _, key in inputs:
        other = stems.setdefault(output_stem(key), key)
        if other != key:
            raise DatasetFormatError(f"inputs {other!r} and {key!r} would both be written as {output_stem(key)}.png; rename one")
    inputs = [item for position, item in enumerate(inputs) if shard.takes(position)]
    listing_rejects = listing_rejects if shard.index == 0 else []
    todo = [(path, key) for path, key in inputs if not is_prepared(out_dir, key)]
    if todo:
        config.pose.check()  # a missing TDDFA/BFM file stops us before any work (none is read when nothing is left)
    alignment = Aligner.describe(config.pose)
    matting = choose_matting(config.background)  # a present but corrupt weights file stops us before any work
    if matting.fallback is not None:
        warnings.warn(matting.fallback, MattingFallbackWarning, stacklevel=2)
    config = replace(config, background=replace(config.background, matting=matting.kind))
    rejects: list[Reject] = list(listing_rejects)
    prepared = 0
    with tqdm(total=len(todo), desc="prepare", unit="img", disable=not config.progress) as bar:
        for outcome in _run(todo, out_dir, config):
            if isinstance(outcome, Reject):
                rejects.append(outcome)
            else:
                prepared += 1
            bar.update(1)
    out_dir.mkdir(parents=True, exist_ok=True)
    write_rejects(out_dir / REJECTS_FILE, rejects)
    write_labels(out_dir, assemble_labels(out_dir), alignment=alignment)
    summary = PrepareSummary(
        inputs=len(inputs) + len(listing_rejects),
        prepared=prepared,
        already_prepared=len(inputs) - len(todo),
        rejected=len(rejects),
        reasons=count_reasons(rejects),
        matting=matting.kind,
        matting_fallback=matting.fallback,
        seconds=time.perf_counter() - started,
        alignment=alignment,
    )
    write_json_atomic(out_dir / SUMMARY_FILE, asdict(summary))
    if shard.count == 1:
        check_reject_share(summary, config.max_reject_share, out_dir)
    return summary


def check_reject_share(summary: PrepareSummary, max_reject_share: float, out_dir: Path) -> None:
    """``DatasetLossError`` when more than ``max_reject_share`` of the inputs were rejected."""
    if summary.inputs and summary.rejected > max_reject_share * summary.inputs:
        raise DatasetLossError(
            f"{summary.rejected} of {summary.inputs} inputs rejected ({summary.reasons}), more than the allowed share "
            f"{max_reject_share:.0%}; see {out_dir / REJECTS_FILE}, fix the inputs or raise max_reject_share"
        )


def _link_or_copy(source: Path, target: Path) -> None:
    """``target`` becomes a hard link to ``source`` (a copy across filesystems), replacing what was there."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(target) as partial:
        partial.unlink()  # the placeholder atomic_path made; the link takes its name
        try:
            os.link(source, partial)
        except OSError:
            shutil.copy2(source, partial)


def merge_prepared_shards(shard_dirs: Sequence[str | Path], out_dir: str | Path,
                          max_reject_share: float = 1.0) -> PrepareSummary:
    """The prepared dataset ``out_dir`` from the folders of all shards of one preparation: the same
    images, masks, label sidecars, ``dataset.json`` and ``rejects.csv`` as one unsharded run writes
    (files are hard-linked), and a ``summary.json`` with the shards' counts and seconds added up."""
    out_dir = Path(out_dir)
    summaries = []
    for shard_dir in map(Path, shard_dirs):
        try:
            summaries.append(json.loads((shard_dir / SUMMARY_FILE).read_text(encoding="utf-8")))
        except FileNotFoundError:
            raise DatasetFormatError(f"{shard_dir}: no {SUMMARY_FILE}; that preparation shard has not finished") from None
    for key in ("alignment", "matting"):
        if len({summary[key] for summary in summaries}) > 1:
            raise DatasetFormatError(f"the preparation shards disagree on {key} "
                                     f"({sorted({summary[key] for summary in summaries})}); prepare them again")
    rejects: list[Reject] = []
    for shard_dir in map(Path, shard_dirs):
        for folder in (IMAGES_DIR, MASKS_DIR, LABELS_DIR):
            for path in sorted((shard_dir / folder).glob("*")):
                _link_or_copy(path, out_dir / folder / path.name)
        rejects += read_rejects(shard_dir / REJECTS_FILE)
    out_dir.mkdir(parents=True, exist_ok=True)
    write_rejects(out_dir / REJECTS_FILE, rejects)
    write_labels(out_dir, assemble_labels(out_dir), alignment=summaries[0]["alignment"])
    summary = PrepareSummary(
        inputs=sum(item["inputs"] for item in summaries),
        prepared=sum(item["prepared"] for item in summaries),
        already_prepared=sum(item["already_prepared"] for item in summaries),
        rejected=len(rejects),
        reasons=count_reasons(rejects),
        matting=summaries[0]["matting"],
        matting_fallback=next((item["matting_fallback"] for item in summaries if item["matting_fallback"]), None),
        seconds=sum(item["seconds"] for item in summaries),
        alignment=summaries[0]["alignment"],
    )
    write_json_atomic(out_dir / SUMMARY_FILE, asdict(summary))
    check_reject_share(summary, max_reject_share, out_dir)
    return summary
