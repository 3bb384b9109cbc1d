"""The methods of each figure, pinned to the paper's captions and text (§3.4, §5.1, §5.2)."""

from __future__ import annotations

import inspect

from dualinv.eval.figures import COMPARISON_METHODS, DISCRIMINATOR_METHODS, DUAL_METHODS, MESH_METHODS, mesh_grid
from dualinv.eval.paper_numbers import PAPER_TABLES
from dualinv.models.experiments import EXPERIMENTS


def _names(methods) -> list[str]:
    return [name for name, _ in methods]


def _rows_of_table(number: int) -> list[str]:
    """The registry experiments feeding Table ``number``, in the paper's row order."""
    feeding = {feed: name for name, experiment in EXPERIMENTS.items() for feed in experiment.feeds}
    return [feeding[f"T{number}:{row.label}"] for row in PAPER_TABLES[number].rows]


def test_fig5_shows_encoder1_encoder2_and_dual_last():
    # "Visual results of Encoder 1, Encoder 2, and Dual encoders"; "the last row of Fig. 5" is the dual output
    assert _names(DUAL_METHODS) == ["encoder1", "encoder2", "dual"] == _rows_of_table(5)


def test_fig6_and_fig8_show_ours_and_the_competing_methods_of_tables_1_and_2():
    # Fig. 6 "Comparisons of ours and competing methods"; Fig. 8 the same methods on MEAD (Table 2)
    expected = ["w_optim", "pti", "psp", "e4e", "triplanenet_v2", "goae", "dual"]
    assert _names(COMPARISON_METHODS) == expected == _rows_of_table(1) == _rows_of_table(2)


def test_fig7_shows_the_discriminator_ablation_in_table_3_order():
    # "first row" = no discriminator, "third row" = triplane discriminator without occlusion (§5.2)
    assert _names(DISCRIMINATOR_METHODS) == ["encoder1", "d_image", "d_triplane", "encoder2"] == _rows_of_table(3)


def test_fig9_compares_ours_triplanenet_and_pti_on_two_inputs():
    # §5.1: "Ours is better than the most recent encoder-based method [7] and generally performs well compared
    # to PTI ... PTI ... smoother meshes (row 3) ... (row 6)"; [7] is "TriplaneNetv2[7]" in Table 1
    assert MESH_METHODS == ("dual", "triplanenet_v2", "pti")
    items = inspect.signature(mesh_grid).parameters["items"].default
    rows_of_pti = [row + 1 for row in range(items * len(MESH_METHODS)) if MESH_METHODS[row % len(MESH_METHODS)] == "pti"]
    assert rows_of_pti == [3, 6]
