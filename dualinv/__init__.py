"""dualinv: dual encoder GAN inversion for 360-degree heads on PanoHead (NeurIPS 2024).

The public surface is deliberately small; everything else lives in its subpackage.
``DualInverter`` (:mod:`dualinv.dual.invert`) is imported on first use, so ``import dualinv``
stays light (no torch model code is loaded until a network is needed).
"""
from dualinv.dual.invert import DualInverter

__version__ = "0.1.0"

__all__ = ["DualInverter", "__version__"]


def __getattr__(name: str):
    if name == "DualInverter":
        return DualInverter
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
