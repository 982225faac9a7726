"""Bad input to `gwm track` gives one clear line (exit code 2, no traceback)."""

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from pipelines.cli_main import app
from gwm.track.loop import TrackInputError
from gwm.track.stream import read_stream, write_stream
from sim_tasks.demo_scene import make_demo_scene, write_demo_scene_usd
from sim_tasks.real_streams import observing_cameras


@pytest.fixture(scope="module")
def stream_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("stream")
    _, specs = observing_cameras(make_demo_scene(), 2, 32, 24)
    frames = np.random.default_rng(0).integers(0, 255, (3, 2, 24, 32, 3), dtype=np.uint8)
    write_stream(root / "frames", frames, specs, fps=30)
    write_demo_scene_usd(root / "scene.usdz")
    return root, specs, frames


def _cameras(path, specs, fps=30):
    path.write_text(json.dumps({"fps": fps, "cameras": [s.to_dict() for s in specs]}))
    return path


def test_stream_round_trip(stream_dir):
    root, specs, frames = stream_dir
    s = read_stream(root / "frames", root / "frames" / "cameras.json")
    assert s.fps == 30 and [c.name for c in s.specs] == [c.name for c in specs]
    assert np.array_equal(s.frames, frames)
    assert s.cameras.world_from_cam.shape == (2, 4, 4)


@pytest.mark.parametrize("case, message", [
    ("unposed", "frames for cameras ['cam1'] have no pose"),
    ("count", "lists 3 cameras but"),
    ("size", "image is 32x24 but camera 'cam0' is 40x30"),
    ("no_fps", "no frame rate"),
])
def test_bad_streams_name_the_problem(stream_dir, tmp_path, case, message):
    root, specs, _ = stream_dir
    if case == "unposed":
        cams = _cameras(tmp_path / "c.json", specs[:1])
    elif case == "count":
        extra = type(specs[0]).from_dict({**specs[0].to_dict(), "name": "cam2"})
        cams = _cameras(tmp_path / "c.json", [*specs, extra])
    elif case == "size":
        big = [type(s).from_dict({**s.to_dict(), "width": 40, "height": 30}) for s in specs]
        cams = _cameras(tmp_path / "c.json", big)
    else:
        cams = tmp_path / "c.json"
        cams.write_text(json.dumps({"cameras": [s.to_dict() for s in specs]}))
    with pytest.raises(TrackInputError) as err:
        read_stream(root / "frames", cams)
    assert message in str(err.value)
    _assert_one_line_error(["track", str(root / "scene.usdz"), str(root / "frames"), "--cameras", str(cams),
                            "--out", str(tmp_path / "out")], message)


def _assert_one_line_error(args, message):
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2, result.output
    lines = [ln for ln in result.output.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], result.output
    assert "Traceback" not in result.output


def test_moving_cameras_are_refused(stream_dir, tmp_path):
    root, specs, _ = stream_dir
    moving = [type(s).from_dict({**s.to_dict(), "mount": "ee"}) for s in specs]
    with pytest.raises(TrackInputError, match="fixed cameras"):
        read_stream(root / "frames", _cameras(tmp_path / "c.json", moving))


def test_help_shows_one_command_without_sub_commands():
    result = CliRunner().invoke(app, ["track", "--help"])
    assert result.exit_code == 0
    usage = result.output[:result.output.index("Track a recorded")]
    assert "scene_usd" in usage.lower() and "COMMAND" not in usage, usage


def test_joint_states_round_trip_through_csv_with_header_and_npy(tmp_path):
    from gwm.track.stream import read_joint_states, write_joint_states

    q = np.random.default_rng(1).normal(size=(3, 9))
    path = write_joint_states(tmp_path / "joints.csv", q)
    assert path.read_text().startswith("joint1,")  # a header line, skipped on reading
    np.testing.assert_allclose(read_joint_states(path, 3), q, rtol=1e-8)
    np.save(tmp_path / "joints.npy", q)
    np.testing.assert_array_equal(read_joint_states(tmp_path / "joints.npy", 3), q)
    (tmp_path / "bare.csv").write_text("\n".join(",".join(str(v) for v in row) for row in q))
    np.testing.assert_allclose(read_joint_states(tmp_path / "bare.csv", 3), q)  # no header: the first row is kept


@pytest.mark.parametrize("case, message", [
    ("missing", "no such joint-states file"),
    ("columns", "7 columns; give 9 per row"),
    ("rows", "2 rows of joint states for 3 frames"),
    ("nan", "NaN or inf (row 1)"),
    ("text", "not a table of numbers"),
])
def test_bad_joint_states_name_the_problem(stream_dir, tmp_path, case, message):
    root, _, _ = stream_dir
    path = tmp_path / "joints.csv"
    q = np.zeros((3, 9))
    if case == "columns":
        q = q[:, :7]
    elif case == "rows":
        q = q[:2]
    elif case == "nan":
        q[1, 4] = np.nan
    if case == "text":
        path.write_text("a,b\n1,x\n")
    elif case != "missing":
        np.savetxt(path, q, delimiter=",")
    _assert_one_line_error(["track", str(root / "scene.usdz"), str(root / "frames"), "--cameras",
                            str(root / "frames" / "cameras.json"), "--out", str(tmp_path / "out"),
                            "--joints", str(path)], message)
    assert not (tmp_path / "out").exists()  # nothing written before the input was checked
