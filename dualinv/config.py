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
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Mapping

import yaml

from dualinv.errors import ConfigError

REPO_ROOT = Path(__file__).resolve().parents[1]
SCHEMA_PATH = REPO_ROOT / "config.schema.yaml"
"""The schema of record (it sits beside ``config.yaml`` at the repository root)."""

DatasetName = Literal["ffhq", "lpff", "celebahq", "mead"]
DatasetSource = Literal["photos", "prepared", "synthetic", "public_domain", "videos"]
ResourceGroup = Literal["prepare", "train", "invert", "optimise", "evaluate", "report"]


@dataclass(frozen=True)
class WeightsConfig:
    """Local paths of the pretrained files (``dualinv.weights.REGISTRY``); ``None`` = seeded stand-in."""

    panohead: str | None
    """The released PanoHead generator pickle."""
    ir_se50: str | None
    """ArcFace IR-SE50: encoder backbone initialisation and the identity loss/metric."""
    lpips_alex: str | None
    """AlexNet trunk for LPIPS: the metric and the encoders' training loss (``training.lpips_net: alex``)."""
    lpips_vgg: str | None
    """VGG16 trunk for LPIPS-VGG: the W+ optimisation and PTI loss (and ``training.lpips_net: vgg``)."""
    inception: str | None
    """Inception-v3 for FID."""
    u2net: str | None
    """U^2-Net background removal (data preparation)."""
    facenet_vggface2: str | None
    """Optional second identity metric."""
    face_parsing: str | None
    """Optional BiSeNet face parser (``79999_iter.pth``) for ``dualinv edit``; ``None``: mediapipe part masks."""
    curricularface: str | None
    """CurricularFace IR-101 (``CurricularFace_Backbone.pth``) of the authors' ID metric; ``None``: seeded stand-in."""
    tddfa: str | None
    """3DDFA_V2 TDDFA regressor (``mb1_120x120.pth`` / ``mb05_120x120.pth``) for PanoHead's alignment."""
    tddfa_whitening: str | None
    """3DDFA_V2 ``param_mean_std_62d_120x120.pkl``."""
    bfm: str | None
    """3DDFA_V2 ``bfm_noneck_v3.pkl``."""
    faceboxes: str | None
    """3DDFA_V2's FaceBoxes detector ``FaceBoxesProd.pth`` (TDDFA's crop); ``None``: TDDFA's landmark crop rule."""
    dlib_landmarks: str | None
    """dlib's ``shape_predictor_68_face_landmarks.dat``; ``None``: the face mesh's 68 points."""
    goae_swin: str | None = None
    """Published ImageNet SwinV2-B the GOAE baseline starts from (``dualinv.encoders.swin_v2``)."""


@dataclass(frozen=True)
class DatasetConfig:
    """Where one dataset comes from."""

    source: DatasetSource
    """``photos``: align the photos in ``path``; ``prepared``: ``path`` already holds ``dataset.json`` and
    crops; ``synthetic``: multi-view renders of the (stand-in) generator; ``public_domain``: the portraits
    shipped with scikit-image (mini preset)."""
    path: str | None
    """Folder of photos (``photos``) or of a prepared dataset (``prepared``); ``None`` otherwise."""


@dataclass(frozen=True)
class SyntheticConfig:
    """Size of each synthetic dataset (mini preset): true multi-view ground truth from the generator."""

    identities: int
    """Random heads (z samples) per dataset."""
    views: int
    """Cameras rendered per head."""
    seed: int
    """Base seed; each dataset derives its own from its name."""


@dataclass(frozen=True)
class MeadFramesConfig:
    """Which MEAD frames Table 2 uses (``data.mead.source: videos``; :mod:`dualinv.data.mead_frames`)."""

    frames_per_clip: int
    """Frames per take, the same instants on the five cameras."""
    max_clips: int | None
    """A seeded sample of this many takes; ``None`` = every take."""
    seed: int
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

    method: Literal["3ddfa", "mediapipe"]
    """``3ddfa``: PanoHead's pipeline; ``mediapipe``: the face mesh's quad and pose."""
    tddfa_width: float
    """1.0 (``mb1_120x120.pth``) or 0.5 (``mb05_120x120.pth``)."""
    min_face_size: float
    """Smallest crop quad side in photo pixels (PanoHead: 256)."""


@dataclass(frozen=True)
class DataConfig:
    """The four datasets of the paper (§4.1) and how the training set is split."""

    ffhq: DatasetConfig
    """FFHQ, training and validation."""
    lpff: DatasetConfig
    """LPFF large-pose faces, training and validation (pose-rebalanced)."""
    celebahq: DatasetConfig
    """CelebA-HQ test images (Table 1)."""
    mead: DatasetConfig
    """Multi-view MEAD frames (Table 2)."""
    validation_images: int
    """FFHQ + LPFF images held out for validation (paper §4.1: ~14k; a count, docs/data.md)."""
    max_reject_share: float
    """Preparing a dataset fails (``DatasetLossError``) when more than this share of its photos is rejected."""
    test_images: int | None
    """Cap on the images inverted per test set; ``None`` = all."""
    celebahq_test_split: CelebAHQSplitConfig | None
    """Prepare only CelebA-HQ's 2,824-image test split (pSp, e4e, GOAE); ``None`` = every photo."""
    mead_frames: MeadFramesConfig
    """How the MEAD frames are chosen from its videos (``data.mead.source: videos``)."""
    synthetic: SyntheticConfig
    """How ``synthetic`` datasets are made."""
    pose: DataPoseConfig
    """Alignment and camera labels of prepared photos."""


@dataclass(frozen=True)
class GeneratorConfig:
    """The frozen PanoHead generator everything inverts into."""

    preset: Literal["released", "mini", "tiny"]
    """Architecture: the released network, ``mini`` (the fast CPU stand-in of :mod:`dualinv.standin`) or
    ``tiny`` (the 512² test fixture architecture)."""
    network: str | None
    """Network pickle; ``None`` = ``weights.panohead`` for ``released``, a seeded stand-in otherwise."""
    neural_rendering_resolution: int | None
    """Rays per side for volume rendering; ``None`` keeps the network's own (64 for the release)."""


@dataclass(frozen=True)
class EncoderConfig:
    """Sizes of the encoders (ours and the encoder baselines)."""

    input_resolution: int
    """Side of the image the encoder sees (256 in the paper)."""
    ir_depth: Literal[50, 100, 152]
    """Depth of the IR-SE backbone (50 in the paper, initialised from ``weights.ir_se50``)."""
    width_multiplier: float
    """Scales every channel count (1 in the paper; small for the mini preset)."""


@dataclass(frozen=True)
class TrainingConfig:
    """Hyperparameters of encoder training (paper §4.1 and A.2)."""

    batch_size: int
    """Images per step."""
    iterations: int
    """Total steps of one experiment."""
    segment_length: int
    """Steps per Slurm job; training runs as a chain of resumable segments of this length."""
    learning_rate: float
    """Ranger learning rate of encoder and discriminator."""
    lambda_lpips: float
    """LPIPS weight (λ1, Eq. 5/6)."""
    lambda_l2: float
    """L2 weight (λ2, Eq. 5/6)."""
    lambda_id: float
    """Identity weight (λ3, Eq. 5/6)."""
    lambda_adv: float
    """Encoder adversarial weight (λ4, Eq. 6)."""
    lambda_discriminator: float
    """Discriminator objective weight (λ, Eq. 8)."""
    r1_gamma: float
    """R1 regularisation weight γ."""
    r1_every: int
    """Lazy R1 interval in steps."""
    mirror_probability: float
    """Probability that a sample's image is flipped and its camera mirrored (paper §4.1)."""
    zplus_fraction: float
    """Share of Z+ generator samples in a batch of the real + Z+ experiments (paper A.2)."""
    zplus_truncation_psi: float
    """Truncation of the Z+ samples (not given by the paper; 1 = none)."""
    occlusion_opacity_threshold: float
    """Rendered opacity below which a depth pixel marks no visible cell (Eq. 3); ~0.1 for stand-ins."""
    lpips_net: Literal["alex", "vgg"]
    """LPIPS trunk of the training loss."""
    loss_resolution: int
    """Side renders and targets are pooled to before the losses."""
    bf16: bool
    """bfloat16 autocast for forward passes (losses and optimiser state stay float32)."""
    checkpoint_every: int
    """Steps between checkpoints inside a segment (its last step is always saved)."""
    seed: int
    """Base seed; every random draw derives from (seed, experiment, step)."""


@dataclass(frozen=True)
class WOptimSettings:
    """W+ optimisation baseline (``dualinv.baselines.WOptimConfig``; PanoHead ``project``)."""

    steps: int
    """Optimisation steps per image."""
    learning_rate: float
    """Peak Adam learning rate."""
    w_avg_samples: int
    """z samples behind ``w_avg`` and ``w_std``."""
    lambda_mse: float
    """Weight of the pixel MSE."""
    lambda_lpips: float
    """Weight of LPIPS (VGG)."""
    lambda_w_norm: float
    """Weight of ``mean((ws - w_avg)^2)``."""
    lpips_resolution: int
    """Side LPIPS is computed at."""
    seed: int
    """Seed of the ``w_avg`` samples, the code noise and the renderer's jitter."""


@dataclass(frozen=True)
class PTISettings:
    """Pivotal tuning baseline (``dualinv.baselines.PTIConfig``; PanoHead ``project_pti``)."""

    pivot_steps: int
    """W+ pivot steps per image (the ``w_optim`` loop)."""
    steps: int
    """Generator tuning steps per image."""
    learning_rate: float
    """Constant Adam learning rate of the generator."""
    lambda_mse: float
    """Weight of the pixel MSE."""
    lambda_lpips: float
    """Weight of LPIPS."""
    seed: int
    """Seed of the renderer's jitter during tuning."""


@dataclass(frozen=True)
class PSPSettings:
    """pSp baseline encoder, retrained on PanoHead (encoders-baselines.md §1.5)."""

    lambda_lpips: float
    """LPIPS weight (``--lpips_lambda``)."""
    lambda_l2: float
    """MSE weight (``--l2_lambda``)."""
    lambda_id: float
    """Identity weight (``--id_lambda``)."""


@dataclass(frozen=True)
class E4ESettings:
    """e4e baseline encoder (encoders-baselines.md §2): progressive deltas, delta regularisation, latent GAN."""

    lambda_lpips: float
    """LPIPS weight."""
    lambda_l2: float
    """MSE weight."""
    lambda_id: float
    """Identity weight."""
    progressive_start: int
    """Step at which the first W+ delta switches on (``--progressive_start``)."""
    progressive_step_every: int
    """Steps between successive deltas (``--progressive_step_every``)."""
    delta_norm_lambda: float
    """Weight of the delta regularisation (``--delta_norm_lambda``)."""
    delta_norm_p: int
    """Norm of each delta (``--delta_norm``)."""
    w_discriminator_lambda: float
    """Weight of the encoder's latent adversarial term (``--w_discriminator_lambda``)."""
    w_discriminator_lr: float
    """Adam learning rate of the latent discriminator (``--w_discriminator_lr``)."""
    w_pool_size: int
    """Size of the fake-codes pool (``--use_w_pool``); 0 = no pool, the current codes go straight to D."""
    r1_gamma: float
    """R1 weight of the latent discriminator (``--r1``)."""
    r1_every: int
    """Lazy R1 interval of the latent discriminator (``--d_reg_every``)."""


@dataclass(frozen=True)
class TriPlaneNetSettings:
    """TriPlaneNet v2 baseline encoder (encoders-baselines.md §3.1); its image discriminator (600k) is not implemented."""

    lambda_lpips: float
    """LPIPS weight of both stages."""
    lambda_l2: float
    """Pixel weight: MSE in the W+ stage, SmoothL1 in the F stage."""
    lambda_id: float
    """Identity weight."""
    add_triplanenet: int
    """Step at which the F stage starts training (``--add_triplanenet``)."""
    stop_psp: int
    """Step from which the W+ stage is frozen (``--stop_psp``)."""
    mirror_lambda: float
    """Weight of the loss on the mirrored-camera render (``--mirror_lambda``)."""


@dataclass(frozen=True)
class GOAESettings:
    """GOAE baseline encoder (encoders-baselines.md §3.2); its training code is unpublished, losses as pSp's."""

    lambda_lpips: float
    """LPIPS weight."""
    lambda_l2: float
    """MSE weight."""
    lambda_id: float
    """Identity weight."""
    progressive_steps: tuple[int, ...]
    """Steps at which the coarse, mid and fine query groups switch on."""


@dataclass(frozen=True)
class BaselinesConfig:
    """The baselines of Tables 1 and 2 (docs/baselines.md): two per-image optimisations, four encoders."""

    w_optim: WOptimSettings
    """W+ optimisation, also PTI's pivot loop (with ``pti.pivot_steps``)."""
    pti: PTISettings
    """Pivotal tuning."""
    psp: PSPSettings
    """pSp, trained through the shared loop."""
    e4e: E4ESettings
    """e4e, trained through the shared loop."""
    triplanenet_v2: TriPlaneNetSettings
    """TriPlaneNet v2, trained through the shared loop."""
    goae: GOAESettings
    """GOAE, trained through the shared loop."""


@dataclass(frozen=True)
class CameraConfig:
    """Cameras of the novel-view metrics (paper §4.3)."""

    fid_yaw_range_deg: float
    """FID renders take yaw uniformly in ± this around the front (180 = the full circle)."""
    mead_yaws_deg: tuple[float, ...]
    """MEAD novel views compared with ground truth (Table 2)."""


@dataclass(frozen=True)
class EvaluationConfig:
    """How methods are scored (paper §4.3)."""

    fid_images: int
    """Synthesized and encoded images per FID distribution (1k in the paper)."""
    bootstrap_samples: int
    """Resamples for the confidence intervals reported beside each metric."""
    figure_items: int
    """Test images per method that get the figure views, a mesh and a stored tri-grid."""
    mesh_resolution: int
    """Marching-cubes grid side of the figure meshes (0: none)."""
    seed: int
    """Seed of camera sampling and bootstrap."""
    cameras: CameraConfig
    """Novel-view cameras."""


@dataclass(frozen=True)
class ResourceConfig:
    """What one job of a rule group asks the scheduler for (partition and account: the profile)."""

    gpus: int
    """GPUs per job (``gpu=`` resource, ``--gpus`` on Slurm)."""
    threads: int
    """CPU threads per job."""
    mem_mb: int
    """Memory per job in MB on the first attempt; a retry asks for ``attempt`` times as much."""
    runtime: int
    """Wall time per job in minutes on the first attempt; a retry asks for ``attempt`` times as much."""

    def for_attempt(self, attempt: int) -> dict[str, int]:
        """Resources of try number ``attempt`` (1-based): memory and time grow linearly."""
        attempt = max(int(attempt), 1)
        return {"gpu": self.gpus, "mem_mb": self.mem_mb * attempt, "runtime": self.runtime * attempt}


@dataclass(frozen=True)
class ResourcesConfig:
    """Per rule group."""

    prepare: ResourceConfig
    """Data preparation and synthetic data."""
    train: ResourceConfig
    """One training segment."""
    invert: ResourceConfig
    """Encoder inversion of one test set."""
    optimise: ResourceConfig
    """One shard of a per-image optimisation baseline (W+ optimisation, PTI) on one test set."""
    optimise_shards: int
    """Parallel jobs per optimisation baseline and test set; shard k inverts the images with index k mod this."""
    evaluate: ResourceConfig
    """Metrics of one method on one test set."""
    report: ResourceConfig
    """Tables and figures."""


@dataclass(frozen=True)
class OutputConfig:
    """Where results go."""

    results: str
    """Root of every artifact, log and benchmark of the workflow."""


@dataclass(frozen=True)
class StudyConfig:
    """The whole study (``config.yaml`` plus an optional preset)."""

    preset: str
    """Name of the preset in effect (``paper``, ``mini``); recorded in provenance."""
    weights: WeightsConfig
    data: DataConfig
    generator: GeneratorConfig
    encoder: EncoderConfig
    training: TrainingConfig
    baselines: BaselinesConfig
    evaluation: EvaluationConfig
    experiments: tuple[str, ...]
    """Registry names (``dualinv.training.EXPERIMENTS``) that ``all`` runs."""
    resources: ResourcesConfig
    output: OutputConfig


def merge_overrides(base: Mapping[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    """``base`` with ``overrides`` applied: mappings merge key by key, anything else is replaced."""
    merged = copy.deepcopy(dict(base))
    for key, value in overrides.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = merge_overrides(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


class ConfigLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that reads ``1e-4`` as the number it means.

    PyYAML follows YAML 1.1, whose floats need a dot (``1.0e-4``), so ``learning_rate: 1e-4`` would
    arrive as the string ``"1e-4"``; YAML 1.2 (and JSON) read it as a float, and so does every config
    file here. Anything else that is not a number stays a string and fails the type check by key."""


ConfigLoader.yaml_implicit_resolvers = {key: list(value) for key, value in yaml.SafeLoader.yaml_implicit_resolvers.items()}
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
    import jsonschema

    validator = jsonschema.Draft202012Validator(read_yaml(SCHEMA_PATH))
    errors = sorted(validator.iter_errors(dict(values)), key=lambda error: list(map(str, error.absolute_path)))
    if errors:
        lines = [f"{_key_path(error)}: {error.message}" for error in errors]
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
    """Turn a validated plain value into ``kind`` (a dataclass, tuple, optional or plain type)."""
    if dataclasses.is_dataclass(kind):
        hints = typing.get_type_hints(kind)
        return kind(**{item.name: _build(hints[item.name], value[item.name]) for item in dataclasses.fields(kind)})
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
    goae, triplanenet = config.baselines.goae, config.baselines.triplanenet_v2
    if list(goae.progressive_steps) != sorted(goae.progressive_steps):
        problems.append(f"baselines.goae.progressive_steps: must not decrease (got {list(goae.progressive_steps)})")
    if triplanenet.stop_psp < triplanenet.add_triplanenet:
        problems.append(f"baselines.triplanenet_v2.stop_psp: {triplanenet.stop_psp} comes before add_triplanenet "
                        f"{triplanenet.add_triplanenet}; between them neither stage would train")
    return problems


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
