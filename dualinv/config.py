"""The study configuration: typed, nested, documented, validated once at the door.

``config.yaml`` (the paper study) is read with ``yaml.safe_load``; a preset (``presets/mini.yaml``)
overrides some of its keys (nested mappings merge key by key, lists and scalars are replaced, as
Snakemake's ``--configfile`` does). The merged mapping is validated against ``config.schema.yaml``
(the documentation of record: every key has a description, a default and its bounds, and
``additionalProperties: false`` everywhere), so a typo or a wrong type fails here with the key path
named, before any job runs. Only then is it turned into the frozen dataclasses below.
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import json
import re
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Mapping

import jsonschema
import yaml

from dualinv.errors import ConfigError
from dualinv.preemption import STOPPING_GROUPS

REPO_ROOT = Path(__file__).resolve().parents[1]
SCHEMA_PATH = REPO_ROOT / "config.schema.yaml"
"""The schema of record (it sits beside ``config.yaml`` at the repository root)."""

DatasetName = Literal["ffhq", "lpff", "celebahq", "mead"]
DatasetSource = Literal["photos", "prepared", "synthetic", "public_domain", "videos"]
ResourceGroup = Literal["prepare", "train", "invert", "optimise", "evaluate", "report"]
MetricProtocol = Literal["authors", "ours"]


@dataclass(frozen=True)
class WeightsConfig:
    """Local paths of the pretrained files (``dualinv.weights.REGISTRY``); ``None`` = seeded stand-in."""

    panohead: str | None = 'weights/easy-khair-180-gpc0.8-trans10-025000.pkl'
    """The released PanoHead generator pickle."""
    ir_se50: str | None = 'weights/model_ir_se50.pth'
    """ArcFace IR-SE50: encoder backbone initialisation and the identity loss/metric."""
    lpips_alex: str | None = 'weights/alexnet-owt-7be5be79.pth'
    """AlexNet trunk for LPIPS: the metric and the encoders' training loss (``training.lpips_net: alex``)."""
    lpips_vgg: str | None = 'weights/vgg16-397923af.pth'
    """VGG16 trunk for LPIPS-VGG: the W+ optimisation and PTI loss (and ``training.lpips_net: vgg``)."""
    inception: str | None = 'weights/inception-2015-12-05.pt'
    """Inception-v3 for FID."""
    u2net: str | None = 'weights/u2net.onnx'
    """U^2-Net background removal (data preparation)."""
    face_parsing: str | None = None
    """Optional BiSeNet face parser (``79999_iter.pth``) for ``dualinv edit``; ``None``: mediapipe part masks."""
    curricularface: str | None = 'weights/CurricularFace_Backbone.pth'
    """CurricularFace IR-101 (``CurricularFace_Backbone.pth``) of the authors' ID metric; ``None``: seeded stand-in."""
    tddfa: str | None = 'weights/mb1_120x120.pth'
    """3DDFA_V2 TDDFA regressor (``mb1_120x120.pth`` / ``mb05_120x120.pth``) for PanoHead's alignment."""
    tddfa_whitening: str | None = 'weights/param_mean_std_62d_120x120.pkl'
    """3DDFA_V2 ``param_mean_std_62d_120x120.pkl``."""
    bfm: str | None = 'weights/bfm_noneck_v3.pkl'
    """3DDFA_V2 ``bfm_noneck_v3.pkl``."""
    faceboxes: str | None = 'weights/FaceBoxesProd.pth'
    """3DDFA_V2's FaceBoxes detector ``FaceBoxesProd.pth`` (TDDFA's crop); ``None``: TDDFA's landmark crop rule."""
    dlib_landmarks: str | None = None
    """dlib's ``shape_predictor_68_face_landmarks.dat``; ``None``: the face mesh's 68 points."""
    goae_swin: str | None = 'weights/swinv2_base_patch4_window12to16_192to256_22kto1k_ft.pth'
    """Published ImageNet SwinV2-B the GOAE baseline starts from (``dualinv.encoders.swin_v2``)."""


@dataclass(frozen=True)
class DatasetConfig:
    """Where one dataset comes from."""

    source: DatasetSource = 'photos'
    """``photos``: align the photos in ``path``; ``prepared``: ``path`` already holds ``dataset.json`` and
    crops; ``synthetic``: multi-view renders of the (stand-in) generator; ``public_domain``: the portraits
    shipped with scikit-image (mini preset)."""
    path: str | None = None
    """Folder of photos (``photos``) or of a prepared dataset (``prepared``); ``None`` otherwise."""


@dataclass(frozen=True)
class SyntheticConfig:
    """Size of each synthetic dataset (mini preset): true multi-view ground truth from the generator."""

    identities: int = 1000
    """Random heads (z samples) per dataset."""
    views: int = 8
    """Cameras rendered per head."""
    seed: int = 0
    """Base seed; each dataset derives its own from its name."""


@dataclass(frozen=True)
class MeadFramesConfig:
    """Which MEAD frames Table 2 uses (``data.mead.source: videos``; :mod:`dualinv.data.mead_frames`)."""

    frames_per_clip: int = 1
    """Frames per take, the same instants on the five cameras."""
    max_clips: int | None = None
    """A seeded sample of this many takes; ``None`` = every take."""
    seed: int = 0
    """Seed of the frame and take choice."""


@dataclass(frozen=True)
class CelebAHQSplitConfig:
    """The two published files that define the CelebA-HQ test split (``dualinv.data.celebahq``)."""

    partition_file: str
    """CelebA's ``Eval/list_eval_partition.txt``."""
    mapping_file: str
    """``CelebA-HQ-to-CelebA-mapping.txt`` of CelebA-HQ / CelebAMask-HQ."""


@dataclass(frozen=True)
class DataPoseConfig:
    """How prepared photos are aligned and labelled (:mod:`dualinv.data.alignment`)."""

    method: Literal["3ddfa", "mediapipe"] = '3ddfa'
    """``3ddfa``: PanoHead's pipeline; ``mediapipe``: the face mesh's quad and pose."""
    tddfa_width: float = 1.0
    """1.0 (``mb1_120x120.pth``) or 0.5 (``mb05_120x120.pth``)."""
    min_face_size: float = 256.0
    """Smallest crop quad side in photo pixels (PanoHead: 256)."""


@dataclass(frozen=True)
class DataConfig:
    """The four datasets of the paper (§4.1) and how the training set is split."""

    ffhq: DatasetConfig = field(default_factory=lambda: DatasetConfig(source='photos', path='data/raw/ffhq'))
    """FFHQ, training and validation."""
    lpff: DatasetConfig = field(default_factory=lambda: DatasetConfig(source='photos', path='data/raw/lpff'))
    """LPFF large-pose faces, training and validation (pose-rebalanced)."""
    celebahq: DatasetConfig = field(default_factory=lambda: DatasetConfig(source='photos', path='data/raw/celebahq'))
    """CelebA-HQ test images (Table 1)."""
    mead: DatasetConfig = field(default_factory=lambda: DatasetConfig(source='videos', path='data/raw/mead'))
    """Multi-view MEAD frames (Table 2)."""
    validation_images: int = 14000
    """FFHQ + LPFF images held out for validation (paper §4.1: ~14k; a count, docs/data.md)."""
    max_reject_share: float = 0.5
    """Preparing a dataset fails (``DatasetLossError``) when more than this share of its photos is rejected."""
    test_images: int | None = None
    """Cap on the images inverted per test set; ``None`` = all."""
    celebahq_test_split: CelebAHQSplitConfig | None = field(default_factory=lambda: CelebAHQSplitConfig(partition_file='data/raw/celeba/list_eval_partition.txt', mapping_file='data/raw/celebahq/CelebA-HQ-to-CelebA-mapping.txt'))
    """Prepare only CelebA-HQ's 2,824-image test split (pSp, e4e, GOAE); ``None`` = every photo."""
    mead_frames: MeadFramesConfig = field(default_factory=MeadFramesConfig)
    """How the MEAD frames are chosen from its videos (``data.mead.source: videos``)."""
    synthetic: SyntheticConfig = field(default_factory=SyntheticConfig)
    """How ``synthetic`` datasets are made."""
    pose: DataPoseConfig = field(default_factory=DataPoseConfig)
    """Alignment and camera labels of prepared photos."""


@dataclass(frozen=True)
class GeneratorConfig:
    """The frozen PanoHead generator everything inverts into."""

    preset: Literal["released", "demo", "mini", "tiny"] = 'released'
    """Architecture: the released network, ``demo`` (the mini architecture with the demonstration weights
    of :mod:`dualinv.demo_generator`, whose renders are textured heads), ``mini`` (the same architecture
    with seeded random weights, :mod:`dualinv.standin`) or ``tiny`` (the 512² test fixture architecture)."""
    network: str | None = None
    """Network pickle; ``None`` = ``weights.panohead`` for ``released``, a seeded stand-in otherwise."""
    neural_rendering_resolution: int | None = None
    """Rays per side for volume rendering; ``None`` keeps the network's own (64 for the release)."""


@dataclass(frozen=True)
class EncoderConfig:
    """The encoders (ours and the encoder baselines): their size and input (``dualinv.models.encoders``)."""

    input_resolution: int = 256
    """Side of the image the encoder sees (256 in the paper)."""
    size: Literal["paper", "tiny"] = "paper"
    """``paper``: the IR-SE50 body (initialised from ``weights.ir_se50``) and Table 6's discriminator;
    ``tiny``: one IR unit per stage at 1/8 width, a discriminator at 1/8 width, GOAE at test size (mini preset)."""
    latent_truncation_psi: float = 0.85
    """Truncation of the Z / Z+ encoders' codes through the mapping (paper A.2, "Ablation encoders")."""


@dataclass(frozen=True)
class TrainingConfig:
    """Hyperparameters of encoder training (paper §4.1 and A.2)."""

    batch_size: int = 3
    """Images per step, in all: with ``resources.train.gpus`` > 1 each GPU takes an equal share (the
    learning rate stays as it is: the global batch is the same)."""
    iterations: int = 500000
    """Total steps of one experiment."""
    segment_length: int = 25000
    """Steps per Slurm job; training runs as a chain of resumable segments of this length."""
    learning_rate: float = 0.0001
    """Ranger learning rate of encoder and discriminator."""
    lr_rampdown: float = 0.0
    """Share of the run (``iterations``), at its end, over which every optimiser's learning rate falls to 0
    along a half cosine; 0 keeps it constant, as the paper trains (500k steps at 1e-4)."""
    lambda_lpips: float = 0.8
    """LPIPS weight (λ1, Eq. 5/6)."""
    lambda_l2: float = 1.0
    """L2 weight (λ2, Eq. 5/6)."""
    lambda_id: float = 0.5
    """Identity weight (λ3, Eq. 5/6)."""
    lambda_adv: float = 0.001
    """Encoder adversarial weight (λ4, Eq. 6)."""
    lambda_discriminator: float = 0.5
    """Discriminator objective weight (λ, Eq. 8)."""
    r1_gamma: float = 10.0
    """R1 regularisation weight γ."""
    r1_every: int = 16
    """Lazy R1 interval in steps."""
    mirror_probability: float = 0.5
    """Probability that a sample's image is flipped and its camera mirrored (paper §4.1)."""
    zplus_fraction: float = 0.5
    """Share of Z+ generator samples in a batch of the real + Z+ experiments (paper A.2)."""
    zplus_truncation_psi: float = 1.0
    """Truncation ψ of every Z+ generator sample: the training inputs, the discriminator's real tri-grids
    (Eq. 8) and the synthetic datasets; 1 = none, as Eq. 8's z⁺ samples state no truncation (the paper's
    ψ = 0.85 is the Z / Z+ *encoders'* mapping, ``encoder.latent_truncation_psi``)."""
    occlusion_opacity_threshold: float = 0.5
    """Rendered opacity below which a depth pixel marks no visible cell (Eq. 3); ~0.1 for stand-ins."""
    lpips_net: Literal["alex", "vgg"] = 'alex'
    """LPIPS trunk of the training loss."""
    loss_resolution: int = 256
    """Side renders and targets are pooled to before the losses."""
    bf16: bool = False
    """bfloat16 autocast for forward passes (losses and optimiser state stay float32)."""
    checkpoint_every: int = 1000
    """Steps between checkpoints inside a segment (its last step is always saved)."""
    back_view_min_yaw_deg: float = 90.0
    """The image discriminator (ablation ``d_image``) sees back views: |yaw| uniform in [this, 180°]
    (A.1; PanoHead's back views are |yaw| >= 90°, ``dualinv.training.back_views``)."""
    seed: int = 0
    """Base seed; every random draw derives from (seed, experiment, step)."""


@dataclass(frozen=True)
class WOptimSettings:
    """W+ optimisation baseline (``dualinv.baselines.WPlusOptimiser``; PanoHead ``project``), also PTI's pivot loop."""

    steps: int = 500
    """Optimisation steps per image."""
    learning_rate: float = 0.1
    """Peak Adam learning rate."""
    w_avg_samples: int = 10000
    """z samples behind ``w_avg`` and ``w_std``."""
    lambda_mse: float = 0.1
    """Weight of the pixel MSE."""
    lambda_lpips: float = 1.0
    """Weight of LPIPS (VGG)."""
    lambda_w_norm: float = 1.0
    """Weight of ``mean((ws - w_avg)^2)``."""
    lpips_resolution: int = 256
    """Side LPIPS is computed at (both images average-pooled to it)."""
    lr_rampup: float = 0.05
    """Share of the steps with a linear learning-rate ramp-up."""
    lr_rampdown: float = 0.25
    """Share of the steps with a cosine learning-rate ramp-down to 0."""
    initial_noise_factor: float = 0.05
    """Perturbation of the codes at step 0, as a multiple of ``w_std``."""
    noise_ramp: float = 0.75
    """Share of the steps over which the perturbation decays quadratically to 0."""
    render_key: Literal["image", "image_raw"] = "image"
    """Which render is compared with the target: the super-resolved ``image`` (paper) or ``image_raw``."""
    seed: int = 303
    """Seed of the ``w_avg`` samples, the code noise and the renderer's jitter (PanoHead: 303)."""


@dataclass(frozen=True)
class PTISettings:
    """Pivotal tuning baseline (``dualinv.baselines.PivotalTuning``; PanoHead ``project_pti``)."""

    pivot_steps: int = 500
    """W+ pivot steps per image (the ``w_optim`` loop)."""
    steps: int = 350
    """Generator tuning steps per image."""
    learning_rate: float = 0.0003
    """Constant Adam learning rate of the generator."""
    lambda_mse: float = 0.1
    """Weight of the pixel MSE."""
    lambda_lpips: float = 1.0
    """Weight of LPIPS."""
    early_stop_lpips: float | None = None
    """Stop tuning an image once its LPIPS is at or below this (original PTI: 0.06; PanoHead: none)."""
    seed: int = 303
    """Seed of the renderer's jitter during tuning."""


@dataclass(frozen=True)
class PSPSettings:
    """pSp baseline encoder, retrained on PanoHead (encoders-baselines.md §1.5)."""

    lambda_lpips: float = 0.8
    """LPIPS weight (``--lpips_lambda``)."""
    lambda_l2: float = 1.0
    """MSE weight (``--l2_lambda``)."""
    lambda_id: float = 0.1
    """Identity weight (``--id_lambda``)."""


@dataclass(frozen=True)
class E4ESettings:
    """e4e baseline encoder (encoders-baselines.md §2): progressive deltas, delta regularisation, latent GAN."""

    lambda_lpips: float = 0.8
    """LPIPS weight."""
    lambda_l2: float = 1.0
    """MSE weight."""
    lambda_id: float = 0.5
    """Identity weight."""
    progressive_start: int = 20000
    """Step at which the first W+ delta switches on (``--progressive_start``)."""
    progressive_step_every: int = 2000
    """Steps between successive deltas (``--progressive_step_every``)."""
    delta_norm_lambda: float = 0.0002
    """Weight of the delta regularisation (``--delta_norm_lambda``)."""
    delta_norm_p: int = 2
    """Norm of each delta (``--delta_norm``)."""
    w_discriminator_lambda: float = 0.1
    """Weight of the encoder's latent adversarial term (``--w_discriminator_lambda``)."""
    w_discriminator_lr: float = 2e-05
    """Adam learning rate of the latent discriminator (``--w_discriminator_lr``)."""
    w_pool_size: int = 50
    """Size of the fake-codes pool (``--use_w_pool``); 0 = no pool, the current codes go straight to D."""
    r1_gamma: float = 10.0
    """R1 weight of the latent discriminator (``--r1``)."""
    r1_every: int = 16
    """Lazy R1 interval of the latent discriminator (``--d_reg_every``)."""


@dataclass(frozen=True)
class TriPlaneNetSettings:
    """TriPlaneNet v2 baseline encoder (encoders-baselines.md §3.1); its image discriminator (600k) is not implemented."""

    lambda_lpips: float = 0.8
    """LPIPS weight of both stages."""
    lambda_l2: float = 1.0
    """Pixel weight: MSE in the W+ stage, SmoothL1 in the F stage."""
    lambda_id: float = 0.1
    """Identity weight."""
    add_triplanenet: int = 20000
    """Step at which the F stage starts training (``--add_triplanenet``)."""
    stop_psp: int = 500000
    """Step from which the W+ stage is frozen (``--stop_psp``)."""
    mirror_lambda: float = 0.1
    """Weight of the loss on the mirrored-camera render (``--mirror_lambda``)."""


@dataclass(frozen=True)
class GOAESettings:
    """GOAE baseline encoder (encoders-baselines.md §3.2); its training code is unpublished, losses as pSp's."""

    lambda_lpips: float = 0.8
    """LPIPS weight."""
    lambda_l2: float = 1.0
    """MSE weight."""
    lambda_id: float = 0.1
    """Identity weight."""
    progressive_steps: tuple[int, ...] = (10000, 20000, 30000)
    """Steps at which the coarse, mid and fine query groups switch on."""


@dataclass(frozen=True)
class BaselinesConfig:
    """The baselines of Tables 1 and 2 (docs/baselines.md): two per-image optimisations, four encoders."""

    w_optim: WOptimSettings = field(default_factory=WOptimSettings)
    """W+ optimisation, also PTI's pivot loop (with ``pti.pivot_steps``)."""
    pti: PTISettings = field(default_factory=PTISettings)
    """Pivotal tuning."""
    psp: PSPSettings = field(default_factory=PSPSettings)
    """pSp, trained through the shared loop."""
    e4e: E4ESettings = field(default_factory=E4ESettings)
    """e4e, trained through the shared loop."""
    triplanenet_v2: TriPlaneNetSettings = field(default_factory=TriPlaneNetSettings)
    """TriPlaneNet v2, trained through the shared loop."""
    goae: GOAESettings = field(default_factory=GOAESettings)
    """GOAE, trained through the shared loop."""


@dataclass(frozen=True)
class CameraConfig:
    """Cameras of the novel-view metrics (paper §4.3)."""

    fid_yaw_range_deg: float = 180.0
    """FID renders take yaw uniformly in ± this around the front (180 = the full circle)."""


@dataclass(frozen=True)
class GroundTruth360Config:
    """The ground-truth 360° protocol (beyond the paper's ±60°; ``table_gt360``, docs/eval.md): invert the
    front view of generator samples and compare with the generator's own renders all around the head."""

    samples: int = 100
    """Generator samples (heads) per method; 0 leaves ``table_gt360`` out of the study."""
    truncation_psi: float = 0.7
    """Truncation of the samples' codes (PanoHead's sampling default)."""
    batch_size: int = 4
    """Heads inverted per call (per-image optimisation takes one at a time)."""


@dataclass(frozen=True)
class EvaluationConfig:
    """How methods are scored (paper §4.3)."""

    fid_images: int = 1000
    """Synthesized and encoded images per FID distribution (1k in the paper)."""
    bootstrap_samples: int = 1000
    """Resamples for the confidence intervals reported beside each metric."""
    figure_items: int = 8
    """Test images per method that get the figure views, a mesh and a stored tri-grid."""
    mesh_resolution: int = 128
    """Marching-cubes grid side of the figure meshes (0: none)."""
    seed: int = 0
    """Seed of camera sampling and bootstrap."""
    protocol: MetricProtocol = "authors"
    """Which way of computing L2, LPIPS, ID and FID fills the paper's columns: ``authors`` (the first author's
    script three-bee/gen_metrics, whose numbers the paper prints) or ``ours`` (dualinv.eval.metrics). Both are
    always computed; the other is stored and printed beside it (docs/eval.md)."""
    cameras: CameraConfig = field(default_factory=CameraConfig)
    """Novel-view cameras."""
    gt360: GroundTruth360Config = field(default_factory=GroundTruth360Config)
    """The ground-truth 360° protocol (``table_gt360``)."""


@dataclass(frozen=True)
class ResourceConfig:
    """What one job of a rule group asks the scheduler for (partition and account: the profile)."""

    gpus: int = 0
    """GPUs per job (``gpu=`` resource, ``--gpus`` on Slurm). ``train`` with more than one: the segment runs
    as that many processes of one node under ``torchrun``, sharing each step's global batch (docs/training.md)."""
    threads: int = 1
    """CPU threads per job."""
    mem_mb: int = 4000
    """Memory per job in MB on the first attempt; a retry asks for ``attempt`` times as much."""
    runtime: int = 60
    """Wall time per job in minutes on the first attempt; a retry asks for ``attempt`` times as much."""

    def for_attempt(self, attempt: int) -> dict[str, int]:
        """Resources of try number ``attempt`` (1-based): memory and time grow linearly."""
        attempt = max(int(attempt), 1)
        return {"gpu": self.gpus, "mem_mb": self.mem_mb * attempt, "runtime": self.runtime * attempt}


@dataclass(frozen=True)
class ResourcesConfig:
    """Per rule group."""

    prepare: ResourceConfig = field(default_factory=lambda: ResourceConfig(gpus=0, threads=4, mem_mb=16000, runtime=240))
    """Data preparation and synthetic data."""
    prepare_shards: int = 16
    """Parallel jobs per photo dataset; shard k prepares the photos whose listing position is k mod this."""
    train: ResourceConfig = field(default_factory=lambda: ResourceConfig(gpus=1, threads=8, mem_mb=32000, runtime=720))
    """One training segment."""
    invert: ResourceConfig = field(default_factory=lambda: ResourceConfig(gpus=1, threads=4, mem_mb=24000, runtime=120))
    """Encoder inversion of one test set."""
    optimise: ResourceConfig = field(default_factory=lambda: ResourceConfig(gpus=1, threads=4, mem_mb=32000, runtime=1440))
    """One shard of a per-image optimisation baseline (W+ optimisation, PTI) on one test set."""
    optimise_shards: int = 16
    """Parallel jobs per optimisation baseline and test set; shard k inverts the images with index k mod this."""
    evaluate: ResourceConfig = field(default_factory=lambda: ResourceConfig(gpus=1, threads=4, mem_mb=24000, runtime=120))
    """Metrics of one method on one test set."""
    report: ResourceConfig = field(default_factory=lambda: ResourceConfig(gpus=0, threads=1, mem_mb=4000, runtime=30))
    """Tables and figures."""
    stop_warning_seconds: int = 300
    """Seconds before the time limit at which Slurm sends SIGTERM to the jobs that save their progress and stop
    on it (groups in :data:`dualinv.preemption.STOPPING_GROUPS`), so the retry continues; 0: no early signal."""


@dataclass(frozen=True)
class OutputConfig:
    """Where results go."""

    results: str = 'results'
    """Root of every artifact, log and benchmark of the workflow."""


@dataclass(frozen=True)
class StudyConfig:
    """The whole study (``config.yaml`` plus an optional preset)."""

    preset: str = 'paper'
    """Name of the preset in effect (``paper``, ``mini``); recorded in provenance."""
    weights: WeightsConfig = field(default_factory=WeightsConfig)
    data: DataConfig = field(default_factory=DataConfig)
    generator: GeneratorConfig = field(default_factory=GeneratorConfig)
    encoder: EncoderConfig = field(default_factory=EncoderConfig)
    training: TrainingConfig = field(default_factory=TrainingConfig)
    baselines: BaselinesConfig = field(default_factory=BaselinesConfig)
    evaluation: EvaluationConfig = field(default_factory=EvaluationConfig)
    experiments: tuple[str, ...] = ('encoder1', 'encoder2', 'dual', 'd_image', 'd_triplane', 'real_z', 'real_zplus', 'real_wplus', 'zplus_wplus', 'psp', 'e4e', 'triplanenet_v2', 'goae', 'w_optim', 'pti')
    """Registry names (``dualinv.models.experiments.EXPERIMENTS``) that ``all`` runs."""
    resources: ResourcesConfig = field(default_factory=ResourcesConfig)
    output: OutputConfig = field(default_factory=OutputConfig)


def merge_overrides(base: Mapping[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    """``base`` with ``overrides`` applied: mappings merge key by key, anything else is replaced."""
    merged = copy.deepcopy(dict(base))
    for key, value in overrides.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = merge_overrides(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


class ConfigLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):
    """``yaml.SafeLoader`` (libyaml's C parser where PyYAML has it: the 30 KB schema parses in a few ms,
    not 0.1 s, in every job) that reads ``1e-4`` as the number it means.

    PyYAML follows YAML 1.1, whose floats need a dot (``1.0e-4``), so ``learning_rate: 1e-4`` would
    arrive as the string ``"1e-4"``; YAML 1.2 (and JSON) read it as a float, and so does every config
    file here. Anything else that is not a number stays a string and fails the type check by key."""


ConfigLoader.yaml_implicit_resolvers = {key: list(value) for key, value in yaml.SafeLoader.yaml_implicit_resolvers.items()}  # a copy: SafeLoader's stay as they are
ConfigLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9][0-9_]*)(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"),
    list("-+0123456789"),
)


def read_yaml(path: str | Path) -> dict[str, Any]:
    """A YAML mapping read safely (no tags that build objects); a syntax error names the file and line."""
    try:
        with open(path, encoding="utf-8") as handle:
            loaded = yaml.load(handle, Loader=ConfigLoader)  # noqa: S506 - a SafeLoader subclass
    except FileNotFoundError:
        raise ConfigError(f"config file {path} not found") from None
    except IsADirectoryError:
        raise ConfigError(f"config file {path} is a folder, not a YAML file") from None
    except UnicodeDecodeError as error:
        raise ConfigError(f"{path} is not UTF-8 text ({error.reason} at byte {error.start})") from None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f", line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(error, "problem", None) or str(error).splitlines()[0]
        raise ConfigError(f"{path}{where}: not valid YAML ({problem}); fix the syntax there") from None
    if loaded is None:
        return {}
    if not isinstance(loaded, dict):
        raise ConfigError(f"{path} must hold a mapping of config sections, not {type(loaded).__name__}")
    return loaded


def _key_path(error) -> str:
    parts = [str(part) for part in error.absolute_path]
    if error.validator == "additionalProperties":
        extra = sorted(set(error.instance) - set(error.schema.get("properties", {})))
        return ", ".join(".".join([*parts, key]) for key in extra)
    return ".".join(parts) or "(top level)"


def validate(values: Mapping[str, Any], source: str = "config") -> None:
    """Check ``values`` against the schema; every violation is listed with its key path."""

    validator = jsonschema.Draft202012Validator(read_yaml(SCHEMA_PATH))
    errors = sorted(validator.iter_errors(dict(values)), key=lambda error: list(map(str, error.absolute_path)))
    if errors:
        lines = [f"{_key_path(error)}: {error.message}" for error in errors]
        if len(lines) == 1:  # one problem, one line
            raise ConfigError(f"{source} is invalid: {lines[0]} (config.schema.yaml documents every key)")
        raise ConfigError(f"{source} is invalid ({len(lines)} problem(s)); see config.schema.yaml for every key:\n  - "
                          + "\n  - ".join(lines))


_TYPE_WORDS = types.MappingProxyType({int: "an integer", float: "a number", str: "a string", bool: "true or false"})


def type_problem(kind: Any, value: Any) -> str | None:
    """Why ``value`` (plain YAML data) is not of the annotated ``kind``, or ``None`` when it is.

    The one type check of config values at the door, for every config file (the study config after
    its schema, the training settings): ``batch_size: two`` is refused by key, never met later as a
    crash. An integer is accepted where a number is expected, a bool never where a number is."""
    origin = typing.get_origin(kind)
    if kind is Any:
        return None
    if origin is Literal:
        choices = typing.get_args(kind)
        return None if value in choices and type(value) in {type(c) for c in choices} else f"one of {list(choices)}"
    if origin in (typing.Union, types.UnionType):
        options = typing.get_args(kind)
        if value is None and type(None) in options:
            return None
        problems = [type_problem(option, value) for option in options if option is not type(None)]
        if any(problem is None for problem in problems):
            return None
        return " or ".join(problems) + (" or null" if type(None) in options else "")
    if origin is tuple or kind is tuple:
        if not isinstance(value, (list, tuple)):
            return "a list"
        args = [arg for arg in typing.get_args(kind) if arg is not Ellipsis]
        problems = [type_problem(args[0], item) for item in value] if args else []
        return next((f"a list of {problem}" for problem in problems if problem), None)
    if dataclasses.is_dataclass(kind):
        return None if isinstance(value, (Mapping, kind)) else "a mapping"
    if kind is float:
        return None if isinstance(value, (int, float)) and not isinstance(value, bool) else _TYPE_WORDS[float]
    if kind is int:
        return None if isinstance(value, int) and not isinstance(value, bool) else _TYPE_WORDS[int]
    if kind in (str, bool):
        return None if isinstance(value, kind) else _TYPE_WORDS[kind]
    return None


def check_type(kind: Any, value: Any, key: str, source: str) -> None:
    """Raise a ``ConfigError`` naming ``source`` and ``key`` unless ``value`` is of ``kind``."""
    problem = type_problem(kind, value)
    if problem is not None:
        raise ConfigError(f"{source}: {key}: expected {problem}, got {value!r}")


def _build(kind: Any, value: Any) -> Any:
    """Turn a validated plain value into ``kind`` (a dataclass, tuple, optional or plain type); a key
    the mapping leaves out takes its dataclass default (the one place defaults live)."""
    if dataclasses.is_dataclass(kind):
        if isinstance(value, kind):
            return value
        hints = typing.get_type_hints(kind)
        return kind(**{item.name: _build(hints[item.name], value[item.name])
                       for item in dataclasses.fields(kind) if item.name in value})
    origin = typing.get_origin(kind)
    if origin is tuple:
        return tuple(_build(typing.get_args(kind)[0], item) for item in value)
    if origin in (typing.Union, types.UnionType):
        if value is None:
            return None
        return _build(next(arg for arg in typing.get_args(kind) if arg is not type(None)), value)
    if kind is float:
        return float(value)
    return value


def relation_problems(config: StudyConfig) -> list[str]:
    """Constraints between keys that JSON Schema cannot state, as ``key: problem`` lines."""
    problems = []
    for name in ("ffhq", "lpff", "celebahq"):
        if getattr(config.data, name).source == "videos":
            problems.append(f"data.{name}.source: videos is MEAD's source kind (frames chosen from its videos); "
                            f"{name} is given as photos, prepared, synthetic or public_domain")
    if config.data.celebahq_test_split is not None and config.data.celebahq.source != "photos":
        problems.append(f"data.celebahq_test_split: selects photos to prepare, so data.celebahq.source must be "
                        f"photos (got {config.data.celebahq.source!r}); set it to null otherwise")
    gpus, batch = config.resources.train.gpus, config.training.batch_size
    if gpus > 1 and batch % gpus:
        problems.append(f"resources.train.gpus: {gpus} GPUs share each step's training.batch_size {batch} (the global "
                        f"batch) in equal parts; use a divisor of {batch}, or a batch that {gpus} divides")
    goae, triplanenet = config.baselines.goae, config.baselines.triplanenet_v2
    if list(goae.progressive_steps) != sorted(goae.progressive_steps):
        problems.append(f"baselines.goae.progressive_steps: must not decrease (got {list(goae.progressive_steps)})")
    if triplanenet.stop_psp < triplanenet.add_triplanenet:
        problems.append(f"baselines.triplanenet_v2.stop_psp: {triplanenet.stop_psp} comes before add_triplanenet "
                        f"{triplanenet.add_triplanenet}; between them neither stage would train")
    problems.extend(_stop_warning_problems(config.resources))
    return problems


def _stop_warning_problems(resources: ResourcesConfig) -> list[str]:
    """The early stop signal must come after a job starts: within every stopping group's first-try runtime."""
    seconds = resources.stop_warning_seconds
    return [f"resources.stop_warning_seconds: {seconds} s is not less than resources.{group}.runtime "
            f"({getattr(resources, group).runtime} min); the signal would come as the job starts"
            for group in STOPPING_GROUPS if seconds and seconds >= 60 * getattr(resources, group).runtime]


def from_mapping(values: Mapping[str, Any], source: str = "config") -> StudyConfig:
    """Validate a merged config mapping (e.g. Snakemake's ``config``) and build the typed config."""
    validate(values, source)
    config = _build(StudyConfig, values)
    problems = relation_problems(config)
    if problems:
        raise ConfigError(f"{source} is invalid ({len(problems)} problem(s)):\n  - " + "\n  - ".join(problems))
    return config


def load_config(path: str | Path = REPO_ROOT / "config.yaml", presets: tuple[str | Path, ...] = ()) -> StudyConfig:
    """``config.yaml`` with each preset file applied in order, validated and typed."""
    values = read_yaml(path)
    for preset in presets:
        values = merge_overrides(values, read_yaml(preset))
    names = " + ".join(str(item) for item in (path, *presets))
    return from_mapping(values, names)


def as_dict(config: StudyConfig) -> dict[str, Any]:
    """Plain JSON-able values (tuples become lists)."""
    return json.loads(json.dumps(dataclasses.asdict(config)))


def config_hash(config: StudyConfig) -> str:
    """``sha256:<hex>`` of the effective configuration (canonical JSON, keys sorted)."""
    canonical = json.dumps(as_dict(config), sort_keys=True, separators=(",", ":"))
    return "sha256:" + hashlib.sha256(canonical.encode("utf-8")).hexdigest()
