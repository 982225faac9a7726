"""The video path: frame selection by spacing and sharpness, H.264 and HEVC, SfM on a few frames."""

import json

import imageio.v2 as imageio
import imageio_ffmpeg
import numpy as np
import pytest

from gwm.capture import CaptureConfig, run_capture
from gwm.capture.frames import select_video_frames, sharpness

from .conftest import GROUND_TRUTH


def test_video_capture_registers_with_accurate_poses(kitchen, tmp_path):
    # One thread makes pycolmap reproducible. A single arc is weakly conditioned in pitch: 8 frames
    # gave 0.2-0.7 deg across multi-threaded runs, 12 frames give 0.17 deg.
    config = CaptureConfig(max_frames=12, max_image_size=320, camera_model="PINHOLE", max_num_features=2048,
                           num_threads=1)
    result = run_capture(kitchen / "orbit.mp4", tmp_path / "video", config, reference=GROUND_TRUTH, progress=False)
    assert result.source == "video"
    assert result.selection["num_candidates"] == 150
    assert result.num_frames == 12 and result.num_registered >= 11
    assert result.pose_error["translation_cm_mean"] < 1.0
    assert result.pose_error["rotation_deg_mean"] < 0.5
    blurred = set(json.loads(GROUND_TRUTH.read_text())["video"]["motion_blurred_frames"])
    assert not blurred & set(result.selection["source_indices"])
    names = sorted(p.name for p in (tmp_path / "video" / "images").iterdir())
    assert names == [f"frame_{i:05d}.png" for i in sorted(result.selection["source_indices"])]


def test_blurred_frames_are_dropped_relative_to_neighbours(kitchen, tmp_path):
    """With one slot per frame every frame is a candidate: exactly the motion-blurred ones go."""
    sel = select_video_frames(kitchen / "orbit.mp4", tmp_path, CaptureConfig(max_frames=150), progress=False)
    truth = json.loads(GROUND_TRUTH.read_text())["video"]["motion_blurred_frames"]
    assert sorted(sel.dropped_blurred) == sorted(truth)
    assert len(sel.names) == 150 - len(truth)


def test_sharpness_ranks_blur():
    rng = np.random.default_rng(0)
    img = (rng.random((120, 160, 3)) * 255).astype(np.uint8)
    import cv2

    assert sharpness(img) > 10 * sharpness(cv2.GaussianBlur(img, (0, 0), 3))


@pytest.fixture(scope="module")
def first_frames(kitchen):
    gen = imageio_ffmpeg.read_frames(str(kitchen / "orbit.mp4"))
    meta = next(gen)
    w, h = meta["size"]
    frames = [np.frombuffer(next(gen), np.uint8).reshape(h, w, 3).copy() for _ in range(12)]
    gen.close()
    return frames


def test_hevc_video_is_read(first_frames, tmp_path):
    path = tmp_path / "clip_hevc.mp4"
    writer = imageio.get_writer(path, fps=30, codec="libx265", quality=None, pixelformat="yuv420p",
                                ffmpeg_params=["-crf", "18", "-x265-params", "log-level=error"], macro_block_size=4)
    for f in first_frames:
        writer.append_data(f)
    writer.close()
    sel = select_video_frames(path, tmp_path, CaptureConfig(max_frames=4), progress=False)
    assert sel.num_candidates == 12 and len(sel.names) == 4
    import cv2

    img = cv2.imread(str(tmp_path / sel.names[0]))[..., ::-1]
    assert np.abs(img.astype(float) - first_frames[sel.source_indices[0]]).mean() < 6.0  # same picture


def test_frames_named_by_a_cue_are_kept(kitchen, tmp_path):
    """A known length marked in video frames 7 and 45 (a blurred one): both are kept whatever
    their slot or sharpness, with the reason recorded; a frame past the end is a clear error."""
    from gwm.capture import CaptureError

    blurred = json.loads(GROUND_TRUTH.read_text())["video"]["motion_blurred_frames"]
    must = (7, blurred[1])
    sel = select_video_frames(kitchen / "orbit.mp4", tmp_path, CaptureConfig(max_frames=10), progress=False,
                              keep_indices=must)
    assert set(must) <= set(sel.source_indices)
    row = next(r for r in sel.frames if r["source_index"] == blurred[1])
    assert row["kept"] and "kept because a scale cue names this frame" in row["reason"]
    with pytest.raises(CaptureError, match=r"frame\(s\) \[400\] named by a scale cue are beyond the video's 150 frames"):
        select_video_frames(kitchen / "orbit.mp4", tmp_path, CaptureConfig(max_frames=10), progress=False,
                            keep_indices=(400,))
