"""Capture settings and the capture stage's error type."""

from __future__ import annotations

import math
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
class LengthView:
    """Pixel positions (x right, y down, OpenCV: the centre of the top-left pixel is (0, 0)) of the
    two ends of a known length in one frame."""

    frame: str  # image name in the output images/ folder (video: "frame_<index:05d>.png")
    a: tuple[float, float]
    b: tuple[float, float]


@dataclass(frozen=True)
class KnownLength:
    """The distance between two scene points (e.g. the ends of a ruler or a box edge), marked in
    two or more frames each; the points are triangulated with the SfM poses."""

    views: tuple[LengthView, ...]
    metres: float


MARKER_DICTIONARIES = ("DICT_4X4_50", "DICT_4X4_100", "DICT_4X4_250", "DICT_4X4_1000", "DICT_5X5_50",
                       "DICT_5X5_100", "DICT_5X5_250", "DICT_5X5_1000", "DICT_6X6_50", "DICT_6X6_100",
                       "DICT_6X6_250", "DICT_6X6_1000", "DICT_7X7_50", "DICT_7X7_100", "DICT_7X7_250",
                       "DICT_7X7_1000", "DICT_ARUCO_ORIGINAL", "DICT_APRILTAG_16h5", "DICT_APRILTAG_25h9",
                       "DICT_APRILTAG_36h10", "DICT_APRILTAG_36h11")


@dataclass(frozen=True)
class CaptureConfig:
    """Settings of `run_capture`: frame selection, SfM, and the output frame."""

    # frames ----------------------------------------------------------------------------------
    max_frames: int = 120  # video: the duration is cut into this many slots, the sharpest frame of each kept
    max_image_size: int | None = None  # downscale so the longer side is at most this many pixels
    min_sharpness: float = 15.0  # variance of Laplacian (grey, longer side <= 640 px) below this = blurred
    # drop a frame below this fraction of its reference: a video pick's neighbouring picks' median, a still's
    # folder median
    min_relative_sharpness: float = 0.5
    # SfM (pycolmap) --------------------------------------------------------------------------
    matcher: str = "auto"  # "auto" (sequential for video, exhaustive for <= exhaustive_max_images), "exhaustive", "sequential"
    exhaustive_max_images: int = 60
    sequential_overlap: int = 10
    camera_model: str = "OPENCV"  # one camera shared by all frames: "OPENCV" (k1 k2 p1 p2) or "PINHOLE"
    focal_length_px: float | None = None  # known focal length at the output image size; None: estimate
    max_num_features: int = 4096  # SIFT features per image
    min_registered_fraction: float = 0.5  # fewer registered frames than this fraction is an error
    seed: int = 0  # pycolmap's PRNG, every two-view RANSAC and the mapper: same input + settings = same cameras
    num_threads: int = -1  # feature extraction (repeatable at any count: images are numbered first); matching uses one
    # incremental mapping threads. A multi-threaded bundle adjustment (COLMAP threads it above 50k residuals) sums
    # in a varying order, so larger captures would stop being repeatable; on the kitchen stills one thread and two
    # gave the same cameras in the same time (59-75 s vs 57-59 s mapping on a shared 2-core machine).
    mapping_threads: int = 1
    # cameras ---------------------------------------------------------------------------------
    drop_outlier_cameras: bool = True  # leave out cameras whose registration is inconsistent (see outliers.py)
    # output frame and metric scale -------------------------------------------------------------
    up: str = "plane"  # "plane": table-plane normal, plane at z = 0; "orbit": camera orbit; "none": SfM frame
    marker_size_m: float | None = None  # side of a printed ArUco marker (black square, metres): scale + table frame
    marker_dictionary: str = "DICT_4X4_50"
    marker_id: int | None = None  # None: the id seen in most frames
    known_length: KnownLength | None = None  # two scene points marked in frames, and their distance
    table_width_m: float | None = None  # measured size of the support surface (longer side)
    table_depth_m: float | None = None  # (shorter side)
    known_distance: KnownDistance | None = None  # between two camera centres
    # nerfstudio input: its poses are metric (a phone AR export: Record3D, Polycam, ARKit/ARCore apps)
    metric_input: bool = False
    input_up: str = "+y"  # up axis of a metric input's world: "+y" (ARKit/ARCore), "+z", or "none" (unknown)
    rerun_sfm: bool = False  # nerfstudio input: run SfM on its images; its poses then give only the metric frame
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
        if not 0.0 <= self.min_relative_sharpness < 1.0:
            raise CaptureError(f"min_relative_sharpness={self.min_relative_sharpness} must be in [0, 1)")
        for name in ("marker_size_m", "table_width_m", "table_depth_m"):
            v = getattr(self, name)
            if v is not None and not (v > 0 and math.isfinite(v)):
                raise CaptureError(f"{name}={v}: a length in metres must be positive (e.g. 0.10 for a 10 cm marker)")
        if self.marker_size_m is not None and self.marker_size_m > 2.0:
            raise CaptureError(f"marker_size_m={self.marker_size_m}: that is {self.marker_size_m:.0f} m; give the "
                               "marker's side in metres (e.g. 0.10 for 10 cm)")
        if self.marker_dictionary not in MARKER_DICTIONARIES:
            raise CaptureError(f"marker_dictionary={self.marker_dictionary!r}: use one of OpenCV's "
                               f"{', '.join(MARKER_DICTIONARIES[:3])}, ... (e.g. DICT_4X4_50)")
        if self.marker_id is not None and self.marker_id < 0:
            raise CaptureError(f"marker_id={self.marker_id} must be 0 or more")
        if (self.table_width_m is not None and self.table_depth_m is not None
                and self.table_depth_m > self.table_width_m):
            raise CaptureError(f"table depth {self.table_depth_m} m > width {self.table_width_m} m: the width is "
                               "the longer side; swap them")
        if self.known_length is not None:
            kl = self.known_length
            if not (kl.metres > 0 and math.isfinite(kl.metres)):
                raise CaptureError(f"known length {kl.metres} m must be positive")
            frames = [v.frame for v in kl.views]
            if len(set(frames)) < 2:
                raise CaptureError(f"known length: the two points are marked in {len(set(frames))} distinct frame(s); "
                                   "mark them in at least 2 frames (more is more accurate)")
        if self.input_up not in ("+y", "+z", "none"):
            raise CaptureError(f"input_up={self.input_up!r}: use '+y' (ARKit/ARCore), '+z' or 'none'")

    @property
    def scale_cues(self) -> list[str]:
        """Names of the metric cues these settings ask for."""
        cues = [("marker", self.marker_size_m), ("known_length", self.known_length),
                ("table_size", self.table_width_m or self.table_depth_m), ("known_distance", self.known_distance),
                ("phone_poses", self.metric_input or None)]
        return [n for n, v in cues if v is not None]

    def to_dict(self) -> dict:
        return asdict(self)
