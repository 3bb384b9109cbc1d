"""360° FID (paper §4.3): randomly synthesized heads against encoded real images, over all yaws.

Protocol (§4.3, made explicit here because the paper gives no camera rule): ``num_images`` (1k)
heads synthesized from seeded z, and the same number of encoded real images, each rendered once at
a yaw drawn uniformly from [−``yaw_range_deg``, +``yaw_range_deg``) (180 = the full circle), level
pitch, radius 2.7, looking at the origin. Head ``i`` of both sets uses the same yaw ``i``, so the two
distributions see exactly the same cameras. The real images are a seeded uniform sample of the test
set without replacement (:meth:`FidProtocol.real_image_positions`; all of them when it has fewer),
never its first N (the FFHQ + LPFF split is sorted, so those would all be FFHQ).
:meth:`FidProtocol.describe` is written beside every number.

Features are clean-fid's, in one of two of its modes (:data:`FID_MODES`), both from the Inception-v3
TorchScript network loaded through ``InceptionV3W(local_dir, download=False)`` from the configured
``weights.inception`` file (never a download, never clean-fid's hard-coded /tmp path); images are uint8
(quantized exactly as PNGs are written) in both:

* ``clean`` (our protocol): resized to 299 outside the network with clean-fid's PIL-bicubic resizer;
* ``legacy_tensorflow`` (the authors' protocol): handed over at their own size, and the network resizes
  them to 299 inside (bilinear, ``align_corners=False``), as TensorFlow's FID and the authors'
  TF-aligned Inception (three-bee/gen_metrics ``build_inception_model(align_tf=True)``) do.

The extractor is injectable: tests and the mini preset use :func:`standin_feature_model`, and a number
computed with it is marked ``stand_in``.
"""

from __future__ import annotations

import copy
import logging
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from dualinv.camera import CAMERA_RADIUS, FRONTAL_VERTICAL, camera_at_yaw
from dualinv.errors import ConfigError
from dualinv.eval.results import MetricValue
from dualinv.eval.sampling import SAMPLING_RULE, sampled_positions
from dualinv.fileio import tensor_to_uint8
from dualinv.progress import progress_bar
from dualinv.seeding import derive_seed, make_generator
from dualinv.weights import require_weights

INCEPTION_FILENAME = "inception-2015-12-05.pt"
"""The file name ``InceptionV3W`` looks for inside its ``local_dir``."""
FEATURE_SIZE = 299
"""Inception input side; clean-fid resizes every image to it."""
FID_REAL_IMAGES = "fid-real-images"
"""Purpose of the seeded draw of the encoded real images (:mod:`dualinv.eval.sampling`)."""

FID_EPS = 1e-6
"""Added to both covariance diagonals when their product is singular (clean-fid's ``eps``)."""
FID_MODES = ("clean", "legacy_tensorflow")
"""clean-fid's modes used here: ours resizes outside the network, the authors' inside it."""

FeatureExtractor = Callable[[torch.Tensor], torch.Tensor]
"""[B, 3, H, W] float in [0, 255] -> [B, D] features (clean-fid's extractor convention); H = W = 299 in
``clean`` mode, any size in ``legacy_tensorflow`` mode (the extractor resizes)."""


@dataclass(frozen=True)
class FeatureModel:
    """A feature extractor and what it is."""

    extract: FeatureExtractor
    name: str
    stand_in: bool
    """Seeded random features instead of the real Inception network: the FID is not comparable."""
    mode: str = "clean"
    """The clean-fid mode the extractor belongs to (:data:`FID_MODES`); it decides who resizes to 299."""

    def __post_init__(self) -> None:
        if self.mode not in FID_MODES:
            raise ConfigError(f"FID mode must be one of {FID_MODES}, got {self.mode!r}")


def load_inception(path: str | Path | None, checksum: str | None = None,
                   device: str | torch.device = "cpu", mode: str = "clean") -> FeatureModel:
    """clean-fid's Inception-v3 from the configured file (``weights.inception``) in ``mode``; nothing downloads.

    The file is checked against its published sha256 (``weights.inception`` in
    :data:`dualinv.weights.REGISTRY`, or ``checksum`` when the config pins one) before anything reads
    it: ``InceptionV3W`` calls ``torch.jit.load``, which runs the code a TorchScript file carries.
    ``InceptionV3W`` reads ``<local_dir>/inception-2015-12-05.pt``; a file stored under another name
    is linked under that name in a private temporary folder for the load.
    """
    if mode not in FID_MODES:
        raise ConfigError(f"FID mode must be one of {FID_MODES}, got {mode!r}")
    return load_inception_modes(path, checksum, device=device)[mode]


def load_inception_modes(path: str | Path | None, checksum: str | None = None,
                         device: str | torch.device = "cpu") -> dict[str, FeatureModel]:
    """:func:`load_inception` in each of :data:`FID_MODES` from one load of the file (the weights are shared)."""
    checked = require_weights("inception", path, checksum).resolve()  # before torch.jit.load sees the file
    from cleanfid.inception_torchscript import InceptionV3W  # clean-fid is only needed for a real FID
    if checked.name == INCEPTION_FILENAME:
        network = InceptionV3W(str(checked.parent), download=False)
    else:
        with tempfile.TemporaryDirectory(prefix="dualinv-inception-") as folder:
            os.symlink(checked, Path(folder) / INCEPTION_FILENAME)
            network = InceptionV3W(folder, download=False)
    network = network.to(device).eval()
    resizing = copy.copy(network)  # shares the weights; clean-fid's resize_inside=True (legacy_tensorflow) path
    resizing.resize_inside = True

    def extractor(module: torch.nn.Module) -> FeatureExtractor:
        def extract(images: torch.Tensor) -> torch.Tensor:
            with torch.no_grad():
                return module(images.to(device)).cpu()
        return extract

    return {mode: FeatureModel(extract=extractor(module), name=f"clean-fid Inception-v3 ({checked.name}), {mode} mode",
                               stand_in=False, mode=mode)
            for mode, module in (("clean", network), ("legacy_tensorflow", resizing))}


def standin_feature_model(seed: int = 0, dim: int = 64, mode: str = "clean") -> FeatureModel:
    """Seeded random features (8×8 average pool, fixed random projection, tanh) for tests and the mini preset.

    In ``legacy_tensorflow`` mode it first resizes to 299 as the TF-aligned network does inside (bilinear,
    ``align_corners=False``), so the two modes' stand-ins differ where the real networks do: in the resize.
    """
    generator = make_generator(derive_seed(seed, "fid-stand-in-features"))
    projection = torch.randn(3 * 8 * 8, dim, generator=generator) / (3 * 8 * 8) ** 0.5

    def extract(images: torch.Tensor) -> torch.Tensor:
        images = images.float().cpu()
        if mode == "legacy_tensorflow":
            images = legacy_tensorflow_resized(images)
        pooled = F.adaptive_avg_pool2d(images / 127.5 - 1.0, 8).flatten(1)
        return torch.tanh(pooled @ projection)

    return FeatureModel(extract=extract, name=f"stand-in random features (seed {seed}, {dim}-d), {mode} mode",
                        stand_in=True, mode=mode)


def legacy_tensorflow_resized(images: torch.Tensor) -> torch.Tensor:
    """[B, 3, H, W] -> [B, 3, 299, 299]: the resize inside the TF-aligned Inception (bilinear, no corner
    alignment), which the legacy_tensorflow mode leaves to the network and the authors' script also uses."""
    if images.shape[-2:] == (FEATURE_SIZE, FEATURE_SIZE):
        return images
    return F.interpolate(images, size=(FEATURE_SIZE, FEATURE_SIZE), mode="bilinear", align_corners=False)


def clean_resized(image: torch.Tensor) -> torch.Tensor:
    """One [3, H, W] image in [-1, 1] -> [3, 299, 299] float in [0, 255], as clean-fid prepares a PNG."""
    return mode_prepared(image, "clean")


def mode_prepared(image: torch.Tensor, mode: str) -> torch.Tensor:
    """One [3, H, W] image in [-1, 1] as clean-fid hands it to the network in ``mode``: float [0, 255] of the
    uint8 image, resized to 299 by clean-fid's resizer of that mode (the identity for legacy_tensorflow)."""
    from cleanfid.resize import build_resizer  # clean-fid loads only when this runs, not on CLI start-up

    resized = build_resizer(mode)(tensor_to_uint8(image))  # [S, S, 3]
    return torch.from_numpy(np.ascontiguousarray(resized, dtype=np.float32)).permute(2, 0, 1)


def image_features_each(batches: Iterable[torch.Tensor], models: Sequence[FeatureModel],
                        presize: Sequence[Callable[[torch.Tensor], torch.Tensor] | None] | None = None,
                        batch_size: int = 32) -> list[np.ndarray]:
    """Features [N, D] under each of ``models`` from one pass over the batches (renders made once).

    ``presize[k]`` (optional) maps each [B, 3, H, W] batch in [-1, 1] before model ``k`` sees it (the
    authors' protocol brings every image to 256² first, :mod:`dualinv.eval.protocols`).
    """
    presize = list(presize) if presize is not None else [None] * len(models)
    features: list[list[np.ndarray]] = [[] for _ in models]
    pending: list[list[torch.Tensor]] = [[] for _ in models]
    for batch in batches:
        for k, model in enumerate(models):
            sized = presize[k](batch) if presize[k] is not None else batch
            for image in sized:
                pending[k].append(mode_prepared(image, model.mode))
                if len(pending[k]) == batch_size:
                    features[k].append(model.extract(torch.stack(pending[k])).numpy())
                    pending[k] = []
    for k, model in enumerate(models):
        if pending[k]:
            features[k].append(model.extract(torch.stack(pending[k])).numpy())
    if not features or not features[0]:
        raise ConfigError("FID needs images; none were given")
    return [np.concatenate(parts) for parts in features]


def image_features(batches: Iterable[torch.Tensor], model: FeatureModel, batch_size: int = 32) -> np.ndarray:
    """Features [N, D] of images given as [B, 3, H, W] batches in [-1, 1] (renders held in memory)."""
    return image_features_each(batches, [model], batch_size=batch_size)[0]


def folder_features(folder: str | Path, model: FeatureModel, batch_size: int = 32) -> np.ndarray:
    """Features [N, D] of every image under ``folder``, read and resized by clean-fid itself."""
    from cleanfid.fid import get_folder_features  # clean-fid loads only when this runs, not on CLI start-up

    if not Path(folder).is_dir():
        raise ConfigError(f"FID image folder {folder} does not exist")
    return get_folder_features(str(folder), model=model.extract, num_workers=0, batch_size=batch_size,
                               device=torch.device("cpu"), mode="clean", verbose=False)


def frechet_distance(features_a: np.ndarray, features_b: np.ndarray) -> float:
    """FID between two feature sets: the Fréchet distance of Gaussians with their sample mean and covariance,
    computed as clean-fid's ``fid_from_feats`` does (scipy's ``sqrtm``; a singular product retried with
    1e-6 added to both diagonals; a numerically imaginary root's real part). Written here because importing
    ``cleanfid.fid`` imports torchvision, ~1.5 s in every evaluation job; ``tests/eval/test_fid.py``
    compares it with clean-fid's own function."""
    from scipy import linalg  # scipy loads only when a FID is computed

    for name, features in (("first", features_a), ("second", features_b)):
        if features.ndim != 2 or features.shape[0] < 2:
            raise ConfigError(f"FID needs at least 2 images per set; the {name} set has shape {features.shape}")
    if features_a.shape[1] != features_b.shape[1]:
        raise ConfigError(f"feature sizes differ: {features_a.shape[1]} vs {features_b.shape[1]}")
    mean_a, covariance_a = np.mean(features_a, axis=0), np.atleast_2d(np.cov(features_a, rowvar=False))
    mean_b, covariance_b = np.mean(features_b, axis=0), np.atleast_2d(np.cov(features_b, rowvar=False))
    root, _ = linalg.sqrtm(covariance_a.dot(covariance_b), disp=False)
    if not np.isfinite(root).all():
        logging.getLogger(__name__).warning("FID: singular covariance product; adding %g to the diagonals", FID_EPS)
        offset = np.eye(covariance_a.shape[0]) * FID_EPS
        root = linalg.sqrtm((covariance_a + offset).dot(covariance_b + offset))
    if np.iscomplexobj(root):
        if not np.allclose(np.diagonal(root).imag, 0, atol=1e-3):
            raise ConfigError(f"FID: the covariance product has a square root with imaginary part "
                              f"{np.max(np.abs(root.imag)):.3g}; the feature sets are degenerate")
        root = root.real
    difference = mean_a - mean_b
    return float(difference.dot(difference) + np.trace(covariance_a) + np.trace(covariance_b) - 2 * np.trace(root))


@dataclass(frozen=True)
class FidProtocol:
    """The 360° FID protocol of §4.3; its camera rule is written beside every FID number."""

    num_images: int = 1000
    """Synthesized heads, and encoded real images (paper: 1k each)."""
    yaw_range_deg: float = 180.0
    """Yaw uniform in [−range, +range) degrees around the front; 180 covers the full circle."""
    pitch_deg: float = 0.0
    """Camera elevation (level)."""
    radius: float = CAMERA_RADIUS
    """Camera distance from the origin (PanoHead's ``avg_camera_radius``)."""
    truncation_psi: float = 1.0
    """Truncation of the synthesized heads (1.0 = none)."""
    seed: int = 0
    """Seed of the yaws and of the synthesized heads' z."""

    def __post_init__(self) -> None:
        if self.num_images < 2:
            raise ConfigError(f"evaluation.fid_images must be >= 2, got {self.num_images}")
        if not 0 < self.yaw_range_deg <= 180:
            raise ConfigError(f"evaluation.cameras.fid_yaw_range_deg must be in (0, 180], got {self.yaw_range_deg}")

    def yaws_deg(self) -> np.ndarray:
        """Yaw (degrees, dataset convention: 0 = front) of head ``i`` in both sets, seeded."""
        rng = np.random.default_rng(derive_seed(self.seed, "fid-yaws"))
        return rng.uniform(-self.yaw_range_deg, self.yaw_range_deg, size=self.num_images)

    def real_image_positions(self, total: int) -> list[int]:
        """Positions in a test set of ``total`` items of the encoded real images; the ``j``-th drawn one
        is rendered at camera ``j`` (:mod:`dualinv.eval.sampling`, purpose ``fid-real-images``)."""
        return sampled_positions(total, self.num_images, self.seed, FID_REAL_IMAGES)

    def synthesized_seed(self, index: int) -> int:
        """Seed of the z of synthesized head ``index``."""
        return derive_seed(self.seed, "fid-synthesized", index)

    def cameras(self, indices: Iterable[int] | None = None) -> torch.Tensor:
        """[N, 25] labels of the cameras of heads ``indices`` (default: all), level LookAt at the origin."""

        yaws = self.yaws_deg()
        chosen = yaws if indices is None else yaws[list(indices)]
        return camera_at_yaw(torch.from_numpy(np.asarray(chosen, dtype=np.float32)),
                             vertical=float(FRONTAL_VERTICAL - np.deg2rad(self.pitch_deg)), radius=self.radius)

    def describe(self) -> str:
        return (f"360° FID: {self.num_images} heads synthesized from seeded z (ψ={self.truncation_psi}) vs "
                f"{self.num_images} encoded real images (all, if the test set has fewer), drawn from the test set "
                f"by {SAMPLING_RULE.format(purpose=FID_REAL_IMAGES)}; head i of both sets rendered once at the same yaw "
                f"drawn uniformly in [−{self.yaw_range_deg:g}°, +{self.yaw_range_deg:g}°) (seed {self.seed}), "
                f"pitch {self.pitch_deg:g}°, radius {self.radius:g}, lookat origin; clean-fid features")


def fid_metric(synthesized: np.ndarray, encoded: np.ndarray, model: FeatureModel, protocol: str) -> MetricValue:
    """The FID entry of a metrics JSON, labelled with its protocol and its extractor's provenance."""
    return MetricValue(value=frechet_distance(synthesized, encoded), n=int(min(len(synthesized), len(encoded))),
                       stand_in=model.stand_in, protocol=f"{protocol} [{model.name}]")


@torch.no_grad()
def synthesized_images(generator: torch.nn.Module, protocol: FidProtocol, count: int, *, batch_size: int = 8,
                       device: str | torch.device = "cpu") -> Iterable[torch.Tensor]:
    """The synthesized half of the 360° FID: heads ``0..count-1`` as [B, 3, S, S] batches in [-1, 1].

    Head ``i`` has z seeded by :meth:`FidProtocol.synthesized_seed` and is rendered at camera ``i`` of the
    protocol. As in PanoHead's ``gen_samples.py`` the mapping is conditioned on the front camera and
    the tri-grid is rendered without the Δt offset (specs/panohead.md §1.5), so both sets are seen
    from exactly the same cameras.
    """

    if not 2 <= count <= protocol.num_images:
        raise ConfigError(f"FID needs between 2 and {protocol.num_images} synthesized heads, got {count}")
    cameras = protocol.cameras(range(count)).to(device)
    front = camera_at_yaw(0.0, radius=protocol.radius, device=device)
    for start in progress_bar(range(0, count, batch_size), desc="FID heads", unit="batch"):
        stop = min(start + batch_size, count)
        z = torch.stack([torch.randn(generator.z_dim, generator=make_generator(protocol.synthesized_seed(index)))
                         for index in range(start, stop)]).to(device)
        ws = generator.mapping(z, front.expand(stop - start, -1), truncation_psi=protocol.truncation_psi)
        trigrids = generator.synthesize_trigrid(ws, noise_mode="const")
        images = [generator.render_trigrid(trigrids[k:k + 1], ws[k:k + 1], cameras[index:index + 1], noise_mode="const",
                                           generator=make_generator(protocol.synthesized_seed(index), device))["image"]
                  for k, index in enumerate(range(start, stop))]  # one sampling seed per head: batching changes nothing
        yield torch.cat(images).clamp(-1, 1).cpu()
