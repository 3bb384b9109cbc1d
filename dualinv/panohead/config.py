"""Typed, validated configuration of the PanoHead generator (specs/panohead.md §1.2).

``PanoHeadConfig.from_init_kwargs`` accepts exactly the layout of the official
``TriPlaneGenerator.init_kwargs`` (as pickled in ``G_ema``) and ``to_init_kwargs`` gives it back,
so a checkpoint's kwargs round-trip. Unknown keys and bad values raise ``ConfigError`` naming the key.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Literal

from dualinv.errors import ConfigError

SR_MODULE_PREFIX = "training.superresolution."
SR_CLASS_NAMES = ("SuperresolutionHybrid2X", "SuperresolutionHybrid4X", "SuperresolutionHybrid8X", "SuperresolutionHybrid8XDC")
SR_OUTPUT_RESOLUTION = {"SuperresolutionHybrid2X": 128, "SuperresolutionHybrid4X": 256, "SuperresolutionHybrid8X": 512, "SuperresolutionHybrid8XDC": 512}

# Value kinds used by the validation tables below.
_INT, _NUM, _BOOL, _STR = "int", "number", "bool", "str"


@dataclass(frozen=True)
class RenderingConfig:
    """The official ``rendering_kwargs`` dict, typed (§1.2). Training-only keys are kept for round trips."""

    triplane_size: int
    """Resolution H = W of the tri-grid (backbone output resolution)."""
    triplane_depth: int
    """Depth slices D per plane (1 = EG3D tri-plane)."""
    superresolution_module: str
    """Official dotted class name; one of ``training.superresolution.`` + SR_CLASS_NAMES."""
    sr_antialias: bool
    """Antialias flag of the bilinear resizes (SR input, background)."""
    decoder_activation: Literal["none", "sigmoid", "lrelu"]
    """Activation on the decoder's colour features."""
    c_gen_conditioning_zero: bool
    """Zero the conditioning label before the mapping networks."""
    superresolution_noise_mode: Literal["random", "const", "none"]
    """Noise mode of the SR layers."""
    ray_start: float
    """Near bound of the rays (distance from the camera)."""
    ray_end: float
    """Far bound of the rays."""
    depth_resolution: int
    """Coarse (stratified) samples per ray."""
    depth_resolution_importance: int
    """Fine (importance) samples per ray; 0 = coarse only."""
    disparity_space_sampling: bool
    """Sample uniformly in inverse depth instead of depth."""
    clamp_mode: Literal["softplus"]
    """Density activation of the ray marcher (only softplus exists)."""
    box_warp: float
    """Side length of the cube the tri-grid spans (world units)."""
    c_scale: float = 0.0
    """Factor on the conditioning label (official default 0 when the key is absent)."""
    decoder_lr_mul: float = 1.0
    """Learning-rate multiplier of the decoder FC layers."""
    use_torgb_raw: bool = False
    """Make the raw image with a ToRGB layer (else: first 3 feature channels)."""
    use_background: bool = False
    """Build the background StyleGAN (``bcg_synthesis``)."""
    density_noise: float = 0.0
    """Std of Gaussian noise on raw densities (a live attribute, not an init kwarg; 0 at inference)."""
    image_resolution: int | None = None
    """Training-only: dataset resolution (None = absent)."""
    gpc_reg_prob: float | None = None
    """Training-only: generator pose-conditioning swap probability."""
    density_reg: float | None = None
    """Training-only: density regulariser weight."""
    density_reg_p_dist: float | None = None
    """Training-only: density regulariser perturbation distance."""
    reg_type: str | None = None
    """Training-only: density regulariser type."""
    trans_reg: float | None = None
    """Training-only: camera-translation regulariser weight."""
    avg_camera_radius: float | None = None
    """Scripts: camera distance from the origin."""
    avg_camera_pivot: tuple[float, float, float] | None = None
    """Scripts: look-at point of the visualiser."""

    @property
    def superresolution_class(self) -> str:
        """The SR class name without its module prefix."""
        return self.superresolution_module.removeprefix(SR_MODULE_PREFIX)

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if value is None and f.default is None:
                continue
            _check_value(f"rendering_kwargs.{f.name}", value, _RENDERING_KINDS[f.name])
        if self.superresolution_class not in SR_CLASS_NAMES or not self.superresolution_module.startswith(SR_MODULE_PREFIX):
            raise ConfigError(
                f"rendering_kwargs.superresolution_module: {self.superresolution_module!r} is not supported; "
                f"use one of {[SR_MODULE_PREFIX + name for name in SR_CLASS_NAMES]}"
            )
        if self.triplane_size < 4 or self.triplane_size & (self.triplane_size - 1):
            raise ConfigError(f"rendering_kwargs.triplane_size: must be a power of two >= 4, got {self.triplane_size}")
        for key in ("triplane_depth", "depth_resolution"):
            if getattr(self, key) < (2 if key == "depth_resolution" else 1):
                raise ConfigError(f"rendering_kwargs.{key}: too small ({getattr(self, key)})")
        _check_bounds("rendering_kwargs", self, RENDERING_BOUNDS)
        if not 0 < self.ray_start < self.ray_end:
            raise ConfigError(f"rendering_kwargs.ray_start/ray_end: need 0 < ray_start < ray_end, got {self.ray_start}, {self.ray_end}")

    def to_dict(self, include_density_noise: bool = True) -> dict[str, Any]:
        """The official plain dict (absent optional keys left out)."""
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if value is None or (f.name == "density_noise" and not include_density_noise):
                continue
            out[f.name] = list(value) if isinstance(value, tuple) else value
        return out


_RENDERING_KINDS: dict[str, Any] = {
    "triplane_size": _INT, "triplane_depth": _INT, "superresolution_module": _STR, "sr_antialias": _BOOL,
    "decoder_activation": ("none", "sigmoid", "lrelu"), "c_gen_conditioning_zero": _BOOL,
    "superresolution_noise_mode": ("random", "const", "none"), "ray_start": _NUM, "ray_end": _NUM,
    "depth_resolution": _INT, "depth_resolution_importance": _INT, "disparity_space_sampling": _BOOL,
    "clamp_mode": ("softplus",), "box_warp": _NUM, "c_scale": _NUM, "decoder_lr_mul": _NUM,
    "use_torgb_raw": _BOOL, "use_background": _BOOL, "density_noise": _NUM, "image_resolution": _INT,
    "gpc_reg_prob": _NUM, "density_reg": _NUM, "density_reg_p_dist": _NUM, "reg_type": _STR,
    "trans_reg": _NUM, "avg_camera_radius": _NUM, "avg_camera_pivot": "vec3",
}  # fmt: skip


GENERATOR_BOUNDS: dict[str, tuple[int, int]] = {
    "z_dim": (1, 4096), "c_dim": (0, 256), "w_dim": (1, 4096), "img_channels": (1, 4), "mapping_layers": (1, 32),
    "channel_base": (1, 1 << 17), "channel_max": (1, 4096), "num_fp16_res": (0, 16), "sr_num_fp16_res": (0, 16),
    "neural_rendering_resolution": (1, 512),
}  # fmt: skip
"""Inclusive ranges of the constructor values (the release: 512, 25, 512, 3, 8, 32768, 512, 0, 4, 64).
Checked before anything is built, so a file cannot make the loader allocate a giant network
(docs/security.md); :data:`dualinv.panohead.checkpoint.MAX_GENERATOR_ELEMENTS` bounds the total."""
RENDERING_BOUNDS: dict[str, tuple[int, int]] = {
    "triplane_size": (4, 2048), "triplane_depth": (1, 64), "depth_resolution": (2, 1024),
    "depth_resolution_importance": (0, 1024), "image_resolution": (1, 4096),
}  # fmt: skip
SR_BOUNDS: dict[str, tuple[int, int]] = {"channel_base": (1, 1 << 17), "channel_max": (1, 4096)}


def _check_bounds(prefix: str, config: Any, bounds: dict[str, tuple[int, int]]) -> None:
    """Raise ConfigError naming the first value of ``config`` outside its inclusive range."""
    for key, (low, high) in bounds.items():
        value = getattr(config, key, None)
        if isinstance(value, int) and not low <= value <= high:
            name = f"{prefix}.{key}" if prefix else key
            raise ConfigError(f"{name}: {value} is outside the supported range [{low}, {high}]")


def _check_value(key: str, value: Any, kind: Any) -> None:
    """Raise ConfigError naming ``key`` unless ``value`` is of ``kind``."""
    ok = {
        _INT: lambda v: isinstance(v, int) and not isinstance(v, bool),
        _NUM: lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
        _BOOL: lambda v: isinstance(v, bool),
        _STR: lambda v: isinstance(v, str),
        "vec3": lambda v: isinstance(v, (list, tuple)) and len(v) == 3 and all(_is_number(x) for x in v),
    }.get(kind, lambda v: isinstance(v, (str, bool)) and v in kind)
    if not ok(value):
        expected = f"one of {list(kind)}" if isinstance(kind, tuple) else f"a {kind}"
        if kind == "vec3":
            expected = "a list of 3 numbers"
        raise ConfigError(f"{key}: expected {expected}, got {value!r}")


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _rendering_from_dict(values: dict[str, Any]) -> RenderingConfig:
    names = {f.name: f for f in dataclasses.fields(RenderingConfig)}
    for key in values:
        if key not in names:
            raise ConfigError(f"rendering_kwargs.{key}: unknown key; known keys are {sorted(names)}")
    missing = [n for n, f in names.items() if f.default is dataclasses.MISSING and n not in values]
    if missing:
        raise ConfigError(f"rendering_kwargs: missing required key(s) {missing}")
    if values.get("ray_start") == "auto" or values.get("ray_end") == "auto":
        raise ConfigError("rendering_kwargs.ray_start/ray_end: 'auto' (box-intersection bounds) is not supported; give numbers")
    if isinstance(values.get("avg_camera_pivot"), list):
        values = {**values, "avg_camera_pivot": tuple(values["avg_camera_pivot"])}
    return RenderingConfig(**values)


@dataclass(frozen=True)
class SuperresolutionKwargs:
    """The official ``sr_kwargs`` (None = key absent)."""

    channel_base: int | None = None
    """Accepted and ignored by every SR class (kept for round trips)."""
    channel_max: int | None = None
    """Accepted and ignored by every SR class."""
    fused_modconv_default: bool | Literal["inference_only"] | None = None
    """Default of fused_modconv in the SR blocks (None = the block default, True)."""

    def __post_init__(self) -> None:
        for key in ("channel_base", "channel_max"):
            if getattr(self, key) is not None:
                _check_value(f"sr_kwargs.{key}", getattr(self, key), _INT)
        _check_bounds("sr_kwargs", self, SR_BOUNDS)
        if self.fused_modconv_default is not None:
            _check_value("sr_kwargs.fused_modconv_default", self.fused_modconv_default, (True, False, "inference_only"))

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> SuperresolutionKwargs:
        names = [f.name for f in dataclasses.fields(cls)]
        for key in values:
            if key not in names:
                raise ConfigError(f"init_kwargs.sr_kwargs.{key}: unknown key; known keys are {names}")
        return cls(**values)

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in dataclasses.asdict(self).items() if v is not None}


@dataclass(frozen=True)
class PanoHeadConfig:
    """Everything the official ``TriPlaneGenerator`` constructor kwargs hold, plus the render resolution."""

    rendering: RenderingConfig
    """The rendering_kwargs."""
    z_dim: int = 512
    """Latent z width."""
    c_dim: int = 25
    """Camera-label width (conditioning)."""
    w_dim: int = 512
    """Style vector width."""
    img_resolution: int = 512
    """Final image resolution (must match the SR class)."""
    img_channels: int = 3
    """Final image channels."""
    mapping_layers: int = 8
    """``mapping_kwargs['num_layers']``: FC layers of both mapping networks."""
    architecture: Literal["skip"] = "skip"
    """Synthesis architecture; only 'skip' (the one PanoHead uses) is implemented."""
    channel_base: int = 32768
    """Backbone channels = channel_base / resolution (the background net uses half)."""
    channel_max: int = 512
    """Maximum channels per synthesis block."""
    fused_modconv_default: bool | Literal["inference_only"] = True
    """Default of fused_modconv in backbone and background blocks."""
    num_fp16_res: int = 4
    """Top resolutions of backbone/background in fp16 on CUDA."""
    conv_clamp: float | None = 256
    """Activation clamp of backbone/background (None = none)."""
    sr_num_fp16_res: int = 0
    """> 0: SR blocks in fp16 on CUDA, with clamp 256 on every device."""
    sr_kwargs: SuperresolutionKwargs = field(default_factory=SuperresolutionKwargs)
    """The official sr_kwargs."""
    neural_rendering_resolution: int = 64
    """R of the volume-rendered feature image (not an init kwarg; 64 in the release)."""
    dataset_label_std: bool = False
    """Register the ``dataset_label_std`` [c_dim] buffer that the training loop adds (§1.2)."""

    def __post_init__(self) -> None:
        for key in ("z_dim", "c_dim", "w_dim", "img_resolution", "img_channels", "mapping_layers", "channel_base",
                    "channel_max", "num_fp16_res", "sr_num_fp16_res", "neural_rendering_resolution"):  # fmt: skip
            _check_value(key, getattr(self, key), _INT)
        _check_bounds("", self, GENERATOR_BOUNDS)
        _check_value("architecture", self.architecture, ("skip",))
        _check_value("fused_modconv_default", self.fused_modconv_default, (True, False, "inference_only"))
        if self.conv_clamp is not None:
            _check_value("conv_clamp", self.conv_clamp, _NUM)
        expected = SR_OUTPUT_RESOLUTION[self.rendering.superresolution_class]
        if self.img_resolution != expected:
            raise ConfigError(f"img_resolution: {self.rendering.superresolution_class} outputs {expected}², got {self.img_resolution}")
        if self.neural_rendering_resolution < 1:
            raise ConfigError(f"neural_rendering_resolution: must be positive, got {self.neural_rendering_resolution}")

    @classmethod
    def from_init_kwargs(
        cls,
        init_kwargs: dict[str, Any],
        *,
        neural_rendering_resolution: int = 64,
        rendering_overrides: dict[str, Any] | None = None,
        dataset_label_std: bool = False,
    ) -> PanoHeadConfig:
        """Build from the official ``init_kwargs`` dict; ``rendering_overrides`` replace rendering keys."""
        if not isinstance(init_kwargs, dict):
            raise ConfigError(f"init_kwargs: expected a dict, got {type(init_kwargs).__name__}")
        known = {"z_dim", "c_dim", "w_dim", "img_resolution", "img_channels", "mapping_kwargs", "architecture",
                 "channel_base", "channel_max", "fused_modconv_default", "num_fp16_res", "conv_clamp",
                 "sr_num_fp16_res", "sr_kwargs", "rendering_kwargs"}  # fmt: skip
        for key in init_kwargs:
            if key not in known:
                raise ConfigError(f"init_kwargs.{key}: unknown key; known keys are {sorted(known)}")
        for key in ("z_dim", "c_dim", "w_dim", "img_resolution", "img_channels", "rendering_kwargs"):
            if key not in init_kwargs:
                raise ConfigError(f"init_kwargs.{key}: required key is missing")
        mapping_kwargs = dict(init_kwargs.get("mapping_kwargs", {}))
        for key in mapping_kwargs:
            if key != "num_layers":
                raise ConfigError(f"init_kwargs.mapping_kwargs.{key}: unsupported key; only num_layers is supported")
        rendering_values = dict(init_kwargs["rendering_kwargs"])
        rendering_values.update(rendering_overrides or {})
        scalars = {k: v for k, v in init_kwargs.items() if k not in ("mapping_kwargs", "sr_kwargs", "rendering_kwargs")}
        return cls(
            rendering=_rendering_from_dict(rendering_values),
            mapping_layers=mapping_kwargs.get("num_layers", 8),
            sr_kwargs=SuperresolutionKwargs.from_dict(dict(init_kwargs.get("sr_kwargs", {}))),
            neural_rendering_resolution=neural_rendering_resolution,
            dataset_label_std=dataset_label_std,
            **scalars,
        )

    def to_init_kwargs(self) -> dict[str, Any]:
        """The official ``init_kwargs`` dict (plain types; density_noise only when non-zero)."""
        return {
            "z_dim": self.z_dim, "w_dim": self.w_dim, "mapping_kwargs": {"num_layers": self.mapping_layers},
            "architecture": self.architecture, "channel_base": self.channel_base, "channel_max": self.channel_max,
            "fused_modconv_default": self.fused_modconv_default,
            "rendering_kwargs": self.rendering.to_dict(include_density_noise=self.rendering.density_noise != 0),
            "num_fp16_res": self.num_fp16_res, "sr_num_fp16_res": self.sr_num_fp16_res, "sr_kwargs": self.sr_kwargs.to_dict(),
            "conv_clamp": self.conv_clamp, "c_dim": self.c_dim, "img_resolution": self.img_resolution,
            "img_channels": self.img_channels,
        }  # fmt: skip

    @classmethod
    def released(cls) -> PanoHeadConfig:
        """The released ``easy-khair-180-gpc0.8-trans10-025000.pkl`` G_ema (§1.2), rendered at 64²."""
        return cls.from_init_kwargs(
            RELEASED_INIT_KWARGS, neural_rendering_resolution=64, rendering_overrides={"density_noise": 0}, dataset_label_std=True
        )

    @classmethod
    def tiny(cls) -> PanoHeadConfig:
        """The shrunk architecture of ``shared/fixtures/panohead-tiny`` (tri-grid 32², 12+12 samples, 16²)."""
        return cls.from_init_kwargs(TINY_INIT_KWARGS, neural_rendering_resolution=16)

    @classmethod
    def mini(cls) -> PanoHeadConfig:
        """``tiny()`` with the 2x super-resolution head (128² output): the fast CPU stand-in of the mini preset.

        Same tri-grid (32², depth 3), 12 + 12 samples per ray and 16² neural rendering; 16x fewer
        super-resolution pixels than ``tiny()``'s 512², which is what makes CPU training affordable.
        """
        rendering = {**TINY_INIT_KWARGS["rendering_kwargs"],
                     "superresolution_module": SR_MODULE_PREFIX + "SuperresolutionHybrid2X"}
        init_kwargs = {**TINY_INIT_KWARGS, "img_resolution": 128, "rendering_kwargs": rendering}
        return cls.from_init_kwargs(init_kwargs, neural_rendering_resolution=16)


def _rendering_kwargs(**changes: Any) -> dict[str, Any]:
    base = {
        "image_resolution": 512, "disparity_space_sampling": False, "clamp_mode": "softplus",
        "superresolution_module": "training.superresolution.SuperresolutionHybrid8XDC", "c_gen_conditioning_zero": False,
        "gpc_reg_prob": 0.8, "c_scale": 1.0, "superresolution_noise_mode": "none", "density_reg": 0.0,
        "density_reg_p_dist": 0.004, "reg_type": "l1", "decoder_lr_mul": 1.0, "decoder_activation": "none",
        "use_torgb_raw": True, "triplane_size": 256, "triplane_depth": 3, "trans_reg": 10.0, "use_background": True,
        "sr_antialias": True, "depth_resolution": 48, "depth_resolution_importance": 48, "ray_start": 2.25,
        "ray_end": 3.3, "box_warp": 1, "avg_camera_radius": 2.7, "avg_camera_pivot": [0, 0, 0.2],
    }  # fmt: skip
    return {**base, **changes}


RELEASED_INIT_KWARGS: dict[str, Any] = {
    "z_dim": 512, "w_dim": 512, "mapping_kwargs": {"num_layers": 2}, "architecture": "skip", "channel_base": 32768,
    "channel_max": 512, "fused_modconv_default": "inference_only", "rendering_kwargs": _rendering_kwargs(),
    "num_fp16_res": 0, "sr_num_fp16_res": 4,
    "sr_kwargs": {"channel_base": 32768, "channel_max": 512, "fused_modconv_default": "inference_only"},
    "conv_clamp": None, "c_dim": 25, "img_resolution": 512, "img_channels": 3,
}  # fmt: skip
"""Constructor kwargs of the released G_ema (specs/panohead.md §1.2)."""

TINY_INIT_KWARGS: dict[str, Any] = {
    **RELEASED_INIT_KWARGS, "channel_base": 2048, "channel_max": 64,
    "rendering_kwargs": _rendering_kwargs(c_scale=1, decoder_lr_mul=1, triplane_size=32, depth_resolution=12, depth_resolution_importance=12),
    "sr_kwargs": {"channel_base": 2048, "channel_max": 64, "fused_modconv_default": "inference_only"},
}  # fmt: skip
"""Constructor kwargs of the tiny fixture generator (shared/fixtures/panohead-tiny/reference.json)."""
