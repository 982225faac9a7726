"""NewtonBackend.snapshot / restore."""

from __future__ import annotations

import numpy as np


def test_snapshot_restore_reproduces_a_rollout(runner):
    """The planning oracle's premise: restore + the same actions = the same rollout, bit for bit."""
    be = runner.backend
    obs = be.reset(1)
    start = obs["ee_pose"].astype(np.float64)
    acts = [np.concatenate([start[:3] + [0.01 * k, -0.005 * k, -0.01 * k], start[3:], [0.02]]).astype(np.float32)
            for k in range(6)]
    for a in acts[:2]:
        be.step(a)
    snap = be.snapshot()
    first = [be.step(a)["body_poses"] for a in acts[2:]]
    be.step(acts[0])  # wander off
    be.restore(snap)
    again = [be.step(a)["body_poses"] for a in acts[2:]]
    np.testing.assert_array_equal(np.stack(first), np.stack(again))
