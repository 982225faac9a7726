"""N scripted-demonstration worlds in one Newton model, stepped together.

`NewtonBatchBackend(scene_usd, num_worlds)` replicates the world NewtonBackend simulates (scene USD +
Panda, built by newton_backend.build_world) num_worlds times in one model and steps them with one
solver call per substep. Each world has its own layout (reset(world, seed, object_poses)), its own
controller state and its own IK (BatchPandaIK: one eval_fk for all arms per iteration). Observations
and actions are in each world's own frame, the frame NewtonBackend uses, so a world's episode is
recorded exactly as a single-world episode is.

How the worlds are laid out depends on the MuJoCo backend:
- "warp" (CUDA): Newton worlds (ModelBuilder.replicate), one MuJoCo Warp world each
  (separate_worlds=True), all at the same coordinates; a world never sees another's contacts.
- "c" (CPU): Newton 1.8's SolverMuJoCo on MuJoCo C refuses multi-world models
  (separate_worlds=False is single-world only, and separate_worlds=True simulates only the
  template world), so the copies share Newton world 0 and one MjModel, placed `spacing` apart
  along x so no two copies can touch; MuJoCo's broadphase never pairs their geoms.
  The offset costs float32 precision in Newton's state (positions at x = k * spacing), which is
  why a world's episode in a batch matches the batch-of-1 episode within a tolerance, not bit for bit
  (world 0 sits at the origin).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from gwm.geometry import matrix_to_pose7, pose7_xyzw_to_matrix, quat_to_rotmat, rotmat_to_quat
from sim_tasks.backend import ACTION_DIM, BACKGROUND_BODY, GRIPPER_OPEN, check_action, make_action
from sim_tasks.kinematics import BatchPandaIK
from sim_tasks.newton_backend import (_IK_SEED, NewtonSimConfig, advance, build_world, configure_warp,
                                      home_tool_pose, index_by_suffix, link_visual_meshes, make_mujoco_solver,
                                      resolve_backend)
from sim_tasks.panda_model import ARM_JOINTS, FINGER_JOINTS, FINGER_MAX, LINK_BODIES, LINK_RECORD_NAMES, TOOL_SITE

# Room for the arm's reach (0.855 m) around the robot base when sizing the space between CPU copies.
_REACH_MARGIN = 1.2  # m


def check_batch_size(num_worlds) -> int:
    if isinstance(num_worlds, bool) or not isinstance(num_worlds, (int, np.integer)) or num_worlds < 1:
        raise ValueError(f"batch size (number of worlds) must be an integer >= 1, got {num_worlds!r}")
    return int(num_worlds)


def world_spacing(scene) -> float:
    """Distance between CPU copies along x: the scene's support and the arm's reach around the
    robot base, plus a gap, so nothing of one copy can reach another."""
    base = scene.robot_base.numpy()[:3, 3]
    xs = [base[0] - _REACH_MARGIN, base[0] + _REACH_MARGIN]
    if len(scene.support_vertices):
        xs += [float(scene.support_vertices[:, 0].min()), float(scene.support_vertices[:, 0].max())]
    for o in scene.objects:
        xs.append(float(o.world_from_body.numpy()[0, 3]))
    return float(np.ceil(max(xs) - min(xs) + 1.0))


class NewtonBatchBackend:
    """num_worlds copies of NewtonBackend's world in one Newton model (see the module docstring)."""

    def __init__(self, scene_usd: str | os.PathLike, num_worlds: int, config: NewtonSimConfig = NewtonSimConfig(),
                 scene=None):
        configure_warp()
        import warp as wp

        import newton
        from gwm.scene.usd_scene import read_usd_scene

        n = self.num_worlds = check_batch_size(num_worlds)
        self.config = config
        self.scene_usd = Path(scene_usd)
        self.scene = scene if scene is not None else read_usd_scene(self.scene_usd)
        self.control_dt = config.control_dt
        self.device = wp.get_device(config.device)
        self.backend = backend = resolve_backend(config, self.device)

        template, self.object_names = build_world(self.scene_usd, self.scene, config)
        builder = newton.ModelBuilder()
        newton.solvers.SolverMuJoCo.register_custom_attributes(builder)
        self.separate_worlds = backend == "warp"
        if self.separate_worlds:
            self.spacing = 0.0
            builder.replicate(template, n, spacing=(0.0, 0.0, 0.0))
        else:
            self.spacing = world_spacing(self.scene) if n > 1 else 0.0
            for i in range(n):
                builder.add_builder(template, xform=wp.transform(wp.vec3(i * self.spacing, 0.0, 0.0), wp.quat_identity()))
        self.offsets = np.zeros((n, 3))
        self.offsets[:, 0] = np.arange(n) * self.spacing
        self.model = model = builder.finalize(device=self.device)
        model.shape_gap.fill_(0.0)  # as NewtonBackend: no inactive-contact band in MuJoCo's geom_gap

        # Every copy appends the same entities in the same order: world i's index = world 0's + i * count.
        per = {k: getattr(template, f"{k}_count") for k in ("body", "joint", "shape", "articulation")}
        per["coord"], per["dof"] = template.joint_coord_count, template.joint_dof_count
        for k, total in (("body", model.body_count), ("joint", model.joint_count), ("shape", model.shape_count)):
            if total != n * per[k]:
                raise RuntimeError(f"{n} worlds of {per[k]} {k}s each should make {n * per[k]}, the model has {total}")
        self._per = per
        labels, joint_labels = list(model.body_label)[:per["body"]], list(model.joint_label)[:per["joint"]]
        shape_labels = list(model.shape_label)[:per["shape"]]
        object_bodies = [index_by_suffix(labels, name, "body") for name in self.object_names]
        link_bodies = [index_by_suffix(labels, name, "body") for name in LINK_BODIES]
        arm_joints = [index_by_suffix(joint_labels, name, "joint") for name in ARM_JOINTS]
        finger_joints = [index_by_suffix(joint_labels, name, "joint") for name in FINGER_JOINTS]
        q_start, qd_start = model.joint_q_start.numpy(), model.joint_qd_start.numpy()
        child = model.joint_child.numpy()
        object_joints = [int(np.flatnonzero(child == b)[0]) for b in object_bodies]
        site = index_by_suffix(shape_labels, TOOL_SITE, "site")
        tool_body = int(model.shape_body.numpy()[site])
        self.body_from_tool = pose7_xyzw_to_matrix(model.shape_transform.numpy()[site].astype(np.float64))

        w = np.arange(n)[:, None]
        body_off, joint_off = w * per["body"], w * per["joint"]
        self.link_bodies = np.array(link_bodies) + body_off  # (N,L)
        self._pose_bodies = np.array(object_bodies + link_bodies) + body_off  # (N,B-1)
        self.tool_body = tool_body + body_off[:, 0]
        arm_j = np.array(arm_joints) + joint_off
        self.arm_coords = q_start[arm_j]
        self.finger_coords = q_start[np.array(finger_joints) + joint_off]
        self.arm_dofs = qd_start[arm_j]
        self.finger_dofs = qd_start[np.array(finger_joints) + joint_off]
        self.object_coords = q_start[np.array(object_joints, np.int64).reshape(1, -1) + joint_off]  # (N,K)
        self._world_dofs = np.arange(per["dof"]) + w * per["dof"]  # (N,dofs)
        self._world_coords = np.arange(per["coord"]) + w * per["coord"]
        self._world_bodies = np.arange(per["body"]) + body_off

        dofs0 = self.arm_dofs[0]
        self.lower = model.joint_limit_lower.numpy()[dofs0].astype(np.float64)
        self.upper = model.joint_limit_upper.numpy()[dofs0].astype(np.float64)
        parent = model.joint_parent.numpy()[arm_j]
        x_p = pose7_xyzw_to_matrix(model.joint_X_p.numpy()[arm_j].astype(np.float64))  # (N,7,4,4)
        axis = model.joint_axis.numpy()[qd_start[arm_joints]]
        self.ik = BatchPandaIK(model, self.arm_coords, self.tool_body, parent, x_p, axis, self.body_from_tool,
                               self.lower, self.upper, rest_q=_IK_SEED, config=config.ik)
        kp = model.joint_target_ke.numpy()[dofs0].astype(np.float64)
        self._lag_time = model.joint_damping.numpy()[dofs0].astype(np.float64) / np.maximum(kp, 1e-9)
        self.home_q = self._solve_home()
        self.ik.rest_q[:] = self.home_q

        self.body_names = (BACKGROUND_BODY, *self.object_names, *LINK_RECORD_NAMES)
        self.state_0, self.state_1 = model.state(), model.state()
        self.control = model.control()
        self._targets = self.control.joint_target_q.numpy().copy()
        self.solver = make_mujoco_solver(model, backend, separate_worlds=True if self.separate_worlds else None)
        self._fast_substeps = config.substep_mode == "mujoco" and backend == "c"
        self._q_cmd = np.tile(self.home_q, (n, 1))
        self.seeds: list[int | None] = [None] * n
        self.steps_taken = np.zeros(n, np.int64)
        self._cache = None
        if not self.separate_worlds:
            self._mj_maps()

    # setup --------------------------------------------------------------------------------
    def home_tool_pose(self) -> np.ndarray:
        """(4,4) tool pose at home in a world's own frame."""
        return home_tool_pose(self.scene, self.config)

    def _world_targets(self, local: np.ndarray) -> np.ndarray:
        out = np.array(local, np.float64)
        out[:, :3, 3] += self.offsets
        return out

    def _solve_home(self) -> np.ndarray:
        targets = self._world_targets(np.broadcast_to(self.home_tool_pose(), (self.num_worlds, 4, 4)))
        q, pos_err, rot_err = self.ik.solve(np.tile(_IK_SEED, (self.num_worlds, 1)), targets, max_iterations=300)
        if pos_err.max() > 1e-3 or rot_err.max() > 1e-2:
            raise RuntimeError(f"home pose IK did not converge (position error {pos_err.max():.4f} m, rotation "
                               f"{rot_err.max():.4f} rad); check /World/RobotBase and home_tool_offset")
        return q[0]

    def _mj_maps(self) -> None:
        """MuJoCo dofs and bodies of each copy (one MjData holds them all on the C backend)."""
        dof_map = self.solver.mjc_dof_to_newton_dof.numpy().reshape(-1)
        body_map = self.solver.mjc_body_to_newton.numpy().reshape(-1)
        per_dof, per_body = self._per["dof"], self._per["body"]
        self._mj_dofs = [np.flatnonzero((dof_map >= 0) & (dof_map // per_dof == i)) for i in range(self.num_worlds)]
        self._mj_bodies = [np.flatnonzero((body_map >= 0) & (body_map // per_body == i)) for i in range(self.num_worlds)]

    def _check_world(self, world) -> int:
        if isinstance(world, bool) or not isinstance(world, (int, np.integer)) or not 0 <= world < self.num_worlds:
            raise ValueError(f"world must be an integer in 0..{self.num_worlds - 1}, got {world!r}")
        return int(world)

    # episodes ------------------------------------------------------------------------------
    def reset(self, world: int, seed: int, object_poses: Mapping[str, np.ndarray] | None = None) -> dict[str, np.ndarray]:
        """Restart one world (robot at home, objects at object_poses, others at their scene pose) without
        touching the others. Returns that world's first observation."""
        import warp as wp

        import newton

        i = self._check_world(world)
        object_poses = dict(object_poses or {})
        unknown = sorted(set(object_poses) - set(self.object_names))
        if unknown:
            raise KeyError(f"reset: unknown objects {unknown}; the scene has {list(self.object_names)}")
        self.seeds[i] = int(seed)
        # MuJoCo's warm start and applied forces for this world only (NewtonBackend clears them all).
        if self.separate_worlds:
            mask = np.zeros(self.num_worlds + 1, bool)
            mask[i] = True
            self.solver.reset(self.state_0, world_mask=wp.array(mask, dtype=wp.bool, device=self.device),
                              flags=newton.StateFlags(0))
        else:
            d = self.solver.mj_data
            dofs = self._mj_dofs[i]
            d.qacc_warmstart[dofs] = 0.0
            d.qfrc_applied[dofs] = 0.0
            d.xfrc_applied[self._mj_bodies[i]] = 0.0
        q = self.state_0.joint_q.numpy().copy()
        qd = self.state_0.joint_qd.numpy().copy()
        defaults = self.model.joint_q.numpy()
        q[self._world_coords[i]] = defaults[self._world_coords[i]]
        for name, coord, obj in zip(self.object_names, self.object_coords[i], self.scene.objects):
            pose = np.asarray(object_poses[name], np.float64) if name in object_poses \
                else matrix_to_pose7(obj.world_from_body.numpy())
            q[coord:coord + 3] = pose[:3] + self.offsets[i]
            q[coord + 3:coord + 7] = pose[[4, 5, 6, 3]]  # free joints store quaternions xyzw
        q[self.arm_coords[i]] = self.home_q
        q[self.finger_coords[i]] = FINGER_MAX
        qd[self._world_dofs[i]] = 0.0
        # FK for this world's articulations only: the others' body poses stay what the solver wrote.
        per_art = self._per["articulation"]
        mask = np.zeros(self.model.articulation_count, bool)
        mask[i * per_art:(i + 1) * per_art] = True
        wp_mask = wp.array(mask, dtype=wp.bool, device=self.device)
        for state in (self.state_0, self.state_1):
            state.joint_q.assign(q.astype(np.float32))
            state.joint_qd.assign(qd.astype(np.float32))
            newton.eval_fk(self.model, state.joint_q, state.joint_qd, state, mask=wp_mask)
        self._q_cmd[i] = self.home_q
        self._targets[self._world_coords[i]] = 0.0
        self._targets[self.arm_coords[i]] = self.home_q
        self._targets[self.finger_coords[i]] = FINGER_MAX
        self.control.joint_target_q.assign(self._targets.astype(np.float32))
        self.steps_taken[i] = 0
        self._cache = None
        return self.observe(i)

    def step(self, actions: np.ndarray | Sequence[np.ndarray], active: Sequence[bool] | None = None
             ) -> list[dict[str, np.ndarray]]:
        """Apply one action per world (N,8) (each in its world's frame) for control_dt; returns the N
        observations. Worlds with active False hold their last command (their action is not read)."""
        n = self.num_worlds
        act = np.ones(n, bool) if active is None else np.asarray(active, bool).reshape(-1)
        if act.shape != (n,):
            raise ValueError(f"active must have one flag per world ({n}), got shape {np.shape(active)}")
        if len(actions) != n:
            raise ValueError(f"step needs one action per world: {n} x {ACTION_DIM}, got {len(actions)} actions")
        targets = np.tile(np.eye(4), (n, 1, 1))
        gripper = np.zeros(n)
        for i in np.flatnonzero(act):
            a = check_action(actions[i])
            targets[i, :3, :3] = quat_to_rotmat(a[3:7])
            targets[i, :3, 3] = a[:3]
            gripper[i] = a[7]
        q, _, _ = self.ik.solve(self._q_cmd, self._world_targets(targets), active=act)
        dt = self.control_dt
        # Rate limit by scaling the whole joint step (NewtonBackend.step), per world.
        dq = q - self._q_cmd
        dq *= np.minimum(1.0, self.config.max_joint_speed * dt / np.maximum(np.abs(dq).max(axis=1), 1e-12))[:, None]
        dq[~act] = 0.0
        self._q_cmd = self._q_cmd + dq
        target_q = self._q_cmd
        if self.config.velocity_feedforward:
            target_q = np.clip(self._q_cmd + self._lag_time * dq / dt, self.lower, self.upper)
        for i in np.flatnonzero(act):
            self._targets[self.arm_coords[i]] = target_q[i]
            self._targets[self.finger_coords[i]] = np.clip(gripper[i], 0.0, GRIPPER_OPEN) / 2.0
        self.control.joint_target_q.assign(self._targets.astype(np.float32))
        self._advance(self.config.substeps)
        self.steps_taken[act] += 1
        self._cache = None
        return [self.observe(i) for i in range(n)]

    def _advance(self, substeps: int) -> None:
        self.state_0, self.state_1 = advance(self.solver, self.model, self.state_0, self.state_1, self.control,
                                             self.config.physics_dt, substeps, self._fast_substeps)

    # observations ---------------------------------------------------------------------------
    def _arrays(self):
        if self._cache is None:
            self._cache = (self.state_0.body_q.numpy().astype(np.float64), self.state_0.joint_q.numpy(),
                           self.state_0.joint_qd.numpy())
        return self._cache

    def body_poses(self, world: int) -> np.ndarray:
        """(len(body_names), 7) xyz + quat wxyz in the world's own frame."""
        body_q = self._arrays()[0][self._pose_bodies[world]]
        poses = np.zeros((len(self.body_names), 7))
        poses[0, 3] = 1.0
        poses[1:, :3] = body_q[:, :3] - self.offsets[world]
        poses[1:, 3:] = body_q[:, [6, 3, 4, 5]]
        poses[1:, 3:] *= np.where(poses[1:, 3:4] < 0, -1.0, 1.0)
        return poses

    def joint_state(self, world: int) -> tuple[np.ndarray, np.ndarray]:
        _, q, qd = self._arrays()
        return (np.concatenate([q[self.arm_coords[world]], q[self.finger_coords[world]]]).astype(np.float64),
                np.concatenate([qd[self.arm_dofs[world]], qd[self.finger_dofs[world]]]).astype(np.float64))

    def tool_matrix(self, world: int) -> np.ndarray:
        m = pose7_xyzw_to_matrix(self._arrays()[0][self.tool_body[world]]) @ self.body_from_tool
        m[:3, 3] -= self.offsets[world]
        return m

    def ee_pose(self, world: int) -> np.ndarray:
        return matrix_to_pose7(self.tool_matrix(world))

    def observe(self, world: int) -> dict[str, np.ndarray]:
        """One world's observation, as SimBackend.observe gives it."""
        q, qd = self.joint_state(world)
        return {
            "joint_pos": q.astype(np.float32),
            "joint_vel": qd.astype(np.float32),
            "gripper": np.array([q[7] + q[8]], np.float32),
            "ee_pose": self.ee_pose(world).astype(np.float32),
            "body_poses": self.body_poses(world).astype(np.float32),
        }

    def hold_action(self, world: int) -> np.ndarray:
        """The home tool pose with the gripper open: what a world without an episode is sent."""
        self._check_world(world)
        home = self.home_tool_pose()
        return make_action(home[:3, 3], rotmat_to_quat(home[:3, :3]), GRIPPER_OPEN)

    def link_visual_meshes(self) -> dict[str, list[tuple[np.ndarray, np.ndarray]]]:
        """Visual meshes per robot link (every world has the same)."""
        return link_visual_meshes(self.model, self.link_bodies[0])


__all__ = ["NewtonBatchBackend", "check_batch_size", "world_spacing"]
