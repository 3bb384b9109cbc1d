"""IR-SE50: the ArcFace backbone shared by the pSp encoders, the F stage and the identity loss.

Facts (encoders-baselines.md §1.1, §6; module names checked against pSp ``model_irse.py``):

* input layer: conv3x3 in->64 (no bias), BatchNorm2d, PReLU; resolution kept;
* body: 4 stages of ``bottleneck_IR_SE`` units, [3, 4, 14, 3] units with 64/128/256/512 channels,
  the first unit of each stage with stride 2 (:data:`IR_SE50_STAGES`);
* unit: residual ``BN(in), conv3x3 in->d, PReLU(d), conv3x3 d->d stride s, BN(d), SE(d, 16)``
  plus a shortcut (MaxPool2d(1, s) when in == d, else conv1x1 stride s + BN); no activation after
  the sum;
* ArcFace head (112 input): ``BN2d(512), Dropout, Flatten, Linear(512*7*7, 512), BN1d(512)``.

State-dict names are pSp's (``input_layer.*``, ``body.<unit>.res_layer.<i>.*``,
``body.<unit>.shortcut_layer.<i>.*``, ``output_layer.*``) so ``model_ir_se50.pth`` loads with
``strict=True`` (:func:`load_ir_se50_state`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Mapping

import torch
from torch import nn

from dualinv.errors import CheckpointError, ConfigError
from dualinv.state_dicts import layout_problem, with_batch_counters


@dataclass(frozen=True)
class Stage:
    """One stage of the IR body: its output channels (at width 1) and number of units."""

    channels: int
    units: int


IR_SE50_STAGES: tuple[Stage, ...] = (Stage(64, 3), Stage(128, 4), Stage(256, 14), Stage(512, 3))
"""The IR-SE50 stage table (§1.1): 24 units; the first unit of each stage has stride 2."""

SE_REDUCTION = 16
"""Channel reduction of the squeeze-excitation block (§1.1)."""


@dataclass(frozen=True)
class BackboneConfig:
    """Size of an IR(-SE) backbone; the defaults are the paper's IR-SE50."""

    units_per_stage: tuple[int, ...] = tuple(stage.units for stage in IR_SE50_STAGES)
    """Units in each of the 4 stages; (3, 4, 14, 3) is IR-SE50, (1, 1, 1, 1) a tiny CPU demo."""
    width: float = 1.0
    """Channel multiplier applied to 64/128/256/512 (1.0 = paper; 0.125 = tiny)."""
    input_channels: int = 3
    """Image channels (3 RGB; 9 for the TriPlaneNet v2 F stage)."""
    mode: Literal["ir_se", "ir"] = "ir_se"
    """With ("ir_se") or without ("ir") squeeze-excitation blocks."""

    def __post_init__(self) -> None:
        if len(self.units_per_stage) != len(IR_SE50_STAGES) or min(self.units_per_stage) < 1:
            raise ConfigError(f"backbone.units_per_stage must be 4 positive integers, got {self.units_per_stage}")
        if not self.width > 0 or any(c < 1 for c in self.stage_channels):
            raise ConfigError(f"backbone.width must give at least 1 channel per stage, got {self.width}")
        if self.input_channels < 1:
            raise ConfigError(f"backbone.input_channels must be >= 1, got {self.input_channels}")
        if self.mode not in ("ir_se", "ir"):
            raise ConfigError(f"backbone.mode must be 'ir_se' or 'ir', got {self.mode!r}")

    @property
    def stage_channels(self) -> tuple[int, ...]:
        """Output channels of each stage after the width multiplier."""
        return tuple(int(round(stage.channels * self.width)) for stage in IR_SE50_STAGES)

    @property
    def stage_end(self) -> tuple[int, ...]:
        """Flat body index of the last unit of each stage (pSp taps 6/20/23 at paper size)."""
        ends, total = [], 0
        for units in self.units_per_stage:
            total += units
            ends.append(total - 1)
        return tuple(ends)

    @property
    def stage_start(self) -> tuple[int, ...]:
        """Flat body index of the first unit of each stage (TriPlaneNet's c3 = start of stage 4)."""
        return tuple(end - units + 1 for end, units in zip(self.stage_end, self.units_per_stage))


class SqueezeExcite(nn.Module):
    """Channel attention: avgpool, 1x1 conv c->c/16, ReLU, 1x1 conv c/16->c, sigmoid, scale (§1.1)."""

    def __init__(self, channels: int, reduction: int = SE_REDUCTION):
        super().__init__()
        hidden = max(1, channels // reduction)
        self.avg_pool = nn.AdaptiveAvgPool2d(1)
        self.fc1 = nn.Conv2d(channels, hidden, kernel_size=1, bias=False)
        self.relu = nn.ReLU()
        self.fc2 = nn.Conv2d(hidden, channels, kernel_size=1, bias=False)
        self.sigmoid = nn.Sigmoid()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.sigmoid(self.fc2(self.relu(self.fc1(self.avg_pool(x)))))


class BottleneckIR(nn.Module):
    """One IR(-SE) unit; ``res_layer``/``shortcut_layer`` indices follow pSp's names."""

    def __init__(
        self,
        in_channels: int,       # channels entering the unit
        out_channels: int,      # channels leaving the unit (pSp's "depth")
        stride: int,            # 2 for the first unit of a stage, else 1
        squeeze_excite: bool,   # append the SE block (IR-SE) or not (IR)
    ):
        super().__init__()
        self.in_channels, self.out_channels, self.stride = in_channels, out_channels, stride
        if in_channels == out_channels:
            self.shortcut_layer: nn.Module = nn.MaxPool2d(1, stride)
        else:
            self.shortcut_layer = nn.Sequential(
                nn.Conv2d(in_channels, out_channels, 1, stride, bias=False), nn.BatchNorm2d(out_channels))
        residual = [
            nn.BatchNorm2d(in_channels),
            nn.Conv2d(in_channels, out_channels, 3, 1, 1, bias=False),
            nn.PReLU(out_channels),
            nn.Conv2d(out_channels, out_channels, 3, stride, 1, bias=False),
            nn.BatchNorm2d(out_channels),
        ]
        if squeeze_excite:
            residual.append(SqueezeExcite(out_channels))
        self.res_layer = nn.Sequential(*residual)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.res_layer(x) + self.shortcut_layer(x)

    def extra_repr(self) -> str:
        return f"{self.in_channels} -> {self.out_channels}, stride={self.stride}"


class IRBackbone(nn.Module):
    """Input layer + IR(-SE) body; :meth:`forward` returns the final map and the requested taps."""

    def __init__(self, config: BackboneConfig = BackboneConfig()):
        super().__init__()
        self.config = config
        channels = config.stage_channels
        self.input_layer = nn.Sequential(
            nn.Conv2d(config.input_channels, channels[0], 3, 1, 1, bias=False),
            nn.BatchNorm2d(channels[0]),
            nn.PReLU(channels[0]),
        )
        units, in_channels = [], channels[0]
        for out_channels, count in zip(channels, config.units_per_stage):
            for position in range(count):
                units.append(BottleneckIR(in_channels, out_channels, 2 if position == 0 else 1,
                                          squeeze_excite=config.mode == "ir_se"))
                in_channels = out_channels
        self.body = nn.Sequential(*units)

    def forward(
        self, image: torch.Tensor, taps: Mapping[str, int] | None = None
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """``image`` [B, C_in, H, W] -> (final map [B, C4, H/16, W/16], {tap name: body unit output})."""
        x = self.input_layer(image)
        wanted = {index: name for name, index in (taps or {}).items()}
        tapped: dict[str, torch.Tensor] = {}
        for index, unit in enumerate(self.body):
            x = unit(x)
            if index in wanted:
                tapped[wanted[index]] = x
        return x, tapped


class ArcFace(IRBackbone):
    """ArcFace IR-SE50 embedding network at 112x112 (§6): backbone + ``output_layer``, L2-normalised."""

    INPUT_SIZE = 112
    """ArcFace input resolution; the body reduces it 16x to 7x7."""

    def __init__(self, config: BackboneConfig = BackboneConfig(), embedding_dim: int = 512, drop_ratio: float = 0.6):
        super().__init__(config)
        top = config.stage_channels[-1]
        side = self.INPUT_SIZE // 16
        self.output_layer = nn.Sequential(
            nn.BatchNorm2d(top),
            nn.Dropout(drop_ratio),
            nn.Flatten(),
            nn.Linear(top * side * side, embedding_dim),
            nn.BatchNorm1d(embedding_dim),
        )

    def forward(self, face: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        """``face`` [B, 3, 112, 112] in [-1, 1] -> unit embedding [B, embedding_dim]."""
        features, _ = super().forward(face)
        return nn.functional.normalize(self.output_layer(features), dim=1)


def load_ir_se50_state(module: nn.Module, state: Mapping[str, torch.Tensor], *, source: str) -> None:
    """Load pSp/TreB1eN IR-SE50 tensors into ``module`` by exact name and shape (STYLE.md §13).

    ``output_layer.*`` in the file is dropped when ``module`` has no ArcFace head (pSp does the
    same for its encoders, §1.1); this is the only rename/drop. Files saved before PyTorch 0.4.1
    lack ``num_batches_tracked``; those buffers keep the module's value. Every other missing,
    unexpected or mis-shaped tensor raises :class:`CheckpointError` naming it.
    """
    wanted = dict(state)
    if not any(name.startswith("output_layer.") for name in module.state_dict()):
        wanted = {k: v for k, v in wanted.items() if not k.startswith("output_layer.")}
    wanted = with_batch_counters(module, wanted)
    problem = layout_problem(module, wanted)
    if problem is not None:
        raise CheckpointError(f"{source} does not match the IR-SE50 layout of this network: {problem}. "
                              "Use pSp's model_ir_se50.pth with a paper-size backbone (width 1, units 3/4/14/3).")
    module.load_state_dict(wanted, strict=True)


def widen_input_layer(state: Mapping[str, torch.Tensor], input_channels: int,
                      generator: torch.Generator) -> dict[str, torch.Tensor]:
    """ArcFace tensors for a backbone with ``input_channels`` > 3 (TriPlaneNet v2, §3.1).

    Channels 0-2 of the first conv keep the ArcFace weights; the extra channels are drawn from a
    unit normal with ``generator`` (the reference uses ``torch.randn``).
    """
    name = "input_layer.0.weight"
    weight = state[name]
    if input_channels == weight.shape[1]:
        return dict(state)
    if input_channels < weight.shape[1]:
        raise CheckpointError(f"cannot narrow {name} from {weight.shape[1]} to {input_channels} input channels")
    extra = torch.randn(weight.shape[0], input_channels - weight.shape[1], *weight.shape[2:],
                        generator=generator, dtype=weight.dtype)
    return {**state, name: torch.cat([weight, extra], dim=1)}
