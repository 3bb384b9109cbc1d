"""dualinv: dual encoder GAN inversion for 360-degree heads on PanoHead (NeurIPS 2024).

``import dualinv`` loads nothing else: the inverter is :class:`dualinv.dual.DualInverter`, the
study config :mod:`dualinv.config`, and each layer lives in its subpackage (README "Layout").
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
