"""The test bed's real robot: the Panda in MuJoCo's world, pushing an object along a Cartesian path.

Its own controller follows the path (damped least-squares IK on the tool site, MuJoCo's position servos);
its measured joint positions per frame are the robot's log, all the twin is told of it (gwm track
--joints). What the push does to the object is the real world's physics, which the scenario may make
differ from the twin's (a heavier or slipperier object).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from sim_tasks.panda_model import LINK_RGB, TOOL_SITE, write_panda_mjcf

PREFIX = "robot_"
ARM_SEED = np.array([0.0, -0.4, 0.0, -2.3, 0.0, 0.3, 0.0])  # elbow up, hand over the table (NewtonBackend's)
HOVER = 0.06  # m: the tool comes down to the push's height from this far above it
CLEARANCE = 0.015  # m between the fingers and the object's back face before the push


@dataclass(frozen=True)
class RobotPush:
    """The robot's fingers (closed) pushing `body` horizontally along `direction`, world frame: down behind it
    before `start`, then on for `distance` m past first touch over `duration` s, then up again."""

    body: str
    start: float
    duration: float
    distance: float
    direction: tuple[float, float, float]


def attach_panda(spec, base: np.ndarray, object_geoms) -> None:
    """The Panda (its MJCF: servos, meshes, painted in LINK_RGB) attached to MuJoCo spec `spec` at `base` (4,4),
    its collision geoms made to touch the geoms `object_geoms` (their conaffinity: otherwise the scene's objects
    touch only the pairs the scene lists)."""
    import mujoco

    robot = mujoco.MjSpec.from_file(str(write_panda_mjcf()))
    quat = np.zeros(4)
    mujoco.mju_mat2Quat(quat, np.ascontiguousarray(base[:3, :3], np.float64).ravel())
    frame = spec.worldbody.add_frame(pos=base[:3, 3], quat=quat)
    for body in robot.bodies:  # painted as the twin draws its links (LINK_RGB), as a user's robot model would be
        for geom in body.geoms:
            if body.name in LINK_RGB:
                geom.material, geom.rgba = "", [*LINK_RGB[body.name], 1.0]
    spec.attach(robot, prefix=PREFIX, frame=frame)
    for geom in spec.geoms:
        if geom.name in object_geoms:
            geom.conaffinity = 1


class ToolController:
    """Joint targets that put the tool site at a world pose: damped least squares on a scratch MjData."""

    def __init__(self, model, arm_qpos: np.ndarray, arm_dofs: np.ndarray, damping: float = 1e-2):
        import mujoco

        self.mj, self.model = mujoco, model
        self.data = mujoco.MjData(model)
        self.site = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_SITE, PREFIX + TOOL_SITE)
        self.qpos, self.dofs, self.damping = arm_qpos, arm_dofs, damping
        self.lower = model.jnt_range[[model.dof_jntid[d] for d in arm_dofs], 0]
        self.upper = model.jnt_range[[model.dof_jntid[d] for d in arm_dofs], 1]

    def solve(self, seed: np.ndarray, target: np.ndarray, iterations: int = 60) -> tuple[np.ndarray, float]:
        """(7,) arm joints reaching `target` (4,4) from `seed`, and the position error left (m)."""
        mj, m, d = self.mj, self.model, self.data
        q = np.asarray(seed, np.float64).copy()
        jp, jr = np.zeros((3, m.nv)), np.zeros((3, m.nv))
        err = np.inf
        for _ in range(iterations):
            d.qpos[self.qpos] = q
            mj.mj_kinematics(m, d)
            mj.mj_comPos(m, d)
            pos, rot = d.site_xpos[self.site], d.site_xmat[self.site].reshape(3, 3)
            dp = target[:3, 3] - pos
            r = target[:3, :3] @ rot.T  # the turn still to make, world frame
            dr = 0.5 * np.array([r[2, 1] - r[1, 2], r[0, 2] - r[2, 0], r[1, 0] - r[0, 1]])
            err = float(np.linalg.norm(dp))
            if err < 1e-5 and np.linalg.norm(dr) < 1e-4:
                break
            mj.mj_jacSite(m, d, jp, jr, self.site)
            jac = np.vstack([jp[:, self.dofs], jr[:, self.dofs]])
            e = np.concatenate([dp, dr])
            step = jac.T @ np.linalg.solve(jac @ jac.T + self.damping * np.eye(6), e)
            q = np.clip(q + step, self.lower, self.upper)
        return q, err


def tool_down(direction: np.ndarray) -> np.ndarray:
    """(3,3) tool orientation: approach (z) straight down, the fingers' travel (y) across the push, so the
    closed fingers push side by side."""
    d = np.asarray(direction, np.float64)
    d = d / np.linalg.norm(d)
    z = np.array([0.0, 0.0, -1.0])
    y = np.cross(z, d)
    y /= np.linalg.norm(y)
    return np.stack([np.cross(y, z), y, z], 1)


class PushPath:
    """The tool's world pose over time for a RobotPush on object `obj` (its collision hull, world pose)."""

    def __init__(self, push: RobotPush, obj, support_top: float, tip_below_site: float):
        d = np.asarray(push.direction, np.float64)
        d[2] = 0.0
        self.d = d / np.linalg.norm(d)
        self.rot = tool_down(self.d)
        self.push = push
        verts = obj.collision_vertices @ obj.world_from_body[:3, :3].numpy().T + obj.world_from_body[:3, 3].numpy()
        back = float((verts[:, :2] @ self.d[:2]).min())
        centre = verts.mean(0)
        height = float(verts[:, 2].max()) - support_top
        tip_z = support_top + min(max(0.2 * height, 0.008), 0.015)  # low on the object: it slides, not tips
        across = centre[:2] - (centre[:2] @ self.d[:2]) * self.d[:2]
        self.start_xy = across + (back - CLEARANCE - 0.012) * self.d[:2]  # the fingers are ~2.4 cm deep
        self.site_z = tip_z + tip_below_site
        self.travel = CLEARANCE + push.distance

    def at(self, t: float) -> np.ndarray:
        """(4,4) tool pose at time t (s): hovering, coming down before the push, pushing, lifting away."""
        p = self.push
        down = min(1.0, max(0.0, (t - (p.start - 0.4)) / 0.3))
        along = min(1.0, max(0.0, (t - p.start) / p.duration))
        along = 0.5 - 0.5 * math.cos(math.pi * along)  # smooth start and stop
        up = min(1.0, max(0.0, (t - (p.start + p.duration + 0.1)) / 0.3))
        out = np.eye(4)
        out[:3, :3] = self.rot
        out[:2, 3] = self.start_xy + along * self.travel * self.d[:2]
        out[2, 3] = self.site_z + HOVER * (1.0 - down + up)
        return out


class RealRobot:
    """The Panda of a MuJoCo world built with attach_panda, carrying out a RobotPush: set at its first pose,
    then `command(t)` each frame sets the servos for the tool's pose at t, and `joints()` is its log."""

    def __init__(self, model, data, scene, push: RobotPush):
        import mujoco

        from sim_tasks.panda_model import ARM_JOINTS, FINGER_JOINTS, LINK_BODIES

        self.mj, self.model, self.data = mujoco, model, data
        self.fingers = 0.0  # closed: side by side they push like a paddle
        joint = [mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_JOINT, PREFIX + n) for n in ARM_JOINTS + FINGER_JOINTS]
        if min(joint) < 0:
            raise ValueError("the MuJoCo world has no Panda attached (attach_panda)")
        self.qpos = np.array([model.jnt_qposadr[j] for j in joint])
        self.dofs = np.array([model.jnt_dofadr[j] for j in joint])
        self.actuator = [int(np.flatnonzero(model.actuator_trnid[:, 0] == j)[0]) for j in joint]
        self.ik = ToolController(model, self.qpos[:7], self.dofs[:7])
        obj = next((o for o in scene.objects if o.name == push.body), None)
        if obj is None:
            raise ValueError(f"robot push on {push.body!r}, not an object of the scene "
                             f"{[o.name for o in scene.objects]}")
        top = float(scene.support_vertices[:, 2].max())
        fingers = [mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_BODY, PREFIX + n) for n in LINK_BODIES[-2:]]
        self.path = PushPath(push, obj, top, 0.0)
        q, _ = self.ik.solve(ARM_SEED, self.path.at(0.0), iterations=300)
        self._set(q)
        self.path = PushPath(push, obj, top, self.site_height() - self.lowest_point(fingers))
        self.q, err = self.ik.solve(q, self.path.at(0.0), iterations=300)
        if err > 2e-3:
            raise ValueError(f"the robot cannot reach the push on {push.body!r} ({err * 1000:.1f} mm off)")
        self._set(self.q)

    def _set(self, arm: np.ndarray) -> None:
        self.data.qpos[self.qpos[:7]] = arm
        self.data.qpos[self.qpos[7:]] = self.fingers
        self.data.qvel[self.dofs] = 0.0
        self.data.ctrl[self.actuator] = np.concatenate([arm, [self.fingers] * 2])
        self.mj.mj_forward(self.model, self.data)

    def geoms(self) -> np.ndarray:
        """MuJoCo geom ids of the robot (its bodies' names carry PREFIX)."""
        m = self.model
        names = [self.mj.mj_id2name(m, self.mj.mjtObj.mjOBJ_BODY, b) or "" for b in range(m.nbody)]
        robot = [b for b, name in enumerate(names) if name.startswith(PREFIX)]
        return np.flatnonzero(np.isin(m.geom_bodyid, robot))

    def site_height(self) -> float:
        return float(self.data.site_xpos[self.ik.site][2])

    def lowest_point(self, bodies) -> float:
        """The lowest world height of the bodies' mesh geoms (the closed fingers' tips)."""
        m, d = self.model, self.data
        low = np.inf
        for g in np.flatnonzero(np.isin(m.geom_bodyid, bodies)):
            mesh = m.geom_dataid[g]
            if m.geom_type[g] != self.mj.mjtGeom.mjGEOM_MESH or mesh < 0:
                continue
            v = m.mesh_vert[m.mesh_vertadr[mesh]:m.mesh_vertadr[mesh] + m.mesh_vertnum[mesh]]
            low = min(low, float((v @ d.geom_xmat[g].reshape(3, 3).T + d.geom_xpos[g])[:, 2].min()))
        return low

    def command(self, t: float) -> None:
        """Servo targets for the tool's pose at time t."""
        self.q, _ = self.ik.solve(self.q, self.path.at(t))
        self.data.ctrl[self.actuator] = np.concatenate([self.q, [self.fingers] * 2])

    def joints(self) -> np.ndarray:
        """(9,) measured arm joint angles (rad) and finger positions (m)."""
        return self.data.qpos[self.qpos].copy()


__all__ = ["ARM_SEED", "PREFIX", "PushPath", "RealRobot", "RobotPush", "ToolController", "attach_panda",
           "tool_down"]
