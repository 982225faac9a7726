"""The loop on the Newton twin against MuJoCo-rendered streams: determinism, correction, the CLI."""

import numpy as np
import pytest

from gwm.track.config import TrackerConfig
from gwm.track.loop import BACKGROUND, TrackInputError, Tracker, run_tracker
from sim_tasks.demo_scene import make_demo_scene, write_demo_scene_usd
from sim_tasks.real_streams import Push, Scenario, observing_cameras, record_real_stream, slide_push_force


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    from sim_tasks.newton_twin import NewtonTwin

    scene = make_demo_scene()
    usd = write_demo_scene_usd(tmp_path_factory.mktemp("scene") / "scene.usdz")
    twin = NewtonTwin(usd, fps=30, scene=scene)
    cams, specs = observing_cameras(scene, 2, 96, 72)
    tray = scene.object("tray")
    force = slide_push_force(tray.mass, tray.friction, 0.05, 0.3)
    scenario = Scenario("push", duration=0.9, unmodelled_pushes=(Push("tray", 0.05, 0.3, (force, 0.0, 0.0)),))
    stream = record_real_stream(scene, scenario, cams, specs, fps=30)
    canonical = {BACKGROUND: scene.background, **{o.name: o.splats for o in scene.objects}}
    return scene, usd, twin, cams, stream, canonical


def _run(setup, config, frames: int | None = None):
    scene, _, twin, cams, stream, canonical = setup
    twin.reset()
    tracker = Tracker(twin, canonical, cams, config)
    tracker.calibrate(stream.frames[0])
    return run_tracker(tracker, stream.frames[:frames], stream.known_wrenches[:frames])


@pytest.mark.slow
def test_loop_is_deterministic_and_pulls_the_pushed_body_back(setup):
    config = TrackerConfig(calibration_iterations=30)
    a = _run(setup, config)
    # Another run on the same twin in between, stopped mid-push with the tray sliding: reset() must leave
    # nothing of it behind, or a benchmark's figures would depend on what ran before.
    _run(setup, config, frames=8)
    b = _run(setup, config)
    assert np.array_equal(a.poses, b.poses) and np.array_equal(a.wrenches, b.wrenches)
    stream = setup[4]
    k = stream.body_names.index("tray")
    open_loop = _run(setup, TrackerConfig(iterations=0, calibration_iterations=0))
    err = lambda r: np.linalg.norm(r.poses[-1, k, :3] - stream.true_poses[-1, k, :3])  # noqa: E731
    assert err(open_loop) > 0.04  # the push moved it ~5 cm and the twin does not know
    assert err(a) < 0.5 * err(open_loop)  # pulled well back toward the truth within ~0.5 s of the push
    assert np.abs(a.wrenches[:, k, :3]).max() > 0  # the correction came from visual forces on the tray
    # Bodies nobody pushed stay put (within the twin-vs-MuJoCo settling of ~2 mm plus estimate noise).
    for j, name in enumerate(stream.body_names):
        if name != "tray":
            assert np.linalg.norm(a.poses[-1, j, :3] - stream.true_poses[-1, j, :3]) < 0.006


@pytest.mark.slow
def test_model_right_twin_is_left_alone(setup):
    # Physics as modelled (a known push slides the cube): the twin already matches its frames, so the
    # correction may add at most 2 mm to the open loop's error (issue 14; it added 8.4 mm before the
    # dead band). Another camera count and size than the benchmark's.
    scene, _, twin, cams, _, canonical = setup
    cube = scene.object("red_cube")
    force = slide_push_force(cube.mass, cube.friction, 0.05, 0.3)
    scenario = Scenario("right", duration=0.8, known_pushes=(Push("red_cube", 0.1, 0.3, (0.0, force, 0.0)),))
    stream = record_real_stream(scene, scenario, cams, (), fps=30)

    def max_error(config):
        twin.reset()
        tracker = Tracker(twin, canonical, cams, config)
        tracker.calibrate(stream.frames[0])
        res = run_tracker(tracker, stream.frames, stream.known_wrenches)
        return np.linalg.norm(res.poses[..., :3] - stream.true_poses[..., :3], axis=-1).max()

    open_loop = max_error(TrackerConfig(iterations=0, calibration_iterations=0))
    corrected = max_error(TrackerConfig(calibration_iterations=30))
    assert open_loop < 0.004  # the twin and the "real" MuJoCo world agree to a few mm
    assert corrected <= open_loop + 0.002, (corrected, open_loop)


def test_frames_that_do_not_fit_the_cameras(setup):
    scene, _, twin, cams, stream, canonical = setup
    tracker = Tracker(twin, canonical, cams, TrackerConfig(calibration_iterations=0))
    with pytest.raises(TrackInputError, match="1 frames for 2 cameras"):
        tracker.step(stream.frames[0][:1])
    with pytest.raises(TrackInputError, match="frames are 48x72 but the cameras are 96x72"):
        tracker.step(stream.frames[0][:, :, :48])
    with pytest.raises(TrackInputError, match="not bodies of the scene"):
        Tracker(twin, canonical, cams, TrackerConfig(correct_bodies=("mug",)))


@pytest.mark.slow
def test_cli_writes_dataset_and_overlay(setup, tmp_path):
    from typer.testing import CliRunner

    from pipelines.cli_main import app
    from gwm.data.api import open_dataset
    from gwm.track.stream import write_stream

    scene, usd, _, _, stream, _ = setup
    write_stream(tmp_path / "frames", stream.frames[:8], stream.camera_specs, fps=30)
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["track", str(usd), str(tmp_path / "frames"), "--cameras",
                                      str(tmp_path / "frames" / "cameras.json"), "--out", str(out),
                                      "--calibration-iterations", "10", "--format", "hdf5"])
    assert result.exit_code == 0, result.output
    ds = open_dataset(out / "dataset")
    ep = ds.episode(0)
    assert ep["observation.body_poses"].shape == (8, 4, 7)
    assert ds.body_names == ("background", *scene.object_names)
    assert ds.body_roles["tray"] == "container"
    np.testing.assert_allclose(ep["observation.body_poses"][0, 1:, :3], stream.true_poses[0, :, :3], atol=3e-3)
    assert len(ds.gaussians_at(0, 3)) == len(scene.world_splats())
    assert (out / "overlay.mp4").stat().st_size > 1000


def test_downward_errors_slide_along_the_camera_ray(setup):
    # A body pressed into its support only gains friction: a downward error estimate becomes the
    # horizontal one that the cameras see the same way (moved along their mean viewing ray).
    _, _, twin, cams, _, canonical = setup
    tracker = Tracker(twin, canonical, cams, TrackerConfig(calibration_iterations=0))
    poses = tracker.all_poses()
    down = np.zeros((len(tracker.movable), 3))
    down[0] = (0.004, -0.002, -0.01)
    out = tracker._lift_out_of_support(down, poses)
    assert abs(out[0, 2]) < 1e-12 and np.linalg.norm(out[0, :2] - down[0, :2]) > 0.002
    rays = poses[tracker.movable[0], :3] - cams.world_from_cam[:, :3, 3].double().numpy()
    ray = (rays / np.linalg.norm(rays, axis=1, keepdims=True)).mean(0)
    assert np.linalg.norm(np.cross(out[0] - down[0], ray)) < 1e-9
    np.testing.assert_array_equal(out[1:], down[1:])
    up = -down
    np.testing.assert_array_equal(tracker._lift_out_of_support(up, poses), up)  # a lift is left as seen


@pytest.mark.slow
def test_a_body_that_looks_unlike_its_gaussians_is_not_pushed(setup):
    # A resting body whose look changes in a way no pose explains (here a brightness ramp across it,
    # as light on a face that turned toward a lamp; on the workbench sample a tipping bottle read as
    # 8-14 mm and 9-12 deg off while the twin was exactly right): its estimate removes a small share of
    # its window's excess loss, so it gets no visual force and the twin runs as it would open loop.
    # Without the guard the same frames do push it. A body that really is off still gets pulled.
    import torch

    from gwm.render import rasterize
    from gwm.splats import GaussianSplats, rgb_to_sh_dc
    from gwm.track.bodies import BodyGaussians

    scene, _, twin, cams, _, canonical = setup
    names = ("background", *scene.object_names)
    roles = ["background"] + [o.role for o in scene.objects]

    def frames(canon, offset=None):
        poses = np.stack([[0, 0, 0, 1.0, 0, 0, 0]] + [pose7(o) for o in scene.objects])
        if offset is not None:
            poses[1 + offset[0], :3] += offset[1]
        with torch.no_grad():
            rgb = rasterize(BodyGaussians(canon, names, roles).posed(poses), cams,
                            background=torch.tensor([0.5, 0.5, 0.5]), backend="cpu").rgb
        return torch.stack([rgb] * 12)

    def pose7(o):
        from gwm.geometry import matrix_to_pose7

        return matrix_to_pose7(o.world_from_body.numpy())

    k = scene.object_names.index("tray")
    s = canonical["tray"]
    y = s.means[:, 1]
    ramp = ((y - y.min()) / (y.max() - y.min()))[:, None]
    sh = s.sh.clone()
    sh[:, 0] = rgb_to_sh_dc((s.rgb_dc + 0.5 * ramp).clamp(0, 1))
    lit = frames({**canonical, "tray": GaussianSplats(s.means, s.quats_wxyz, s.log_scales, s.logit_opacities, sh)})

    def run(config, stream):
        twin.reset()
        tracker = Tracker(twin, canonical, cams, config)
        tracker.calibrate(frames(canonical)[0])
        return run_tracker(tracker, stream)

    open_loop = run(TrackerConfig(iterations=0, calibration_iterations=0), lit)
    guarded = run(TrackerConfig(calibration_iterations=0), lit)
    assert np.abs(guarded.wrenches[:, k]).max() == 0
    np.testing.assert_array_equal(guarded.poses, open_loop.poses)
    unguarded = run(TrackerConfig(calibration_iterations=0, explained_min=0.0), lit)
    assert np.abs(unguarded.wrenches[:, k, :3]).max() > 0.1  # the mismatch alone pushes without the guard
    # A real 1.5 cm shift of the tray is explained by its estimate: pulled toward it as without the guard.
    shift = frames(canonical, (k, np.array([0.015, 0.0, 0.0])))
    shifted = run(TrackerConfig(calibration_iterations=0), shift)
    free = run(TrackerConfig(calibration_iterations=0, explained_min=0.0), shift)
    assert shifted.wrenches[0, k, 0] > 0.1
    assert shifted.poses[-1, k, 0] - open_loop.poses[-1, k, 0] > 0.003
    np.testing.assert_allclose(shifted.poses[:, k, :3], free.poses[:, k, :3], atol=5e-4)
