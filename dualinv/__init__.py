"""dualinv: dual encoder GAN inversion for 360-degree heads on PanoHead (NeurIPS 2024).

The public surface is deliberately small; everything else lives in its subpackage.
"""

__version__ = "0.1.0"
