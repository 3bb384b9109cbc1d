"""The inversion runner: one method over one prepared test set → every file the metrics and figures read.

``run_inversions`` inverts the items of a prepared test set (a folder with ``dataset.json``, read with
:class:`dualinv.data.HeadDataset`) in batches through any :class:`Inverter`, and renders each
inversion at the cameras the evaluation protocols need (paper §4.3). Layout of the output folder
(``results/inversions/<method>/<dataset>/``):

=========================== ==============================================================================
``same_view/<stem>.png``    render at the input camera (Tables 1, 3-5: L2, LPIPS, ID)
``fid/<stem>.png``          the ``j``-th FID real image rendered at camera ``j`` of the 360° FID protocol
``mead/<stem>/<view>.png``  MEAD: the frontal frame's inversion at the camera of each target view (Table 2)
``views/<stem>/<view>.png`` figure views (the figure items): yaws of :data:`FIGURE_YAWS_DEG`
``meshes/<stem>.ply``       marching-cubes mesh of the density (figure items; Fig. 9)
``latents/<stem>.pt``       ``{"ws": [num_ws, w_dim]}``, plus ``"trigrid"`` (float16) for figure items
``items/<stem>.json``       the item's record, written last: an item with a record is finished
``inversion.json``          the run's manifest; ``complete`` is true once every item has a record
=========================== ==============================================================================

The FID real images, the figure items and (with ``data.test_images``) the inverted items are seeded
uniform samples of the test set (:mod:`dualinv.eval.sampling`), never its first N: the manifest lists
them (``fid_names`` in camera order, ``figure_names``). The figure items are portrait inputs
(|yaw| ≤ 60°) first, as the paper's figures show portraits.

Every file is written atomically and an item counts as done only when its record exists, so a job
killed at any point resumes where it stopped without recomputing finished items.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import torch

from dualinv.camera import camera_at_yaw, yaw_pitch_from_label
from dualinv.data import HeadDataset
from dualinv.devices import device_name
from dualinv.data.manifests import mead_pairs, parse_mead_name
from dualinv.dual.outputs import head_mesh
from dualinv.errors import ConfigError, DatasetFormatError, PreemptedError
from dualinv.eval.fid import FidProtocol
from dualinv.eval.sampling import sampled_positions
from dualinv.fileio import save_image, torch_save_atomic, write_json_atomic
from dualinv.mesh import PANOHEAD_ISO_LEVEL, write_ply
from dualinv.models.inversion import Inversion, Inverter, timed_per_image
from dualinv.output_names import item_stem
from dualinv.preemption import stop_requests
from dualinv.seeding import derive_seed, make_generator
from dualinv.views import render_turntable

MANIFEST_FILE = "inversion.json"
MANIFEST_FORMAT = "dualinv-inversions/3"
"""Version 3: figure items drawn among the portrait inputs first (2: among every item; 1: the first N);
FID real images and figure items are seeded samples listed in the manifest."""
FIGURE_YAWS_DEG: tuple[float, ...] = (-90.0, -45.0, 45.0, 90.0, 180.0)
"""Novel views of the figures (Fig. 5-7, 9): both profiles, both three-quarter views and the back."""
PORTRAIT_YAW_DEG = 60.0
"""Largest input |yaw| of a preferred figure item: the visible range of Table 2's MEAD views."""
FIGURE_ITEMS, TEST_IMAGES = "figure-items", "test-images"
"""Purposes of the seeded draws (:mod:`dualinv.eval.sampling`) of the figure items and of the capped test set."""


@dataclass(frozen=True)
class RenderPlan:
    """Which renders the runner writes beside the same-view render."""

    fid: FidProtocol
    """The 360° FID protocol: item ``i < fid.num_images`` is rendered at its camera ``i``."""
    figure_items: int = 8
    """Items (a seeded sample, :meth:`figure_positions`) that get the figure views, a mesh and a stored tri-grid."""
    figure_yaws_deg: tuple[float, ...] = FIGURE_YAWS_DEG
    mesh_resolution: int = 128
    """Marching-cubes grid side of the figure meshes (0: no meshes)."""
    seed: int = 0
    """Seed of the renderer's sample jitter (derived per item and render, so neither batching nor an item's
    other renders change a render)."""

    def __post_init__(self) -> None:
        if self.figure_items < 0 or self.mesh_resolution < 0:
            raise ConfigError("figure_items and mesh_resolution must be >= 0")
        if 0 < self.mesh_resolution < 8:
            raise ConfigError(f"mesh_resolution must be 0 or >= 8, got {self.mesh_resolution}")

    def figure_positions(self, total: int, portraits: Sequence[bool] | None = None) -> list[int]:
        """Positions of the figure items among ``total`` items, in drawn order (the figures' row order).

        With ``portraits`` (per item: input yaw within :data:`PORTRAIT_YAW_DEG`), the portraits come first,
        as the paper's Fig. 5-7 show portrait inputs with the unseen side invented; a set of all-round
        views (the synthetic validation set) would otherwise put back views in the first rows. The items
        are a seeded draw among the portraits, topped up by a draw among the others when there are too few."""
        if portraits is None:
            return sampled_positions(total, self.figure_items, self.seed, FIGURE_ITEMS)
        if len(portraits) != total:
            raise ValueError(f"portraits has {len(portraits)} flags for {total} items")
        chosen: list[int] = []
        for group in ([p for p in range(total) if portraits[p]], [p for p in range(total) if not portraits[p]]):
            wanted = min(self.figure_items, total) - len(chosen)
            chosen += [group[k] for k in sampled_positions(len(group), wanted, self.seed, FIGURE_ITEMS)]
        return chosen

    def to_json(self) -> dict[str, Any]:
        return {"fid": asdict(self.fid), "fid_protocol": self.fid.describe(), "figure_items": self.figure_items,
                "figure_yaws_deg": list(self.figure_yaws_deg), "mesh_resolution": self.mesh_resolution,
                "seed": self.seed}


@dataclass(frozen=True)
class TestItem:
    """One image to invert."""

    index: int
    """Position in the run."""
    name: str
    """Relative path in ``dataset.json``."""
    stem: str
    """File stem; names every output of the item."""
    mead_targets: tuple[tuple[str, str], ...] = ()
    """MEAD: ``(view, target name)`` of every novel view of the same shot (Table 2)."""
    fid_slot: int | None = None
    """The FID camera index when the item is one of the FID real images, else ``None``."""
    figure: bool = False
    """A figure item: rendered at the figure views, meshed, its tri-grid stored."""


def figure_view_name(yaw_deg: float) -> str:
    """File stem of a figure view: ``yaw-090``, ``yaw+045``, ``yaw+180``."""
    return f"yaw{yaw_deg:+04.0f}"


def is_mead_dataset(names: Sequence[str]) -> bool:
    """Whether every item is a MEAD frame ``actor__view__emotion__level__clip__frame`` (Table 2 layout)."""

    return bool(names) and all(parse_mead_name(name) is not None for name in names)


def plan_items(names: Sequence[str], plan: RenderPlan, limit: int | None = None,
               yaws: Mapping[str, float] | None = None) -> list[TestItem]:
    """The items of a test set, in dataset order: every image, or for MEAD the frontal frames with targets.

    ``limit`` keeps a seeded sample of that many (in dataset order); the FID real images and the figure
    items are seeded samples of the kept items (:mod:`dualinv.eval.sampling`), portraits first when ``yaws``
    (input yaw per name, degrees) are given (:meth:`RenderPlan.figure_positions`).
    """

    if limit is not None and limit < 1:
        raise ConfigError(f"data.test_images must be >= 1 or null, got {limit}")
    if is_mead_dataset(names):
        targets: dict[str, list[tuple[str, str]]] = {}
        for pair in mead_pairs(names):
            targets.setdefault(pair["input"], []).append((pair["view"], pair["target"]))
        chosen = [(name, tuple(views)) for name, views in targets.items()]
        if not chosen:
            raise DatasetFormatError("MEAD test set has no frontal frame with a novel view; see docs/data.md")
    else:
        chosen = [(name, ()) for name in names]
    if limit is not None:
        chosen = [chosen[position] for position in sorted(sampled_positions(len(chosen), limit, plan.seed, TEST_IMAGES))]
    stems = [item_stem(name) for name, _ in chosen]
    duplicated = sorted({stem for stem in stems if stems.count(stem) > 1})
    if duplicated:
        raise DatasetFormatError(f"test images must have unique file stems (outputs are named by them); "
                                 f"repeated: {duplicated[:5]}")
    fid_slot = {position: slot for slot, position in enumerate(plan.fid.real_image_positions(len(chosen)))}
    figure = set(plan.figure_positions(len(chosen), portrait_flags([name for name, _ in chosen], yaws)))
    return [TestItem(index, name, stem, views, fid_slot.get(index), index in figure)
            for index, ((name, views), stem) in enumerate(zip(chosen, stems))]


def portrait_flags(names: Sequence[str], yaws: Mapping[str, float] | None) -> list[bool] | None:
    """Per name, whether its input yaw is within :data:`PORTRAIT_YAW_DEG` (``None`` without yaws)."""
    return None if yaws is None else [abs(float(yaws[name])) <= PORTRAIT_YAW_DEG for name in names]


def dataset_yaws(labels: Mapping[str, Any]) -> dict[str, float]:
    """Input yaw (degrees, ``get_poseangle``) of every item of a dataset's ``{name: 25-value label}``."""
    if not labels:
        return {}
    names = list(labels)
    yaw, _ = yaw_pitch_from_label(np.stack([np.asarray(labels[name], dtype=np.float64) for name in names]))
    return {name: float(value) for name, value in zip(names, yaw)}


def item_record_path(output: Path, item: TestItem) -> Path:
    return output / "items" / f"{item.stem}.json"


def _write_item(output: Path, item: TestItem, inversion: Inversion, position: int, camera: torch.Tensor,
                labels: Mapping[str, Any], plan: RenderPlan, seconds: float, stand_in: bool = False) -> None:
    """Render, save and record one item of a batch (the record last). Figure meshes are cut at PanoHead's
    σ = 10, or for stand-in methods at the fallback level of ``dualinv invert`` (whose faint random
    density never reaches 10); the level is recorded."""

    trigrid, ws = inversion.trigrid[position:position + 1], inversion.ws[position:position + 1]
    targets: list[tuple[Path, torch.Tensor]] = [(output / "same_view" / f"{item.stem}.png", camera)]
    if item.fid_slot is not None:
        targets.append((output / "fid" / f"{item.stem}.png", plan.fid.cameras([item.fid_slot])[0]))
    for view, target in item.mead_targets:
        targets.append((output / "mead" / item.stem / f"{view}.png",
                        torch.as_tensor(labels[target], dtype=torch.float32)))
    if item.figure:
        for yaw in plan.figure_yaws_deg:
            targets.append((output / "views" / item.stem / f"{figure_view_name(yaw)}.png", camera_at_yaw(yaw)[0]))
    generator = inversion.generators[position]
    for index, (path, target_camera) in enumerate(targets):
        # each render its own seeded jitter, so that the same-view render (Tables 1-5) of an item does not
        # depend on whether it is also an FID image or a figure item (batched renders shared one stream)
        parts = ("render", item.stem) if index == 0 else ("render", item.stem, path.relative_to(output).as_posix())
        rng = make_generator(derive_seed(plan.seed, *parts), trigrid.device)
        frame = render_turntable(generator, trigrid, ws, target_camera.reshape(1, 25).cpu().float(), rng=rng)
        save_image(path, frame.images[0].clamp(-1, 1))
    latents = {"ws": ws[0].detach().float().cpu()}
    record: dict[str, Any] = {"name": item.name, "index": item.index, "fid_slot": item.fid_slot, "seconds": seconds,
                              "renders": [str(path.relative_to(output)) for path, _ in targets]}
    if item.figure:
        latents["trigrid"] = trigrid[0].detach().to(torch.float16).cpu()
        if plan.mesh_resolution:
            record["mesh_iso_level"] = _write_mesh(output / "meshes" / f"{item.stem}.ply", generator, trigrid, ws,
                                                   plan.mesh_resolution, "auto" if stand_in else None)
    torch_save_atomic(output / "latents" / f"{item.stem}.pt", latents)
    write_json_atomic(item_record_path(output, item), record)


@torch.no_grad()
def _write_mesh(path: Path, generator: torch.nn.Module, trigrid: torch.Tensor, ws: torch.Tensor, resolution: int,
                iso_level: str | None = None) -> float:
    """The figure mesh of one item at σ = 10 (``iso_level=None``) or the ``"auto"`` level; returns the level."""

    mesh, level = head_mesh(generator, trigrid, ws, resolution, iso_level or PANOHEAD_ISO_LEVEL, color=False)
    write_ply(path, mesh)
    return level


def _check_resumable(output: Path, manifest: Mapping[str, Any]) -> dict[str, Any]:
    """The previous manifest of ``output`` (``{}`` if none); a folder started by another method, test set
    or plan must not be mixed into this run."""

    path = output / MANIFEST_FILE
    if not path.is_file():
        return {}
    try:
        previous = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        raise DatasetFormatError(f"{path} is unreadable; delete {output} and run the inversion again") from None
    for key in ("format", "method", "dataset", "plan", "names"):
        if previous.get(key) != manifest[key]:
            raise ConfigError(f"{output} holds inversions made with another {key} ({previous.get(key)!r:.120}); "
                              "delete the folder to start over, or choose another output")
    return previous


def run_inversions(inverter: Inverter, dataset_dir: str | Path, output: str | Path, plan: RenderPlan, *,
                   method: str, batch_size: int = 4, limit: int | None = None,
                   device: str | torch.device = "cpu", progress: bool = True,
                   provenance: Mapping[str, Any] | None = None,
                   shard: tuple[int, int] | None = None) -> dict[str, Any]:
    """Invert and render every item of ``dataset_dir`` into ``output`` (resumable); returns the manifest.

    Seconds per image follow :data:`dualinv.eval.metrics.TIME_CONVENTION`: the first pending batch is
    inverted once untimed (a warm-up, its time kept in the manifest's ``timing``), then every batch is
    timed with :func:`~dualinv.models.inversion.timed_per_image`. ``shard = (k, n)`` inverts only the items
    whose index is k modulo n, so n jobs can share one ``output`` folder; ``complete`` turns true once
    every item of the set has its record.
    """
    from tqdm.auto import tqdm  # imported here: a bar only for a real run

    if batch_size < 1:
        raise ConfigError(f"batch_size must be >= 1, got {batch_size}")
    output = Path(output)
    dataset = HeadDataset(dataset_dir)
    yaws = dataset_yaws(dataset.labels)
    items = plan_items(dataset.names, plan, limit, yaws)
    position_of = {name: position for position, name in enumerate(dataset.names)}
    manifest: dict[str, Any] = {
        "format": MANIFEST_FORMAT, "method": method, "dataset": str(Path(dataset_dir).resolve()),
        "protocol": "mead" if items[0].mead_targets else "same_view", "stand_in": bool(inverter.stand_in),
        "plan": plan.to_json(), "names": [item.name for item in items],
        "fid_names": [item.name for item in sorted((item for item in items if item.fid_slot is not None),
                                                   key=lambda item: item.fid_slot)],
        "figure_names": [items[position].name for position in
                         plan.figure_positions(len(items), portrait_flags([item.name for item in items], yaws))],
        "complete": False,
        "provenance": dict(provenance or {}),
    }
    previous = _check_resumable(output, manifest)
    write_json_atomic(output / MANIFEST_FILE, manifest)
    if shard is not None and not 0 <= shard[0] < shard[1]:
        raise ConfigError(f"shard must be (k, n) with 0 <= k < n, got {shard}")
    selected = items if shard is None else [item for item in items if item.index % shard[1] == shard[0]]
    pending = [item for item in selected if not item_record_path(output, item).is_file()]
    step = min(batch_size, inverter.max_batch_size or batch_size)

    def load(chunk: Sequence[TestItem]) -> tuple[torch.Tensor, torch.Tensor]:
        samples = [dataset[position_of[item.name]] for item in chunk]
        return (torch.stack([sample["image"] for sample in samples]).to(device),
                torch.stack([sample["camera"] for sample in samples]).to(device))

    # no torch.no_grad around invert: the optimisation baselines need gradients (encoders turn them off)
    warm_up = inverter.warm_up
    timing = previous.get("timing") or {"batch_size": step, "device": device_name(device), "warm_up": warm_up,
                                        "warmup_seconds_per_image": None}
    if pending and warm_up:  # CUDA context, kernel choice, allocator: run once, keep its time apart
        images, cameras = load(pending[:step])
        _, warmup = timed_per_image(lambda: inverter.invert(images, cameras), images.shape[0], device)
        timing = {"batch_size": step, "device": device_name(device), "warm_up": True,
                  "warmup_seconds_per_image": warmup}
    with stop_requests() as stop_request, tqdm(total=len(selected), initial=len(selected) - len(pending),
                                               desc=f"invert {method}", disable=not progress, dynamic_ncols=True) as bar:
        for start in range(0, len(pending), step):
            if stop_request.requested:  # every finished image has its record: the retry goes on from here
                raise PreemptedError(f"invert {method}: {stop_request.signal_name} received; stopped with "
                                     f"{len(pending) - start} of {len(selected)} images left in {output}; "
                                     "the retry continues with them")
            chunk = pending[start:start + step]
            images, cameras = load(chunk)
            inversion, seconds = timed_per_image(lambda: inverter.invert(images, cameras), len(chunk), device)
            for position, item in enumerate(chunk):
                spent = seconds if inversion.seconds_per_image is None else inversion.seconds_per_image[position]
                _write_item(output, item, inversion, position, cameras[position], dataset.labels, plan, spent,
                            stand_in=bool(inverter.stand_in))
            bar.update(len(chunk))
    manifest["timing"] = timing
    manifest["complete"] = all(item_record_path(output, item).is_file() for item in items)
    write_json_atomic(output / MANIFEST_FILE, manifest)
    return manifest


def fid_protocol_of(config) -> FidProtocol:
    """The 360° FID protocol of a study config (``evaluation`` section)."""
    evaluation = config.evaluation
    return FidProtocol(num_images=evaluation.fid_images, yaw_range_deg=evaluation.cameras.fid_yaw_range_deg,
                       seed=evaluation.seed)


def render_plan_of(config) -> RenderPlan:
    """Renders of a study: the FID protocol, ``evaluation.figure_items`` figure items with meshes at
    ``evaluation.mesh_resolution``³."""
    evaluation = config.evaluation
    return RenderPlan(fid=fid_protocol_of(config), figure_items=evaluation.figure_items,
                      mesh_resolution=evaluation.mesh_resolution, seed=evaluation.seed)
