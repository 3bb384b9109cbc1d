"""Which networks ``dualinv invert`` / ``dualinv edit`` use: flags, a study config, or seeded stand-ins.

Three ways to name the two encoder checkpoints and the PanoHead generator, in this order:

1. flags (``--encoder1``, ``--encoder2``, ``--network``), each overriding the config;
2. a study config (``--config config.yaml [--config presets/mini.yaml]``,
   :func:`dualinv.config.load_config`): the encoders the workflow trained
   (``<output.results>/models/encoder{1,2}/checkpoint.pt``, rules/train.smk), the generator of
   ``generator.network`` or ``weights.panohead`` (released preset), ``weights.u2net`` for the
   background of the preparation and ``weights.face_parsing`` for ``dualinv edit``'s part masks;
3. seeded stand-ins (``--stand-in``, or the ``mini`` preset when its encoders are not trained yet):
   the mini stand-in generator (:func:`dualinv.standin.standin_generator`) and untrained tiny
   encoders built exactly as training step 0 builds them (:mod:`dualinv.models.encoders` under the
   mini preset, :func:`standin_config`), so every run is
   reproducible. Everything they produce is labelled stand-in (offline-weights.md).

Every missing file is listed in one :class:`~dualinv.errors.MissingWeightsError` before anything
is loaded or written.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import torch

from dualinv.config import REPO_ROOT, StudyConfig, load_config
from dualinv.devices import check_device
from dualinv.dual.invert import DualInverter
from dualinv.errors import ConfigError, MissingWeightsError
from dualinv.models.encoders import build_inversion_encoder
from dualinv.models.experiments import get_experiment
from dualinv.models.generator import generator_network, is_stand_in_source, study_generator
from dualinv.seeding import derive_seed
from dualinv.weights import STAND_IN, weights_provenance, weights_problem

ENCODER_EXPERIMENTS = ("encoder1", "encoder2")
"""Registry names of the paper's Encoder 1 (visible regions) and Encoder 2 (occluded regions)."""
STANDIN_PRESET = "mini"
"""Study preset whose untrained encoders fall back to stand-ins (the CPU demo)."""


@dataclass(frozen=True)
class NetworkSources:
    """Where the inverter's networks come from (``None`` encoders with ``stand_in`` = seeded stand-ins)."""

    encoder1: str | None = None
    """Encoder 1 training checkpoint (``dualinv train encoder1``)."""
    encoder2: str | None = None
    """Encoder 2 training checkpoint (``dualinv train encoder2``)."""
    network: str | None = None
    """PanoHead network (.pkl/.pt); ``None``: the generator the encoders recorded."""
    stand_in: bool = False
    """Build seeded stand-in encoders and the mini stand-in generator instead of loading files."""
    u2net: str | None = None
    """``weights.u2net`` for the preparation's background matting (``None``: mediapipe selfie matte)."""
    face_parsing: str | None = None
    """``--face-parsing`` or ``weights.face_parsing``: BiSeNet part masks for ``edit`` (``None``: mediapipe)."""
    device: str = "cpu"
    """``cpu`` or ``cuda[:N]``."""
    seed: int = 0
    """Seed of the stand-ins' weights and of the renderer's sample jitter."""

    def __post_init__(self) -> None:
        if not (self.device == "cpu" or self.device == "cuda" or self.device.startswith("cuda:")):
            raise ConfigError(f"--device must be 'cpu' or 'cuda[:N]', got {self.device!r}")
        if self.stand_in and (self.encoder1 or self.encoder2 or self.network):
            raise ConfigError("--stand-in builds seeded encoders and generator; do not also give "
                              "--encoder1/--encoder2/--network")
        if not self.stand_in and (self.encoder1 is None or self.encoder2 is None):
            raise ConfigError("give both encoder checkpoints (--encoder1 and --encoder2), a study config "
                              "(--config config.yaml), or --stand-in to try the path with seeded stand-in networks")


def resolve_sources(*, encoder1: str | None = None, encoder2: str | None = None, network: str | None = None,
                    stand_in: bool = False, configs: tuple[str, ...] = (), device: str = "cpu",
                    seed: int = 0, face_parsing: str | None = None) -> NetworkSources:
    """Flags over the study config (module doc); the config's encoders default to the workflow's."""
    u2net = None
    if configs:
        study = load_config(configs[0], tuple(configs[1:]))
        u2net = study.weights.u2net
        face_parsing = face_parsing or study.weights.face_parsing
        trained = {name: str(Path(study.output.results) / "models" / name / "checkpoint.pt")
                   for name in ENCODER_EXPERIMENTS}
        untrained = not any(Path(path).is_file() for path in trained.values())
        if study.preset == STANDIN_PRESET and untrained and not (encoder1 or encoder2 or network):
            stand_in = True
        if not stand_in:
            encoder1 = encoder1 or trained["encoder1"]
            encoder2 = encoder2 or trained["encoder2"]
            if network is None:
                network = generator_network(study)
    return NetworkSources(encoder1=encoder1, encoder2=encoder2, network=network, stand_in=stand_in, u2net=u2net,
                          face_parsing=face_parsing, device=device, seed=seed)


def check_sources(sources: NetworkSources) -> None:
    """One :class:`MissingWeightsError` listing every file of ``sources`` that does not exist."""
    problems = []
    for name in ENCODER_EXPERIMENTS:
        path = getattr(sources, name)
        if path is not None and not Path(path).expanduser().is_file():
            problems.append(f"--{name} {path}: missing file (a checkpoint of `dualinv train {name}`, "
                            "docs/training.md)")
    if sources.network is not None and not Path(sources.network).expanduser().is_file():
        problems.append(f"--network {sources.network}: missing file "
                        f"({weights_problem('panohead', sources.network)})")
    for key in ("u2net", "face_parsing"):
        path = getattr(sources, key)
        if key == "u2net" and path is not None and not Path(path).expanduser().exists():
            continue  # an absent U^2-Net file falls back to selfie matting, loudly (dualinv.data.background)
        if path is not None and (problem := weights_problem(key, path)) is not None:
            problems.append(problem)
    if problems:
        raise MissingWeightsError(f"{len(problems)} file(s) cannot be used:\n  - " + "\n  - ".join(problems)
                                  + "\nFix the paths, or run with --stand-in (seeded networks; outputs are "
                                  "labelled stand-in).")


def build_inverter(sources: NetworkSources):
    """The :class:`~dualinv.dual.invert.DualInverter` of ``sources`` (files checked first)."""
    check_sources(sources)
    device = check_device(sources.device)
    if sources.stand_in:
        return standin_inverter(device, sources.seed)
    return DualInverter.from_checkpoints(sources.encoder1, sources.encoder2, network=sources.network,
                                         device=device, seed=sources.seed)


def standin_inverter(device: torch.device | str = "cpu", seed: int = 0) -> DualInverter:
    """Seeded stand-in Encoder 1 and 2 (untrained, tiny) on the mini preset's generator (the demo generator).

    The encoders are those training builds at step 0 for the same seed under
    :func:`standin_config` (the mini preset's generator and encoder sections), and the occlusion
    mask uses its opacity threshold (0.5, the released generator's: the demo generator's heads are opaque).
    """
    config = standin_config(seed)
    generator, identity = study_generator(config, device)
    encoders = [build_inversion_encoder(config, get_experiment(name), generator, derive_seed(seed, name))
                .to(device).eval().requires_grad_(False) for name in ENCODER_EXPERIMENTS]
    return DualInverter.from_trained(generator, (encoders[0], config), (encoders[1], config), seed=seed,
                                     generator_source=identity.source, stand_in=True)


def standin_config(seed: int = 0) -> StudyConfig:
    """The study config of the stand-in networks: the mini preset (``presets/mini.yaml``) with ``seed``
    as its training seed, so the stand-ins are exactly what the mini workflow trains from at step 0."""
    mini = load_config(REPO_ROOT / "config.yaml", (REPO_ROOT / "presets" / f"{STANDIN_PRESET}.yaml",))
    return dataclasses.replace(mini, training=dataclasses.replace(mini.training, seed=int(seed)))


def network_provenance(sources: NetworkSources, inverter) -> dict:
    """What ``outputs.json`` records about the networks."""
    standin = {name: f"{STAND_IN}:{name}:tiny:seed={sources.seed}" for name in ENCODER_EXPERIMENTS}
    return {"encoder1": sources.encoder1 or standin["encoder1"], "encoder2": sources.encoder2 or standin["encoder2"],
            "generator": inverter.generator_source,
            "generator_file": weights_provenance("panohead", sources.network) if sources.network else None,
            "device": str(inverter.device),
            "opacity_threshold": inverter.opacity_threshold}


def is_stand_in(sources: NetworkSources, inverter) -> bool:
    """True when any network has seeded random weights (stand-in encoders or generator)."""
    return sources.stand_in or is_stand_in_source(inverter.generator_source)
