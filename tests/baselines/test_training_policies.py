import torch

from dualinv.baselines.training_policies import baseline_policy, triplanenet_trains
from dualinv.config import BaselinesConfig
from dualinv.losses.e4e import delta_regularisation

NUM_WS = 14  # PanoHead's code count (the old E4EConfig default encoder)


def policy(name):
    return baseline_policy(name, BaselinesConfig(), NUM_WS)


def test_every_baseline_encoder_has_a_policy():
    from dualinv.baselines import ENCODER_BASELINES

    for name in ENCODER_BASELINES:
        assert policy(name).name == name


def test_e4e_policy_sets_the_stage_and_weights_its_terms():
    e4e = policy("e4e")

    class Recorder:
        stage = None

        def set_stage(self, stage):
            self.stage = stage

    encoder = Recorder()
    e4e.before_step(encoder, 19_999)
    assert encoder.stage == 0
    e4e.before_step(encoder, 24_000)
    assert encoder.stage == 3
    ws = torch.randn(2, 14, 8)
    total, terms = e4e.extra_terms(ws, 24_000)
    torch.testing.assert_close(total, 2e-4 * delta_regularisation(ws, 3))
    assert set(terms) == {"loss_delta", "loss_w_adv"}


def test_triplanenet_phases():
    recipe = BaselinesConfig().triplanenet_v2
    assert triplanenet_trains(recipe, 0) == {"w_plus": True, "feature_stage": False}
    assert triplanenet_trains(recipe, 20_000) == {"w_plus": True, "feature_stage": True}
    assert triplanenet_trains(recipe, 500_000) == {"w_plus": False, "feature_stage": True}


def test_psp_and_goae_add_no_terms():
    ws = torch.randn(1, 14, 8)
    for name in ("psp", "goae", "triplanenet_v2"):
        total, terms = policy(name).extra_terms(ws, 50_000)
        assert float(total) == 0.0 and terms == {}
    assert policy("goae").stage(15_000) == 1 and policy("psp").stage(15_000) is None


def test_policy_recipe_properties():
    baselines = BaselinesConfig()
    e4e, goae, triplanenet, psp = (policy(name) for name in ("e4e", "goae", "triplanenet_v2", "psp"))
    assert e4e.e4e is baselines.e4e or e4e.e4e == baselines.e4e
    assert e4e.goae is None and e4e.triplanenet is None
    assert goae.goae == baselines.goae and goae.e4e is None
    assert triplanenet.triplanenet == baselines.triplanenet_v2 and triplanenet.goae is None
    assert psp.e4e is None and psp.goae is None and psp.triplanenet is None
    assert psp.recipe == baselines.psp and e4e.num_ws == NUM_WS
