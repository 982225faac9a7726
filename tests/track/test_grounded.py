"""Which bodies the tracker searches as grounded (Tracker._grounded, TrackerConfig.grounded_search): those the
twin holds at the height and tilt they stood at when tracking started."""

import math

import numpy as np

from gwm.track.config import TrackerConfig
from gwm.track.loop import BACKGROUND, GROUNDED_HEIGHT, GROUNDED_TILT_DEG, Tracker

from .helpers import StillTwin


def _tilted(pose, degrees):
    out = pose.copy()
    half = math.radians(degrees) / 2
    out[3:] = [math.cos(half), math.sin(half), 0.0, 0.0]  # about x, from upright
    return out


def test_grounded_bodies_are_those_standing_where_they_stood(demo_scene):
    from sim_tasks.real_streams import observing_cameras

    names = tuple(o.name for o in demo_scene.objects)
    start = np.stack([np.r_[o.world_from_body[:3, 3].numpy(), 1.0, 0.0, 0.0, 0.0] for o in demo_scene.objects])
    twin = StillTwin(names, [o.role for o in demo_scene.objects], start)
    canonical = {BACKGROUND: demo_scene.background, **{o.name: o.splats for o in demo_scene.objects}}
    cams, _ = observing_cameras(demo_scene, 1, 64, 48)
    tracker = Tracker(twin, canonical, cams, TrackerConfig())
    now = start.copy()
    now[0, :2] += 0.05  # slid 5 cm: still on its support
    now[1] = _tilted(now[1], GROUNDED_TILT_DEG + 1.0)  # tipping
    now[2, 2] += GROUNDED_HEIGHT + 0.001  # lifted
    twin._poses = now
    poses = tracker.all_poses()
    assert list(tracker.movable) == [1, 2, 3]  # the demo's three objects, in order
    np.testing.assert_array_equal(tracker._grounded(poses), [True, False, False])
    now[1] = _tilted(start[1], GROUNDED_TILT_DEG - 1.0)
    now[2, 2] = start[2, 2] + GROUNDED_HEIGHT - 0.001
    twin._poses = now
    assert tracker._grounded(tracker.all_poses()).all()
