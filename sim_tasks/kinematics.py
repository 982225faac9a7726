"""Damped-least-squares inverse kinematics for the Panda on Newton's forward kinematics.

FK is `newton.eval_fk` on a scratch state (the simulated state is never touched); the 6 x 7
geometric Jacobian of the tool site comes from the world frames of the arm's revolute joints
that FK produced: column i = [a_i x (p_tool - p_i); a_i].
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gwm.geometry import pose7_xyzw_to_matrix


@dataclass(frozen=True)
class IKConfig:
    damping: float = 0.03  # DLS lambda (m / rad): keeps steps bounded near singularities
    max_iterations: int = 8  # per control step (warm-started from the previous command)
    position_tolerance: float = 5e-4  # m
    rotation_tolerance: float = 2e-3  # rad
    rotation_weight: float = 0.5  # metres per radian: trades orientation against position error
    nullspace_gain: float = 0.02  # pull towards the rest posture inside the null space (gentle: a
    # strong pull swings the arm through large joint motions the servos follow with a lag)
    max_joint_step: float = 0.2  # rad per iteration


def rotation_error(r_target: np.ndarray, r_current: np.ndarray) -> np.ndarray:
    """Rotation vector (3,) of r_target @ r_current.T (world frame), robust near pi."""
    r = r_target @ r_current.T
    cos = np.clip((np.trace(r) - 1.0) / 2.0, -1.0, 1.0)
    angle = np.arccos(cos)
    axis = np.array([r[2, 1] - r[1, 2], r[0, 2] - r[2, 0], r[1, 0] - r[0, 1]])
    s = np.linalg.norm(axis)
    if angle < 1e-7:
        return 0.5 * axis
    if s < 1e-6:  # angle ~ pi: axis from the symmetric part
        sym = (r + np.eye(3)) / 2.0
        axis = sym[:, int(np.argmax(np.diag(sym)))]
        return angle * axis / np.linalg.norm(axis)
    return angle * axis / s


class PandaIK:
    """FK, Jacobian and DLS IK of the tool site for the arm joints of one Newton model.

    arm_joints: joint indices of the 7 revolute arm joints (in chain order);
    tool_body, body_from_tool (4,4): the site's body and its offset in that body.
    """

    def __init__(self, model, arm_joints: list[int], tool_body: int, body_from_tool: np.ndarray,
                 joint_lower: np.ndarray, joint_upper: np.ndarray, rest_q: np.ndarray,
                 config: IKConfig = IKConfig()):
        import warp as wp

        self.model = model
        self.config = config
        self.arm_joints = list(arm_joints)
        self.tool_body = int(tool_body)
        self.body_from_tool = np.asarray(body_from_tool, np.float64)
        self.lower, self.upper = np.asarray(joint_lower, np.float64), np.asarray(joint_upper, np.float64)
        self.rest_q = np.asarray(rest_q, np.float64)
        q_start = model.joint_q_start.numpy()
        qd_start = model.joint_qd_start.numpy()
        self.arm_coords = np.array([q_start[j] for j in self.arm_joints])
        self.joint_parent = model.joint_parent.numpy()[self.arm_joints]
        self.joint_child = model.joint_child.numpy()[self.arm_joints]
        self.parent_from_joint = pose7_xyzw_to_matrix(model.joint_X_p.numpy()[self.arm_joints].astype(np.float64))
        self.joint_axis = model.joint_axis.numpy()[[qd_start[j] for j in self.arm_joints]]
        self._q_full = model.joint_q.numpy().astype(np.float32).copy()
        self._q = wp.array(self._q_full, dtype=wp.float32, device=model.device)
        self._qd = wp.zeros(model.joint_dof_count, dtype=wp.float32, device=model.device)
        self._state = model.state()

    def fk(self, q_arm: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Tool pose (4,4) and its 6x7 Jacobian [linear; angular] (world frame) at arm angles q_arm."""
        import newton

        self._q_full[self.arm_coords] = q_arm
        self._q.assign(self._q_full)
        newton.eval_fk(self.model, self._q, self._qd, self._state)
        world_from_body = pose7_xyzw_to_matrix(self._state.body_q.numpy().astype(np.float64))  # (bodies,4,4)
        tool = world_from_body[self.tool_body] @ self.body_from_tool
        jac = np.zeros((6, len(self.arm_joints)))
        for i in range(len(self.arm_joints)):
            parent = self.joint_parent[i]
            world_from_parent = world_from_body[parent] if parent >= 0 else np.eye(4)
            frame = world_from_parent @ self.parent_from_joint[i]
            axis = frame[:3, :3] @ self.joint_axis[i]
            jac[:3, i] = np.cross(axis, tool[:3, 3] - frame[:3, 3])
            jac[3:, i] = axis
        return tool, jac

    def solve(self, q_init: np.ndarray, target: np.ndarray, max_iterations: int | None = None
              ) -> tuple[np.ndarray, float, float]:
        """DLS iterations from q_init towards the (4,4) tool target.

        Returns (q, position error m, rotation error rad) of the last FK evaluated.
        """
        cfg = self.config
        q = np.clip(np.asarray(q_init, np.float64), self.lower, self.upper)
        w = np.array([1.0, 1.0, 1.0, cfg.rotation_weight, cfg.rotation_weight, cfg.rotation_weight])
        pos_err = rot_err = float("inf")
        for _ in range(cfg.max_iterations if max_iterations is None else max_iterations):
            tool, jac = self.fk(q)
            err = np.concatenate([target[:3, 3] - tool[:3, 3], rotation_error(target[:3, :3], tool[:3, :3])])
            pos_err, rot_err = float(np.linalg.norm(err[:3])), float(np.linalg.norm(err[3:]))
            if pos_err < cfg.position_tolerance and rot_err < cfg.rotation_tolerance:
                break
            jw = jac * w[:, None]
            jjt = jw @ jw.T + cfg.damping**2 * np.eye(6)
            pinv = jw.T @ np.linalg.inv(jjt)  # (7,6)
            dq = pinv @ (w * err)
            # Secondary objective: stay near the rest posture (no effect on the tool pose).
            dq += cfg.nullspace_gain * (np.eye(len(q)) - pinv @ jw) @ (self.rest_q - q)
            dq = np.clip(dq, -cfg.max_joint_step, cfg.max_joint_step)
            q = np.clip(q + dq, self.lower, self.upper)
        return q, pos_err, rot_err


class BatchPandaIK:
    """PandaIK for N arms in one Newton model (one per world), evaluated together: one eval_fk per
    iteration for all arms, the DLS update vectorised over the arms. Each arm stops iterating when
    it converges, as PandaIK.solve does, so an arm's result does not depend on the others.

    arm_coords (N,7) joint coordinates, tool_body (N,) tool bodies, parent (N,7) parent bodies of
    the arm joints (-1: world), parent_from_joint (N,7,4,4), joint_axis (7,3) (the same arm in every
    world), body_from_tool (4,4).
    """

    def __init__(self, model, arm_coords: np.ndarray, tool_body: np.ndarray, parent: np.ndarray,
                 parent_from_joint: np.ndarray, joint_axis: np.ndarray, body_from_tool: np.ndarray,
                 joint_lower: np.ndarray, joint_upper: np.ndarray, rest_q: np.ndarray, config: IKConfig = IKConfig()):
        import warp as wp

        self.model, self.config = model, config
        self.arm_coords = np.asarray(arm_coords, np.int64)
        self.tool_body = np.asarray(tool_body, np.int64)
        self.parent = np.asarray(parent, np.int64)
        self.parent_from_joint = np.asarray(parent_from_joint, np.float64)
        self.joint_axis = np.asarray(joint_axis, np.float64)
        self.body_from_tool = np.asarray(body_from_tool, np.float64)
        self.lower, self.upper = np.asarray(joint_lower, np.float64), np.asarray(joint_upper, np.float64)
        self.rest_q = np.broadcast_to(np.asarray(rest_q, np.float64), self.arm_coords.shape).copy()
        self._q_full = model.joint_q.numpy().astype(np.float32).copy()
        self._q = wp.array(self._q_full, dtype=wp.float32, device=model.device)
        self._qd = wp.zeros(model.joint_dof_count, dtype=wp.float32, device=model.device)
        self._state = model.state()

    @property
    def num_arms(self) -> int:
        return len(self.arm_coords)

    def fk(self, q_arm: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Tool poses (N,4,4) and Jacobians (N,6,7) [linear; angular] (world frame) at arm angles (N,7)."""
        import newton

        self._q_full[self.arm_coords] = q_arm
        self._q.assign(self._q_full)
        newton.eval_fk(self.model, self._q, self._qd, self._state)
        world_from_body = pose7_xyzw_to_matrix(self._state.body_q.numpy().astype(np.float64))  # (bodies,4,4)
        tool = world_from_body[self.tool_body] @ self.body_from_tool  # (N,4,4)
        world_from_parent = np.where((self.parent >= 0)[..., None, None], world_from_body[self.parent], np.eye(4))
        frame = world_from_parent @ self.parent_from_joint  # (N,7,4,4)
        axis = np.einsum("nkij,kj->nki", frame[..., :3, :3], self.joint_axis)  # (N,7,3)
        lin = np.cross(axis, tool[:, None, :3, 3] - frame[..., :3, 3])
        return tool, np.concatenate([lin, axis], axis=2).transpose(0, 2, 1)

    def solve(self, q_init: np.ndarray, target: np.ndarray, active: np.ndarray | None = None,
              max_iterations: int | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """DLS iterations from q_init (N,7) towards the tool targets (N,4,4) for the active arms (others keep
        q_init). Returns (q (N,7), position errors (N,), rotation errors (N,)) of the last FK evaluated per arm."""
        cfg = self.config
        n = self.num_arms
        q = np.clip(np.asarray(q_init, np.float64), self.lower, self.upper)
        running = np.ones(n, bool) if active is None else np.asarray(active, bool).copy()
        w = np.array([1.0, 1.0, 1.0, cfg.rotation_weight, cfg.rotation_weight, cfg.rotation_weight])
        pos_err, rot_err = np.full(n, np.inf), np.full(n, np.inf)
        eye7 = np.eye(q.shape[1])
        for _ in range(cfg.max_iterations if max_iterations is None else max_iterations):
            if not running.any():
                break
            tool, jac = self.fk(q)
            idx = np.flatnonzero(running)
            err = np.zeros((n, 6))
            err[idx, :3] = target[idx, :3, 3] - tool[idx, :3, 3]
            for i in idx:
                err[i, 3:] = rotation_error(target[i, :3, :3], tool[i, :3, :3])
            pos_err[idx] = np.linalg.norm(err[idx, :3], axis=1)
            rot_err[idx] = np.linalg.norm(err[idx, 3:], axis=1)
            running[idx] = ~((pos_err[idx] < cfg.position_tolerance) & (rot_err[idx] < cfg.rotation_tolerance))
            idx = np.flatnonzero(running)
            if not len(idx):
                break
            jw = jac[idx] * w[:, None]  # (k,6,7)
            jjt = jw @ jw.transpose(0, 2, 1) + cfg.damping**2 * np.eye(6)
            pinv = jw.transpose(0, 2, 1) @ np.linalg.inv(jjt)  # (k,7,6)
            dq = (pinv @ (w * err[idx])[..., None])[..., 0]
            # Secondary objective: stay near the rest posture (no effect on the tool pose).
            dq += cfg.nullspace_gain * ((eye7 - pinv @ jw) @ (self.rest_q[idx] - q[idx])[..., None])[..., 0]
            dq = np.clip(dq, -cfg.max_joint_step, cfg.max_joint_step)
            q[idx] = np.clip(q[idx] + dq, self.lower, self.upper)
        return q, pos_err, rot_err


__all__ = ["BatchPandaIK", "IKConfig", "PandaIK", "rotation_error"]
