"""The tiny real pipeline for tests: mini PanoHead stand-in, tiny encoders, rendered targets."""

from __future__ import annotations

import dataclasses
import functools

import torch

from dualinv.camera import camera_at_yaw
from dualinv.config import StudyConfig
from dualinv.dual.networks import standin_config
from dualinv.models.generator import study_generator


def tiny_config(seed: int = 0, **sections) -> StudyConfig:
    """The mini preset (stand-in generator, tiny encoders, no weights files) with 100 iterations and a
    checkpoint every 50 steps; ``sections`` override keys per section, e.g. ``training={"batch_size": 1}``."""
    config = standin_config(seed)
    config = dataclasses.replace(config, training=dataclasses.replace(config.training, iterations=100,
                                                                      checkpoint_every=50))
    changes = {}
    for name, values in sections.items():
        section = getattr(config, name)
        if name == "baselines":  # nested: baselines={"e4e": {"progressive_start": 1}}
            values = {key: dataclasses.replace(getattr(section, key), **value) for key, value in values.items()}
        changes[name] = dataclasses.replace(section, **values)
    return dataclasses.replace(config, **changes)


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
    """The mini preset's generator (the demo generator, 16² rays) and its identity (frozen; cached per seed)."""
    return study_generator(tiny_config(seed))


@functools.lru_cache(maxsize=2)
def other_generator(seed: int = 1):
    """Another generator of the same architecture: the mini stand-in with seeded random weights."""
    return study_generator(tiny_config(seed, generator={"preset": "mini"}))


def train_tiny(experiment: str, checkpoint_out, steps: int = 1, generator_seed: int = 0, **sections):
    """Train ``experiment`` for ``steps`` tiny steps on rendered heads; returns the SegmentResult."""
    from dualinv.models.experiments import get_experiment
    from dualinv.training.build import build_components
    from dualinv.training.loop import train_segment

    sections = {"encoder": {"input_resolution": 32}, **sections}
    sections["training"] = {"batch_size": 1, **sections.get("training", {})}
    config = tiny_config(generator_seed, **sections)
    generator, identity = tiny_generator(generator_seed)
    components = build_components(config, get_experiment(experiment), rendered_heads(generator, 3),
                                  generator=generator, identity=identity)
    return train_segment(config, experiment, 0, steps, None, checkpoint_out, components=components)
