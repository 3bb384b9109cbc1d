"""Dual-encoder inference (paper §3.4): two encoders, the occlusion mask, the stitched tri-grid.

``DualInverter`` is imported on first use (it pulls in the encoders and the training builders),
so that ``import dualinv.dual`` stays light for the command-line parser.
"""

from dualinv.dual.stitch import stitch_trigrids

__all__ = ["DualInverter", "stitch_trigrids"]


def __getattr__(name: str):
    if name == "DualInverter":
        from dualinv.dual.invert import DualInverter

        return DualInverter
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
