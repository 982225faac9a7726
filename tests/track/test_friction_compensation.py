"""Friction compensation (Tracker._friction_compensation) on the Newton twin, with the pose errors given
(estimate_pose_errors replaced by the true offset of a scripted "real" body): no rendering involved."""

import numpy as np
import pytest

import gwm.track.loop as loop
from gwm.track.config import TrackerConfig
from gwm.track.loop import BACKGROUND, Tracker
from gwm.track.visual_forces import PoseErrorEstimate
from sim_tasks.real_streams import observing_cameras

from .helpers import still_tracker


@pytest.fixture(scope="module")
def twin_setup(demo_scene, scene_usd):
    from sim_tasks.newton_twin import NewtonTwin

    twin = NewtonTwin(scene_usd, fps=30, scene=demo_scene)
    cams, _ = observing_cameras(demo_scene, 1, 160, 120)  # a pixel: 5.7 mm at the tray
    canonical = {BACKGROUND: demo_scene.background, **{o.name: o.splats for o in demo_scene.objects}}
    return demo_scene, twin, cams, canonical


def _follow(twin_setup, monkeypatch, real_path, config, known=None):
    """Run the tracker with the tray's true offset as its estimate; real_path(t) -> the real tray's xyz.
    Returns the twin's tray positions (T,3) and the compensation's size per step (T,)."""
    scene, twin, cams, canonical = twin_setup
    twin.reset()
    tracker = Tracker(twin, canonical, cams, config)
    k = twin.body_names.index("tray")
    j = list(tracker.movable).index(k + 1)
    frame = {"t": 0}

    def oracle(bodies, poses, movable, *args, **kwargs):
        position = np.zeros((len(movable), 3))
        position[j] = real_path(frame["t"]) - poses[k + 1, :3]
        zeros = np.zeros_like(position)
        return PoseErrorEstimate(bodies=np.asarray(movable), position=position, rotation=zeros, force=zeros,
                                 moment=zeros, loss_before=0.0, loss_after=0.0)

    monkeypatch.setattr(loop, "estimate_pose_errors", oracle)
    frames = np.zeros((1, cams.height, cams.width, 3), np.uint8)
    out, comp = [], []
    for t in range(40):
        frame["t"] = t
        step = tracker.step(frames, None if known is None else known(t))
        out.append(step.poses[k, :3])
        applied = step.wrenches[k, :3] / tracker.masses[k]
        comp.append(np.linalg.norm(applied - tracker._law[j, :3]))
    return np.array(out), np.array(comp)


def _tray_at_rest(twin):
    """The tray's position in the scene (the twin reset: an earlier test left it where it tracked to)."""
    twin.reset()
    return twin.body_poses()[twin.body_names.index("tray"), :3].copy()


def _pushed(start, decel=None):
    """The real tray pushed along -y at 0.3 m/s from frame 5 to 20, then at rest at once (decel None) or slowing at
    decel (m/s^2) to rest."""
    def path(t):
        s = max((t - 5) / 30, 0.0)
        d = 0.3 * min(s, 0.5)
        if decel is not None and s > 0.5:
            u = min(s - 0.5, 0.3 / decel)
            d += 0.3 * u - 0.5 * decel * u * u
        return start - np.array([0.0, d, 0.0])
    return path


def _pushed_from_rest(start):
    """The benchmark's unmodelled push: the real tray at 0.7 m/s^2 along -y for 0.4 s from frame 5, then braked by
    friction 1 to rest."""
    def path(t):
        s, a, tau = max((t - 5) / 30, 0.0), 0.7, 0.4
        d = 0.5 * a * min(s, tau) ** 2
        if s > tau:
            u = min(s - tau, a * tau / 9.81)
            d += a * tau * u - 0.5 * 9.81 * u * u
        return start - np.array([0.0, d, 0.0])
    return path


def test_a_pushed_body_is_followed_closer_with_its_friction_added_back(twin_setup, monkeypatch):
    # The tray (friction 1), held by the twin's friction, lags a body pushed at 0.3 m/s even with the
    # true error fed to the law; with the twin's measured friction added back while the frames show the
    # body moving, the lag shrinks, and the twin still comes to rest by the real body once it stops.
    start = _tray_at_rest(twin_setup[1])
    path = _pushed(start)
    truth = np.array([path(t) for t in range(40)])
    on, comp_on = _follow(twin_setup, monkeypatch, path, TrackerConfig())
    off, comp_off = _follow(twin_setup, monkeypatch, path, TrackerConfig(friction_compensation=0.0))
    lag_on = np.linalg.norm(on - truth, axis=1)
    lag_off = np.linalg.norm(off - truth, axis=1)
    assert comp_off.max() < 1e-9 and comp_on.max() > 1.0  # m/s^2: it acted
    # While pushed (frames 6-21): 9.4 mm behind on average without, 3.4 with (measured; 7.3 while the
    # kinetic friction was added only while the twin was slower than the frames showed, 8.2 before the
    # static friction was known); the first frames' lag is the law's one-frame delay either way.
    assert lag_on[6:22].mean() < 0.5 * lag_off[6:22].mean()
    assert lag_on[-5:].max() < 0.005  # settled on the real body after the push
    assert comp_on[-5:].max() < 1e-9  # nothing once the frames show it at rest


def test_a_body_pushed_from_rest_breaks_the_twin_away_from_its_static_friction_at_once(twin_setup, monkeypatch):
    # The benchmark's unmodelled push: 0.7 m/s^2 for 0.4 s, then braked by friction 1. With the twin's
    # static friction (mu g) added from the first frame that shows the tray moving, the twin breaks away
    # two frames earlier (frame 10 against 12, measured) and lags at most 8.4 mm against 14.7 without
    # (10.0 with the kinetic friction added only while the twin was slower than the frames showed).
    start = _tray_at_rest(twin_setup[1])
    path = _pushed_from_rest(start)
    truth = np.array([path(t) for t in range(40)])
    on, comp = _follow(twin_setup, monkeypatch, path, TrackerConfig())
    off, _ = _follow(twin_setup, monkeypatch, path, TrackerConfig(friction_compensation=0.0))
    first = np.flatnonzero(comp > 1e-9)[0]
    assert np.linalg.norm(on[first, :2] - start[:2]) < 1e-4 and comp[first] == pytest.approx(9.81, abs=0.05)
    moves_on, moves_off = (int(np.argmax(np.linalg.norm(x - start, axis=1) > 0.001)) for x in (on, off))
    assert moves_on < moves_off
    lag_on, lag_off = (np.linalg.norm(x - truth, axis=1) for x in (on, off))
    assert lag_on.max() < 0.0095 < lag_off.max()
    # At rest within the dead band (half a pixel, 2.9 mm at the tray) of where the real one stopped: 2.9 mm
    # (measured; 0.3 mm when it trailed the tray into the stop, now it passes the stop by the frame's delay).
    assert lag_on[-5:].max() < 0.0035


def test_a_push_whose_first_frames_are_not_trusted_breaks_the_twin_away_at_its_first_trusted_frame(
        twin_setup, monkeypatch):
    # The push of the test above, its estimates not trusted until the tray is 3 mm off (as a push's first frames on
    # the samples: a fraction of a pixel, with a shadow and uncovered support the estimate cannot explain). The
    # untrusted frames count as the tray where the twin holds it (the law took no error from them), so the first
    # trusted one, 3.5 mm off, shows it moving and its static friction is compensated at once (frame 8; lag 5.4 mm
    # at most over the onset, measured). Waiting for two trusted frames, it broke away a frame later (frame 9, when
    # the error passed the dead band by rest_offset_px: 6.2 mm).
    start = _tray_at_rest(twin_setup[1])
    path = _pushed_from_rest(start)
    monkeypatch.setattr(Tracker, "confidence",
                        lambda self, estimate: (np.linalg.norm(estimate.position, axis=1) > 0.003).astype(float))
    _, comp = _follow(twin_setup, monkeypatch, path, TrackerConfig())
    first_trusted = next(t for t in range(40) if np.linalg.norm(path(t) - start) > 0.003)
    assert first_trusted == 8 and np.flatnonzero(comp > 1e-9)[0] == first_trusted


def test_a_body_the_law_drives_slides_with_the_real_one_instead_of_sticking_and_slipping(twin_setup, monkeypatch):
    # The real tray pushed at a steady 0.3 m/s. Sliding, the twin's kinetic friction is compensated for as long
    # as the law keeps it moving, the law's velocity term is corrected for the force held over the last frame
    # (without that correction the frictionless twin oscillated, 10-14 mm either side), and its position term
    # is the error before the dead band: the twin slides at the real speed, 0.29-0.31 m/s over frames 9-20,
    # within 1.3 mm of the real tray (measured; 2.9 mm, the band's width at the tray, when the position term was
    # dead-banded). Before friction was compensated, it went in spurts of 0.01-0.65 m/s, its friction stopping
    # it whenever it caught up, up to 14 mm behind.
    # (From frame 20 the real tray is at rest and the twin brakes: the next test.) A frame in which the twin leads the
    # tray by a fraction of a millimetre leaves that share of its friction to act (its lead over mu g T^2 / 2; the
    # test after next): 0.28-0.34 m/s, within 0.7 mm (measured; 0.29-0.31 and 1.3 mm when all of it was compensated
    # until the twin led by the dead band).
    start = _tray_at_rest(twin_setup[1])
    path = _pushed(start)
    on, _ = _follow(twin_setup, monkeypatch, path, TrackerConfig())
    speed = np.linalg.norm(np.diff(on[:, :2], axis=0), axis=1) * 30  # m/s between frames
    assert speed[9:20].min() > 0.28 and speed[9:20].max() < 0.34
    truth = np.array([path(t) for t in range(40)])
    lag = np.linalg.norm(on - truth, axis=1)
    assert lag[9:21].max() < 0.002


def test_a_twin_that_passes_a_stopping_body_keeps_its_friction(twin_setup, monkeypatch):
    # The real tray, pushed at 0.3 m/s, stops dead at frame 20. The twin sliding with it passes it by the law's
    # frame of delay (10 mm at 0.3 m/s); once the error puts the tray behind the twin (beyond the dead band) its
    # kinetic friction is no longer compensated and helps the law brake it: 11.2 mm past the stop at most
    # (measured: the law turns the twin back within the step, and friction then works against it), against
    # 13.0 when it was compensated for as long as the law's step alone kept the twin moving. (7.6 while the law's
    # position term was dead-banded: that twin slid 2.9 mm ahead of the tray, inside the band, and had lost its
    # compensation a frame before the stop.) The law's velocity term after that braking step is corrected by what
    # the twin did over it (Tracker.visual_wrenches): the twin comes back to the stop in two frames and stays there,
    # 0.6 mm off (measured). Corrected only after steps whose friction was compensated, it rang about the stop, 6.1
    # and 5.4 mm either side, the compensation on and off on alternate steps, until three frames at rest agreed on
    # the rest (Tracker._held_off).
    start = _tray_at_rest(twin_setup[1])
    path = _pushed(start)
    truth = np.array([path(t) for t in range(40)])
    on, comp = _follow(twin_setup, monkeypatch, path, TrackerConfig())
    past = truth[:, 1] - on[:, 1]  # m the twin is further along the push (-y) than the real tray
    assert comp[6:20].min() > 8.5  # the slide itself: compensated throughout (less a twin's lead of a hair: 8.9)
    assert np.abs(past[21:]).max() < 0.012  # past the stop
    assert np.abs(past[24:]).max() < 0.001  # back by the real one two frames later, no ring


def test_a_twin_that_leads_a_slowing_body_leaves_its_friction_to_act_as_far_as_it_leads(twin_setup, monkeypatch):
    # The real tray, pushed at 0.3 m/s, slows at 1 m/s^2 to rest (a tenth of its friction: the push eases off). The
    # twin that leads it by less than the dead band (2.9 mm at the tray) leaves as much of its friction to act as
    # takes it back by that lead over a frame: 3.0 mm off at most after the onset (measured). With all of it
    # compensated until the twin led by the band, the twin ran on ahead: 5.5 mm; with none as soon as it led at all,
    # it went in spurts on the steady push before (README, stop 42).
    start = _tray_at_rest(twin_setup[1])
    path = _pushed(start, decel=1.0)
    truth = np.array([path(t) for t in range(40)])
    on, comp = _follow(twin_setup, monkeypatch, path, TrackerConfig())
    lag = np.linalg.norm(on - truth, axis=1)
    assert lag[8:].max() < 0.004
    assert 0.0 < comp[20:29].min() < 9.0  # while it slows: part of its friction acting, not all, not none


def _untrusted_from(frame: int, monkeypatch) -> list:
    """Trust 0 from `frame` on (as when the kitchen sample's bowl showed a side the capture never saw); returns
    the list the tray's law (its acceleration before compensation) is appended to at each frame."""
    laws = []
    trusted, law_of = Tracker.confidence, Tracker.visual_wrenches

    def confidence(self, estimate):
        return trusted(self, estimate) * (0.0 if len(laws) >= frame else 1.0)

    def visual_wrenches(self, estimate, poses):
        out = law_of(self, estimate, poses)
        laws.append(self._law[list(self.movable).index(self.twin.body_names.index("tray") + 1), :3].copy())
        return out

    monkeypatch.setattr(Tracker, "confidence", confidence)
    monkeypatch.setattr(Tracker, "visual_wrenches", visual_wrenches)
    return laws


def test_a_sliding_body_found_where_the_twin_holds_it_is_followed_untrusted(twin_setup, monkeypatch):
    # From frame 12, while the twin slides the tray, no frame is trusted, but each finds the tray within the
    # dead band of where the twin holds it (Tracker._found_where_moved): the law takes those estimates, and the
    # twin slides on with the real tray, 1.2 mm off at most (measured). Taken at their trust alone (0), the law
    # left the twin to its friction: it stopped and was 75 mm behind when the real tray stopped.
    start = _tray_at_rest(twin_setup[1])
    path = _pushed(start)
    _untrusted_from(12, monkeypatch)
    on, _ = _follow(twin_setup, monkeypatch, path, TrackerConfig())
    truth = np.array([path(t) for t in range(40)])
    assert np.linalg.norm(on - truth, axis=1)[12:21].max() < 0.002


def test_a_sliding_body_whose_estimates_lose_all_trust_gets_no_ringing_push(twin_setup, monkeypatch):
    # From frame 12 no frame is trusted and each reads the tray 3 cm on from where it is (not where the twin holds
    # it). The law is then the integral's alone, the same every frame: the velocity term is weighted by what the
    # law takes of both frames' estimates. (Unweighted it pushed on its own: -6.3 m/s^2 against the integral's
    # -0.6 here, and on the kitchen's bowl, kept sliding by it, each step -0.75 times the last, flinging it at
    # 0.3-0.7 m/s.)
    start = _tray_at_rest(twin_setup[1])
    pushed = _pushed(start)
    laws = _untrusted_from(12, monkeypatch)
    _follow(twin_setup, monkeypatch, lambda t: pushed(t) - np.array([0.0, 0.03 if t >= 12 else 0.0, 0.0]),
            TrackerConfig())
    laws = np.array(laws)
    assert np.abs(laws[8:12]).max() > 1.0  # the law was at work before
    assert np.ptp(laws[12:20], axis=0).max() < 0.01 and np.abs(laws[12:20]).max() < 1.0


def test_static_friction_is_compensated_as_far_as_the_estimate_is_trusted(twin_setup, monkeypatch):
    # The law is scaled by the trust in each estimate (Tracker.confidence); so is the static friction
    # added to it: a half-trusted estimate of a pushed tray gets half of mu g.
    start = _tray_at_rest(twin_setup[1])
    monkeypatch.setattr(Tracker, "confidence", lambda self, estimate: np.full(len(self.movable), 0.5))
    _, comp = _follow(twin_setup, monkeypatch, _pushed(start), TrackerConfig())
    first = np.flatnonzero(comp > 1e-9)[0]
    assert comp[first] == pytest.approx(0.5 * 9.81, abs=0.05)


@pytest.mark.parametrize("offset, without", [(0.002, dict(friction_compensation=0.0)), (0.004, dict(rest_reads=0))])
def test_a_body_seen_at_rest_near_where_the_twin_started_it_keeps_its_friction(twin_setup, monkeypatch, offset,
                                                                               without):
    # A constant offset could be the estimate's bias: no compensation, and the twin's friction holds the tray
    # where it stands, as without compensation. 2 mm: within the dead band (half a pixel, 2.9 mm at the tray).
    # 4 mm: beyond it, but where the twin still holds the tray as it started, where its appearance was fitted;
    # three frames agreeing on it do not move it (Tracker._held_off takes up only bodies the twin moved; for
    # every still body the kitchen sample's tall object, read 3.9 mm off, was kicked and rocked 10.6 deg), as
    # with rest_reads 0. (Not to the last digit: the law's velocity term of a body it drives differs by
    # micrometres when friction is compensated.)
    scene, twin, _, _ = twin_setup
    start = _tray_at_rest(twin)
    path = lambda t: start + np.array([0.0, offset, 0.0])  # noqa: E731
    on, comp = _follow(twin_setup, monkeypatch, path, TrackerConfig())
    off, _ = _follow(twin_setup, monkeypatch, path, TrackerConfig(**without))
    assert comp.max() < 1e-9
    assert np.abs(on[:, :2] - start[:2]).max() < 1e-4
    np.testing.assert_allclose(on, off, atol=1e-4)


def test_a_twin_held_over_a_pixel_off_a_body_at_rest_is_slid_to_it(twin_setup, monkeypatch):
    # The frames show the tray at rest 8 mm from the twin's (as after a twin overshot a pushed body that
    # stopped): the law alone cannot beat the twin's static friction (mu g T^2 = 1.1 cm of error at mu 1),
    # so without the compensation the twin sticks 6.2 mm off (measured). With its static friction compensated
    # the twin slides to it, the law taking the error before the dead band while it slides the twin: 0.4 mm off
    # (measured, with or without Tracker._held_off; while that error was dead-banded the twin stopped within a
    # pixel, 3.6 mm off, until three frames seen at rest agreed on the rest: 0.3 mm; that rule's own test is
    # test_three_frames_seen_at_rest_take_up_the_offset_of_a_body_the_twin_moved).
    scene, twin, _, _ = twin_setup
    start = _tray_at_rest(twin)
    goal = start + np.array([0.0, 0.008, 0.0])
    on, comp = _follow(twin_setup, monkeypatch, lambda t: goal, TrackerConfig())
    off, _ = _follow(twin_setup, monkeypatch, lambda t: goal, TrackerConfig(friction_compensation=0.0))
    assert np.linalg.norm(off[-1] - goal) > 0.0045  # without the compensation: 6.2 mm (measured)
    assert np.linalg.norm(on[-1] - goal) < 0.001
    assert comp[0] > 9.0 and comp[-20:].max() < 1e-9  # m/s^2: about mu g at once, nothing at the end


def _held_reads(demo_scene, moved: float, reads_mm) -> list[tuple[bool, float]]:
    """Tracker._held_off on the tray, held still by the twin `moved` metres along y from where it started, on
    frames that show it still and read it reads_mm (x offsets, trusted): (held, offset in mm) per frame."""
    tracker = still_tracker(demo_scene, TrackerConfig())
    j = list(tracker.movable).index(1 + tracker.twin.body_names.index("tray"))
    poses = tracker.all_poses()
    poses[tracker.movable[j], 1] += moved
    com = tracker._com_positions(poses)
    tracker._still = np.ones(len(tracker.movable), bool)
    out = []
    for mm in reads_mm:
        position = np.zeros((len(tracker.movable), 3))
        position[j, 0] = mm / 1000
        held, off = tracker._held_off(position, np.ones(len(tracker.movable)), com, poses)
        out.append((bool(held[j]), float(off[j, 0]) * 1000))
    return out


def test_three_frames_seen_at_rest_take_up_the_offset_of_a_body_the_twin_moved(demo_scene):
    # The dead band (2.9 mm at the tray) is for one frame's noise: three frames that agree within it while
    # nothing moves, on average beyond it, are taken up whole, once (the reads start again after).
    got = _held_reads(demo_scene, 0.02, [4.0, 4.6, 3.4, 4.0, 4.0])
    assert [h for h, _ in got] == [False, False, True, False, False]
    assert got[2][1] == pytest.approx(4.0, abs=1e-6)
    # Reads that disagree by more than the band (a push's first frame among them) are not taken up.
    assert not any(h for h, _ in _held_reads(demo_scene, 0.02, [1.0, 4.0, 8.0, 1.0, 8.0]))
    # Nor a body still where it started (where its appearance was fitted: the offset may be the read's bias).
    assert not any(h for h, _ in _held_reads(demo_scene, 0.0, [4.0, 4.0, 4.0, 4.0]))


def test_without_a_search_the_twin_gets_no_visual_force_whatever_an_estimate_says(twin_setup, monkeypatch):
    # iterations 0 is the open loop the benchmark compares against. (A law term that read the twin's own motion
    # pushed, on the kitchen sample, a body the open-loop twin's friction slowed: 250 mm, model right, seed 0.)
    start = _tray_at_rest(twin_setup[1])
    laws = _untrusted_from(100, monkeypatch)  # records the law; every frame trusted
    on, comp = _follow(twin_setup, monkeypatch, _pushed(start), TrackerConfig(iterations=0, calibration_iterations=0))
    assert not laws and comp.max() == 0.0
    assert np.abs(on[:, :2] - start[:2]).max() < 1e-4


def test_a_body_a_contact_sets_sliding_is_not_the_laws(twin_setup, monkeypatch):
    # Something the tracker is not told of (a neighbour tipping into it) slides the tray 34 mm, in the twin as in
    # the real world; the estimates read it 2 mm off throughout (within the dead band, 2.9 mm at the tray: a
    # bias). The law did not set it sliding, so its error stays dead-banded and the twin slides as the real tray
    # (no force: measured). Taken before the band, as for a body the law slides, the twin was driven 11.2 mm off
    # (measured); on the kitchen sample such a bowl, nudged by the pushed tall object, 6.7-11.6 mm.
    scene, twin, _, _ = twin_setup
    k = twin.body_names.index("tray")
    own_step, frame = twin.step, {"t": 0}

    def knocked(wrenches):
        w = np.array(wrenches, np.float64)
        if 5 <= frame["t"] <= 8:
            w[k, 0] += 1.3 * float(twin.mass_properties()[0][k]) * 9.81  # 1.3 g along x (friction 1 g)
        frame["t"] += 1
        own_step(w)

    monkeypatch.setattr(twin, "step", knocked)
    start = _tray_at_rest(twin)
    frame["t"] = 0
    real, _ = _follow(twin_setup, monkeypatch, lambda t: start, TrackerConfig(iterations=0, calibration_iterations=0))
    frame["t"] = 0
    on, _ = _follow(twin_setup, monkeypatch, lambda t: real[min(t, len(real) - 1)] + np.array([0.002, 0.0, 0.0]),
                    TrackerConfig())
    assert np.linalg.norm(real[-1] - start) > 0.02  # it slid
    assert np.linalg.norm(on - real, axis=1).max() < 0.001


def test_a_body_slid_by_known_forces_keeps_its_friction(twin_setup, monkeypatch):
    # The twin's tray slid by a known push while the frames show it sliding further (a slipperier real
    # body): its friction is the model's, and the law alone corrects it (cancelling it flung the
    # demo's slipperier cube past the real one).
    scene, twin, _, _ = twin_setup
    k = twin.body_names.index("tray")
    start = _tray_at_rest(twin)
    path = _pushed(start)
    push = np.zeros((len(twin.body_names), 6))
    push[k, 1] = -2.5 * twin.mass_properties()[0][k] * 9.81  # beats friction 1 from rest

    def known(t):
        return push if 3 <= t < 20 else np.zeros_like(push)

    on, comp = _follow(twin_setup, monkeypatch, path, TrackerConfig(), known=known)
    off, _ = _follow(twin_setup, monkeypatch, path, TrackerConfig(friction_compensation=0.0), known=known)
    assert comp[:20].max() < 1e-9
    # (within 0.01 mm, not to the last digit: at rest before the push the law's velocity term differs by less)
    np.testing.assert_allclose(on[:20], off[:20], atol=1e-5)


def test_bodies_the_twin_holds_at_rest_reach_while_seen_moving_and_are_searched_upright_once_seen_at_rest(
        twin_setup, monkeypatch):
    # A body the twin holds at rest while the frames show it moving (pushed away by what the model does
    # not know) may reach; once the frames show it at rest too it is searched for a shift and a turn about
    # the vertical only (free, a tilt took most of the demo's resting tray's offset), without reach (both
    # together read the model-right cube 7.8 mm off at 96x72, test_loop). A body the twin slides: neither.
    scene, twin, cams, canonical = twin_setup
    twin.reset()
    k = twin.body_names.index("tray")
    push = np.zeros((len(twin.body_names), 6))
    push[k, 1] = -2.5 * twin.mass_properties()[0][k] * 9.81
    seen = []

    def oracle(bodies, poses, movable, *args, upright=None, reach=None, **kwargs):
        seen.append((upright, reach))
        zeros = np.zeros((len(movable), 3))
        return PoseErrorEstimate(bodies=np.asarray(movable), position=zeros, rotation=zeros, force=zeros,
                                 moment=zeros, loss_before=0.0, loss_after=0.0)

    monkeypatch.setattr(loop, "estimate_pose_errors", oracle)
    frames = np.zeros((1, cams.height, cams.width, 3), np.uint8)
    for config in (TrackerConfig(), TrackerConfig(upright_at_rest=False)):
        twin.reset()
        tracker = Tracker(twin, canonical, cams, config)
        j = list(tracker.movable).index(k + 1)
        for t in range(8):
            tracker.step(frames, push if 2 <= t < 6 else None)
    on, off = seen[:8], seen[8:]
    assert all(u is None for u, _ in off)
    assert all(np.array_equal(r, r_on) for (_, r), (_, r_on) in zip(off, on))  # reach is gated either way
    for upright, reach in on:
        assert not (upright & reach).any()
    assert on[0][0].all() and on[1][0].all()  # everything rests before the push, seen at rest: upright
    assert not on[0][1].any()
    others = np.arange(len(on[4][0])) != j
    assert not on[4][0][j] and not on[4][1][j]  # the tray slides: neither
    assert on[4][0][others].all()  # the rest stays upright
    # The twin's tray at rest while the frames show it 10 mm further over two frames (about 2 pixels):
    # not seen at rest (so it may reach, and its tilt is searched).
    twin.reset()
    tracker = Tracker(twin, canonical, cams, TrackerConfig())
    p = tracker.all_poses()[tracker.movable, :3]
    shift = np.zeros_like(p)
    shift[j, 1] = -0.005
    tracker._seen = [p + 2 * shift, p + shift, p]
    assert tracker._resting().all()
    assert list(tracker._seen_resting(tracker.all_poses())) == [i != j for i in range(len(tracker.movable))]


def test_the_twin_reports_the_friction_each_body_slides_at_on_its_support(tmp_path):
    # MuJoCo slides a contact pair at the larger of its two coefficients: an object of 0.5 on a 0.8 support
    # slides at 0.8, one of 1.2 at 1.2. The tracker's static friction comes from here (read off the twin's
    # model); the test bed sizes its pushes from the scene by the same rule (on_support_friction).
    from exporters.usd import export_usd
    from sim_tasks.demo_scene import make_demo_scene
    from sim_tasks.newton_twin import NewtonTwin
    from sim_tasks.real_streams import on_support_friction

    scene = make_demo_scene()
    scene.objects[0].friction, scene.objects[1].friction, scene.objects[2].friction = 0.5, 1.2, 0.8
    scene.support_friction = 0.8
    twin = NewtonTwin(export_usd(scene, tmp_path / "scene.usdz"), fps=30)
    np.testing.assert_allclose(twin.support_friction(), [0.8, 1.2, 0.8], atol=1e-6)
    by_rule = [on_support_friction(twin.scene, o) for o in twin.scene.objects]
    np.testing.assert_allclose(twin.support_friction(), by_rule, atol=1e-6)
