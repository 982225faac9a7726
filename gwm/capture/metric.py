"""Whether a capture is in metres: the check later stages call before physics.

A capture without a scale cue is in SfM's arbitrary units; masses, sizes and reach computed
from it would be wrong without any visible sign. `require_metric` turns that into one clear
error naming the three cues (or an explicit scale the user takes responsibility for).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from gwm.capture.config import CaptureError

CUES_HINT = (
    "re-run `gwm capture run` with a metric cue: a printed ArUco marker lying on the table "
    "(--marker-size METRES, e.g. 0.10), a known length (two points marked in 2+ frames: --length-view "
    "FRAME:XA,YA:XB,YB ... --length-metres M; or the table's measured --table-width / --table-depth METRES), "
    "or metric phone poses (a Record3D / Polycam / ARKit / ARCore export in nerfstudio format, with --metric-input)"
)


def require_metric(transforms_path: str | os.PathLike, explicit_scale: float | None = None) -> dict:
    """The capture's metric summary; raises CaptureError when it is not metric and no scale is given.

    transforms_path: a capture folder or its transforms.json. explicit_scale: a factor the user
    gives (e.g. a scene file's [scale] factor), accepted in place of a cue.
    Returns {metric, metric_from, scale_uncertainty, up_from, frame_from, fingerprint, explicit_scale}.
    """
    path = Path(transforms_path)
    if path.is_dir():
        path = path / "transforms.json"
    try:
        meta = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as e:
        raise CaptureError(f"{path}: cannot read the capture ({e}); point at a capture folder or its transforms.json") from e
    g = meta.get("gwm", {}) if isinstance(meta, dict) else {}
    info = {"metric": bool(g.get("scale_is_metric")), "metric_from": g.get("metric_from"),
            "scale_uncertainty": g.get("scale_uncertainty"), "up_from": g.get("up_from"),
            "frame_from": g.get("frame_from"), "fingerprint": g.get("fingerprint"), "explicit_scale": None}
    if info["metric"]:
        return info
    if explicit_scale is not None:
        if not explicit_scale > 0:
            raise CaptureError(f"explicit scale {explicit_scale} must be a positive factor (metres per capture unit)")
        info.update(explicit_scale=float(explicit_scale), metric_from="explicit scale")
        return info
    what = "has no gwm block (not made by `gwm capture run`)" if not g else "is not metric (SfM's arbitrary units)"
    raise CaptureError(f"{path}: the capture {what}, so sizes, masses and reach would be wrong; {CUES_HINT}; "
                       "or pass an explicit scale")
