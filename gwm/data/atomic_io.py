"""Moved to gwm/atomic_io.py (a core module: importing it from here would load the dataset formats).

Kept so that code written against the old path keeps working while branches merge; import gwm.atomic_io.
"""

from gwm.atomic_io import *  # noqa: F401,F403
from gwm.atomic_io import __all__  # noqa: F401
