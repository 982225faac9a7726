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
from sim_tasks.newton_backend import NewtonSimConfig, build_world, configure_warp, index_by_suffix, link_visual_meshes
from sim_tasks.panda_model import ARM_JOINTS, FINGER_JOINTS, LINK_BODIES, LINK_RECORD_NAMES, LINK_ROLES


class NewtonTwin:
    """Implements gwm.track.loop.Twin for the scene's objects, and with `robot` the Panda at the scene's
    robot base: its servos drive its joints to the joint states step() is given (never a visual force), and its
    links push the objects as the real robot's do."""

    def __init__(self, scene_usd: str | os.PathLike, fps: float, scene=None, max_physics_dt: float = 0.002,
                 device: str = "cpu", robot: bool = False):
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
        if robot:
            builder, _ = build_world(self.scene_usd, self.scene, NewtonSimConfig(device=device))
        else:
            builder = newton.ModelBuilder()
            newton.solvers.SolverMuJoCo.register_custom_attributes(builder)
            builder.add_usd(str(self.scene_usd), apply_up_axis_from_stage=True, ignore_paths=[r".*/Gaussians$"])
        self.model = model = builder.finalize(device=wp.get_device(device))
        model.shape_gap.fill_(0.0)  # as NewtonBackend: Newton's default gap makes inactive MuJoCo contacts
        labels = list(model.body_label)
        objects = tuple(o.name for o in self.scene.objects)
        missing = [n for n in objects if f"/World/Objects/{n}" not in labels]
        if missing:
            raise ValueError(f"{self.scene_usd}: objects {missing} have no rigid body; "
                             "re-export the scene with export_usd")
        self._objects = np.array([labels.index(f"/World/Objects/{n}") for n in objects], np.int64)
        q_start = model.joint_q_start.numpy()
        child = model.joint_child.numpy()
        self._coords = [int(q_start[int(np.flatnonzero(child == b)[0])]) for b in self._objects]
        links = [index_by_suffix(labels, n, "body") for n in LINK_BODIES] if robot else []
        self._bodies = np.concatenate([self._objects, np.array(links, np.int64)])
        self.body_names = objects + (LINK_RECORD_NAMES if robot else ())
        self.body_roles = tuple(o.role for o in self.scene.objects) + (
            tuple(LINK_ROLES[n] for n in LINK_RECORD_NAMES) if robot else ())
        self.robot = robot
        self.state_0, self.state_1 = model.state(), model.state()
        self.control = model.control()
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*authored margin=.*")
            self.solver = newton.solvers.SolverMuJoCo(model, use_mujoco_cpu=True, solver="newton",
                                                      integrator="implicitfast", cone="elliptic", impratio=10.0,
                                                      enable_multiccd=True)
        if robot:
            joint_labels = list(model.joint_label)
            joints = [index_by_suffix(joint_labels, n, "joint") for n in ARM_JOINTS + FINGER_JOINTS]
            self._joint_coords = q_start[joints]
            self._joint_dofs = model.joint_qd_start.numpy()[joints]
            kp = model.joint_target_ke.numpy()[self._joint_dofs].astype(np.float64)
            self._lag = model.joint_damping.numpy()[self._joint_dofs].astype(np.float64) / np.maximum(kp, 1e-9)
            self._mj_body = self.solver.mjc_body_to_newton.numpy()[0]  # MuJoCo body -> Newton body (-1: none)
            self._joints = None
        self.reset()

    def link_visual_meshes(self) -> dict[str, list[tuple[np.ndarray, np.ndarray]]]:
        """The robot's visual meshes per link (record name -> meshes in the link frame); {} without a robot."""
        return link_visual_meshes(self.model, self._bodies[len(self._objects):]) if self.robot else {}

    def mass_properties(self):
        mass = self.model.body_mass.numpy()[self._bodies].astype(np.float64)
        inertia = self.model.body_inertia.numpy()[self._bodies].astype(np.float64).reshape(-1, 3, 3)
        com = self.model.body_com.numpy()[self._bodies].astype(np.float64).reshape(-1, 3)
        return mass, inertia, com

    def reset(self, poses: Mapping[str, np.ndarray] | None = None, joints: np.ndarray | None = None) -> None:
        """Objects at rest at `poses` (name -> xyz + quat wxyz), the others at their scene pose; with a robot,
        its joints at `joints` (9: arm radians, fingers metres; default the model's zero pose)."""
        import newton

        poses = dict(poses or {})
        objects = self.body_names[:len(self._objects)]
        unknown = sorted(set(poses) - set(objects))
        if unknown:
            raise KeyError(f"reset: unknown objects {unknown}; the twin has {list(objects)}")
        self.solver.reset(self.state_0)
        q = self.model.joint_q.numpy().copy()
        for name, coord, obj in zip(objects, self._coords, self.scene.objects):
            pose = np.asarray(poses[name], np.float64) if name in poses else matrix_to_pose7(obj.world_from_body.numpy())
            q[coord:coord + 3] = pose[:3]
            q[coord + 3:coord + 7] = pose[[4, 5, 6, 3]]  # Newton free joints store xyzw
        if self.robot:
            self._joints = self._check_joints(q[self._joint_coords] if joints is None else joints)
            q[self._joint_coords] = self._joints
            self._hold(self._joints)
        elif joints is not None:
            raise ValueError("NewtonTwin.reset: joint states given, but the twin has no robot (robot=True)")
        for state in (self.state_0, self.state_1):
            state.joint_q.assign(q.astype(np.float32))
            state.joint_qd.zero_()
            state.body_f.zero_()
            newton.eval_fk(self.model, state.joint_q, state.joint_qd, state)
        self.steps_taken = 0

    def _check_joints(self, joints) -> np.ndarray:
        q = np.asarray(joints, np.float64).ravel()
        if q.shape != (len(self._joint_coords),) or not np.isfinite(q).all():
            raise ValueError(f"joint states must be {len(self._joint_coords)} finite numbers (7 arm joints in rad, "
                             f"2 fingers in m), got {np.asarray(joints).shape}")
        return q

    def _hold(self, joints: np.ndarray) -> None:
        """The robot's servo targets at `joints`."""
        targets = self.control.joint_target_q.numpy()
        targets[self._joint_coords] = joints
        self.control.joint_target_q.assign(targets.astype(np.float32))

    def step(self, wrenches: np.ndarray, joints: np.ndarray | None = None) -> None:
        """Advance one control step with wrenches (B,6) [force, torque] world frame at each COM; with a robot,
        its servos driving its joints toward `joints` (9, the next frame's; default: held). Robot links take no
        wrench: they follow their joint states."""
        import mujoco

        w = np.asarray(wrenches, np.float64).reshape(len(self.body_names), 6)
        if not np.isfinite(w).all():
            raise ValueError("NewtonTwin.step: wrenches have NaN or inf")
        if np.any(w[len(self._objects):] != 0):
            raise ValueError("NewtonTwin.step: wrenches on robot links; they follow their joint states")
        if joints is not None and not self.robot:
            raise ValueError("NewtonTwin.step: joint states given, but the twin has no robot (robot=True)")
        f = np.zeros((self.model.body_count, 6), np.float32)
        f[self._bodies] = w
        self.state_0.body_f.assign(f)
        dt = self.physics_dt
        if self.robot:
            end = self._joints if joints is None else self._check_joints(joints)
            # The robot's own servos (the MJCF's position actuators) aimed at the next joint states, led by the lag
            # their damping gives at this speed (as NewtonBackend does). Set kinematically instead, the links pushed
            # like an infinitely stiff pusher and the twin's objects tipped over where the real ones slid (open
            # loop 20-74 mm off with the physics as modelled, against 3-7 mm servoed; README, stop 46).
            self._hold(end + self._lag * (end - self._joints) / self.control_dt)
            self._joints = end
        # First substep through Newton (pushes state and body_f into MuJoCo's xfrc_applied, which
        # persists), the rest on MuJoCo directly, then pull the state once (as NewtonBackend does).
        self.solver.step(self.state_0, self.state_1, self.control, None, dt)
        if self.substeps > 1:
            mujoco.mj_step(self.solver.mj_model, self.solver.mj_data, nstep=self.substeps - 1)
            self.solver._update_newton_state(self.model, self.state_1, self.solver.mj_data, state_prev=self.state_0)
        self.state_0, self.state_1 = self.state_1, self.state_0
        self.steps_taken += 1

    def robot_contacts(self) -> np.ndarray:
        """(B,) bool: the bodies the robot's links touch now (all False without a robot). What the robot pushes
        moves by the twin's own physics, as a body known forces push does."""
        out = np.zeros(len(self.body_names), bool)
        data = self.solver.mj_data
        if not self.robot or data.ncon == 0:
            return out
        newton = self._mj_body[self.solver.mj_model.geom_bodyid[data.contact.geom[:data.ncon]]]  # (n,2)
        links = np.isin(newton, self._bodies[len(self._objects):])
        for k in range(len(self._objects)):
            touched = newton == self._objects[k]
            out[k] = bool(np.any((touched[:, 0] & links[:, 1]) | (touched[:, 1] & links[:, 0])))
        return out

    def joint_state(self) -> np.ndarray | None:
        """(9,) the twin's robot joint positions now (None without a robot)."""
        return self.state_0.joint_q.numpy()[self._joint_coords].astype(np.float64) if self.robot else None

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


def robot_link_splats(twin: NewtonTwin, count: int = 4000) -> dict:
    """The twin's robot links as Gaussians (record name -> GaussianSplats in the link frame): surface samples of
    their visual meshes in the links' colours, as the demonstrations' renders draw them; {} without a robot."""
    from sim_tasks.panda_model import LINK_RECORD_RGB
    from sim_tasks.rendering import robot_link_gaussians

    meshes = twin.link_visual_meshes()
    return robot_link_gaussians(meshes, LINK_RECORD_RGB, count) if meshes else {}


__all__ = ["NewtonTwin", "robot_link_splats"]
