"""Bad input: a clear error naming the fix, and no output folder that looks complete."""

import shutil

import cv2
import imageio.v2 as imageio
import numpy as np
import pytest
from typer.testing import CliRunner

from gwm.capture import CaptureConfig, CaptureError, run_capture

FAST = CaptureConfig(max_num_features=1024, max_image_size=240)


def assert_no_output(out):
    assert not out.exists(), f"{out} was left behind"
    leftovers = [p.name for p in out.parent.iterdir() if p.name.startswith(f".{out.name}.")]
    assert not leftovers, leftovers


def _write_video(path, frames):
    writer = imageio.get_writer(path, fps=30, codec="libx264", quality=None, pixelformat="yuv420p",
                                ffmpeg_params=["-crf", "18"], macro_block_size=4)
    for f in frames:
        writer.append_data(f)
    writer.close()


@pytest.fixture(scope="module")
def stills(kitchen):
    return [cv2.imread(str(kitchen / "images" / f"frame_{i:03d}.png"))[..., ::-1].copy() for i in range(6)]


def test_unreadable_video(tmp_path):
    bad = tmp_path / "broken.mp4"
    bad.write_bytes(b"this is not a video" * 100)
    out = tmp_path / "out"
    with pytest.raises(CaptureError, match="cannot read this video.*re-encode"):
        run_capture(bad, out, FAST, progress=False)
    assert_no_output(out)


def test_empty_video(tmp_path):
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    out = tmp_path / "out"
    with pytest.raises(CaptureError, match="empty.*copy the recording again"):
        run_capture(empty, out, FAST, progress=False)
    assert_no_output(out)


def test_too_few_frames_in_video(stills, tmp_path):
    video = tmp_path / "two.mp4"
    _write_video(video, stills[:2])
    out = tmp_path / "out"
    with pytest.raises(CaptureError, match="only 2 usable frame.*at least 3.*longer"):
        run_capture(video, out, FAST, progress=False)
    assert_no_output(out)


def test_too_few_images_in_folder(stills, tmp_path):
    folder = tmp_path / "imgs"
    folder.mkdir()
    for i, s in enumerate(stills[:2]):
        cv2.imwrite(str(folder / f"{i}.png"), s[..., ::-1])
    out = tmp_path / "out"
    with pytest.raises(CaptureError, match="2 image.*at least 3.*add more images"):
        run_capture(folder, out, FAST, progress=False)
    assert_no_output(out)


def test_all_frames_blurred(stills, tmp_path):
    video = tmp_path / "blurry.mp4"
    _write_video(video, [cv2.GaussianBlur(s, (0, 0), 6) for s in stills])
    out = tmp_path / "out"
    with pytest.raises(CaptureError, match="all 6 frames are blurred.*moving slower"):
        run_capture(video, out, FAST, progress=False)
    assert_no_output(out)


def test_mixed_image_sizes(stills, tmp_path):
    folder = tmp_path / "mixed"
    folder.mkdir()
    for i, s in enumerate(stills[:4]):
        img = s if i % 2 else cv2.resize(s, (320, 240))
        cv2.imwrite(str(folder / f"{i}.png"), img[..., ::-1])
    out = tmp_path / "out"
    with pytest.raises(CaptureError, match=r"mixed sizes \(320x240: 2.*400x300: 2.*resize or crop them to one size"):
        run_capture(folder, out, FAST, progress=False)
    assert_no_output(out)


def test_sfm_registering_under_half(stills, tmp_path):
    """5 overlapping views and 7 unrelated noise images: at most 5/12 can register."""
    folder = tmp_path / "half"
    folder.mkdir()
    for i, s in enumerate(stills[:5]):
        cv2.imwrite(str(folder / f"a{i}.png"), s[..., ::-1])
    rng = np.random.default_rng(0)
    for i in range(7):
        noise = cv2.GaussianBlur((rng.random((300, 400, 3)) * 255).astype(np.uint8), (0, 0), 1.5)
        cv2.imwrite(str(folder / f"n{i}.png"), noise)
    out = tmp_path / "out"
    with pytest.raises(CaptureError, match=r"SfM registered .*(only [0-5]/12|none of the 12).*overlap"):
        run_capture(folder, out, FAST, progress=False)
    assert_no_output(out)


def test_transforms_json_with_missing_images(subset_capture, tmp_path):
    _, good = subset_capture
    broken = tmp_path / "broken"
    shutil.copytree(good, broken)
    victim = sorted((broken / "images").iterdir())[3]
    victim.unlink()
    out = tmp_path / "out"
    with pytest.raises(CaptureError, match=f"1 of .* images it lists are missing.*{victim.name}.*copy the images"):
        run_capture(broken, out, progress=False)
    assert_no_output(out)


def test_existing_output_is_kept_unless_overwrite(subset_capture, tmp_path):
    _, good = subset_capture
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    with pytest.raises(CaptureError, match="already exists.*--overwrite"):
        run_capture(good, out, CaptureConfig(up="none"), progress=False)
    assert (out / "keep.txt").read_text() == "mine"
    # a failing run with overwrite=True must not destroy the old output either
    with pytest.raises(CaptureError):
        run_capture(tmp_path / "nothing-here", out, overwrite=True, progress=False)
    assert (out / "keep.txt").read_text() == "mine"
    run_capture(good, out, CaptureConfig(up="none"), overwrite=True, progress=False)
    assert (out / "transforms.json").is_file() and not (out / "keep.txt").exists()


def test_cli_reports_the_error_and_exit_code(tmp_path):
    from gwm.capture.cli import app

    bad = tmp_path / "broken.mp4"
    bad.write_bytes(b"\x00" * 64)
    res = CliRunner().invoke(app, ["run", str(bad), str(tmp_path / "out")])
    assert res.exit_code == 2
    assert "cannot read this video" in res.output
    assert_no_output(tmp_path / "out")


def test_config_rejects_bad_settings():
    with pytest.raises(CaptureError, match="camera_model"):
        CaptureConfig(camera_model="FISHEYE")
    with pytest.raises(CaptureError, match="at least 3"):
        CaptureConfig(max_frames=2)
