"""GOAE's Swin Transformer V2 trunk, and loading its published ImageNet weights (encoders-baselines.md §3.2).

GOAE (jiangyzy/GOAE ``goae/configs/swinv2.yaml``, ``goae/models/swin_transformer.py``) builds
Microsoft's Swin-V2 with embed 128, depths 2/2/18/2, heads 4/8/16/32, window 16 at a 256² input,
drop-path 0.2 and ``PRETRAINED_WINDOW_SIZES: [12, 12, 12, 6]``. That configuration is exactly
Microsoft's SwinV2-B* "window12to16, 192to256, 22kto1k_ft": pretrained on ImageNet-22K at 192² with
window 12, then fine-tuned on ImageNet-1K at 256² with window 16 (file
``swinv2_base_patch4_window12to16_192to256_22kto1k_ft.pth``, Swin-Transformer MODELHUB). The
pretrained window sizes only matter when those weights are loaded: the continuous position-bias
MLP was trained on coordinates normalised by the *pretraining* window, so the coordinate tables
here are normalised the same way.

The blocks are torchvision's ``SwinTransformerBlockV2`` / ``PatchMergingV2`` (the same V2 maths:
post-norm residuals, cosine attention with a clamped logit scale, log-spaced continuous position
bias, k without bias). What torchvision's ``SwinTransformer`` cannot express, and this trunk does as
Microsoft's code: a window per stage, clipped to the stage's token grid (at 256² the last stage's
8×8 grid uses an 8×8 window, unshifted, where torchvision would pad to 16), and coordinate tables
normalised by the pretraining window.

GOAE taps the trunk at its stage *inputs*: fine = the patch embedding (64²×128), mid / coarse /
query = after the first / second / third patch merging (32²×256, 16²×512, 8²×1024), and the base
code reads the last stage's output after the final LayerNorm (8²×1024).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Mapping

import torch
from torch import nn

from dualinv.errors import CheckpointError
from dualinv.state_dicts import layout_problem
from dualinv.weights import require_weights

WEIGHTS_KEY = "goae_swin"
"""Config key (``weights.goae_swin``) of the published Swin-V2 file GOAE starts from."""
PUBLISHED_FILE = "swinv2_base_patch4_window12to16_192to256_22kto1k_ft.pth"
"""Microsoft's SwinV2-B* file whose configuration GOAE's ``swinv2.yaml`` copies."""

_LAYER_NORM = partial(nn.LayerNorm, eps=1e-5)


@dataclass(frozen=True)
class SwinV2Taps:
    """Token grids GOAE reads from the trunk, each [B, T, C] (row-major tokens)."""

    fine: torch.Tensor
    mid: torch.Tensor
    coarse: torch.Tensor
    query: torch.Tensor
    base: torch.Tensor


def coordinates_table(window: int, pretrained_window: int) -> torch.Tensor:
    """[1, 2w−1, 2w−1, 2] log-spaced relative coordinates of Swin-V2's continuous position bias, normalised
    by ``pretrained_window − 1`` when the weights were pretrained with another window (else by ``window − 1``)."""
    side = pretrained_window if pretrained_window > 0 else window
    offsets = torch.arange(-(window - 1), window, dtype=torch.float32)
    table = torch.stack(torch.meshgrid(offsets, offsets, indexing="ij")).permute(1, 2, 0).contiguous().unsqueeze(0)
    table = table / max(side - 1, 1) * 8
    return torch.sign(table) * torch.log2(table.abs() + 1.0) / 3.0


class SwinV2Trunk(nn.Module):
    """image [B,3,S,S] -> :class:`SwinV2Taps`. ``stages`` holds patch embed, stage 1, merge, ..., stage 4."""

    def __init__(self, input_resolution: int, embed_dim: int, depths: tuple[int, ...], heads: tuple[int, ...],
                 window: int, drop_path: float, pretrained_windows: tuple[int, ...] = (0, 0, 0, 0)):
        super().__init__()
        # torchvision loads only when a GOAE is built (its import costs ~1 s in every other job)
        from torchvision.models.swin_transformer import PatchMergingV2, Permute, SwinTransformerBlockV2

        if not len(depths) == len(heads) == len(pretrained_windows) == 4:
            raise ValueError("Swin-V2 needs four stages of depths, heads and pretrained windows")
        layers: list[nn.Module] = [nn.Sequential(nn.Conv2d(3, embed_dim, kernel_size=4, stride=4),
                                                 Permute([0, 2, 3, 1]), _LAYER_NORM(embed_dim))]
        total, block_index = sum(depths), 0
        self.windows: list[int] = []
        for stage, (depth, stage_heads) in enumerate(zip(depths, heads)):
            dim, side = embed_dim * 2 ** stage, input_resolution // 4 // 2 ** stage
            stage_window = min(window, side)  # Microsoft: a window larger than the grid becomes the grid, unshifted
            self.windows.append(stage_window)
            blocks = []
            for index in range(depth):
                block = SwinTransformerBlockV2(
                    dim, stage_heads, window_size=[stage_window] * 2,
                    shift_size=[0 if index % 2 == 0 else stage_window // 2] * 2, mlp_ratio=4.0,
                    stochastic_depth_prob=drop_path * block_index / max(total - 1, 1), norm_layer=_LAYER_NORM)
                block.attn.relative_coords_table.copy_(coordinates_table(stage_window, pretrained_windows[stage]))
                blocks.append(block)
                block_index += 1
            layers.append(nn.Sequential(*blocks))
            if stage < 3:
                layers.append(PatchMergingV2(dim, norm_layer=_LAYER_NORM))
        self.stages = nn.Sequential(*layers)
        self.norm = _LAYER_NORM(embed_dim * 8)

    def forward(self, image: torch.Tensor) -> SwinV2Taps:
        inputs = []
        x = image
        for index, layer in enumerate(self.stages):
            if index in (1, 3, 5, 7):  # the input of each stage: patch embedding, then each merge's output
                inputs.append(x.flatten(1, 2))
            x = layer(x)
        fine, mid, coarse, query = inputs
        return SwinV2Taps(fine=fine, mid=mid, coarse=coarse, query=query, base=self.norm(x).flatten(1, 2))


# Published (Microsoft Swin-Transformer) names -> SwinV2Trunk names. Buffers that the trunk computes itself
# (coordinate tables, position indices, attention masks) and the ImageNet classifier head are not taken.
_DROPPED = re.compile(r"(^head\.|\.relative_coords_table$|\.relative_position_index$|\.attn_mask$)")
_RENAMES = (
    (re.compile(r"^patch_embed\.proj\."), lambda m: "stages.0.0."),
    (re.compile(r"^patch_embed\.norm\."), lambda m: "stages.0.2."),
    (re.compile(r"^layers\.(\d+)\.blocks\.(\d+)\.mlp\.fc1\."), lambda m: f"stages.{2 * int(m[1]) + 1}.{m[2]}.mlp.0."),
    (re.compile(r"^layers\.(\d+)\.blocks\.(\d+)\.mlp\.fc2\."), lambda m: f"stages.{2 * int(m[1]) + 1}.{m[2]}.mlp.3."),
    (re.compile(r"^layers\.(\d+)\.blocks\.(\d+)\."), lambda m: f"stages.{2 * int(m[1]) + 1}.{m[2]}."),
    (re.compile(r"^layers\.(\d+)\.downsample\."), lambda m: f"stages.{2 * int(m[1]) + 2}."),
    (re.compile(r"^norm\."), lambda m: "norm."),
)


def _renamed(name: str) -> str | None:
    for pattern, replacement in _RENAMES:
        match = pattern.match(name)
        if match:
            return replacement(match) + name[match.end():]
    return None


def trunk_state_from_published(published: Mapping[str, torch.Tensor], trunk: nn.Module) -> dict[str, torch.Tensor]:
    """The trunk's state dict from a published Swin-V2 state dict: names mapped, ``q_bias``/``v_bias``
    joined into the qkv bias (k has none in Swin-V2), dropped entries left out, the trunk's own buffers
    kept. Unknown published names are kept as-is so that the layout check names them."""
    state: dict[str, torch.Tensor] = {}
    biases: dict[str, dict[str, torch.Tensor]] = {}
    for name, value in published.items():
        if _DROPPED.search(name):
            continue
        bias = re.match(r"^(.*)\.attn\.([qv])_bias$", name)
        if bias:
            biases.setdefault(bias[1], {})[bias[2]] = value
            continue
        state[_renamed(name) or name] = value
    for block, parts in biases.items():
        if set(parts) != {"q", "v"}:
            raise CheckpointError(f"Swin-V2 block {block} has only {sorted(parts)}_bias; a published file has both")
        state[f"{_renamed(block + '.')}attn.qkv.bias"] = torch.cat([parts["q"], torch.zeros_like(parts["q"]), parts["v"]])
    own = trunk.state_dict()
    for name, value in own.items():  # computed buffers: coordinate tables and position indices
        if name.endswith((".relative_coords_table", ".relative_position_index")):
            state[name] = value
    return state


def published_state(path: str | Path | None, checksum: str | None = None) -> dict[str, torch.Tensor]:
    """The tensors of ``weights.goae_swin``: Microsoft's files hold them under ``"model"``; a flat state
    dict is accepted too. Read by the weights-only unpickler after the registry check."""

    checked = require_weights(WEIGHTS_KEY, path, checksum)
    try:
        payload = torch.load(checked, map_location="cpu", weights_only=True)
    except Exception as error:  # noqa: BLE001 - any failure of the weights-only unpickler is a bad file
        first_line = (str(error).splitlines() or [""])[0]
        raise CheckpointError(
            f"weights.{WEIGHTS_KEY} = {str(path)!r} cannot be read by torch.load(weights_only=True) "
            f"({type(error).__name__}: {first_line}; nothing in it was run). Expected {PUBLISHED_FILE}; a "
            f"file that also pickles a training config can be re-saved with only its 'model' entry") from error
    state = payload.get("model", payload) if isinstance(payload, dict) else None
    if not isinstance(state, dict) or not all(isinstance(value, torch.Tensor) for value in state.values()):
        raise CheckpointError(f"weights.{WEIGHTS_KEY} = {str(path)!r} holds no Swin-V2 state dict "
                              f"(expected {PUBLISHED_FILE}, its tensors under 'model')")
    return state


def load_published_swin(trunk: SwinV2Trunk, path: str | Path | None, checksum: str | None = None) -> None:
    """Load the published ImageNet Swin-V2 weights into ``trunk`` after an exact name/shape check.

    Microsoft publishes no checksum for the file, so the layout is the check (and its sha256 goes into
    provenance with the other ``weights.*`` files); a config-pinned ``checksum`` is honoured.
    """

    state = trunk_state_from_published(published_state(path, checksum), trunk)
    problem = layout_problem(trunk, state)
    if problem is not None:
        raise CheckpointError(f"weights.{WEIGHTS_KEY} = {str(path)!r} does not fit GOAE's Swin-V2 (embed 128, "
                              f"depths 2/2/18/2, heads 4/8/16/32, window 16 at 256²): {problem}. Expected "
                              f"{PUBLISHED_FILE}")
    trunk.load_state_dict(state, strict=True)
