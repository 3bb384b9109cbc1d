"""The study's frozen PanoHead generator: built once, identified by its weights, Z+ samples drawn one way.

Encoder training, synthetic data, evaluation and inference all invert into the same generator, so
it is built in one place (:func:`study_generator`): the network file of ``generator.network`` (else
``weights.panohead`` for the released preset), or a seeded stand-in of ``generator.preset`` seeded
with ``training.seed`` (``demo``: the shipped demonstration weights), labelled ``stand-in``.
:class:`GeneratorIdentity` (weights hash + source) goes into every training checkpoint, so an
encoder is never used with another generator.
"""

from __future__ import annotations

import dataclasses
import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

import torch

from dualinv.camera import CANONICAL_YAWS, camera_at_yaw
from dualinv.config import GeneratorConfig, StudyConfig
from dualinv.demo_generator import load_demo_generator
from dualinv.encoders.latent_spaces import map_z_codes
from dualinv.errors import GeneratorMismatchError
from dualinv.panohead import PanoHeadGenerator
from dualinv.panohead.checkpoint import load_network
from dualinv.standin import build_seeded, standin_generator_config
from dualinv.weights import STAND_IN


def state_dict_hash(state_dict: Mapping[str, torch.Tensor]) -> str:
    """sha256 over names, dtypes, shapes and bytes of a state dict, in sorted name order."""
    digest = hashlib.sha256()
    for name in sorted(state_dict):
        tensor = state_dict[name].detach().to("cpu").contiguous().reshape(-1)
        digest.update(name.encode("utf-8"))
        digest.update(f"{tensor.dtype}{tuple(state_dict[name].shape)}".encode("utf-8"))
        digest.update(tensor.view(torch.uint8).numpy().tobytes() if tensor.numel() else b"")
    return "sha256:" + digest.hexdigest()


@dataclass(frozen=True)
class GeneratorIdentity:
    """Which generator an encoder was trained against: its weights hash and where it came from."""

    weights_hash: str
    """``state_dict_hash`` of the generator."""
    source: str
    """The network file's path, or ``"stand-in"`` plus the preset and seed it was built from."""

    @classmethod
    def of(cls, generator: torch.nn.Module, source: str) -> "GeneratorIdentity":
        return cls(weights_hash=state_dict_hash(generator.state_dict()), source=source)

    @property
    def stand_in(self) -> bool:
        """A seeded stand-in generator (random weights): nothing rendered with it is a paper number."""
        return is_stand_in_source(self.source)

    def as_dict(self) -> dict[str, str]:
        return {"weights_hash": self.weights_hash, "source": self.source}


def is_stand_in_source(source: str) -> bool:
    """True for the source label of a seeded stand-in (``stand-in:<preset>:seed=<n>``)."""
    return str(source).startswith(STAND_IN)


def check_generator(recorded: Mapping[str, str], current: GeneratorIdentity, checkpoint: str | Path) -> None:
    """Refuse a checkpoint trained against another generator (its tri-grids would mean nothing here)."""
    if recorded.get("weights_hash") != current.weights_hash:
        raise GeneratorMismatchError(
            f"{checkpoint} was trained against generator {recorded.get('source')!r} "
            f"({recorded.get('weights_hash')}), but the generator given now is {current.source!r} "
            f"({current.weights_hash}). Use the network the encoder was trained with "
            "(--network / weights.panohead), or retrain the encoder."
        )


def generator_network(config: StudyConfig) -> str | None:
    """The study's network file: ``generator.network``, else ``weights.panohead`` for the released preset;
    ``None`` means a seeded stand-in of ``generator.preset``."""
    network = config.generator.network
    if network is None and config.generator.preset == "released":
        network = config.weights.panohead
    return network


def study_generator(config: StudyConfig, device: torch.device | str = "cpu"
                    ) -> tuple[PanoHeadGenerator, GeneratorIdentity]:
    """The study's frozen generator and its identity (module doc): the one every stage inverts into."""
    return build_generator(config.generator, generator_network(config), config.training.seed, device)


def build_generator(generator: GeneratorConfig, network: str | None, seed: int,
                    device: torch.device | str = "cpu") -> tuple[PanoHeadGenerator, GeneratorIdentity]:
    """The frozen generator of ``network`` (a file), or a stand-in of ``generator.preset`` seeded with
    ``seed``; ``generator.neural_rendering_resolution`` overrides the rays per side when set."""
    if network is not None:
        built = load_network(network, device=device)
        label = str(network)
    elif generator.preset == "demo":  # the shipped demonstration weights: no seed, one generator
        built = load_demo_generator()
        label = f"{STAND_IN}:demo"
    else:
        built = build_seeded(lambda: PanoHeadGenerator(standin_generator_config(generator.preset)), seed)
        label = f"{STAND_IN}:{generator.preset}:seed={seed}"
    if generator.neural_rendering_resolution is not None:
        built.config = dataclasses.replace(built.config,
                                           neural_rendering_resolution=int(generator.neural_rendering_resolution))
    built = built.eval().requires_grad_(False).to(device)
    return built, GeneratorIdentity.of(built, label)


def front_camera(device: torch.device | str = "cpu") -> torch.Tensor:
    """[25] canonical front camera: the conditioning of every Z / Z+ code through the mapping (A.2)."""
    return camera_at_yaw(CANONICAL_YAWS["front"], device=device)[0]


def zplus_codes(generator: PanoHeadGenerator, zs: torch.Tensor, truncation_psi: float) -> torch.Tensor:
    """Codes of Z+ samples ``zs`` [B, num_ws, z_dim]: each row mapped at the front camera with ψ
    ``training.zplus_truncation_psi`` (the one Z+ draw of training, Eq. 8, and the synthetic data)."""
    return map_z_codes(zs, generator.mapping, front_camera(zs.device), truncation_psi)
