"""CurricularFace IR-101: the face network of the authors' ID metric (three-bee/gen_metrics).

Their script builds TreB1eN's ``IR_101(input_size=112)`` (IR units without squeeze-excitation,
stages of 3/13/30/3 units, final ``BatchNorm1d(512, affine=False)``) and loads pSp's published
``CurricularFace_Backbone.pth``. This is the same network from our IR backbone, so the file loads
by exact name and shape; the embedding is L2-normalised like theirs.
"""
from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from dualinv.encoders.backbone import ArcFace, BackboneConfig
from dualinv.errors import CheckpointError
from dualinv.state_dicts import layout_problem, read_state_dict, with_batch_counters
from dualinv.weights import STAND_IN

IR_101_UNITS = (3, 13, 30, 3)
"""Units per stage of TreB1eN's ``get_blocks(100)``."""

WHERE_TO_GET = ("CurricularFace_Backbone.pth is published in pixel2style2pixel's README "
                "(pretrained models, 'CurricularFace Backbone' for the ID metric)")


IR_101 = BackboneConfig(units_per_stage=IR_101_UNITS, mode="ir")
"""The body of TreB1eN's ``IR_101``: IR units without squeeze-excitation at full width."""


def curricularface_ir101(embedding_dim: int = 512, drop_ratio: float = 0.4,
                         backbone: BackboneConfig = IR_101) -> ArcFace:
    """An untrained IR-101 with CurricularFace's head; load weights with :func:`load_curricularface`.

    ``backbone`` shrinks the body of a stand-in (the mini preset's tiny IR); the file always loads into IR-101.
    """
    network = ArcFace(backbone, embedding_dim, drop_ratio)
    network.output_layer[4] = nn.BatchNorm1d(embedding_dim, affine=False)
    return network


def load_curricularface(path: str | Path | None, checksum: str | None = None) -> ArcFace:
    """CurricularFace IR-101 from ``weights.curricularface``, checked name for name and shape for shape."""
    state = read_state_dict("curricularface", path, checksum, hint=WHERE_TO_GET)
    network = curricularface_ir101()
    wanted = with_batch_counters(network, state)
    problem = layout_problem(network, wanted)
    if problem is not None:
        raise CheckpointError(f"weights.curricularface = {str(path)!r} is not the CurricularFace IR-101 layout: "
                              f"{problem}. {WHERE_TO_GET}")
    network.load_state_dict(wanted, strict=True)
    return network.eval()


def curricularface_or_stand_in(path: str | Path | None, checksum: str | None = None, seed: int = 0,
                               backbone: BackboneConfig = IR_101) -> tuple[ArcFace, str]:
    """The configured CurricularFace, or with ``path`` ``None`` a seeded stand-in of body ``backbone``.

    The stand-in is IR-101 unless ``backbone`` says otherwise: the mini preset passes a tiny IR body, since a
    random 65 M-weight IR-101 per evaluation job costs seconds and measures nothing. Returns the network in
    eval mode and its provenance: the path, or ``STAND_IN`` so results say so.
    """
    if path is not None:
        return load_curricularface(path, checksum), str(path)
    generator_state = torch.random.get_rng_state()
    try:
        torch.manual_seed(seed)
        network = curricularface_ir101(backbone=backbone)
    finally:
        torch.random.set_rng_state(generator_state)
    return network.eval(), STAND_IN
