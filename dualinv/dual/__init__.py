"""Dual-encoder inference (paper §3.4): two encoders, the occlusion mask, the stitched tri-grid."""

from dualinv.dual.invert import DualInverter
from dualinv.dual.stitch import stitch_trigrids

__all__ = ["DualInverter", "stitch_trigrids"]
