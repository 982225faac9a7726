"""A parameterised pick-and-place primitive: the scripted demonstrator's phases as one action sequence.

From where the demonstrator's approach ends (tool above the object, gripper open, turned to the object's
narrow axis: sim_tasks.pick_place_policy), the primitive is the rest of its plan, open loop:

    descend -> grasp (close, dwell) -> lift -> move (above the goal) -> place (lower) -> release -> retreat

with six numbers in [-1, 1] (GRASP_PARAMS) that move its waypoints: the grasp point off the object's centre
(in the tool frame at the narrow-axis yaw, up to `grasp_offset`), the grasp yaw off the narrow axis (up to
`grasp_yaw`), the grasp height (up to `grasp_height`), and where the tool puts the object down, off the
demonstrator's place point (up to `place_offset`). All zero: the demonstrator's own waypoints. After the lift
the remaining phases are rebuilt from the observed state (the object's hold offset measured, as the
demonstrator does) with the two place numbers only (PLACE_PARAMS).

Each phase lasts a number of control steps that depends on the state and, for the move above the goal, on the
batch's farthest candidate, never on one candidate's numbers (the command moves linearly between waypoints,
then holds for `arrive_steps`), so every candidate of one batch has the same length and a predictor rolls them
out together.

    start = PrimitiveStart.from_demonstrator(demo, obs)          # after the approach
    seq = grasp_primitive(params (K, 6), start, task, instance)  # seq.actions (K, L, 8), seq.lift_end
    seq = place_primitive(params (K, 2), obs, cmd, yaw, task, instance)
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from gwm.geometry import pose7_to_matrix, rotmat_to_quat, yaw_rotation
from sim_tasks.backend import GRIPPER_CLOSED, GRIPPER_OPEN
from sim_tasks.demonstrator import FINGER_PAD_CENTRE, FINGERTIP_OFFSET, DemoConfig

GRASP_PARAMS = ("grasp_x", "grasp_y", "grasp_yaw", "grasp_z", "place_x", "place_y")
PLACE_PARAMS = GRASP_PARAMS[4:]


@dataclass(frozen=True)
class PrimitiveConfig:
    # The box is wide enough that some grasps fail (kitchen, uniform draws: 8 of 12 held; at 2.5 cm, 0.6 rad and
    # 1.5 cm all held, and a model never sees a failed grasp)
    grasp_offset: float = 0.04  # m: the grasp point at most this far off the object's centre (per axis)
    grasp_yaw: float = 0.8  # rad off the narrow-axis yaw
    grasp_height: float = 0.03  # m above/below the demonstrator's grasp height
    place_offset: float = 0.04  # m off the demonstrator's place point (per axis)
    arrive_steps: int = 3  # control steps holding each waypoint (the measured tool catches up)
    retreat_height: float = 0.10  # m, as the demonstrator
    demo: DemoConfig = DemoConfig()


@dataclass
class PrimitiveStart:
    """The state where the primitive takes over: the demonstrator's approach has just ended."""

    cmd: np.ndarray  # (3,) commanded tool position
    yaw: float  # commanded tool yaw
    grasp_yaw: float  # the demonstrator's grasp yaw (narrow axis)
    obj: np.ndarray  # (7,) target object pose

    @classmethod
    def from_demonstrator(cls, demo, obs) -> "PrimitiveStart":
        return cls(np.asarray(demo._cmd_pos, float).copy(), float(demo._cmd_yaw), float(demo._grasp_yaw),
                   obs["body_poses"][list(demo.body_names).index(demo.target)].astype(np.float64))


@dataclass
class PrimitiveSequence:
    actions: np.ndarray  # (K, L, 8) per control step
    lift_end: int  # index of the last step of the lift (the object is up there, if held)
    waypoints: dict  # name -> (K, 3) (and "yaw": (K,)): where each phase's command ends
    move_end: int = -1  # index of the last step of the move above the place point (its arrival hold included)


def tool_quat(yaw) -> np.ndarray:
    """Top-down tool orientation turned by yaw (...,) -> (..., 4) (the demonstrators' convention: tool z down)."""
    return rotmat_to_quat(yaw_rotation(yaw) @ np.diag([1.0, -1.0, -1.0]))


def _steps(distance: float, speed: float, dt: float) -> int:
    return max(1, math.ceil(distance / (speed * dt) - 1e-9))


class _Builder:
    """Appends phases to K sequences of the same length: linear command moves, then holds."""

    def __init__(self, cmd: np.ndarray, yaw: np.ndarray, gripper: float, dt: float):
        self.cmd, self.yaw, self.gripper, self.dt = cmd.copy(), yaw.copy(), gripper, dt  # (K, 3), (K,)
        self.pos, self.yaws, self.grips = [], [], []

    def move(self, goal: np.ndarray, n: int, hold: int, yaw_goal: np.ndarray | None = None) -> None:
        yaw_goal = self.yaw if yaw_goal is None else yaw_goal
        for i in range(n):
            f = (i + 1) / n
            self._emit(self.cmd + (goal - self.cmd) * f, self.yaw + (yaw_goal - self.yaw) * f)
        self.cmd, self.yaw = goal.copy(), yaw_goal.copy()
        self.hold(hold)

    def hold(self, n: int, gripper: float | None = None) -> None:
        if gripper is not None:
            self.gripper = gripper
        for _ in range(n):
            self._emit(self.cmd, self.yaw)

    def _emit(self, pos: np.ndarray, yaw: np.ndarray) -> None:
        self.pos.append(pos.copy())
        self.yaws.append(yaw.copy())
        self.grips.append(self.gripper)

    @property
    def length(self) -> int:
        return len(self.pos)

    def actions(self) -> np.ndarray:
        pos = np.stack(self.pos, 1)  # (K, L, 3)
        yaws = np.stack(self.yaws, 1)  # (K, L)
        k, length = yaws.shape
        quats = tool_quat(yaws)  # (K, L, 4), one vectorised call (per step it was most of a replan's time)
        quats *= np.where(quats[..., :1] < 0, -1.0, 1.0)  # make_action's canonical sign (w >= 0)
        grip = np.broadcast_to(np.asarray(self.grips, float)[None, :, None], (k, length, 1))
        return np.concatenate([pos, quats, grip], -1).astype(np.float32)


def _place_phases(b: _Builder, hold_offset: np.ndarray, tool_minus_bottom: np.ndarray, params: np.ndarray,
                  task, instance, cfg: PrimitiveConfig) -> dict:
    """move, place, release, retreat. hold_offset (K, 3): object centre minus tool; tool_minus_bottom (K,): tool
    height above the held object's bottom; params (K, 2) place numbers. The move lasts what the batch's
    farthest candidate needs at full speed (one candidate alone: the demonstrator's pace, so a plan rebuilt
    from the observed state during the carry keeps moving at speed and arrives)."""
    d, dt = cfg.demo, b.dt
    place_xy, rest_bottom = task.place_target(instance, instance.object_poses)
    move_goal = np.concatenate([place_xy - hold_offset[:, :2] + params * cfg.place_offset, b.cmd[:, 2:3]], 1)
    farthest = float(np.max(np.linalg.norm(move_goal[:, :2] - b.cmd[:, :2], axis=1)))
    b.move(move_goal, _steps(farthest, d.speed, dt), cfg.arrive_steps)
    move_end = b.length - 1
    place_goal = move_goal.copy()
    place_goal[:, 2] = rest_bottom + d.place_gap + tool_minus_bottom
    drop = float(np.max(move_goal[:, 2] - place_goal[:, 2]))
    b.move(place_goal, _steps(max(drop, 0.0), d.slow_speed, dt), cfg.arrive_steps)
    b.hold(math.ceil(d.release_dwell / dt - 1e-9), GRIPPER_OPEN)
    retreat = place_goal + np.array([0.0, 0.0, cfg.retreat_height])
    b.move(retreat, _steps(cfg.retreat_height, d.slow_speed, dt), 0)
    return {"move": move_goal, "place": place_goal, "move_end": move_end}


def grasp_primitive(params: np.ndarray, start: PrimitiveStart, task, instance, dt: float,
                    cfg: PrimitiveConfig = PrimitiveConfig()) -> PrimitiveSequence:
    """The whole primitive from the end of the approach. params (K, 6) in [-1, 1] (GRASP_PARAMS)."""
    p = np.clip(np.asarray(params, float).reshape(-1, len(GRASP_PARAMS)), -1.0, 1.0)
    k, d = len(p), cfg.demo
    obj = start.obj
    hull_z = task.workspace.world_hull(instance.target_object, pose7_to_matrix(obj))[:, 2]
    bottom, top = float(hull_z.min()), float(hull_z.max())
    # the demonstrator's descend goal (PickPlaceDemonstrator, phase "descend"); the object rests, so its
    # bottom is the surface
    z0 = max(bottom + d.tip_above_surface + FINGERTIP_OFFSET, 0.5 * (bottom + top) + FINGER_PAD_CENTRE)
    frame = yaw_rotation(start.grasp_yaw)[:2, :2]
    grasp = np.empty((k, 3))
    grasp[:, :2] = obj[:2] + (p[:, :2] * cfg.grasp_offset) @ frame.T
    grasp[:, 2] = z0 + p[:, 3] * cfg.grasp_height
    yaw = start.grasp_yaw + p[:, 2] * cfg.grasp_yaw
    b = _Builder(np.broadcast_to(start.cmd, (k, 3)), np.full(k, start.yaw), GRIPPER_OPEN, dt)
    descent = float(np.linalg.norm(start.cmd - np.r_[obj[:2], z0])) + math.sqrt(2) * cfg.grasp_offset + cfg.grasp_height
    turn = abs(start.grasp_yaw - start.yaw) + cfg.grasp_yaw
    b.move(grasp, max(_steps(descent, d.slow_speed, dt), _steps(turn, d.yaw_speed, dt)), cfg.arrive_steps, yaw)
    b.hold(math.ceil(d.grasp_dwell / dt - 1e-9), GRIPPER_CLOSED)
    lift = grasp.copy()
    lift[:, 2] = bottom + d.lift_height + FINGERTIP_OFFSET + (top - bottom)
    rise = float(np.max(lift[:, 2] - grasp[:, 2]))
    b.move(lift, _steps(rise, d.speed, dt), cfg.arrive_steps)
    lift_end = b.length - 1
    # held as grasped (the estimate the plan after the lift replaces with the measured hold)
    hold_offset = obj[:3] - grasp
    way = _place_phases(b, hold_offset, grasp[:, 2] - bottom, p[:, 4:], task, instance, cfg)
    move_end = way.pop("move_end")
    return PrimitiveSequence(b.actions(), lift_end, {"grasp": grasp, "yaw": yaw, "lift": lift, **way}, move_end)


def place_primitive(params: np.ndarray, obs: dict, cmd: np.ndarray, yaw: float, body_names, task, instance,
                    dt: float, cfg: PrimitiveConfig = PrimitiveConfig()) -> PrimitiveSequence:
    """The phases after the lift (move, place, release, retreat) from the observed state: the hold offset and the
    tool's height above the object's bottom as measured now (the demonstrator measures them the same way).
    params (K, 2) in [-1, 1] (PLACE_PARAMS); cmd: the commanded tool position now."""
    p = np.clip(np.asarray(params, float).reshape(-1, len(PLACE_PARAMS)), -1.0, 1.0)
    k = len(p)
    obj = obs["body_poses"][list(body_names).index(instance.target_object)].astype(np.float64)
    tool = obs["ee_pose"][:3].astype(np.float64)
    bottom = float(task.workspace.world_hull(instance.target_object, pose7_to_matrix(obj))[:, 2].min())
    b = _Builder(np.broadcast_to(np.asarray(cmd, float), (k, 3)), np.full(k, float(yaw)), GRIPPER_CLOSED, dt)
    hold = np.broadcast_to(obj[:3] - tool, (k, 3))
    way = _place_phases(b, hold, np.full(k, tool[2] - bottom), p, task, instance, cfg)
    move_end = way.pop("move_end")
    return PrimitiveSequence(b.actions(), -1, way, move_end)


def pad_to_multiple(actions: np.ndarray, multiple: int) -> np.ndarray:
    """(K, L, A) -> (K, L', A), L' the next multiple: the last action held (a model predicts whole chunks)."""
    extra = (-actions.shape[1]) % max(int(multiple), 1)
    if not extra:
        return actions
    return np.concatenate([actions, np.repeat(actions[:, -1:], extra, axis=1)], 1)


__all__ = ["GRASP_PARAMS", "PLACE_PARAMS", "PrimitiveConfig", "PrimitiveSequence", "PrimitiveStart",
           "grasp_primitive", "pad_to_multiple", "place_primitive", "tool_quat"]
