"""Typed settings of one encoder training run (paper §4.1 and A.2), validated once at the door.

Defaults are the paper's: batch 3, 500k iterations, Ranger at 1e-4 for encoder and discriminator,
λ_LPIPS 0.8, λ_L2 1.0, λ_ID 0.5, λ_adv 0.001, discriminator weight 0.5, R1 γ 10 every 16 steps,
camera and image mirroring; the encoder baselines' fields (``psp_*``, ``e4e_*``, ``triplanenet_*``,
``goae_*``) default to their published recipes. What the experiment registry decides (latent space, F stage,
discriminator kind, data mix) is *not* repeated here: it comes from the registry entry.
"""

from __future__ import annotations

import hashlib
import json
import typing
from dataclasses import asdict, dataclass, field, fields
from typing import Literal

from dualinv.errors import ConfigError

GeneratorPreset = Literal["released", "tiny", "mini"]


@dataclass(frozen=True)
class GeneratorSource:
    """Where the frozen PanoHead generator comes from."""

    network: str | None = None
    """Path of the official ``.pkl``; ``None`` builds a seeded stand-in of ``preset`` (labelled stand-in)."""
    preset: GeneratorPreset = "released"
    """Architecture of the stand-in: the release, the tiny fixture (512² output) or ``mini`` (2x SR, 128²)."""
    seed: int = 0
    """Seed of the stand-in's random weights."""
    neural_rendering_resolution: int | None = None
    """Rays per side for volume rendering; ``None`` keeps the generator's own value (64 for the release)."""


@dataclass(frozen=True)
class TrainingSettings:
    """Hyperparameters of the encoder training loop."""

    generator: GeneratorSource = field(default_factory=GeneratorSource)
    """The generator the encoders invert into (frozen during training)."""
    dataset: str | None = None
    """Prepared training dataset (folder with ``dataset.json`` and 512² crops, see dualinv.data)."""
    encoder_preset: Literal["paper", "tiny"] = "paper"
    """Encoder size: the paper's IR-SE50 at 256², or a tiny encoder for tests and the mini preset."""
    weights_ir_se50: str | None = None
    """ArcFace IR-SE50 file: encoder backbones and identity loss; ``None`` = seeded stand-in."""
    weights_goae_swin: str | None = None
    """Published ImageNet SwinV2-B the GOAE baseline's Swin starts from; ``None`` = seeded stand-in."""
    weights_lpips: str | None = None
    """torchvision trunk of the LPIPS loss (``lpips_net``); ``None`` = seeded stand-in."""
    lpips_net: Literal["alex", "vgg"] = "alex"
    """LPIPS network of the training loss (pSp/TriPlaneNet use AlexNet; docs/encoders.md)."""
    encoder_resolution: int = 256
    """Side of the image the encoder sees (pSp/TriPlaneNet: 256)."""
    loss_resolution: int = 256
    """Renders and targets are average-pooled to this side before the losses (pSp convention)."""
    batch_size: int = 3
    """Images per step (paper §4.1)."""
    iterations: int = 500_000
    """Total steps of a full run (paper §4.1)."""
    learning_rate: float = 1e-4
    """Ranger learning rate of the encoder and of the discriminator (paper §4.1)."""
    lambda_lpips: float = 0.8
    """Weight of LPIPS in Eq. 5/6 (λ1)."""
    lambda_l2: float = 1.0
    """Weight of the L2 (MSE) term in Eq. 5/6 (λ2)."""
    lambda_id: float = 0.5
    """Weight of the ArcFace identity term in Eq. 5/6 (λ3)."""
    lambda_adv: float = 0.001
    """Weight of the encoder's adversarial term in Eq. 6 (λ4)."""
    lambda_discriminator: float = 0.5
    """Weight λ of the discriminator objective, Eq. 8."""
    r1_gamma: float = 10.0
    """R1 regularisation weight γ (paper A.2)."""
    r1_every: int = 16
    """Lazy R1: applied every this many steps (paper A.2)."""
    mirror_probability: float = 0.5
    """Probability that a sample's image is flipped and its camera mirrored (paper §4.1)."""
    zplus_fraction: float = 0.5
    """Share of Z+ generator samples in a batch when the experiment trains on real + Z+ data."""
    zplus_truncation_psi: float = 1.0
    """Truncation of Z+ samples (training inputs and the discriminator's real tri-grids); not given by the paper."""
    latent_truncation_psi: float = 0.85
    """Truncation of the Z / Z+ encoders' codes through the mapping (paper A.2)."""
    occlusion_opacity_threshold: float = 0.5
    """Rendered opacity below which a depth pixel is background and marks no visible cell (Eq. 3 mask)."""
    back_view_min_yaw_deg: float = 90.0
    """The image discriminator (ablation d_image) sees back views: |yaw| uniform in [this, 180°] (A.1;
    PanoHead's back views are |yaw| ≥ 90°, dualinv.training.back_views)."""
    psp_lambda_lpips: float = 0.8
    """pSp baseline: LPIPS weight (encoders-baselines.md §1.5)."""
    psp_lambda_l2: float = 1.0
    """pSp baseline: MSE weight."""
    psp_lambda_id: float = 0.1
    """pSp baseline: identity weight (README encoding recipe)."""
    e4e_lambda_lpips: float = 0.8
    """e4e baseline: LPIPS weight (§2.4)."""
    e4e_lambda_l2: float = 1.0
    """e4e baseline: MSE weight."""
    e4e_lambda_id: float = 0.5
    """e4e baseline: identity weight (README recipe ``--id_lambda 0.5``)."""
    e4e_progressive_start: int = 20_000
    """e4e baseline: step at which its first W+ delta switches on (e4e ``--progressive_start``)."""
    e4e_progressive_step_every: int = 2_000
    """e4e baseline: steps between switching on successive deltas (``--progressive_step_every``)."""
    e4e_delta_norm_lambda: float = 2e-4
    """e4e baseline: weight of the delta regularisation (``--delta_norm_lambda``, §2.2)."""
    e4e_delta_norm_p: int = 2
    """e4e baseline: norm of each delta (``--delta_norm``)."""
    e4e_w_discriminator_lambda: float = 0.1
    """e4e baseline: weight of the encoder's latent adversarial term (``--w_discriminator_lambda``, §2.3)."""
    e4e_w_discriminator_lr: float = 2e-5
    """e4e baseline: Adam learning rate of the latent discriminator (``--w_discriminator_lr``)."""
    e4e_w_pool_size: int = 50
    """e4e baseline: size of the fake-codes pool (``--use_w_pool``, 50); 0 = no pool, current codes go to D."""
    e4e_r1_gamma: float = 10.0
    """e4e baseline: R1 weight on the latent discriminator's real codes (``--r1``)."""
    e4e_r1_every: int = 16
    """e4e baseline: lazy R1 interval of the latent discriminator (``--d_reg_every``)."""
    triplanenet_lambda_lpips: float = 0.8
    """TriPlaneNet v2 baseline: LPIPS weight of both stages (§3.1)."""
    triplanenet_lambda_l2: float = 1.0
    """TriPlaneNet v2 baseline: pixel weight (MSE in the W+ stage, SmoothL1 in the F stage)."""
    triplanenet_lambda_id: float = 0.1
    """TriPlaneNet v2 baseline: identity weight."""
    triplanenet_add_feature_stage: int = 20_000
    """TriPlaneNet v2 baseline: step at which its F stage starts training (``--add_triplanenet``)."""
    triplanenet_stop_wplus: int = 500_000
    """TriPlaneNet v2 baseline: step from which its W+ stage is frozen (``--stop_psp``)."""
    triplanenet_mirror_lambda: float = 0.1
    """TriPlaneNet v2 baseline: weight of the loss on the mirrored-camera render (``--mirror_lambda``)."""
    goae_lambda_lpips: float = 0.8
    """GOAE baseline: LPIPS weight (its training code is unpublished: pSp's recipe, §3.2)."""
    goae_lambda_l2: float = 1.0
    """GOAE baseline: MSE weight."""
    goae_lambda_id: float = 0.1
    """GOAE baseline: identity weight."""
    goae_progressive_steps: tuple[int, int, int] = (10_000, 20_000, 30_000)
    """GOAE baseline: steps at which its coarse, mid and fine query groups switch on (GOAE ``Net``)."""
    seed: int = 0
    """Base seed; every random draw of step k derives from (seed, k)."""
    device: str = "cpu"
    """``cpu`` or ``cuda`` (``cuda:N``)."""
    bf16: bool = False
    """Run the forward passes under bfloat16 autocast (losses and optimiser state stay float32)."""
    checkpoint_every: int = 1000
    """Steps between checkpoints inside a segment (the segment's last step is always saved)."""
    progress: bool = True
    """Show a tqdm progress bar."""

    def __post_init__(self) -> None:
        problems = []
        for name in ("encoder_resolution", "loss_resolution", "batch_size", "iterations", "checkpoint_every"):
            if int(getattr(self, name)) < 1:
                problems.append(f"{name} must be >= 1 (got {getattr(self, name)})")
        for name in ("mirror_probability", "zplus_fraction", "occlusion_opacity_threshold"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                problems.append(f"{name} must lie in [0, 1] (got {getattr(self, name)})")
        if self.learning_rate <= 0:
            problems.append(f"learning_rate must be > 0 (got {self.learning_rate})")
        if self.r1_every < 0:
            problems.append(f"r1_every must be >= 0 (got {self.r1_every})")
        if not (self.device == "cpu" or self.device.startswith("cuda")):
            problems.append(f"device must be 'cpu' or 'cuda[:N]' (got {self.device!r})")
        if self.encoder_preset not in ("paper", "tiny"):
            problems.append(f"encoder_preset must be 'paper' or 'tiny' (got {self.encoder_preset!r})")
        object.__setattr__(self, "goae_progressive_steps", tuple(int(v) for v in self.goae_progressive_steps))
        steps = self.goae_progressive_steps
        if len(steps) != 3 or list(steps) != sorted(steps) or min(steps) < 0:
            problems.append(f"goae_progressive_steps must be 3 non-decreasing steps >= 0 (got {list(steps)})")
        for name in ("e4e_progressive_start", "triplanenet_add_feature_stage", "triplanenet_stop_wplus",
                     "e4e_w_pool_size", "e4e_r1_gamma", *(item.name for item in fields(self) if "lambda" in item.name)):
            if getattr(self, name) < 0:
                problems.append(f"{name} must be >= 0 (got {getattr(self, name)})")
        for name in ("e4e_progressive_step_every", "e4e_delta_norm_p", "e4e_r1_every"):
            if getattr(self, name) < 1:
                problems.append(f"{name} must be >= 1 (got {getattr(self, name)})")
        if self.e4e_w_discriminator_lr <= 0:
            problems.append(f"e4e_w_discriminator_lr must be > 0 (got {self.e4e_w_discriminator_lr})")
        if self.triplanenet_stop_wplus < self.triplanenet_add_feature_stage:
            problems.append(f"triplanenet_stop_wplus ({self.triplanenet_stop_wplus}) must not come before "
                            f"triplanenet_add_feature_stage ({self.triplanenet_add_feature_stage}): between them "
                            "neither stage would train")
        if problems:
            raise ConfigError("training config: " + "; ".join(problems))

    @classmethod
    def from_dict(cls, values: dict, source: str = "training config") -> "TrainingSettings":
        """Build from plain values (YAML), refusing unknown keys and wrong types by name."""
        from dualinv.config import check_type

        known = {item.name for item in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ConfigError(f"{source}: unknown key(s) {unknown}; known keys: {sorted(known)}")
        values = dict(values)
        hints = typing.get_type_hints(cls)
        for key, value in values.items():
            check_type(hints[key], value, key, source)
        if isinstance(values.get("generator"), dict):
            generator_known = {item.name for item in fields(GeneratorSource)}
            bad = sorted(set(values["generator"]) - generator_known)
            if bad:
                raise ConfigError(f"{source}: unknown key(s) generator.{bad}; known: {sorted(generator_known)}")
            generator_hints = typing.get_type_hints(GeneratorSource)
            for key, value in values["generator"].items():
                check_type(generator_hints[key], value, f"generator.{key}", source)
            values["generator"] = GeneratorSource(**values["generator"])
        return cls(**values)

    def as_dict(self) -> dict:
        return asdict(self)

    def hash(self) -> str:
        """sha256 of the settings that change what a step does (not the run length, device, bar or spacing)."""
        relevant = {key: value for key, value in self.as_dict().items()
                    if key not in ("iterations", "device", "progress", "checkpoint_every")}
        return "sha256:" + hashlib.sha256(json.dumps(relevant, sort_keys=True).encode("utf-8")).hexdigest()


def tiny_training_config(**overrides) -> TrainingSettings:
    """Tiny generator and encoders, for tests, benchmarks and the mini preset."""
    values = dict(generator=GeneratorSource(preset="mini", seed=0, neural_rendering_resolution=16),
                  encoder_preset="tiny", encoder_resolution=64, loss_resolution=64, batch_size=2,
                  occlusion_opacity_threshold=0.1,  # random tiny generators render opacities of 0.1-0.3
                  iterations=100, checkpoint_every=50, progress=False)
    values.update(overrides)
    return TrainingSettings(**values)


def settings_from_study(study, dataset: str | None = None) -> TrainingSettings:
    """The training settings of a validated study config (``dualinv.config.StudyConfig``).

    The single place where a study becomes a training run; its ``generator`` is also the one the
    synthetic data and the evaluation use (:func:`study_generator_source`). The dataset defaults to
    the workflow's training split (``dualinv.study.prepared_dir(study, "train")``); the device is
    CUDA when available.
    """
    import torch

    from dualinv.study import prepared_dir

    training, encoder = study.training, study.encoder
    weights_lpips = study.weights.lpips_alex if training.lpips_net == "alex" else study.weights.lpips_vgg
    return TrainingSettings(
        generator=study_generator_source(study),
        dataset=str(dataset if dataset is not None else prepared_dir(study, "train")),
        encoder_preset="tiny" if encoder.width_multiplier < 1 else "paper",
        encoder_resolution=encoder.input_resolution, loss_resolution=training.loss_resolution,
        weights_ir_se50=study.weights.ir_se50, weights_goae_swin=study.weights.goae_swin,
        weights_lpips=weights_lpips, lpips_net=training.lpips_net,
        batch_size=training.batch_size, iterations=training.iterations, learning_rate=training.learning_rate,
        lambda_lpips=training.lambda_lpips, lambda_l2=training.lambda_l2, lambda_id=training.lambda_id,
        lambda_adv=training.lambda_adv, lambda_discriminator=training.lambda_discriminator,
        r1_gamma=training.r1_gamma, r1_every=training.r1_every, mirror_probability=training.mirror_probability,
        zplus_fraction=training.zplus_fraction, zplus_truncation_psi=training.zplus_truncation_psi,
        occlusion_opacity_threshold=training.occlusion_opacity_threshold, bf16=training.bf16,
        checkpoint_every=training.checkpoint_every, seed=training.seed,
        device="cuda" if torch.cuda.is_available() else "cpu", progress=False, **baseline_recipes(study.baselines))


def baseline_recipes(baselines) -> dict:
    """The encoder baselines' recipe fields of :class:`TrainingSettings` from the study config's
    ``baselines`` section (``dualinv.config.BaselinesConfig``): every value of ``baselines.psp``,
    ``.e4e``, ``.triplanenet_v2`` and ``.goae``."""
    psp, e4e, triplanenet, goae = baselines.psp, baselines.e4e, baselines.triplanenet_v2, baselines.goae
    return dict(
        psp_lambda_lpips=psp.lambda_lpips, psp_lambda_l2=psp.lambda_l2, psp_lambda_id=psp.lambda_id,
        e4e_lambda_lpips=e4e.lambda_lpips, e4e_lambda_l2=e4e.lambda_l2, e4e_lambda_id=e4e.lambda_id,
        e4e_progressive_start=e4e.progressive_start, e4e_progressive_step_every=e4e.progressive_step_every,
        e4e_delta_norm_lambda=e4e.delta_norm_lambda, e4e_delta_norm_p=e4e.delta_norm_p,
        e4e_w_discriminator_lambda=e4e.w_discriminator_lambda, e4e_w_discriminator_lr=e4e.w_discriminator_lr,
        e4e_w_pool_size=e4e.w_pool_size, e4e_r1_gamma=e4e.r1_gamma, e4e_r1_every=e4e.r1_every,
        triplanenet_lambda_lpips=triplanenet.lambda_lpips, triplanenet_lambda_l2=triplanenet.lambda_l2,
        triplanenet_lambda_id=triplanenet.lambda_id, triplanenet_add_feature_stage=triplanenet.add_triplanenet,
        triplanenet_stop_wplus=triplanenet.stop_psp, triplanenet_mirror_lambda=triplanenet.mirror_lambda,
        goae_lambda_lpips=goae.lambda_lpips, goae_lambda_l2=goae.lambda_l2, goae_lambda_id=goae.lambda_id,
        goae_progressive_steps=tuple(goae.progressive_steps))


def study_generator_source(study) -> GeneratorSource:
    """The one generator of a study: its network file (``generator.network``, else ``weights.panohead``
    for the released preset) or a stand-in of ``generator.preset`` seeded with ``training.seed``.
    Synthetic data, encoder training and evaluation all build it from here
    (``dualinv.training.build.build_generator``)."""
    generator = study.generator
    network = generator.network
    if network is None and generator.preset == "released":
        network = study.weights.panohead
    return GeneratorSource(network=network, preset=generator.preset, seed=study.training.seed,
                           neural_rendering_resolution=generator.neural_rendering_resolution)
