"""The tracker's physics twin: Newton (SolverMuJoCo, MuJoCo C backend on CPU) on the exported scene USD.

Only the scene's support and rigid objects are simulated (no robot): the twin is what
gwm.track.Tracker drives, one control step per camera frame, with the visual wrenches applied
through `state.body_f` (world frame, at each body's COM, as Newton defines it). Physics settings
are those of sim_tasks.newton_backend (Newton solver, implicitfast, elliptic cone, impratio 10,
multi-CCD); the physics step is the largest step <= max_physics_dt that divides the frame period.
"""

from __future__ import annotations

import math
import os
import warnings
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from gwm.geometry import matrix_to_pose7
from sim_tasks.newton_backend import configure_warp


class NewtonTwin:
    """Implements gwm.track.loop.Twin for the scene's objects."""

    def __init__(self, scene_usd: str | os.PathLike, fps: float, scene=None, max_physics_dt: float = 0.002,
                 device: str = "cpu"):
        configure_warp()
        import warp as wp

        import newton
        from gwm.scene.usd_scene import read_usd_scene

        if not fps > 0:
            raise ValueError(f"NewtonTwin: fps must be positive, got {fps}")
        self.scene_usd = Path(scene_usd)
        self.scene = scene if scene is not None else read_usd_scene(self.scene_usd)
        self.control_dt = 1.0 / float(fps)
        self.substeps = max(1, math.ceil(self.control_dt / max_physics_dt - 1e-9))
        self.physics_dt = self.control_dt / self.substeps
        builder = newton.ModelBuilder()
        newton.solvers.SolverMuJoCo.register_custom_attributes(builder)
        loaded = builder.add_usd(str(self.scene_usd), apply_up_axis_from_stage=True, ignore_paths=[r".*/Gaussians$"])
        path_body = loaded["path_body_map"]
        self.body_names = tuple(o.name for o in self.scene.objects)
        self.body_roles = tuple(o.role for o in self.scene.objects)
        missing = [n for n in self.body_names if f"/World/Objects/{n}" not in path_body]
        if missing:
            raise ValueError(f"{self.scene_usd}: objects {missing} have no rigid body; re-export the scene with export_usd")
        self._bodies = np.array([path_body[f"/World/Objects/{n}"] for n in self.body_names], np.int64)
        self.model = model = builder.finalize(device=wp.get_device(device))
        model.shape_gap.fill_(0.0)  # as NewtonBackend: Newton's default gap makes inactive MuJoCo contacts
        q_start = model.joint_q_start.numpy()
        child = model.joint_child.numpy()
        self._coords = [int(q_start[int(np.flatnonzero(child == b)[0])]) for b in self._bodies]
        self.state_0, self.state_1 = model.state(), model.state()
        self.control = model.control()
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*authored margin=.*")
            self.solver = newton.solvers.SolverMuJoCo(model, use_mujoco_cpu=True, solver="newton",
                                                      integrator="implicitfast", cone="elliptic", impratio=10.0,
                                                      enable_multiccd=True)
        self.reset()

    def mass_properties(self):
        mass = self.model.body_mass.numpy()[self._bodies].astype(np.float64)
        inertia = self.model.body_inertia.numpy()[self._bodies].astype(np.float64).reshape(-1, 3, 3)
        com = self.model.body_com.numpy()[self._bodies].astype(np.float64).reshape(-1, 3)
        return mass, inertia, com

    def reset(self, poses: Mapping[str, np.ndarray] | None = None) -> None:
        """Objects at rest at `poses` (name -> xyz + quat wxyz), the others at their scene pose."""
        import newton

        poses = dict(poses or {})
        unknown = sorted(set(poses) - set(self.body_names))
        if unknown:
            raise KeyError(f"reset: unknown objects {unknown}; the twin has {list(self.body_names)}")
        self.solver.reset(self.state_0)
        q = self.model.joint_q.numpy().copy()
        for name, coord, obj in zip(self.body_names, self._coords, self.scene.objects):
            pose = np.asarray(poses[name], np.float64) if name in poses else matrix_to_pose7(obj.world_from_body.numpy())
            q[coord:coord + 3] = pose[:3]
            q[coord + 3:coord + 7] = pose[[4, 5, 6, 3]]  # Newton free joints store xyzw
        for state in (self.state_0, self.state_1):
            state.joint_q.assign(q.astype(np.float32))
            state.joint_qd.zero_()
            state.body_f.zero_()
            newton.eval_fk(self.model, state.joint_q, state.joint_qd, state)
        self.steps_taken = 0

    def step(self, wrenches: np.ndarray) -> None:
        """Advance one control step with wrenches (B,6) [force, torque] world frame at each COM."""
        import mujoco

        w = np.asarray(wrenches, np.float64).reshape(len(self.body_names), 6)
        if not np.isfinite(w).all():
            raise ValueError("NewtonTwin.step: wrenches have NaN or inf")
        f = np.zeros((self.model.body_count, 6), np.float32)
        f[self._bodies] = w
        self.state_0.body_f.assign(f)
        dt = self.physics_dt
        # First substep through Newton (pushes state and body_f into MuJoCo's xfrc_applied, which
        # persists), the rest on MuJoCo directly, then pull the state once (as NewtonBackend does).
        self.solver.step(self.state_0, self.state_1, self.control, None, dt)
        if self.substeps > 1:
            mujoco.mj_step(self.solver.mj_model, self.solver.mj_data, nstep=self.substeps - 1)
            self.solver._update_newton_state(self.model, self.state_1, self.solver.mj_data, state_prev=self.state_0)
        self.state_0, self.state_1 = self.state_1, self.state_0
        self.steps_taken += 1

    def support_friction(self) -> np.ndarray:
        """(B,) the friction coefficient each body slides at on the static world: MuJoCo takes the larger of
        a contact pair's values, so a body's largest shape value against the static shapes' largest."""
        body = self.model.shape_body.numpy()
        mu = self.model.shape_material_mu.numpy().astype(np.float64)
        static = float(mu[body < 0].max()) if np.any(body < 0) else 0.0
        return np.array([max(float(mu[body == b].max()), static) for b in self._bodies])

    def body_velocities(self) -> np.ndarray:
        """(B,6) linear velocity of each COM (m/s) and angular velocity (rad/s), world frame."""
        return self.state_0.body_qd.numpy()[self._bodies].astype(np.float64).reshape(-1, 6)

    def body_poses(self) -> np.ndarray:
        bq = self.state_0.body_q.numpy()[self._bodies].astype(np.float64)  # xyz + quat xyzw
        poses = np.concatenate([bq[:, :3], bq[:, [6, 3, 4, 5]]], 1)
        poses[:, 3:] *= np.where(poses[:, 3:4] < 0, -1.0, 1.0)
        return poses


__all__ = ["NewtonTwin"]
