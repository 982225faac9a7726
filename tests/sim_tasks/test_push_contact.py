"""Where the push policy's closed fingers meet the object (sim_tasks.push_policy.surface_behind) and how it
re-aims them while pushing (steer)."""

import math

import numpy as np
import pytest

from sim_tasks.push_policy import steer, surface_behind


def _box(hx, hy, yaw_deg, n_edge=7):
    """Footprint points of a hx x hy half-size box turned by yaw (corners and points along the edges)."""
    t = np.linspace(-1, 1, n_edge)
    pts = np.concatenate([np.c_[t * hx, np.full_like(t, hy)], np.c_[t * hx, np.full_like(t, -hy)],
                          np.c_[np.full_like(t, hx), t * hy], np.c_[np.full_like(t, -hx), t * hy]])
    c, s = math.cos(math.radians(yaw_deg)), math.sin(math.radians(yaw_deg))
    return pts @ np.array([[c, s], [-s, c]])


AIM = np.array([1.0, 0.0])


def test_a_box_square_to_the_push_is_met_at_its_back_face():
    assert surface_behind(_box(0.11, 0.08, 0.0), AIM, 0.025) == pytest.approx(0.11, abs=1e-9)


def test_a_turned_box_is_met_on_the_centre_line_not_at_its_far_corner():
    hx, hy, yaw = 0.11, 0.08, 60.0  # the workbench tray, turned: its far corner 5.5 cm off the line
    hull = _box(hx, hy, yaw)
    corner = float(-(hull @ AIM).min())  # what the policy aimed at before
    exit_on_line = min(hx / abs(math.cos(math.radians(yaw))), hy / abs(math.sin(math.radians(yaw))))
    assert surface_behind(hull, AIM, 0.002) == pytest.approx(exit_on_line, abs=3e-3)  # a face as thin as the sampling
    met = surface_behind(hull, AIM, 0.025)  # a 5 cm face meets it a little farther back than the line does
    # the corner lies 1.8 cm farther back: a push whose goal (2 cm past the contact) was set from it barely
    # reached the face and stalled (the workbench tray)
    assert exit_on_line < met < corner - 0.015
    assert surface_behind(hull, AIM, 1.0) == pytest.approx(corner, abs=1e-9)  # a face wider than the box


def test_steer_cuts_the_sideways_re_aim_to_a_share_of_the_forward_motion():
    aim = np.array([0.6, 0.8])
    side = np.array([-0.8, 0.6])
    start = np.array([0.3, -0.1])
    # 2 cm forwards, 3 cm sideways: the sideways part is cut to 0.3 * 2 cm, the forward part kept
    out = steer(start, start + 0.02 * aim + 0.03 * side, aim, 0.3)
    assert float((out - start) @ aim) == pytest.approx(0.02, abs=1e-12)
    assert float((out - start) @ side) == pytest.approx(0.006, abs=1e-12)
    out = steer(start, start + 0.02 * aim - 0.03 * side, aim, 0.3)  # either side
    assert float((out - start) @ side) == pytest.approx(-0.006, abs=1e-12)
    # a small sideways correction passes unchanged
    goal = start + 0.02 * aim + 0.004 * side
    np.testing.assert_allclose(steer(start, goal, aim, 0.3), goal, atol=1e-12)
    # no sideways motion without forward motion (standing or backing off)
    out = steer(start, start - 0.01 * aim + 0.03 * side, aim, 0.3)
    np.testing.assert_allclose(out, start - 0.01 * aim, atol=1e-12)
