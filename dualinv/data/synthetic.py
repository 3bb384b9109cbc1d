"""Synthetic multi-view datasets: heads sampled from a (stand-in) PanoHead and rendered all around.

The mini preset has no photos, so its training and MEAD-style test sets are renders of the generator
(issue "Data preparation", point 4). Each identity is a Z+ sample (paper §3.5 and A.2): one z per
style vector (``num_ws`` of them, 14 for the release), each mapped with the canonical front camera
at ψ = 0.85, row i of code i kept (:func:`dualinv.encoders.map_z_codes`). Its views are rendered
with the official ``G.synthesis(ws, camera)`` at level LookAt cameras at radius 2.7 looking at the
origin with the dataset focal (the cameras of prepared labels, :mod:`dualinv.camera`), no Δt.

* **train** identities get ``views`` cameras evenly spaced over 360° of yaw, rotated by a seeded
  per-identity phase, so together they cover every yaw;
* **test** identities get the MEAD-like views of Table 2: ``front`` (0°), ``left_30``/``left_60``
  (camera on the subject's left, yaw +30°/+60°) and ``right_30``/``right_60`` (−30°/−60°), the ground
  truth of the novel views being the generator's exact render at that camera.

The folder has the layout of a prepared dataset (docs/data.md): ``images/<stem>.png`` (the
generator's output size), ``masks/<stem>.png`` (rendered opacity, bilinearly upsampled),
``labels/<stem>.json`` sidecars, ``dataset.json`` with 25-value labels, plus ``splits.json``
(``{"train": [...], "test": [...]}``), ``latents/<identity>.pt`` (``zs`` and ``ws``) and
``synthetic.json``, which marks everything as synthetic and names the generator (``stand-in`` or
its sha256). Stems follow the MEAD layout ``identity__view__emotion__level__clip__frame`` so that
:func:`dualinv.data.manifests.mead_pairs` pairs the test views. Every draw has its own seed derived
from (seed, identity, view): the output does not depend on order, and a rerun skips every image
whose three files exist.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from dualinv.camera import CANONICAL_YAWS, camera_at_yaw, yaw_pitch_from_label
from dualinv.config import StudyConfig
from dualinv.data.dataset import IMAGES_DIR, MASKS_DIR, write_labels
from dualinv.data.manifests import MEAD_FRONT, SPLIT_FILE
from dualinv.data.prepare import LABELS_DIR, assemble_labels
from dualinv.errors import ConfigError, DatasetFormatError
from dualinv.fileio import tensor_to_uint8, torch_save_atomic, write_json_atomic
from dualinv.models.generator import generator_network, study_generator, zplus_codes
from dualinv.seeding import derive_seed, make_generator
from dualinv.views import write_png
from dualinv.weights import STAND_IN, weights_provenance

if TYPE_CHECKING:
    from dualinv.panohead.generator import PanoHeadGenerator

METADATA_FILE = "synthetic.json"
LATENTS_DIR = "latents"
MEAD_VIEW_YAWS: dict[str, float] = {
    MEAD_FRONT: CANONICAL_YAWS["front"], "left_30": CANONICAL_YAWS["yaw+30"], "left_60": CANONICAL_YAWS["yaw+60"],
    "right_30": CANONICAL_YAWS["yaw-30"], "right_60": CANONICAL_YAWS["yaw-60"],
}
"""Dataset yaw (degrees) of each MEAD-like test view; 'left' puts the camera on the subject's left."""
STEM_SUFFIX = "neutral__level_1__001__000000"
"""The emotion, level, clip and frame parts of every stem (one expression, one frame per view)."""
LABEL_DECIMALS = 6
"""``dataset.json`` keeps 6 decimals; cameras are rounded before rendering so the label is the render's camera."""


@dataclass(frozen=True)
class SyntheticView:
    """One image to render: which identity, which named view, at what yaw."""

    identity: int
    view: str
    yaw: float
    split: str

    @property
    def identity_name(self) -> str:
        return f"synth{self.identity:05d}"

    @property
    def stem(self) -> str:
        return f"{self.identity_name}__{self.view}__{STEM_SUFFIX}"

    @property
    def key(self) -> str:
        """The item's name in ``dataset.json`` and ``splits.json``."""
        return f"{IMAGES_DIR}/{self.stem}.png"


@dataclass(frozen=True)
class SyntheticSummary:
    """What a run did."""

    images: int
    rendered: int
    already_rendered: int
    seconds: float


def plan_views(num_identities: int, views: int, seed: int, test_identities: int = 0) -> list[SyntheticView]:
    """Every image of the dataset: the first ``test_identities`` identities get the MEAD-like views,
    the others ``views`` yaws 360°/views apart starting at a seeded phase in [−180°, −180° + 360°/views)."""
    if num_identities < 1 or views < 1 or not 0 <= test_identities <= num_identities:
        raise ConfigError(f"synthetic data needs identities >= 1, views >= 1 and 0 <= test identities <= identities; "
                          f"got {num_identities}, {views}, {test_identities}")
    planned = []
    for identity in range(num_identities):
        if identity < test_identities:
            planned += [SyntheticView(identity, name, yaw, "test") for name, yaw in MEAD_VIEW_YAWS.items()]
            continue
        spacing = 360.0 / views
        phase = np.random.default_rng(derive_seed(seed, "phase", identity)).uniform(0.0, spacing)
        planned += [SyntheticView(identity, f"orbit{k:02d}", -180.0 + phase + k * spacing, "train") for k in range(views)]
    return planned


def sample_zplus(generator: PanoHeadGenerator, seed: int, identity: int,
                 truncation_psi: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Z+ sample of one identity: ``zs`` [1, num_ws, z_dim] ~ N(0, I) and its ``ws`` [1, num_ws, w_dim]."""
    device = next(generator.parameters()).device
    zs = torch.randn((1, generator.num_ws, generator.z_dim), generator=make_generator(derive_seed(seed, "zplus", identity)))
    zs = zs.to(device)
    with torch.no_grad():
        ws = zplus_codes(generator, zs, truncation_psi)
    return zs, ws


def view_label(yaw: float) -> np.ndarray:
    """[25] float64 label of a level camera at ``yaw``, rounded as ``dataset.json`` stores it; rendering
    from ``torch.from_numpy(label).float()`` makes the stored label exactly the render's camera."""
    return camera_at_yaw(yaw)[0].double().numpy().round(LABEL_DECIMALS)


def render_view(generator: PanoHeadGenerator, ws: torch.Tensor, camera: torch.Tensor, render_seed: int
                ) -> tuple[torch.Tensor, torch.Tensor]:
    """``G.synthesis(ws, camera)`` with constant noise and ray jitter from ``render_seed``:
    image [3, S, S] in [−1, 1] and opacity mask [1, S, S] in [0, 1] (upsampled bilinearly from R²)."""
    device = ws.device
    with torch.no_grad():
        output = generator.synthesis(ws, camera.to(device), noise_mode="const", generator=make_generator(render_seed, device))
        image = output["image"][0]
        mask = F.interpolate(output["image_mask"], size=image.shape[-2:], mode="bilinear", align_corners=False)[0]
    return image, mask.clamp(0.0, 1.0)


def _is_rendered(out_dir: Path, view: SyntheticView) -> bool:
    return all((out_dir / folder / f"{view.stem}{suffix}").is_file()
               for folder, suffix in ((LABELS_DIR, ".json"), (IMAGES_DIR, ".png"), (MASKS_DIR, ".png")))


def _check_resume(out_dir: Path, metadata: dict[str, Any]) -> None:
    """A folder holding another run's data (other seed, generator or size) would mix two datasets."""
    path = out_dir / METADATA_FILE
    if not path.is_file():
        return
    try:
        previous = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError:
        raise DatasetFormatError(f"{path}: not valid JSON; delete {out_dir} and render again") from None
    keys = ("generator", "generator_config", "seed", "truncation_psi", "num_identities", "views", "test_identities")
    changed = [key for key in keys if previous.get(key) != metadata[key]]
    if changed:
        raise DatasetFormatError(f"{out_dir} holds synthetic data made with other settings ({', '.join(changed)}); "
                                 "delete the folder or choose another output")


def render_synthetic_dataset(generator: PanoHeadGenerator, out_dir: str | Path, *, num_identities: int, views: int,
                             seed: int, truncation_psi: float, test_identities: int = 0,
                             generator_provenance: str = STAND_IN, generator_config: str = "unspecified",
                             progress: bool = True) -> SyntheticSummary:
    """Render a synthetic dataset into ``out_dir`` (see the module docstring).

    ``generator_provenance`` is what :func:`dualinv.weights.weights_provenance` says about the
    generator's weights (``"stand-in"`` or ``"sha256:..."``); ``generator_config`` names its architecture.
    """

    if not 0.0 < truncation_psi <= 1.0:
        raise ConfigError(f"truncation_psi must be in (0, 1], got {truncation_psi}")
    started = time.perf_counter()
    out_dir = Path(out_dir)
    planned = plan_views(num_identities, views, seed, test_identities)
    metadata = {
        "synthetic": True, "stand_in": generator_provenance == STAND_IN, "generator": generator_provenance,
        "generator_config": generator_config, "image_resolution": generator.img_resolution,
        "neural_rendering_resolution": generator.neural_rendering_resolution, "seed": seed,
        "truncation_psi": truncation_psi, "num_identities": num_identities, "views": views,
        "test_identities": test_identities,
        "latent": f"Z+: {generator.num_ws} z codes, each mapped at the front camera, row i of code i (paper A.2)",
        "cameras": "level LookAt at radius 2.7 looking at the origin, focal 4.2647; no delta-t",
        "mead_views": MEAD_VIEW_YAWS,
    }
    _check_resume(out_dir, metadata)
    out_dir.mkdir(parents=True, exist_ok=True)
    write_json_atomic(out_dir / METADATA_FILE, metadata)
    todo = [view for view in planned if not _is_rendered(out_dir, view)]
    device = next(generator.parameters()).device
    latents: dict[int, torch.Tensor] = {}
    with tqdm(total=len(todo), desc="synthetic", unit="img", disable=not progress) as bar:
        for view in todo:
            if view.identity not in latents:
                zs, ws = sample_zplus(generator, seed, view.identity, truncation_psi)
                torch_save_atomic(out_dir / LATENTS_DIR / f"{view.identity_name}.pt", {"zs": zs.cpu(), "ws": ws.cpu()})
                latents = {view.identity: ws}  # views of one identity are consecutive: keep one
            label = view_label(view.yaw)
            render_seed = derive_seed(seed, "render", view.identity, view.view)
            camera = torch.from_numpy(label).float()[None].to(device)
            image, mask = render_view(generator, latents[view.identity], camera, render_seed)
            write_png(out_dir / IMAGES_DIR / f"{view.stem}.png", tensor_to_uint8(image))
            write_png(out_dir / MASKS_DIR / f"{view.stem}.png", np.rint(mask[0].cpu().numpy() * 255).astype(np.uint8))
            yaw, pitch = yaw_pitch_from_label(label)
            write_json_atomic(out_dir / LABELS_DIR / f"{view.stem}.json", {
                "source": f"synthetic:{view.identity_name}/{view.view}", "stem": view.stem,
                "label": label.tolist(), "yaw": float(yaw[0]), "pitch": float(pitch[0]),
                "identity": view.identity_name, "view": view.view, "split": view.split, "render_seed": render_seed,
            })
            bar.update(1)
    write_labels(out_dir, assemble_labels(out_dir))
    splits = {split: sorted(view.key for view in planned if view.split == split) for split in ("train", "test")}
    write_json_atomic(out_dir / SPLIT_FILE, splits)
    return SyntheticSummary(len(planned), len(todo), len(planned) - len(todo), time.perf_counter() - started)


def generator_of(config: StudyConfig) -> tuple[PanoHeadGenerator, str, str]:
    """The study's generator (:func:`dualinv.models.generator.study_generator`: the one the encoders
    train against and the evaluation renders with), with its weights provenance and the
    architecture name recorded in ``synthetic.json``."""
    generator, _ = study_generator(config)
    network = generator_network(config)
    name = f"network:{Path(network).name}" if network is not None else config.generator.preset
    return generator, weights_provenance("panohead", network), name


def make_synthetic_dataset(output: str | Path, config: StudyConfig) -> SyntheticSummary:
    """Workflow entry point (rule ``make_synthetic_dataset``): the synthetic dataset named by ``output``'s
    folder name (``ffhq``/``lpff``: training views all around; ``mead``: MEAD-like test views), sized
    by ``config.data.synthetic`` with a seed derived from its base seed and that name."""
    output = Path(output)
    settings = config.data.synthetic
    generator, provenance, name = generator_of(config)
    test_identities = settings.identities if output.name == "mead" else 0
    return render_synthetic_dataset(
        generator, output, num_identities=settings.identities, views=settings.views,
        seed=derive_seed(settings.seed, "synthetic", output.name), test_identities=test_identities,
        truncation_psi=config.training.zplus_truncation_psi,
        generator_provenance=provenance, generator_config=name, progress=False,
    )
