import torch

from dualinv.baselines.training_policies import BASELINE_POLICIES, TriPlaneNetSchedule
from dualinv.losses.e4e import delta_regularisation


def test_every_baseline_encoder_has_a_policy():
    from dualinv.baselines import ENCODER_BASELINES

    assert set(BASELINE_POLICIES) == set(ENCODER_BASELINES)


def test_e4e_policy_sets_the_stage_and_weights_its_terms():
    policy = BASELINE_POLICIES["e4e"]

    class Recorder:
        stage = None

        def set_stage(self, stage):
            self.stage = stage

    encoder = Recorder()
    policy.before_step(encoder, 19_999)
    assert encoder.stage == 0
    policy.before_step(encoder, 24_000)
    assert encoder.stage == 3
    ws = torch.randn(2, 14, 8)
    total, terms = policy.extra_terms(ws, 24_000)
    torch.testing.assert_close(total, 2e-4 * delta_regularisation(ws, 3))
    assert set(terms) == {"loss_delta", "loss_w_adv"}


def test_triplanenet_phases():
    schedule = TriPlaneNetSchedule()
    assert schedule.trains(0) == {"w_plus": True, "feature_stage": False}
    assert schedule.trains(20_000) == {"w_plus": True, "feature_stage": True}
    assert schedule.trains(500_000) == {"w_plus": False, "feature_stage": True}


def test_psp_and_goae_add_no_terms():
    ws = torch.randn(1, 14, 8)
    for name in ("psp", "goae", "triplanenet_v2"):
        total, terms = BASELINE_POLICIES[name].extra_terms(ws, 50_000)
        assert float(total) == 0.0 and terms == {}
    assert BASELINE_POLICIES["goae"].stage(15_000) == 1 and BASELINE_POLICIES["psp"].stage(15_000) is None
