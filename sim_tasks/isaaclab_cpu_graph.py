"""Replay the physics step as a Warp CPU graph: Isaac Lab's Newton manager without its per-launch Python cost.

Isaac Lab 3.0 captures the solver step into a CUDA graph on a GPU, and launches every kernel from Python on
the CPU (`use_graph = ... and "cuda" in device`). A MuJoCo Warp step is ~120 kernel launches, each costing
~0.3-0.5 ms of Python (argument packing, overload matching) against a few microseconds of kernel work for
one or two small worlds: measured here, ~80% of an episode's time. Warp 1.19 records the same launches on
the CPU (APIC capture) and replays them from C++. This manager records `_simulate_physics_only` once (after
each graph invalidation: resets, model changes) and replays it on every later physics step.

Same kernels, same arrays, same order: the replay computes what eager launches compute
(tests/sim_tasks/test_isaaclab_smoke.py checks the final states agree). Runs in the Isaac Lab venv only.
"""

from __future__ import annotations

import numpy as np
import warp as wp
from isaaclab.physics import PhysicsManager
from isaaclab_newton.physics.mjwarp_manager import NewtonMJWarpManager
from isaaclab_newton.physics.newton_manager import NewtonManager
from mujoco_warp._src.types import OverflowType

from sim_tasks.isaaclab_spec import ContactBufferOverflow


class NewtonCpuGraphMJWarpManager(NewtonMJWarpManager):
    """NewtonMJWarpManager that replays its physics step as a Warp CPU graph (CPU device only, where
    replay_graph is set) and fails on contact-buffer overflow.

    The name starts with "Newton": Isaac Lab picks its asset backends from the manager's class name."""

    replay_graph = True  # set from IsaacLabConfig.cpu_graph (Isaac Lab's managers are class-level singletons)
    _cpu_graph = None
    captures = 0  # graphs recorded so far (tests read it: a replayed step must not re-record)

    @classmethod
    def _simulate_physics_only(cls) -> None:
        device = wp.get_device(PhysicsManager._device)
        # Single-state MuJoCo Warp keeps the same state arrays every step: a recorded graph stays valid.
        if not cls.replay_graph or not device.is_cpu or not NewtonManager._use_single_state:
            return super()._simulate_physics_only()
        if NewtonCpuGraphMJWarpManager._cpu_graph is None:
            with wp.ScopedDevice(device), wp.ScopedCapture(device=device) as capture:
                super()._simulate_physics_only()  # recorded only: nothing runs until the replay below
            NewtonCpuGraphMJWarpManager._cpu_graph = capture.graph
            NewtonCpuGraphMJWarpManager.captures += 1
        wp.capture_launch(NewtonCpuGraphMJWarpManager._cpu_graph)

    @classmethod
    def _check_solver_status(cls) -> None:
        """Fail loudly where MuJoCo Warp ran out of contact or constraint slots: it drops contacts then, and
        the physics silently differs (IsaacLabConfig.nconmax / njmax size those buffers per env)."""
        flags = int(np.bitwise_or.reduce(NewtonManager._solver.mjw_data.overflow.numpy()))
        bad = flags & (OverflowType.NEFC | OverflowType.BROADPHASE | OverflowType.NARROWPHASE | OverflowType.CCD)
        if bad:
            raise ContactBufferOverflow(
                f"MuJoCo Warp buffers overflowed ({OverflowType(bad)!r}): contacts or constraints were dropped; raise "
                "IsaacLabConfig.nconmax (contacts per env) / njmax (constraint rows per env), e.g. --nconmax 200")
        super()._check_solver_status()

    @classmethod
    def _invalidate_graph(cls) -> None:
        NewtonCpuGraphMJWarpManager._cpu_graph = None
        super()._invalidate_graph()

    @classmethod
    def close(cls) -> None:
        NewtonCpuGraphMJWarpManager._cpu_graph = None
        super().close()


__all__ = ["NewtonCpuGraphMJWarpManager"]
