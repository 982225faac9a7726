"""`gwm view PATH`: a local web viewer (viser) on any output of the pipeline.

    viewer = open_viewer(path, port=8080)   # detects the kind of path, builds the scene and its controls
    viewer.wait()                           # serve until Ctrl-C (the CLI); viewer.close() in tests

Kinds (gwm.viewer.kinds): a splat PLY, a capture folder, a scene USD(Z), a dataset episode (LeRobot or
HDF5), a validation run. The viewer only reads what it opens. viser is imported inside the functions that
need it, so `import gwm` stays light.
"""

from gwm.viewer.kinds import VIEW_KINDS, detect_kind, viewable
from gwm.viewer.app import Viewer, open_viewer

__all__ = ["VIEW_KINDS", "Viewer", "detect_kind", "open_viewer", "viewable"]
