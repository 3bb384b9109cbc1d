import pytest
import torch

from dualinv.baselines import PivotalTuning
from dualinv.baselines.pti import tunable_copy
from dualinv.baselines.w_optim import reconstruction_terms
from dualinv.config import REPO_ROOT, PTISettings, WOptimSettings, from_mapping, merge_overrides, read_yaml
from dualinv.errors import ConfigError

TINY_PIVOT = WOptimSettings(steps=50, w_avg_samples=64, render_key="image_raw")
"""The pivot's loop; its step count is replaced by ``pti.pivot_steps``."""


def tiny_pti(**changes) -> PTISettings:
    return PTISettings(**{**dict(pivot_steps=3, steps=6, learning_rate=3e-3), **changes})


def tiny_pivotal_tuning(generator, lpips_vgg, **changes) -> PivotalTuning:
    return PivotalTuning(generator, lpips_vgg, tiny_pti(**changes), TINY_PIVOT, progress=False)


def test_tunable_copy_shares_no_storage(generator):
    tuned = tunable_copy(generator)
    shared = {p.data_ptr() for p in generator.parameters()} | {b.data_ptr() for b in generator.buffers()}
    assert not shared & {p.data_ptr() for p in tuned.parameters()}
    assert all(p.requires_grad for p in tuned.parameters())
    assert not any(p.requires_grad for p in generator.parameters())


@pytest.mark.slow  # ~10 s on an idle 2-core CPU (12 / 15 render steps)
def test_pti_tunes_copies_and_leaves_the_shared_generator_untouched(generator, lpips_vgg, target):
    images, cameras, _ = target
    before = {name: value.clone() for name, value in generator.state_dict().items()}
    pti = tiny_pivotal_tuning(generator, lpips_vgg)
    result = pti.invert(images, cameras)
    after = generator.state_dict()
    assert before.keys() == after.keys()
    assert all(torch.equal(before[name], after[name]) for name in before)
    assert not any(p.requires_grad for p in generator.parameters())

    tuned0, tuned1 = result.generators
    assert tuned0 is not generator and tuned1 is not generator and tuned0 is not tuned1
    assert any(not torch.equal(p, q) for p, q in zip(tuned0.parameters(), generator.parameters()))

    def loss(g, index):
        with torch.no_grad():
            render = g.synthesis(result.ws[index:index + 1], cameras[index:index + 1], noise_mode="const",
                                 generator=torch.Generator().manual_seed(0))["image_raw"]
            terms = reconstruction_terms(render, images[index:index + 1], lpips_vgg, 256)
        return float(0.1 * terms["loss_mse"] + terms["loss_lpips"])

    for index, tuned in enumerate(result.generators):
        print(f"PTI tiny image {index}: pivot loss {loss(generator, index):.4f} -> tuned {loss(tuned, index):.4f}")
        assert loss(tuned, index) < loss(generator, index)
    # the tri-grid is the tuned generator's, and render() uses each image's own generator
    torch.testing.assert_close(result.trigrid[1:], tuned1.synthesize_trigrid(result.ws[1:]))
    rendered = result.render(cameras, generator=torch.Generator().manual_seed(0))
    rng = torch.Generator().manual_seed(0)  # same draw order: image 0's generator first, then image 1's
    direct = [g.render_trigrid(result.trigrid[i:i + 1], result.ws[i:i + 1], cameras[i:i + 1], generator=rng)
              for i, g in enumerate(result.generators)]
    torch.testing.assert_close(rendered["image_raw"], torch.cat([d["image_raw"] for d in direct]))
    assert not torch.allclose(rendered["image_raw"][1:], generator.render_trigrid(
        result.trigrid[1:], result.ws[1:], cameras[1:], generator=torch.Generator().manual_seed(0))["image_raw"])
    assert all(s > 0 for s in result.seconds_per_image)


def test_early_stop_skips_tuning_when_already_close(generator, lpips_vgg, target):
    images, cameras, _ = target
    pti = tiny_pivotal_tuning(generator, lpips_vgg, early_stop_lpips=10.0)
    tuned, terms = pti.tune(images[:1], cameras[:1], pti.pivot.w_avg.repeat(1, generator.num_ws, 1))
    assert all(torch.equal(p, q) for p, q in zip(tuned.parameters(), generator.parameters()))
    assert terms["loss_lpips"] <= 10.0


def test_the_pivot_runs_pivot_steps_of_the_w_optim_loop(generator, lpips_vgg):
    pti = tiny_pivotal_tuning(generator, lpips_vgg)
    assert pti.pivot_config == WOptimSettings(steps=3, w_avg_samples=64, render_key="image_raw")
    assert pti.pivot.config == pti.pivot_config and pti.pivot.progress is False


def test_config_refuses_bad_values():
    values = merge_overrides(read_yaml(REPO_ROOT / "config.yaml"), {"baselines": {"pti": {"learning_rate": 0}}})
    with pytest.raises(ConfigError, match=r"baselines\.pti\.learning_rate"):
        from_mapping(values)
