"""The tiny real pipeline for tests: mini PanoHead stand-in, tiny encoders, rendered targets."""

from __future__ import annotations

import functools

import torch

from dualinv.camera import camera_at_yaw
from dualinv.training.build import build_generator
from dualinv.training.config import GeneratorSource, tiny_training_config


def tiny_settings(**overrides):
    return tiny_training_config(**overrides)


def rendered_heads(generator, count: int, seed: int = 0, yaw_range: float = 40.0) -> list[dict]:
    """``count`` heads of the generator itself (truncated z, yaw within ±``yaw_range``°) as dataset items.

    Targets the generator can represent make a training test whose loss must go down.
    """
    rng = torch.Generator().manual_seed(seed)
    z = torch.randn(count, generator.z_dim, generator=rng)
    yaw = (torch.rand(count, generator=rng) * 2 - 1) * yaw_range
    cameras = camera_at_yaw(yaw)
    with torch.no_grad():
        ws = generator.mapping(z, cameras, truncation_psi=0.7)
        images = generator.render_trigrid(generator.synthesize_trigrid(ws), ws, cameras, generator=rng)["image"]
    return [{"image": images[i].clamp(-1, 1), "camera": cameras[i]} for i in range(count)]


@functools.lru_cache(maxsize=4)
def tiny_generator(seed: int = 0):
    """The tiny128 stand-in generator and its identity (frozen; cached per seed)."""
    return build_generator(GeneratorSource(preset="mini", seed=seed, neural_rendering_resolution=16))


def train_tiny(experiment: str, checkpoint_out, steps: int = 1, generator_seed: int = 0, **overrides):
    """Train ``experiment`` for ``steps`` tiny steps on rendered heads; returns the SegmentResult."""
    from dualinv.training.build import build_components
    from dualinv.models.experiments import get_experiment
    from dualinv.training.loop import train_segment

    settings = tiny_settings(**{"encoder_resolution": 32, "batch_size": 1, **overrides})
    generator, identity = tiny_generator(generator_seed)
    components = build_components(settings, get_experiment(experiment), dataset=rendered_heads(generator, 3),
                                  generator=generator, identity=identity)
    return train_segment(settings, experiment, 0, steps, None, checkpoint_out, components=components)
