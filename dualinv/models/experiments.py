"""The experiment registry: one entry per paper row (DESIGN.md, "The experiments").

The same registry drives the training loop, the Snakemake targets, the CLI and the table makers,
so a row of Tables 1-5 is never described in two places.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import Literal, Mapping

from dualinv.errors import ConfigError

LatentSpace = Literal["w+", "z", "z+"]
DiscriminatorKind = Literal["none", "triplane_occlusion", "triplane", "image"]
TrainingData = Literal["real+zplus", "real", "zplus"]
ExperimentKind = Literal["encoder", "dual", "baseline_encoder", "baseline_optimisation"]


@dataclass(frozen=True)
class Experiment:
    name: str
    """Target and directory name (``results/models/<name>/``)."""
    kind: ExperimentKind
    """Trained encoder of ours, the stitched dual inverter, a baseline encoder, or a per-image optimisation."""
    description: str
    feeds: tuple[str, ...]
    """Paper table rows this experiment fills, e.g. ``("T3:No D", "T5:E₁")``."""
    latent: LatentSpace | None = None
    """Latent space the encoder predicts (Table 4); ``None`` for non-encoders."""
    feature_stage: bool = False
    """Whether the TriPlaneNet-style F stage adds a residual to the tri-grid (paper §3.2)."""
    discriminator: DiscriminatorKind = "none"
    """Adversarial signal for the occluded regions (Table 3)."""
    training_data: TrainingData | None = None
    """Real images, Z+ generator samples, or both (Table 4, paper §3.5). The encoder baselines train on
    the real FFHQ + LPFF split only: the paper retrains them on "the same dataset" with their authors'
    code (§4.1-4.2), and mixing in Z+ samples is the paper's own choice (Table 4), not theirs."""
    components: tuple[str, ...] = ()
    """Other experiments this one is assembled from (``dual`` = ``encoder1`` + ``encoder2``)."""

    @property
    def trains(self) -> bool:
        """Whether the experiment has a training stage of its own."""
        return self.kind in ("encoder", "baseline_encoder")


def _ours(name: str, description: str, feeds: tuple[str, ...], **fields) -> Experiment:
    return Experiment(name=name, kind="encoder", description=description, feeds=feeds, **fields)


EXPERIMENTS: Mapping[str, Experiment] = MappingProxyType({
    experiment.name: experiment
    for experiment in (
        _ours("encoder1", "Encoder 1 (visible regions): W+ and F stage, reconstruction losses only",
              ("T3:No D", "T4:Real imgs. + Z+ / W+", "T5:E₁"),
              latent="w+", feature_stage=True, discriminator="none", training_data="real+zplus"),
        _ours("encoder2", "Encoder 2 (occluded regions): adds the occlusion-aware triplane discriminator",
              ("T3:D w/ triplane occ.", "T5:E₂"),
              latent="w+", feature_stage=True, discriminator="triplane_occlusion", training_data="real+zplus"),
        Experiment(name="dual", kind="dual",
                   description="Dual encoder: visible cells from Encoder 1, occluded cells from Encoder 2 (§3.4)",
                   feeds=("T1:Ours", "T2:Ours", "T5:Dual"), components=("encoder1", "encoder2")),
        _ours("d_image", "Ablation: image-domain discriminator on renders of other views",
              ("T3:D w image domain",), latent="w+", feature_stage=True, discriminator="image", training_data="real+zplus"),
        _ours("d_triplane", "Ablation: triplane discriminator without the occlusion mask",
              ("T3:D w/o triplane occ.",), latent="w+", feature_stage=True, discriminator="triplane",
              training_data="real+zplus"),
        _ours("real_z", "Ablation: Z latent space, real images only", ("T4:Real img. / Z",),
              latent="z", training_data="real"),
        _ours("real_zplus", "Ablation: Z+ latent space, real images only", ("T4:Real img. / Z+",),
              latent="z+", training_data="real"),
        # Table 4 rows 3-5 share Encoder 1's architecture (W+ and F stage) and differ only in training
        # data: the paper's "Real img. / W+" row (0.10 / 0.86 / 98.97) equals TriPlaneNet v2's Table 1 row,
        # a W+ + F encoder, which a W+-only (pSp-like) encoder does not reach.
        _ours("real_wplus", "Ablation: Encoder 1's architecture (W+ and F stage), real images only",
              ("T4:Real img. / W+",), latent="w+", feature_stage=True, training_data="real"),
        _ours("zplus_wplus", "Ablation: Encoder 1's architecture (W+ and F stage), Z+ generator samples only",
              ("T4:Z+ gens. / W+",), latent="w+", feature_stage=True, training_data="zplus"),
        Experiment(name="psp", kind="baseline_encoder", description="pSp retrained on PanoHead",
                   feeds=("T1:pSp", "T2:pSp"), latent="w+", training_data="real"),
        Experiment(name="e4e", kind="baseline_encoder", description="e4e retrained on PanoHead",
                   feeds=("T1:e4e", "T2:e4e"), latent="w+", training_data="real"),
        Experiment(name="triplanenet_v2", kind="baseline_encoder",
                   description="TriPlaneNet v2 (W+ stage + F stage) retrained on PanoHead",
                   feeds=("T1:TriplaneNetv2", "T2:Tpn.v2"), latent="w+", feature_stage=True,
                   training_data="real"),
        Experiment(name="goae", kind="baseline_encoder", description="GOAE retrained on PanoHead",
                   feeds=("T1:GOAE", "T2:GOAE"), latent="w+", training_data="real"),
        Experiment(name="w_optim", kind="baseline_optimisation", description="W+ optimisation per image",
                   feeds=("T1:W+ optim.", "T2:W+ opt.")),
        Experiment(name="pti", kind="baseline_optimisation",
                   description="Pivotal tuning: W+ pivot, then generator fine-tuning per image",
                   feeds=("T1:PTI", "T2:PTI")),
    )
})


def get_experiment(name: str) -> Experiment:
    """The registry entry for ``name``, or a ConfigError listing the valid names."""

    try:
        return EXPERIMENTS[name]
    except KeyError:
        raise ConfigError(f"unknown experiment {name!r}; choose one of: {', '.join(EXPERIMENTS)}") from None
