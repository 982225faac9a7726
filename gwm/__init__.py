"""gwm: Gaussian world model core library (splats, cameras, renderer, data, model).

Kept light on purpose: heavy optional dependencies are imported inside the functions that need them.
"""

from gwm.cameras import Cameras
from gwm.splats import GaussianSplats

__all__ = ["Cameras", "GaussianSplats"]
__version__ = "0.1.0"
