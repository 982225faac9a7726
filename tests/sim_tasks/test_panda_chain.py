"""The numpy Panda chain against the simulator: FK of the simulated joints gives the simulated link poses."""

from __future__ import annotations

import numpy as np


def test_chain_fk_matches_simulator_links_and_ik_reaches_targets(runner):
    from sim_tasks.panda_chain import panda_chain

    be = runner.backend
    chain = panda_chain()
    be.reset(0)
    base = runner.scene.robot_base.numpy().astype(np.float64)
    rng = np.random.default_rng(3)
    home = be.ee_pose().astype(np.float64)
    for k in range(6):
        a = home.copy()
        a[:3] += rng.uniform(-0.08, 0.08, 3)
        obs = be.step(np.concatenate([a, [0.08 if k % 2 else 0.02]]).astype(np.float32))
        q, fingers = obs["joint_pos"][:7].astype(np.float64), obs["joint_pos"][7:9].astype(np.float64)
        links = chain.link_poses(q, fingers, base)
        sim = be.link_matrices()
        np.testing.assert_allclose(links[:, :3, 3], sim[:, :3, 3], atol=2e-4)
        np.testing.assert_allclose(links[:, :3, :3], sim[:, :3, :3], atol=2e-3)
        np.testing.assert_allclose(chain.tool_pose(q, base), be.tool_matrix(), atol=2e-4)
    # IK from a nearby posture reaches a target 5 cm away
    target = chain.tool_pose(q, base)
    target[:3, 3] += [0.03, -0.04, 0.0]
    q2 = chain.ik(target, q, base, max_iterations=50)
    reached = chain.tool_pose(q2, base)
    assert np.linalg.norm(reached[:3, 3] - target[:3, 3]) < 1e-3
    assert np.abs(reached[:3, :3] - target[:3, :3]).max() < 1e-2
    # the opening split evenly: each finger at half the width
    even = chain.link_poses(q, 0.06, base)
    assert np.linalg.norm(even[8, :3, 3] - even[9, :3, 3]) > 0.05
