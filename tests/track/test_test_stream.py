"""The benchmark's streams written for `gwm track` (benchmarks/tracking.py --write-streams): what a user replays
with the command is what the benchmark tracked."""

import json

import numpy as np

from sim_tasks.real_streams import observing_cameras, record_real_stream, standard_scenarios


def test_gwm_track_replays_a_written_stream_as_the_benchmark_tracks_it(demo_scene, scene_usd, tmp_path):
    from benchmarks.tracking import write_test_stream
    from gwm.data.api import open_dataset
    from gwm.track.config import TrackerConfig
    from gwm.track.loop import Tracker, run_tracker, scene_gaussians
    from gwm.track.stream import read_stream
    from sim_tasks.newton_twin import NewtonTwin
    from sim_tasks.track_cli import track_stream

    push = {s.name: s for s in standard_scenarios(demo_scene, duration=1.3)}["unmodelled_push"]
    cams, specs = observing_cameras(demo_scene, 2, 80, 60)
    stream = record_real_stream(demo_scene, push, cams, specs, fps=30)
    folder = tmp_path / "demo_2cam_unmodelled_push"
    command = write_test_stream(folder, stream, scene_usd)
    assert command.split()[:3] == ["gwm", "track", str(folder / "scene.usda")]
    # The frames and cameras as recorded (PNG is lossless), the truth beside them for scoring.
    read = read_stream(folder / "frames", folder / "frames" / "cameras.json")
    assert read.fps == 30 and [s.name for s in read.specs] == [s.name for s in specs]
    np.testing.assert_array_equal(read.frames, stream.frames)
    np.testing.assert_allclose(read.cameras.world_from_cam.numpy(), cams.world_from_cam.numpy(), atol=1e-6)
    truth = json.loads((folder / "truth.json").read_text())
    assert truth["scenario"] == "unmodelled_push" and truth["bodies"] == list(stream.body_names)
    np.testing.assert_allclose(truth["poses"], stream.true_poses, atol=1e-6)
    assert not truth["known_forces"] and np.array_equal(truth["present"], stream.present)
    # `gwm track` on the written stream follows the twin the benchmark's corrected run does, frame by frame.
    config = TrackerConfig(calibration_iterations=10, threads=1)
    track_stream(folder / "scene.usda", folder / "frames", folder / "frames" / "cameras.json", tmp_path / "out",
                 config, open_loop=False)
    tracked = open_dataset(tmp_path / "out" / "dataset").episode(0)["observation.body_poses"][:, 1:]
    twin = NewtonTwin(scene_usd, fps=30, scene=demo_scene)
    canonical, reveal = scene_gaussians(demo_scene, config)
    tracker = Tracker(twin, canonical, cams, config, reveal=reveal)
    tracker.calibrate(stream.frames[0])
    expected = run_tracker(tracker, stream.frames).poses
    pushed = stream.body_names.index(push.unmodelled_pushes[0].body)
    assert np.linalg.norm(expected[-1, pushed, :3] - expected[0, pushed, :3]) > 0.005  # the twin was pushed along
    np.testing.assert_allclose(tracked, expected, atol=1e-5)
