"""What one training step feeds the models: the batch (mirroring, Z+ share) and D's real/fake inputs."""

from __future__ import annotations

import torch

from dualinv.camera import mirror_label
from dualinv.training.build import build_components
from dualinv.models.experiments import get_experiment
from dualinv.training.steps import training_batch

from .tiny import rendered_heads, tiny_config, tiny_generator


def _components(experiment: str, **overrides):
    generator, identity = tiny_generator()
    settings = tiny_config(encoder={"input_resolution": 32}, training={"batch_size": 2, **overrides})
    heads = rendered_heads(generator, 3)
    return build_components(settings, get_experiment(experiment), heads, generator=generator,
                            identity=identity), heads


def test_a_mirrored_sample_flips_its_image_and_mirrors_its_camera():
    components, heads = _components("real_wplus", mirror_probability=1.0)
    batch = training_batch(components, [0, 2], torch.Generator().manual_seed(0))
    for row, index in enumerate([0, 2]):
        assert torch.equal(batch.images[row], heads[index]["image"].flip(-1))
        assert torch.equal(batch.cameras[row], mirror_label(heads[index]["camera"]))
    assert not batch.is_generated.any()
    kept, _ = _components("real_wplus", mirror_probability=0.0)
    batch = training_batch(kept, [1], torch.Generator().manual_seed(0))
    assert torch.equal(batch.images[0], heads[1]["image"]) and torch.equal(batch.cameras[0], heads[1]["camera"])


def test_zplus_training_data_replaces_every_sample_and_keeps_its_camera():
    components, heads = _components("zplus_wplus", mirror_probability=0.0)
    batch = training_batch(components, [0, 1], torch.Generator().manual_seed(3))
    assert batch.is_generated.all()
    for row in range(2):
        assert torch.equal(batch.cameras[row], heads[row]["camera"])  # the real sample's pose distribution
        assert not torch.allclose(batch.images[row], heads[row]["image"])
    assert batch.images.min() >= -1 and batch.images.max() <= 1


def test_the_occlusion_aware_discriminator_masks_fake_and_real_tri_grids_by_their_own_depth():
    components, heads = _components("encoder2")
    cameras = torch.stack([heads[0]["camera"], heads[1]["camera"]])
    images = torch.stack([heads[0]["image"], heads[1]["image"]])
    rng = torch.Generator().manual_seed(5)
    with torch.no_grad():
        ws, trigrid = components.encode(torch.nn.functional.adaptive_avg_pool2d(images, 32), cameras, rng)
        render = components.render(trigrid, ws, cameras, rng)
        fake, fake_mask = components.discriminator_input(ws, trigrid, render, cameras, rng)
    assert fake is trigrid
    expected = components.occlusion_mask(render["image_depth"], cameras, render["image_mask"])
    assert torch.equal(fake_mask, expected) and fake_mask.any() and not fake_mask.all()

    # real: Z+ tri-grids, masked by the occlusion mask of their own render at the same cameras
    real, real_mask = components.discriminator_input(None, None, None, cameras, torch.Generator().manual_seed(9))
    replay = torch.Generator().manual_seed(9)
    with torch.no_grad():
        real_ws = components.zplus_ws(2, replay)
        real_trigrid = components.generator.synthesize_trigrid(real_ws, noise_mode="const")
        real_render = components.render(real_trigrid, real_ws, cameras, replay)
    assert torch.equal(real, real_trigrid)
    assert torch.equal(real_mask, components.occlusion_mask(real_render["image_depth"], cameras, real_render["image_mask"]))
    assert real.shape == fake.shape and real_mask.shape == fake_mask.shape
    assert not torch.equal(real_mask, fake_mask)  # each masked by its own geometry


def test_the_unmasked_and_image_discriminators_get_what_table_3_says():
    triplane, heads = _components("d_triplane")
    cameras = torch.stack([heads[0]["camera"], heads[1]["camera"]])
    real, mask = triplane.discriminator_input(None, None, None, cameras, torch.Generator().manual_seed(1))
    assert mask is None and real.shape[:3] == (2, 3, 96)
    image, _ = _components("d_image")
    real_images, mask = image.discriminator_input(None, None, None, cameras, torch.Generator().manual_seed(1))
    side = image.generator.config.img_resolution
    assert mask is None and real_images.shape == (2, 3, side, side)


def test_the_image_discriminator_ablation_renders_back_views():
    import numpy as np

    from dualinv.camera import yaw_pitch_from_label

    image, _ = _components("d_image")
    yaw, _ = yaw_pitch_from_label(image.novel_cameras(64, torch.Generator().manual_seed(2)))
    assert np.all(np.abs(yaw) >= 90.0 - 1e-3)  # A.1: a back-view discriminator (PanoHead: |yaw| ≥ 90°)
