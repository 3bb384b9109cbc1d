"""Small stand-ins with the interfaces the loop uses, for testing the loop's mechanics alone.

They are *not* PanoHead: a linear "synthesis" and a differentiable "renderer" that is enough to
check data order, resume, logging and error handling quickly. Tests of the real pipeline use the
tiny PanoHead configuration instead.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class ToyGenerator(nn.Module):
    num_ws, z_dim, w_dim, planes, channels, size = 4, 8, 8, 3, 6, 8

    def __init__(self) -> None:
        super().__init__()
        self.map = nn.Linear(self.z_dim + 25, self.w_dim)
        self.synth = nn.Linear(self.w_dim, self.planes * self.channels * self.size * self.size)
        self.to_rgb = nn.Conv2d(self.channels, 4, 1)
        self.register_buffer("w_avg", torch.zeros(self.w_dim))

    def mapping(self, z, c, truncation_psi=1.0, truncation_cutoff=None):
        w = torch.tanh(self.map(torch.cat([z, c], dim=1)))
        w = self.w_avg + truncation_psi * (w - self.w_avg)
        return w[:, None].expand(-1, self.num_ws, -1)

    def synthesize_trigrid(self, ws, noise_mode="const"):
        planes = self.synth(ws.mean(1))
        return planes.view(-1, self.planes, self.channels, self.size, self.size)

    def render_trigrid(self, trigrid, ws, c, neural_rendering_resolution=None, generator=None):
        features = trigrid.mean(1)  # [B, C, H, W]
        out = self.to_rgb(features) + c[:, 3, None, None, None] * 0.1
        jitter = torch.rand(out.shape[0], 1, 1, 1, generator=generator, device=out.device) * 1e-3
        image = F.interpolate(torch.tanh(out[:, :3]) + jitter, size=(16, 16), mode="bilinear", align_corners=False)
        return {"image": image, "image_raw": torch.tanh(out[:, :3]), "image_depth": 2.7 + out[:, 3:],
                "image_mask": torch.ones_like(out[:, 3:])}


class ToyEncoder(nn.Module):
    def __init__(self, num_ws: int, w_dim: int) -> None:
        super().__init__()
        self.num_ws, self.w_dim = num_ws, w_dim
        self.features = nn.Sequential(nn.Conv2d(3, 8, 3, 2, 1), nn.LeakyReLU(0.2), nn.AdaptiveAvgPool2d(2))
        self.head = nn.Linear(32, num_ws * w_dim)

    def forward(self, images):
        return self.head(self.features(images).flatten(1)).view(-1, self.num_ws, self.w_dim)


class ToyDiscriminator(nn.Module):
    def __init__(self, channels: int) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Conv2d(channels, 8, 3, 1, 1), nn.LeakyReLU(0.2), nn.AdaptiveAvgPool2d(1),
                                 nn.Flatten(), nn.Linear(8, 1))

    def forward(self, x, occlusion_mask=None):
        if occlusion_mask is not None:
            x = x * occlusion_mask.float()
        return self.net(x.flatten(1, 2) if x.ndim == 5 else x)


def toy_components(settings, experiment_name: str, dataset_size: int = 7):
    """TrainingComponents wired from the toys above (Adam instead of Ranger, L2 only, a seeded toy dataset)."""
    from dualinv.losses import discriminator_loss
    from dualinv.models.generator import GeneratorIdentity
    from dualinv.training.components import TrainingComponents
    from dualinv.models.experiments import get_experiment

    experiment = get_experiment(experiment_name)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(1)
        generator = ToyGenerator().eval().requires_grad_(False)
        encoder = ToyEncoder(generator.num_ws, generator.w_dim)
        discriminator = None
        if experiment.discriminator != "none":
            channels = 3 if experiment.discriminator == "image" else generator.planes * generator.channels
            discriminator = ToyDiscriminator(channels)
        images = torch.rand(dataset_size, 3, 16, 16) * 2 - 1
    cameras = torch.zeros(dataset_size, 25)
    cameras[:, 3] = torch.linspace(-1, 1, dataset_size)

    def encode(x, c, rng):
        ws = encoder(x) + generator.w_avg
        return ws, generator.synthesize_trigrid(ws)

    def encoder_objective(output, target, fake_logits=None):
        terms = {"loss_l2": F.mse_loss(output, target)}
        if fake_logits is not None:
            terms["loss_adv"] = F.softplus(-fake_logits).mean()
        return sum(terms.values()), terms

    def discriminator_objective(real_logits, fake_logits, *, step, real_inputs):
        return discriminator_loss(real_logits, fake_logits, step=step, real_inputs=real_inputs)

    def mirror(c):
        c = c.clone()
        c[:, 3] = -c[:, 3]
        return c

    def zplus_ws(batch, rng):
        z = torch.randn(batch, generator.z_dim, generator=rng)
        return generator.mapping(z, torch.zeros(batch, 25))

    def occlusion(depth, c, opacity):
        return (depth.mean((1, 2, 3)) > 2.7)[:, None, None, None, None].expand(-1, 3, 1, 1, 1)

    return TrainingComponents(
        config=settings, experiment=experiment, device=torch.device("cpu"), generator=generator,
        generator_identity=GeneratorIdentity.of(generator, "toy"), encoder=encoder, discriminator=discriminator,
        encoder_optimiser=torch.optim.Adam(encoder.parameters(), lr=settings.training.learning_rate),
        discriminator_optimiser=None if discriminator is None
        else torch.optim.Adam(discriminator.parameters(), lr=settings.training.learning_rate),
        encode=encode, real_samples=lambda idx: (images[idx], cameras[idx]), dataset_size=dataset_size,
        encoder_objective=encoder_objective, discriminator_objective=discriminator_objective, zplus_ws=zplus_ws,
        occlusion_mask=occlusion, novel_cameras=lambda n, rng: torch.rand(n, 25, generator=rng), mirror_cameras=mirror)
