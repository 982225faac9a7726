"""Capture settings and the capture stage's error type."""

from __future__ import annotations

from dataclasses import asdict, dataclass

CAPTURE_FORMAT_VERSION = 1


class CaptureError(ValueError):
    """Bad capture input or a failed reconstruction; the message names the problem and the fix."""


@dataclass(frozen=True)
class KnownDistance:
    """A measured distance between the camera centres of two frames (e.g. the phone moved
    along a 50 cm ruler between them): it sets the metric scale of a user's capture."""

    frame_a: str  # image name in the output images/ folder, e.g. "frame_00012.png"
    frame_b: str
    metres: float


@dataclass(frozen=True)
class CaptureConfig:
    """Settings of `run_capture`: frame selection, SfM, and the output frame."""

    # frames ----------------------------------------------------------------------------------
    max_frames: int = 120  # video: the duration is cut into this many slots, the sharpest frame of each kept
    max_image_size: int | None = None  # downscale so the longer side is at most this many pixels
    min_sharpness: float = 15.0  # variance of Laplacian (grey, longer side <= 640 px) below this = blurred
    min_relative_sharpness: float = 0.5  # drop a pick below this fraction of its neighbours' median
    # SfM (pycolmap) --------------------------------------------------------------------------
    matcher: str = "auto"  # "auto" (sequential for video, exhaustive for <= exhaustive_max_images), "exhaustive", "sequential"
    exhaustive_max_images: int = 60
    sequential_overlap: int = 10
    camera_model: str = "OPENCV"  # one camera shared by all frames: "OPENCV" (k1 k2 p1 p2) or "PINHOLE"
    focal_length_px: float | None = None  # known focal length at the output image size; None: estimate
    max_num_features: int = 4096  # SIFT features per image
    min_registered_fraction: float = 0.5  # fewer registered frames than this fraction is an error
    seed: int = 0
    num_threads: int = -1  # feature extraction and matching
    # incremental mapping threads. SfM results vary a little from run to run with threading; once (of ~10
    # kitchen runs, on a heavily loaded machine, mapping on all cores) it converged to a wrong model (43 cm
    # pose error). Mapping on one thread costs no measurable time on the kitchen (~40 s either way).
    mapping_threads: int = 1
    # output frame ----------------------------------------------------------------------------
    up: str = "plane"  # "plane": table-plane normal, plane at z = 0; "orbit": camera orbit; "none": SfM frame
    known_distance: KnownDistance | None = None  # sets metric scale (ignored when a reference aligns)
    keep_database: bool = False  # keep colmap/database.db (features and matches; large)

    def __post_init__(self) -> None:
        if self.max_frames < 3:
            raise CaptureError(f"max_frames={self.max_frames}: SfM needs at least 3 frames; use --max-frames 3 or more")
        if self.max_image_size is not None and self.max_image_size < 32:
            raise CaptureError(f"max_image_size={self.max_image_size} is too small for SIFT; use 32 or more")
        if self.matcher not in ("auto", "exhaustive", "sequential"):
            raise CaptureError(f"matcher={self.matcher!r}: use 'auto', 'exhaustive' or 'sequential'")
        if self.camera_model not in ("OPENCV", "PINHOLE"):
            raise CaptureError(f"camera_model={self.camera_model!r}: use 'OPENCV' or 'PINHOLE'")
        if self.up not in ("plane", "orbit", "none"):
            raise CaptureError(f"up={self.up!r}: use 'plane', 'orbit' or 'none'")
        if not 0.0 < self.min_registered_fraction <= 1.0:
            raise CaptureError(f"min_registered_fraction={self.min_registered_fraction} must be in (0, 1]")
        if self.known_distance is not None and not self.known_distance.metres > 0:
            raise CaptureError(f"known distance {self.known_distance.metres} m must be positive")

    def to_dict(self) -> dict:
        return asdict(self)
