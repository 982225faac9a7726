"""Capture: video / image folder / COLMAP model / nerfstudio dataset -> posed frames
(pycolmap SfM) as a nerfstudio dataset in a metric, Z-up frame.

pycolmap, imageio-ffmpeg and OpenCV are imported inside the functions that use them.
"""

from gwm.capture.alignment import align_to_reference, load_reference_poses, scale_from_known_distance
from gwm.capture.config import CaptureConfig, CaptureError, KnownDistance, KnownLength, LengthView
from gwm.capture.metric import require_metric
from gwm.capture.pipeline import CaptureResult, capture_fingerprint, evaluate_capture, run_capture

__all__ = [
    "CaptureConfig", "CaptureError", "CaptureResult", "KnownDistance", "KnownLength", "LengthView",
    "align_to_reference", "capture_fingerprint", "evaluate_capture", "load_reference_poses", "require_metric",
    "run_capture", "scale_from_known_distance",
]
