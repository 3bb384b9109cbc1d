"""The MEAD novel-view protocol of Table 2 (paper §4.3, §5.1).

Each method inverts the frontal frame (0° yaw) of a MEAD shot and renders the result at the
cameras of the same shot's ``left_30``/``right_30`` and ``left_60``/``right_60`` frames; the renders
are scored against those real frames. LPIPS and ID are per image (mean and bootstrap interval over
both sides of a yaw magnitude: "±30°", "±60°"); FID compares the set of renders with the set of
real frames of that magnitude. Both metric protocols are computed (:mod:`dualinv.eval.protocols`).

Pairs come from :func:`dualinv.data.manifests.mead_pairs` (records ``{"input", "target",
"view"}`` over prepared frame names ``actor__view__emotion__level__clip__frame``). The inversion
runner writes the render of a pair at ``<renders>/<input stem>/<view>.png``
(:func:`mead_render_path`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Mapping, Sequence

import numpy as np
import torch

from dualinv.errors import PairingError
from dualinv.eval.bootstrap import summarize
from dualinv.eval.fid import fid_metric
from dualinv.eval.metrics import at_eval_resolution
from dualinv.eval.protocols import MetricSuite, authors_per_image, by_protocol, fid_features_both, misses_by_protocol, summarize_id
from dualinv.eval.results import MetricValue
from dualinv.fileio import load_image
from dualinv.output_names import item_stem
from dualinv.progress import progress_bar

YAW_GROUPS: Mapping[str, tuple[str, ...]] = {"60": ("left_60", "right_60"), "30": ("left_30", "right_30")}
"""Table 2 columns (±60°, ±30°) and the MEAD views each one averages."""
MEAD_PROTOCOL = ("MEAD: frontal frame inverted, rendered at the camera of the {views} frames of the same "
                 "actor/emotion/level/clip/frame, compared with those frames")


def yaw_group(view: str) -> str:
    """``"60"`` or ``"30"`` for a MEAD novel view."""
    for group, views in YAW_GROUPS.items():
        if view in views:
            return group
    raise PairingError(f"MEAD view {view!r} is not one of Table 2's views {sum(YAW_GROUPS.values(), ())}")


def mead_render_path(renders_dir: str | Path, pair: Mapping[str, str]) -> Path:
    """Where the render of ``pair`` (the input's inversion seen from the target's camera) is."""
    return Path(renders_dir) / item_stem(pair["input"]) / f"{pair['view']}.png"


def pairs_by_group(pairs: Sequence[Mapping[str, str]]) -> dict[str, list[Mapping[str, str]]]:
    """Table 2's pairs split by yaw magnitude; a group without pairs is an error."""
    grouped: dict[str, list[Mapping[str, str]]] = {group: [] for group in YAW_GROUPS}
    for pair in pairs:
        grouped[yaw_group(pair["view"])].append(pair)
    empty = [group for group, members in grouped.items() if not members]
    if empty:
        raise PairingError(f"no MEAD pairs for ±{', ±'.join(empty)}°; the manifest needs frontal frames with "
                           "their left/right 30° and 60° views")
    return grouped


def _load(path: Path) -> torch.Tensor:
    if not path.is_file():
        raise PairingError(f"missing MEAD image {path}; run the inversion for every pair first")
    return load_image(path)


def evaluate_mead(pairs: Sequence[Mapping[str, str]], renders_dir: str | Path,
                  target_path: Callable[[str], Path], suite: MetricSuite, *, batch_size: int = 8,
                  resamples: int = 1000, seed: int = 0) -> tuple[dict[str, MetricValue], dict[str, dict[str, int]]]:
    """``lpips_60``, ``lpips_30``, ``id_60``, ``id_30``, ``fid_60``, ``fid_30`` of one method (Table 2), by both
    protocols (:func:`dualinv.eval.protocols.by_protocol` keys), and the authors' ID miss counts.

    ``target_path(name)`` locates a prepared MEAD frame by its manifest name. Ours: LPIPS, ID and FID on the
    256²-pooled images; the authors': their views of the pair (:func:`dualinv.eval.protocols.authors_views`).
    """
    ours: dict[str, MetricValue] = {}
    authors: dict[str, MetricValue] = {}
    misses: dict[str, dict[str, int]] = {}
    for group, members in progress_bar(pairs_by_group(pairs).items(), desc="MEAD view groups", unit="group"):
        lpips_values, id_values, authors_lpips, authors_ids = [], [], [], []
        features: dict[str, list] = {"real_ours": [], "real_authors": [], "render_ours": [], "render_authors": []}
        for start in range(0, len(members), batch_size):
            chunk = members[start:start + batch_size]
            renders = torch.stack([_load(mead_render_path(renders_dir, pair)) for pair in chunk])
            targets = torch.stack([_load(target_path(pair["target"])) for pair in chunk])
            pooled_renders, pooled_targets = at_eval_resolution(renders), at_eval_resolution(targets)
            with torch.no_grad():
                lpips_values.append(suite.ours.lpips(pooled_renders, pooled_targets).reshape(-1))
                id_values.append(suite.ours.identity(pooled_renders, pooled_targets).reshape(-1))
            values, ids = authors_per_image(renders, targets, suite.authors)
            authors_lpips.append(values["lpips"])
            authors_ids.extend(ids)
            for side, images, real in (("real", targets, True), ("render", renders, False)):
                ours_features, authors_features = fid_features_both([images], suite, real_images=real,
                                                                    ours_presize=at_eval_resolution)
                features[f"{side}_ours"].append(ours_features)
                features[f"{side}_authors"].append(authors_features)
        ours[f"lpips_{group}"] = summarize(torch.cat(lpips_values).numpy(), resamples=resamples, seed=seed,
                                           stand_in=suite.ours.lpips_stand_in)
        ours[f"id_{group}"] = summarize(torch.cat(id_values).numpy(), resamples=resamples, seed=seed,
                                        stand_in=suite.ours.identity_stand_in)
        authors[f"lpips_{group}"] = summarize(torch.cat(authors_lpips).numpy(), resamples=resamples, seed=seed,
                                              stand_in=suite.authors.lpips_stand_in)
        identity, misses[f"id_{group}"] = summarize_id(authors_ids, resamples=resamples, seed=seed,
                                                       stand_in=suite.authors.identity_stand_in)
        if identity is not None:
            authors[f"id_{group}"] = identity
        protocol = MEAD_PROTOCOL.format(views="/".join(YAW_GROUPS[group]))
        for named, model in ((ours, suite.fid_ours), (authors, suite.fid_authors)):
            way = "ours" if named is ours else "authors"
            named[f"fid_{group}"] = fid_metric(np.concatenate(features[f"real_{way}"]),
                                               np.concatenate(features[f"render_{way}"]), model, protocol)
    return by_protocol(ours, authors, suite.protocol), misses_by_protocol(misses, suite.protocol)


def mead_pair_count(pairs: Sequence[Mapping[str, str]]) -> Mapping[str, int]:
    """Pairs per yaw magnitude (for logs and the report)."""
    return {group: len(members) for group, members in pairs_by_group(pairs).items()}

