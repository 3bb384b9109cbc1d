"""The PanoHead generator in pure PyTorch (specs/panohead.md)."""

from dualinv.panohead.checkpoint import load_network, save_network
from dualinv.panohead.config import PanoHeadConfig, RenderingConfig
from dualinv.panohead.generator import PanoHeadGenerator, load_official_state_dict

__all__ = ["PanoHeadConfig", "PanoHeadGenerator", "RenderingConfig", "load_network", "load_official_state_dict",
           "save_network"]
