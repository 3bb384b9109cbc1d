"""Every method of the experiment registry as an :class:`~dualinv.models.inversion.Inverter`, and the
workflow entry point that runs one over a test set (:func:`invert_dataset`).

* ``encoder`` (ours: encoder1, encoder2 and the ablations) and ``baseline_encoder``: the trained
  encoder of a training checkpoint behind :class:`~dualinv.models.inversion.EncoderInverter`.
* ``dual``: the :class:`~dualinv.dual.invert.DualInverter` of Encoder 1 + Encoder 2 (§3.4).
* ``baseline_optimisation``: :func:`dualinv.baselines.build_inverter` (W+ optimisation, PTI).
* :class:`StandInInverter`: a seeded stand-in (codes from the mapping of a z seeded by the image's
  content) that exercises the runner, the metrics and the figures without any trained model.

The generator always comes from the study config (:func:`dualinv.models.generator.study_generator`),
and every checkpoint is checked against it, so an encoder never renders through a generator it was
not trained with.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any, Sequence

import torch

from dualinv.baselines import build_inverter
from dualinv.config import StudyConfig
from dualinv.dual.invert import DualInverter
from dualinv.errors import ConfigError
from dualinv.eval.runners import render_plan_of, run_inversions
from dualinv.fileio import tensor_to_uint8
from dualinv.losses import LPIPSLoss
from dualinv.models.checkpoint import load_trained_encoder
from dualinv.models.encoders import encoder_input_side
from dualinv.models.experiments import Experiment, get_experiment
from dualinv.models.generator import GeneratorIdentity, study_generator
from dualinv.models.inversion import EncoderInverter, Inversion
from dualinv.seeding import derive_seed, make_generator

TIMING_BATCH_SIZE = 1
"""Images per call when the workflow inverts a test set: Table 1's time column is per image at batch 1
(one photo in, one head out), after one untimed warm-up call, on the same clock for every method
(:func:`dualinv.models.inversion.timed_per_image`); the device, the GPU model included, is recorded."""


class StandInInverter:
    """A stand-in method: ws = mapping(z, camera), z seeded by the image's pixels (tests, demos)."""

    stand_in = True
    max_batch_size = None
    warm_up = True

    def __init__(self, generator: torch.nn.Module, seed: int = 0) -> None:
        self.generator = generator
        self.seed = seed
        self.images_inverted = 0
        """How many images :meth:`invert` has seen (tests count recomputation with it)."""

    @torch.no_grad()
    def invert(self, images: torch.Tensor, cameras: torch.Tensor) -> Inversion:
        self.images_inverted += images.shape[0]
        digests = [hashlib.sha256(tensor_to_uint8(image).tobytes()).hexdigest() for image in images]
        z = torch.stack([torch.randn(self.generator.z_dim, generator=make_generator(derive_seed(self.seed, digest)))
                         for digest in digests]).to(images.device)
        ws = self.generator.mapping(z, cameras)
        trigrid = self.generator.synthesize_trigrid(ws, noise_mode="const")
        return Inversion(ws=ws, trigrid=trigrid, generators=(self.generator,) * images.shape[0])


def _load_encoder(checkpoint: Path, generator: torch.nn.Module, identity: GeneratorIdentity, device,
                  experiment: Experiment):
    """``(encoder, its training config, side of the images it takes)`` of ``checkpoint`` (GOAE: the
    generator's side, no downscale), checked against ``generator``."""
    encoder, trained, _, _ = load_trained_encoder(checkpoint, generator, identity, device)
    return encoder, trained, encoder_input_side(trained, experiment, generator)


def build_method_inverter(experiment: Experiment, checkpoints: Sequence[Path], generator: torch.nn.Module,
                          identity: GeneratorIdentity, *, config: StudyConfig | None = None,
                          device: str | torch.device = "cpu", seed: int = 0):
    """The :class:`~dualinv.models.inversion.Inverter` of a registry entry, from its checkpoints
    (``dual``: Encoder 1, Encoder 2)."""
    stand_in = identity.stand_in
    expected = {"encoder": 1, "baseline_encoder": 1, "dual": 2, "baseline_optimisation": 0}[experiment.kind]
    if len(checkpoints) != expected:
        raise ConfigError(f"method {experiment.name!r} ({experiment.kind}) needs {expected} checkpoint(s), "
                          f"got {len(checkpoints)}: {[str(path) for path in checkpoints]}")
    if experiment.kind in ("encoder", "baseline_encoder"):
        encoder, _, resolution = _load_encoder(checkpoints[0], generator, identity, device, experiment)
        return EncoderInverter(encoder, generator, resolution, stand_in=stand_in, seed=seed)
    if experiment.kind == "dual":
        names = experiment.components
        visible = _load_encoder(checkpoints[0], generator, identity, device, get_experiment(names[0]))[:2]
        occluded = _load_encoder(checkpoints[1], generator, identity, device, get_experiment(names[1]))[:2]
        # input sides and Encoder 1's opacity threshold decided where the CLI decides them
        return DualInverter.from_trained(generator, visible, occluded, seed=seed, generator_source=identity.source,
                                         stand_in=stand_in)
    lpips_file = None if config is None else config.weights.lpips_vgg
    lpips_loss = LPIPSLoss("vgg", lpips_file, seed=seed).to(device)
    return build_inverter(experiment.name, generator, baselines=None if config is None else config.baselines,
                          lpips_loss=lpips_loss, stand_in=stand_in or lpips_file is None, progress=True)


def invert_dataset(config: StudyConfig, method: str, dataset: Path, checkpoints: Sequence[Path], output: Path,
                   shard: tuple[int, int] | None = None) -> dict[str, Any]:
    """Workflow entry point (rules ``invert_dataset`` / ``optimise_inversions``): ``method`` of the experiment
    registry over the test set ``dataset`` with the study config ``config``; ``shard`` as in
    :func:`dualinv.eval.runners.run_inversions`."""
    experiment = get_experiment(method)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    generator, identity = study_generator(config, device)
    inverter = build_method_inverter(experiment, [Path(path) for path in checkpoints], generator, identity,
                                     config=config, device=device)
    return run_inversions(inverter, dataset, output, render_plan_of(config), method=method,
                          batch_size=TIMING_BATCH_SIZE, limit=config.data.test_images, device=device,
                          progress=True, provenance={"generator": identity.source,
                                                     "checkpoints": [str(path) for path in checkpoints]},
                          shard=shard)
