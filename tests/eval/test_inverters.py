"""The eval runner's adapters invert with baseline encoders trained by the shared loop (tiny sizes)."""

from __future__ import annotations

import pytest
import torch

from dualinv.eval.inverters import build_method_inverter
from dualinv.models.checkpoint import load_training_checkpoint
from dualinv.models.experiments import get_experiment
from dualinv.models.inversion import EncoderInverter
from tests.training.tiny import rendered_heads, tiny_generator, train_tiny

BASELINE_ENCODERS = ["psp", "e4e", pytest.param("triplanenet_v2", marks=pytest.mark.slow),
                     pytest.param("goae", marks=pytest.mark.slow)]


@pytest.mark.parametrize("name", BASELINE_ENCODERS)
def test_trained_tiny_baseline_inverts_two_images(tmp_path, name):
    train_tiny(name, tmp_path / "enc.pt", steps=1, baselines={"triplanenet_v2": {"add_triplanenet": 0}})
    generator, identity = tiny_generator()
    method = build_method_inverter(get_experiment(name), [tmp_path / "enc.pt"], generator, identity)
    assert isinstance(method, EncoderInverter) and method.stand_in  # stand-in generator, labelled so
    encoder = method.encoder
    trained = load_training_checkpoint(tmp_path / "enc.pt")["encoder"]
    assert all(torch.equal(tensor, trained[key]) for key, tensor in encoder.state_dict().items())

    sides = []
    encode = encoder.encode
    encoder.encode = lambda image, *args, **kwargs: (sides.append(image.shape[-1]), encode(image, *args, **kwargs))[1]
    heads = rendered_heads(generator, 2, seed=5)
    images, cameras = torch.stack([h["image"] for h in heads]), torch.stack([h["camera"] for h in heads])
    inversion = method.invert(images, cameras)

    # GOAE reads images at the generator's resolution (128 for the mini stand-in); the others at 32
    assert sides == [generator.config.img_resolution if name == "goae" else 32]
    assert inversion.ws.shape == (2, generator.num_ws, generator.w_dim)
    reference = generator.synthesize_trigrid(inversion.ws, noise_mode="const")
    assert inversion.trigrid.shape == reference.shape and len(inversion.generators) == 2
    if name in ("psp", "e4e"):  # no F stage: the tri-grid is exactly G(ws)
        torch.testing.assert_close(inversion.trigrid, reference)
    else:  # the F stage / AFA changed the tri-grid
        assert not torch.allclose(inversion.trigrid, reference)
    render = generator.render_trigrid(inversion.trigrid, inversion.ws, cameras)["image"]
    assert torch.isfinite(render).all() and render.shape == images.shape
