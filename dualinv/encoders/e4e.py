"""e4e (Encoder4Editing) baseline on PanoHead: one base code plus progressively enabled deltas.

encoders-baselines.md §2: the same IR-SE50 body, taps, pyramid and style heads as pSp
(:class:`~dualinv.encoders.gradual_style.GradualStyleEncoder`), but head 0 reads c3 into a base
code ``w0`` repeated over all ``num_ws`` positions, and head i (1 <= i <= stage) adds a delta from
c3 (i < 3), p2 (3 <= i < 7) or p1 (i >= 7); pyramid maps are computed only when a delta needs them.
``ws = w0 + deltas + w_avg`` (``--start_from_latent_avg``). The stage grows with the training step
(:func:`progressive_stage`); inference uses every delta. The latent discriminator and the codes pool
of §2.3 live here too; their losses are in :mod:`dualinv.losses.e4e`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import torch
from torch import nn

from dualinv.encoders.gradual_style import COARSE_END, MIDDLE_END, EncoderConfig
from dualinv.encoders.latent_spaces import WPlusEncoder
from dualinv.config import E4ESettings
from dualinv.errors import ConfigError
from dualinv.shapes import assert_shape


@dataclass(frozen=True)
class E4EConfig:
    """e4e encoder (encoders-baselines.md §2.1); its training schedule is ``baselines.e4e`` of the study config."""

    kind: Literal["e4e"] = "e4e"
    """Factory name in ``dualinv.encoders.ENCODER_CLASSES``."""
    encoder: EncoderConfig = field(default_factory=EncoderConfig)
    """Backbone, input side and code counts, as pSp's (``kind`` must be ``w_plus``)."""

    def __post_init__(self) -> None:
        if self.kind != "e4e":
            raise ConfigError(f"E4EConfig.kind must be 'e4e', got {self.kind!r}")
        if self.encoder.kind != "w_plus":
            raise ConfigError(f"e4e predicts W+ codes: encoder.kind must be 'w_plus', got {self.encoder.kind!r}")


def progressive_stage(step: int, recipe: E4ESettings, num_ws: int) -> int:
    """Number of active deltas at training ``step``: 0 before ``progressive_start``, then +1 every
    ``progressive_step_every`` steps, capped at ``num_ws - 1`` (e4e ``progressive_steps``; pure in step).
    The schedule is the study config's ``baselines.e4e`` section."""
    if step < recipe.progressive_start:
        return 0
    grown = 1 + (step - recipe.progressive_start) // recipe.progressive_step_every
    return min(num_ws - 1, grown)


class Encoder4Editing(WPlusEncoder):
    """image [B,3,R,R] -> ws [B,num_ws,w_dim] = w0 + deltas[1..stage] + w_avg (§2.1)."""

    def __init__(self, config: E4EConfig = E4EConfig(), w_avg: torch.Tensor | None = None):
        super().__init__(config.encoder, w_avg=w_avg)
        self.e4e_config = config
        self.stage = config.encoder.num_ws - 1
        """Active deltas; set by the training schedule (:meth:`set_stage`), all of them by default (inference)."""

    def set_stage(self, stage: int) -> None:
        if not 0 <= stage < self.config.num_ws:
            raise ValueError(f"e4e stage must lie in [0, {self.config.num_ws - 1}], got {stage}")
        self.stage = int(stage)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        config = self.config
        assert_shape(image, [None, config.backbone.input_channels, config.input_resolution,
                             config.input_resolution], "image")
        ends = config.backbone.stage_end
        c3, taps = self.backbone(image, {"c1": ends[1], "c2": ends[2]})
        base = self.styles[0](c3)  # [B, K]
        maps: dict[str, torch.Tensor] = {"c3": c3}

        def features(index: int) -> torch.Tensor:  # lazily built pyramid (e4e computes p2/p1 only when needed)
            if index < COARSE_END:
                return maps["c3"]
            if "p2" not in maps:
                maps["p2"] = self._upsample_add(c3, self.latlayer1(taps["c2"]))
            if index < MIDDLE_END:
                return maps["p2"]
            if "p1" not in maps:
                maps["p1"] = self._upsample_add(maps["p2"], self.latlayer2(taps["c1"]))
            return maps["p1"]

        codes = [base] + [base + self.styles[i](features(i)) if i <= self.stage else base
                          for i in range(1, config.num_ws)]
        return torch.stack(codes, dim=1) + self.w_avg  # [B, L, K]

    def extra_repr(self) -> str:
        return f"stage={self.stage}"


class LatentDiscriminator(nn.Module):
    """e4e's latent-code discriminator: 3 x (Linear w->w, LeakyReLU 0.2), Linear w->1 (§2.3)."""

    def __init__(self, w_dim: int = 512, hidden_layers: int = 3):
        super().__init__()
        layers: list[nn.Module] = []
        for _ in range(hidden_layers):
            layers += [nn.Linear(w_dim, w_dim), nn.LeakyReLU(0.2)]
        self.net = nn.Sequential(*layers, nn.Linear(w_dim, 1))
        self.w_dim = w_dim

    def forward(self, w: torch.Tensor) -> torch.Tensor:
        """w [N, w_dim] -> logits [N, 1]."""
        assert_shape(w, [None, self.w_dim], "w")
        return self.net(w)


class LatentCodesPool:
    """Image-pool-style history of fake codes (e4e ``--use_w_pool``, size 50, §2.3).

    While the pool has room a code is stored and returned; afterwards, with probability 0.5 a
    random stored code is returned and replaced by the new one, otherwise the new one is returned.
    Draws come from the caller's ``torch.Generator``; :meth:`state_dict` makes it resumable.
    """

    def __init__(self, size: int = 50):
        if size < 0:
            raise ConfigError(f"e4e w_pool_size must be >= 0, got {size}")
        self.size = size
        self.codes: list[torch.Tensor] = []

    def query(self, ws: torch.Tensor, rng: torch.Generator) -> torch.Tensor:
        """ws [N, w_dim] (detached) -> codes [N, w_dim] for the discriminator."""
        if self.size == 0:
            return ws
        out = []
        for w in ws.detach():
            if len(self.codes) < self.size:
                self.codes.append(w.clone())
                out.append(w)
            elif float(torch.rand((), generator=rng, device=rng.device)) > 0.5:
                index = int(torch.randint(self.size, (), generator=rng, device=rng.device))
                out.append(self.codes[index].clone())
                self.codes[index] = w.clone()
            else:
                out.append(w)
        return torch.stack(out)

    def state_dict(self) -> dict:
        return {"size": self.size, "codes": [code.cpu() for code in self.codes]}

    def load_state_dict(self, state: dict) -> None:
        self.size, self.codes = int(state["size"]), [code.clone() for code in state["codes"]]
