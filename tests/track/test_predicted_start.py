"""The search's second start (estimate_pose_errors `starts`, TrackerConfig.predicted_start): where the last
frames' estimates put a body, kept only where its loss beats the twin's pose."""

import numpy as np
import pytest

import gwm.track.loop as loop
from gwm.track.config import TrackerConfig
from gwm.track.visual_forces import PoseErrorEstimate, estimate_pose_errors

from .helpers import BACKGROUND_RGB, demo_setup, render, still_tracker

# The tracker's defaults at the benchmark's size: 5 iterations of 4 mm steps reach 16 mm at most.
KW = dict(iterations=5, step=0.004, pyramid=(4, 8), background=BACKGROUND_RGB, render_backend="cpu",
          crop_margin=0.5)


@pytest.fixture(scope="module")
def tray_setup():
    scene, bodies, poses, cams, _ = demo_setup(num_cameras=1, width=160, height=120)
    k = 1 + scene.object_names.index("tray")
    movable = np.array([1, 2, 3])
    return bodies, poses, cams, movable, k, list(movable).index(k)


def _estimate(tray_setup, real_offset, predicted_offset):
    """The tray's estimated offset without and with a second start at predicted_offset (the other bodies
    get none), the real tray `real_offset` off the twin's pose in our own render."""
    bodies, poses, cams, movable, k, j = tray_setup
    real = poses.copy()
    real[k, :3] += real_offset
    observed = render(bodies, real, cams)
    starts = np.full((len(movable), 3), np.nan)
    starts[j] = predicted_offset
    without = estimate_pose_errors(bodies, poses, movable, cams, observed, **KW)
    with_start = estimate_pose_errors(bodies, poses, movable, cams, observed, starts=starts, **KW)
    return without, with_start


def test_a_body_moving_on_is_found_from_where_the_last_frames_put_it(tray_setup):
    # The tray pushed along -y, 22 mm off the twin (the 2-camera push's onset); the last frames' estimates,
    # which trail it, predict 19 mm. From the twin's pose the 4 mm steps cannot get there.
    real = np.array([0.0, -0.022, 0.0])
    without, with_start = _estimate(tray_setup, real, [0.0, -0.019, 0.0])
    j = tray_setup[5]
    err_without = np.linalg.norm(without.position[j] - real)
    err_with = np.linalg.norm(with_start.position[j] - real)
    # Measured: from the twin's pose 10.4 mm along -y and 8.6 down (the camera's ray), 14.5 mm off; from
    # the prediction 20.2 along -y, 2.2 mm off.
    assert err_without > 0.008
    assert err_with < 0.5 * err_without and err_with < 0.004
    # The losses at the twin's pose, which the tracker's trust is measured against, are the same.
    assert np.array_equal(without.body_loss_before, with_start.body_loss_before)
    assert with_start.loss_before == without.loss_before and with_start.loss_after < without.loss_after


def test_a_body_that_stopped_is_not_carried_on(tray_setup):
    j = tray_setup[5]
    # At rest where the twin has it, the prediction still carrying it on 10 mm: the twin's pose has the
    # lower loss, and the estimate is the one without the second start, bit for bit.
    without, with_start = _estimate(tray_setup, np.zeros(3), [0.0, -0.010, 0.0])
    assert np.array_equal(with_start.position, without.position)
    assert np.linalg.norm(with_start.position[j]) < 0.0015
    # Stopped 8 mm off the twin, the prediction 8 mm further on: whichever start wins, the search ends
    # near where the body stopped, not carried past it.
    real = np.array([0.0, -0.008, 0.0])
    without, with_start = _estimate(tray_setup, real, [0.0, -0.016, 0.0])
    err_without = np.linalg.norm(without.position[j] - real)
    assert np.linalg.norm(with_start.position[j] - real) < max(0.003, err_without + 0.001)
    assert with_start.position[j, 1] > real[1] - 0.003  # not beyond it along the motion


@pytest.mark.parametrize("on", [True, False])
def test_the_tracker_predicts_from_its_trusted_estimates(monkeypatch, demo_scene, on):
    # The real tray moves 8 mm per frame along -y (and, as one camera may read it, 2 mm down) while the twin
    # holds it still, then stops: the second start is where the last two frames' estimated positions put it
    # now (constant velocity), at the twin's height; none for two frames after an estimate that was not
    # trusted, and none while known forces move the body (the twin's physics predicts it).
    tracker = still_tracker(demo_scene, TrackerConfig(predicted_start=on))
    names, cams = tracker.twin.body_names, tracker.cameras
    tracker.floor = np.zeros(len(tracker.movable))  # as calibrated: a trusted estimate halves the loss
    k = names.index("tray")
    j = list(tracker.movable).index(1 + k)
    path = [(0.0, -0.008 * t, -0.002 * t) for t in range(7)] + [(0.0, -0.048, -0.012)] * 5
    lost, pushed = 4, (10, 11)
    starts = []  # the second starts the tracker passed, per frame

    def scripted(bodies, poses_, movable, *args, **kwargs):
        t = len(starts)
        starts.append(None if kwargs.get("starts") is None else np.array(kwargs["starts"]))
        position = np.zeros((len(movable), 3))
        position[j] = path[t]
        zeros = np.zeros_like(position)
        after = np.full(len(movable), 1.0 if t == lost else 0.5)  # frame `lost` explains nothing: not trusted
        return PoseErrorEstimate(bodies=np.asarray(movable), position=position, rotation=zeros, force=zeros,
                                 moment=zeros, loss_before=1.0, loss_after=float(after.sum()),
                                 body_loss_before=np.ones(len(movable)), body_loss_after=after)

    monkeypatch.setattr(loop, "estimate_pose_errors", scripted)
    frames = np.zeros((1, cams.height, cams.width, 3), np.uint8)
    for t in range(len(path)):
        known = np.zeros((len(names), 6))
        if t in pushed:
            known[k, 1] = -1.0  # a modelled push on the tray
        tracker.step(frames, known)
    if not on:
        assert all(s is None for s in starts)
        return
    assert starts[0] is None and starts[1] is None  # fewer than two frames seen
    for t in (2, 3, 4):
        assert np.allclose(starts[t][j], [0.0, -0.008 * t, 0.0])
    for t in (5, 6):  # frame 4 was not trusted
        assert np.all(np.isnan(starts[t][j]))
    assert np.allclose(starts[7][j], [0.0, -0.056, 0.0])  # carried on: the render's loss decides (above)
    for t in (8, 9):  # at rest: where it was
        assert np.allclose(starts[t][j], [0.0, -0.048, 0.0])
    for t in pushed:
        assert np.all(np.isnan(starts[t][j]))
    others = [i for i in range(len(tracker.movable)) if i != j]
    # Bodies seen where the twin has them: a start at the twin's pose (estimate_pose_errors renders nothing more).
    assert all(np.all(np.nan_to_num(s[others]) == 0) for s in starts[2:])


@pytest.mark.parametrize("twin_tray", ["standing", "tipped", "lifted"])
def test_a_body_the_twin_has_tipped_or_lifted_gets_no_second_start(monkeypatch, demo_scene, twin_tray):
    # Trusted estimates carry the tray on 8 mm a frame. Standing where it started, its second start is where they
    # put it; tipped over in the twin (15 deg) or lifted off its support (5 mm), none: the estimates of a body that
    # tumbles are read off sides the capture never saw: the workbench sample's heavier object, lying tipped over
    # and still in the twin, was read 20-40 mm off on successive frames, and the start carried on from them flung
    # it 294.6 mm off (111.9 without the start; 1 camera, stream seed 2).
    tracker = still_tracker(demo_scene, TrackerConfig(predicted_start=True))
    k = tracker.twin.body_names.index("tray")
    j = list(tracker.movable).index(1 + k)
    if twin_tray == "tipped":
        half = np.radians(15.0) / 2
        tracker.twin._poses[k, 3:] = [np.cos(half), np.sin(half), 0.0, 0.0]
    elif twin_tray == "lifted":
        tracker.twin._poses[k, 2] += 0.005
    tracker.floor = np.zeros(len(tracker.movable))  # as calibrated: a trusted estimate halves the loss
    starts = []

    def scripted(bodies, poses_, movable, *args, **kwargs):
        starts.append(kwargs.get("starts"))
        position = np.zeros((len(movable), 3))
        position[j] = (0.0, -0.008 * (len(starts) - 1), 0.0)
        zeros = np.zeros_like(position)
        return PoseErrorEstimate(bodies=np.asarray(movable), position=position, rotation=zeros, force=zeros,
                                 moment=zeros, loss_before=1.0, loss_after=0.5 * len(movable),
                                 body_loss_before=np.ones(len(movable)), body_loss_after=np.full(len(movable), 0.5))

    monkeypatch.setattr(loop, "estimate_pose_errors", scripted)
    frames = np.zeros((1, tracker.cameras.height, tracker.cameras.width, 3), np.uint8)
    for _ in range(5):
        tracker.step(frames)
    for t in (2, 3, 4):
        if twin_tray == "standing":
            assert np.allclose(starts[t][j], [0.0, -0.008 * t, 0.0])
        else:
            assert np.all(np.isnan(starts[t][j]))
