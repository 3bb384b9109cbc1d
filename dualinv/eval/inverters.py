"""Adapters from every method of the experiment registry to the runner's :class:`MethodInverter`.

* ``encoder`` (ours: encoder1, encoder2 and the ablations): the trained :class:`InversionEncoder`
  (Eq. 1 plus the F stage) of a training checkpoint.
* ``dual``: the :class:`~dualinv.dual.invert.DualInverter` of Encoder 1 + Encoder 2 (§3.4).
* ``baseline_encoder`` / ``baseline_optimisation``: :func:`dualinv.baselines.build_inverter`.
* :class:`StandInInverter`: a seeded stand-in (codes from the mapping of a z seeded by the image's
  content) that exercises the runner, the metrics and the figures without any trained model.

The generator always comes from the study config (:func:`study_generator`), and every checkpoint is
checked against it, so an encoder never renders through a generator it was not trained with.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Sequence

import torch

from dualinv.errors import ConfigError
from dualinv.eval.runners import Inversion
from dualinv.fileio import tensor_to_uint8
from dualinv.seeding import derive_seed, make_generator
from dualinv.weights import STAND_IN


class StandInInverter:
    """A stand-in method: ws = mapping(z, camera), z seeded by the image's pixels (tests, demos)."""

    stand_in = True
    max_batch_size = None

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


class EncoderMethod:
    """One of our trained encoders (Encoder 1, Encoder 2, the Table 3/4 ablations)."""

    max_batch_size = None

    def __init__(self, encoder, generator: torch.nn.Module, encoder_resolution: int, stand_in: bool,
                 seed: int = 0) -> None:
        self.encoder, self.generator = encoder, generator
        self.encoder_resolution, self.stand_in, self.seed = encoder_resolution, stand_in, seed

    @torch.no_grad()
    def invert(self, images: torch.Tensor, cameras: torch.Tensor) -> Inversion:
        from dualinv.training.inversion_encoder import fit_side

        rng = make_generator(self.seed, images.device)
        ws, trigrid = self.encoder.encode(fit_side(images, self.encoder_resolution), cameras, self.generator, rng)
        return Inversion(ws=ws, trigrid=trigrid, generators=(self.generator,) * images.shape[0])


class DualMethod:
    """The dual inverter: visible cells from Encoder 1, occluded cells from Encoder 2 (§3.4)."""

    max_batch_size = None

    def __init__(self, dual_inverter, stand_in: bool) -> None:
        self.dual_inverter, self.stand_in = dual_inverter, stand_in

    def invert(self, images: torch.Tensor, cameras: torch.Tensor) -> Inversion:
        result = self.dual_inverter.invert(images, cameras)
        return Inversion(ws=result.ws, trigrid=result.trigrid,
                         generators=(self.dual_inverter.generator,) * images.shape[0])


class BaselineMethod:
    """A baseline ``Inverter`` (``dualinv.baselines``): its ``InversionResult`` carries per-image generators."""

    def __init__(self, inverter, stand_in: bool, max_batch_size: int | None, warm_up: bool = True) -> None:
        self.inverter, self.stand_in, self.max_batch_size, self.warm_up = inverter, stand_in, max_batch_size, warm_up

    def invert(self, images: torch.Tensor, cameras: torch.Tensor) -> Inversion:
        result = self.inverter.invert(images, cameras)
        return Inversion(ws=result.ws.detach(), trigrid=result.trigrid.detach(), generators=tuple(result.generators),
                         seconds_per_image=tuple(result.seconds_per_image))


def study_generator(config, device: str | torch.device = "cpu") -> tuple[torch.nn.Module, str]:
    """The study's frozen generator (as the encoders were trained against it) and its source label."""
    from dualinv.training.build import build_generator
    from dualinv.training.config import study_generator_source

    generator, identity = build_generator(study_generator_source(config), device)
    return generator, identity.source


def _load_encoder(checkpoint: Path, generator: torch.nn.Module, label: str, device, experiment: str):
    """``(encoder, training settings, side of the images it takes)`` of ``checkpoint`` (GOAE: the
    generator's side, no downscale), checked against ``generator``."""
    from dualinv.training.build import encoder_input_side, load_trained_encoder
    from dualinv.training.checkpoint import GeneratorIdentity
    from dualinv.training.experiments import get_experiment

    encoder, settings, _, _ = load_trained_encoder(checkpoint, generator, GeneratorIdentity.of(generator, label), device)
    return encoder, settings, encoder_input_side(settings, get_experiment(experiment), generator)


def build_method_inverter(experiment, checkpoints: Sequence[Path], generator: torch.nn.Module, generator_label: str,
                          *, config=None, device: str | torch.device = "cpu", seed: int = 0):
    """The :class:`MethodInverter` of a registry entry, from its checkpoints (``dual``: Encoder 1, Encoder 2)."""
    stand_in = generator_label.startswith(STAND_IN)
    expected = {"encoder": 1, "baseline_encoder": 1, "dual": 2, "baseline_optimisation": 0}[experiment.kind]
    if len(checkpoints) != expected:
        raise ConfigError(f"method {experiment.name!r} ({experiment.kind}) needs {expected} checkpoint(s), "
                          f"got {len(checkpoints)}: {[str(path) for path in checkpoints]}")
    if experiment.kind == "encoder":
        encoder, _, resolution = _load_encoder(checkpoints[0], generator, generator_label, device, experiment.name)
        return EncoderMethod(encoder, generator, resolution, stand_in, seed)
    if experiment.kind == "dual":
        from dualinv.dual.invert import DualInverter

        names = experiment.components
        visible, settings_visible, _ = _load_encoder(checkpoints[0], generator, generator_label, device, names[0])
        occluded, settings_occluded, _ = _load_encoder(checkpoints[1], generator, generator_label, device, names[1])
        # input sides and Encoder 1's opacity threshold decided where the CLI decides them
        return DualMethod(DualInverter.from_trained(generator, (visible, settings_visible),
                                                    (occluded, settings_occluded), seed=seed,
                                                    generator_source=generator_label), stand_in)
    from dualinv.baselines import build_inverter

    if experiment.kind == "baseline_encoder":
        encoder, _, resolution = _load_encoder(checkpoints[0], generator, generator_label, device, experiment.name)
        return BaselineMethod(build_inverter(experiment.name, generator, encoder=encoder, encoder_resolution=resolution),
                              stand_in, None)
    from dualinv.losses import LPIPSLoss

    lpips_file = None if config is None else config.weights.lpips_vgg
    lpips_loss = LPIPSLoss("vgg", lpips_file, seed=seed).to(device)
    settings = None if config is None else optimisation_config(experiment.name, config)
    return BaselineMethod(build_inverter(experiment.name, generator, lpips_loss=lpips_loss, config=settings),
                          stand_in or lpips_file is None, 1, warm_up=False)


def optimisation_config(name: str, config):
    """The ``WOptimConfig`` / ``PTIConfig`` of an optimisation baseline from the study's ``baselines``
    section (PanoHead's published settings in ``config.yaml``; a few steps in the mini preset)."""
    from dualinv.baselines import PTIConfig, WOptimConfig

    w_optim, pti = config.baselines.w_optim, config.baselines.pti
    projector = dict(learning_rate=w_optim.learning_rate, w_avg_samples=w_optim.w_avg_samples,
                     lambda_mse=w_optim.lambda_mse, lambda_lpips=w_optim.lambda_lpips,
                     lambda_w_norm=w_optim.lambda_w_norm, lpips_resolution=w_optim.lpips_resolution,
                     seed=w_optim.seed, progress=False)
    if name == "w_optim":
        return WOptimConfig(steps=w_optim.steps, **projector)
    if name == "pti":
        return PTIConfig(pivot=WOptimConfig(steps=pti.pivot_steps, **projector), steps=pti.steps,
                         learning_rate=pti.learning_rate, lambda_mse=pti.lambda_mse, lambda_lpips=pti.lambda_lpips,
                         seed=pti.seed, progress=False)
    raise ConfigError(f"{name!r} is not an optimisation baseline (w_optim, pti)")
