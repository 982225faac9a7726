"""The test bed's true errors (RealStream.true_errors), which the tracking benchmark feeds the control law in place
of the search's estimates to measure the law on its own (benchmarks/tracking.py, "exact errors")."""

from dataclasses import replace

import numpy as np
import torch

from gwm.geometry import quat_multiply, quat_to_rotmat
from gwm.track.bodies import rotvec_to_quat, so3_exp
from gwm.track.loop import BACKGROUND, Tracker, run_tracker
from sim_tasks.real_streams import RealStream, Scenario, observing_cameras, record_real_stream, standard_scenarios


def _stream(true_poses: np.ndarray, present: np.ndarray) -> RealStream:
    return RealStream(Scenario("given"), 30.0, ("a", "b"), None, (), np.zeros((1, 1, 1, 1, 3), np.uint8),
                      true_poses[None], np.zeros((1, 2, 6)), present[None])


def test_the_true_error_is_the_rigid_offset_about_the_com_that_puts_a_body_where_it_truly_is():
    # The twin holds body "b" turned and off; the truth is that pose turned by `turn` about its COM and shifted
    # by `shift`. The error the tracker's law takes is that turn (world frame) and shift, as the search's
    # estimates are (gwm.track.bodies.offset_bodies turns about the COM, then shifts).
    twin_quat = np.array([0.9, 0.1, -0.3, 0.2])
    twin_quat /= np.linalg.norm(twin_quat)
    twin = np.array([[0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0], [0.3, -0.2, 0.1, *twin_quat]])
    com = np.array([[0.0, 0.0, 0.0], [0.02, -0.01, 0.03]])
    turn, shift = np.array([0.1, -0.2, 0.3]), np.array([0.004, -0.007, 0.002])
    r_turn, r_twin = so3_exp(torch.tensor(turn)[None])[0].numpy(), quat_to_rotmat(twin_quat)
    com_twin = r_twin @ com[1] + twin[1, :3]
    true = twin.copy()
    true[1, 3:] = quat_multiply(rotvec_to_quat(torch.tensor(turn)[None])[0].numpy(), twin_quat)
    true[1, :3] = com_twin + shift - r_turn @ r_twin @ com[1]
    stream = _stream(true, np.array([True, True]))
    position, rotation = stream.true_errors(0, ["b", "a"], twin[[1, 0]], com[[1, 0]])
    np.testing.assert_allclose(position, [shift, [0.0, 0.0, 0.0]], atol=1e-9)
    np.testing.assert_allclose(rotation, [turn, [0.0, 0.0, 0.0]], atol=1e-9)
    # Where the twin has it right: no error; a body taken out of the scene: none either.
    position, rotation = stream.true_errors(0, ["b"], true[[1]], com[[1]])
    assert np.abs(position).max() < 1e-12 and np.abs(rotation).max() < 1e-9
    gone = _stream(true, np.array([True, False]))
    position, rotation = gone.true_errors(0, ["b"], twin[[1]], com[[1]])
    assert not position.any() and not rotation.any()


def test_the_law_fed_the_true_errors_follows_the_unmodelled_push_within_a_centimetre(demo_scene, scene_usd):
    # The benchmark's exact-errors run: the tracker with the true errors in place of the search's estimates,
    # nothing rendered. On the demo's unmodelled push (160x120, 1 camera) it stays 7.5 mm from the tray at
    # most (measured; the search's run 7.1 at stream seed 0) where the open loop ends 60.6 mm off.
    from benchmarks.tracking import exact_errors_tracker, search_errors
    from sim_tasks.newton_twin import NewtonTwin

    push = {s.name: s for s in standard_scenarios(demo_scene, duration=2.0)}["unmodelled_push"]
    cams, specs = observing_cameras(demo_scene, 1, 160, 120)
    stream = record_real_stream(demo_scene, push, cams, specs, fps=30)
    twin = NewtonTwin(scene_usd, fps=30, scene=demo_scene)
    canonical = {BACKGROUND: demo_scene.background, **{o.name: o.splats for o in demo_scene.objects}}
    tracker = exact_errors_tracker(stream)(twin, canonical, cams)
    result = run_tracker(tracker, stream.frames)
    k = stream.body_names.index(push.unmodelled_pushes[0].body)
    b = twin.body_names.index(push.unmodelled_pushes[0].body)
    off = np.linalg.norm(result.poses[:, b, :3] - stream.true_poses[:, k, :3], axis=1)
    assert off.max() < 0.0085
    assert off[-5:].max() < 0.003  # at rest by the real tray
    # The benchmark's search error (the estimate against the true error, horizontally): none here, and an estimate 3 mm
    # off along x and 2 mm up reads as 3 mm on every body at every frame, wherever that sends the twin.
    np.testing.assert_allclose(search_errors(stream, tracker, result), 0.0, atol=1e-6)

    class OffTracker(exact_errors_tracker(stream)):
        def _estimate(self, *args):
            estimate = super()._estimate(*args)
            return replace(estimate, position=estimate.position + [0.003, 0.0, 0.002])

    twin.reset()
    off_tracker = OffTracker(twin, canonical, cams)
    np.testing.assert_allclose(search_errors(stream, off_tracker, run_tracker(off_tracker, stream.frames)), 3.0,
                               atol=1e-6)
    twin.reset()
    open_loop = run_tracker(Tracker(twin, canonical, cams, replace(tracker.config, iterations=0)), stream.frames)
    assert np.linalg.norm(open_loop.poses[-1, b, :3] - stream.true_poses[-1, k, :3]) > 0.05
