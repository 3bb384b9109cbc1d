"""The FID real images, the figure items and the test-image cap are seeded uniform samples, not the first N."""

from __future__ import annotations

import numpy as np
import pytest

from dualinv.eval.fid import FidProtocol
from dualinv.camera import camera_at_yaw
from dualinv.eval.runners import RenderPlan, dataset_yaws, plan_items
from dualinv.eval.sampling import sampled_positions
from dualinv.seeding import derive_seed

# The FFHQ + LPFF validation split as split_dataset writes it: sorted names, every ffhq__ before every lpff__.
VALIDATION = sorted([f"images/ffhq__{index:05d}.png" for index in range(700)]
                    + [f"images/lpff__{index:05d}.png" for index in range(300)])


def _plan(fid_images: int = 100, figure_items: int = 8, seed: int = 0) -> RenderPlan:
    return RenderPlan(fid=FidProtocol(num_images=fid_images, seed=seed), figure_items=figure_items, seed=seed)


def test_the_draw_is_the_documented_seeded_permutation():
    drawn = sampled_positions(1000, 100, seed=3, purpose="fid-real-images")
    expected = np.random.default_rng(derive_seed(3, "fid-real-images")).permutation(1000)[:100]
    assert drawn == expected.tolist()
    assert drawn == sampled_positions(1000, 100, seed=3, purpose="fid-real-images")  # deterministic
    assert drawn != sampled_positions(1000, 100, seed=4, purpose="fid-real-images")
    assert drawn != sampled_positions(1000, 100, seed=3, purpose="figure-items")
    assert len(set(drawn)) == 100 and drawn != list(range(100))
    assert sorted(sampled_positions(5, 100, seed=3, purpose="x")) == [0, 1, 2, 3, 4]  # fewer items: all of them


def test_fid_real_images_and_figure_items_reach_lpff():
    items = plan_items(VALIDATION, _plan())
    fid = sorted((item for item in items if item.fid_slot is not None), key=lambda item: item.fid_slot)
    assert [item.fid_slot for item in fid] == list(range(100))
    assert [item.name for item in fid] != VALIDATION[:100]
    # a uniform sample of 100 from 700 FFHQ + 300 LPFF holds about 30 LPFF images (hypergeometric sd 4.3);
    # the first 100 would hold none
    lpff = sum(item.name.startswith("images/lpff__") for item in fid)
    assert 30 - 4 * 4.3 < lpff < 30 + 4 * 4.3
    figure = [item.name for item in items if item.figure]
    assert len(figure) == 8 and figure != VALIDATION[:8]
    assert figure == [VALIDATION[p] for p in sorted(_plan().figure_positions(len(VALIDATION)))]
    # another method planning the same test set gets exactly the same items
    assert plan_items(VALIDATION, _plan()) == items
    assert plan_items(VALIDATION, _plan(seed=1)) != items


def test_the_test_image_cap_keeps_a_seeded_sample_in_dataset_order():
    kept = [item.name for item in plan_items(VALIDATION, _plan(), limit=50)]
    assert len(kept) == 50 and kept == sorted(kept) and kept != VALIDATION[:50]
    assert any(name.startswith("images/lpff__") for name in kept)
    assert kept == [item.name for item in plan_items(VALIDATION, _plan(), limit=50)]
    with pytest.raises(Exception, match="test_images"):
        plan_items(VALIDATION, _plan(), limit=0)


def test_the_fid_protocol_names_the_rule_beside_the_number():
    assert "uniform sample without replacement" in FidProtocol(num_images=2, seed=5).describe()
    assert "fid-real-images" in FidProtocol(num_images=2, seed=5).describe()


def test_figure_items_are_portraits_first():
    plan = _plan()
    yaws = {name: (150.0 if position % 3 else 20.0) for position, name in enumerate(VALIDATION)}
    figure = [item.name for item in plan_items(VALIDATION, plan, yaws=yaws) if item.figure]
    assert len(figure) == plan.figure_items and all(abs(yaws[name]) <= 60 for name in figure)
    portraits = [position for position, name in enumerate(VALIDATION) if abs(yaws[name]) <= 60]
    drawn = plan.figure_positions(len(VALIDATION), [abs(yaws[name]) <= 60 for name in VALIDATION])
    assert drawn == [portraits[k] for k in plan.figure_positions(len(portraits))]  # the same draw, over the portraits
    few = {name: (-30.0 if position in (5, 700) else 170.0) for position, name in enumerate(VALIDATION)}
    drawn = plan.figure_positions(len(VALIDATION), [abs(few[name]) <= 60 for name in VALIDATION])
    assert len(drawn) == plan.figure_items and sorted(drawn[:2]) == [5, 700]  # both portraits lead, then the rest
    others = [position for position in range(len(VALIDATION)) if position not in (5, 700)]
    assert drawn[2:] == [others[k] for k in _plan(figure_items=6).figure_positions(len(others))]
    assert plan_items(VALIDATION, plan, yaws={name: 0.0 for name in VALIDATION}) == plan_items(VALIDATION, plan)


def test_dataset_yaws_reads_the_input_yaw_of_each_label():
    labels = {f"images/{yaw:g}.png": camera_at_yaw(float(yaw))[0].double().numpy() for yaw in (0, 30, -60, 150)}
    yaws = dataset_yaws(labels)
    assert list(yaws) == list(labels)
    assert [round(value, 3) for value in yaws.values()] == [0.0, 30.0, -60.0, 150.0]
    assert dataset_yaws({}) == {}
