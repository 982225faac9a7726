"""Model-predictive control in the simulator: push an object to a goal with a planner and a predictor.

An episode: the task's layout (seed), a scripted approach that puts the closed fingers at push height
behind the object on the line to the goal (the same for every method; it is not what is compared), then
MPC: every `execute_chunks` chunks the planner searches `chunks` chunks of planar tool motion (each
chunk `chunk_steps` control steps, at most `max_chunk_move` metres), scored by the predictor's target
object positions against the goal, and the first chunks are executed in the simulator. At the end the
tool lifts off and the task's own success test judges the final state.

    outcome = run_push_mpc(backend, task, instance, predictor, PushMPCConfig())
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np

from gwm.planning.planners import PlannerConfig, plan, shift_plan
from sim_tasks.backend import GRIPPER_CLOSED, make_action
from sim_tasks.demonstrator import CLOSED_FINGER_HALF_WIDTH, FINGERTIP_OFFSET
from gwm.geometry import pose7_to_matrix, rotmat_to_quat
from sim_tasks.workspace import yaw_rotation


@dataclass(frozen=True)
class PushMPCConfig:
    planner: PlannerConfig = field(default_factory=lambda: PlannerConfig(samples=32, iterations=3, elites=6))
    chunks: int = 4  # planning horizon, in chunks
    chunk_steps: int = 3  # control steps per chunk
    execute_chunks: int = 2  # executed before the next replan
    max_chunk_move: float = 0.02  # m of tool travel per chunk (0.13 m/s at 3 x 50 ms)
    max_steps: int = 150  # control steps of a planned episode; the scripted row gets the same budget (fair), not push's 250
    approach_speed: float = 0.25  # m/s
    push_height: float = 0.015  # m, fingertips above the object's base while pushing
    clearance: float = 0.06  # m, fingertips above the object's top on the way to the push start
    settle_steps: int = 8  # control steps lifting the tool off at the end
    stop_distance: float = 0.01  # m: close enough to the goal, stop pushing
    history: int = 16  # observed frames kept for the predictor's context


@dataclass
class MPCOutcome:
    seed: int
    success: bool
    final_error: float  # m, horizontal object-to-goal distance at the end
    replan_seconds: list[float]
    model_calls: int  # one-step predictions
    model_seconds: float
    steps: int
    frames: list[np.ndarray] = field(default_factory=list)  # rendered scene frames (when a renderer is given)


def _tool_quat(yaw: float) -> np.ndarray:
    """Top-down tool orientation turned by yaw (the demonstrator's convention: tool z down)."""
    return rotmat_to_quat(yaw_rotation(yaw) @ np.diag([1.0, -1.0, -1.0]))


@dataclass
class PushStart:
    obs: dict  # the observation where the planner takes over
    cmd: np.ndarray  # (3,) commanded tool position there
    push_z: float  # tool height while pushing
    quat: np.ndarray  # (4,) tool orientation (wxyz) while pushing
    direction: np.ndarray  # (2,) unit vector from the object to the goal at the start


def approach_push_start(obs, body_names, task, instance, cfg: PushMPCConfig, step, control_dt: float) -> PushStart:
    """The scripted approach (the same for every method): closed fingers behind the object on its line to
    the goal, at push height. obs: the observation after reset; step(action) -> the next observation;
    control_dt: seconds per control step."""
    target = list(body_names).index(instance.target_object)
    goal = np.asarray(instance.goal_position[:2], float)
    obj = obs["body_poses"][target].astype(np.float64)
    hull = task.workspace.world_hull(instance.target_object, pose7_to_matrix(obj))
    d = goal - obj[:2]
    d /= max(np.linalg.norm(d), 1e-9)
    back = float(-((hull[:, :2] - obj[:2]) @ d).min())
    start = obj[:2] - d * (back + CLOSED_FINGER_HALF_WIDTH + 0.03)
    push_z = float(hull[:, 2].min()) + cfg.push_height + FINGERTIP_OFFSET
    high_z = float(hull[:, 2].max()) + cfg.clearance + FINGERTIP_OFFSET
    quat = _tool_quat(math.atan2(d[1], d[0]))
    cmd = obs["ee_pose"][:3].astype(np.float64)
    for way in (np.array([*start, high_z]), np.array([*start, push_z])):
        for _ in range(60):
            delta = way - cmd
            dist = float(np.linalg.norm(delta))
            move = cfg.approach_speed * control_dt
            cmd = way.copy() if dist <= move else cmd + delta * move / dist
            obs = step(make_action(cmd, quat, GRIPPER_CLOSED))
            if dist <= move and np.linalg.norm(obs["ee_pose"][:3] - way) < 0.01:
                break
    # push start: the tool is where it was commanded; from here on the planner decides
    cmd = np.array([obs["ee_pose"][0], obs["ee_pose"][1], push_z], np.float64)
    return PushStart(obs, cmd, push_z, quat, d)


def plan_actions(plans: np.ndarray, cmd: np.ndarray, push_z: float, quat: np.ndarray,
                 cfg: PushMPCConfig) -> np.ndarray:
    """(K, H, 2) plans in [-1, 1] -> (K, H*S, 8) tool targets: a planar path from the command cmd, each chunk
    moving at most cfg.max_chunk_move, fingers closed at push height."""
    span = plans.shape[1] * cfg.chunk_steps
    frac = (np.arange(cfg.chunk_steps) + 1) / cfg.chunk_steps  # (S,) within a chunk
    moves = plans * cfg.max_chunk_move  # (K, H, 2) metres per chunk
    ends = cmd[:2] + np.cumsum(moves, axis=1)  # (K, H, 2)
    starts = np.concatenate([np.broadcast_to(cmd[:2], (len(plans), 1, 2)), ends[:, :-1]], axis=1)
    xy = starts[:, :, None] + moves[:, :, None] * frac[None, None, :, None]  # (K, H, S, 2)
    xy = xy.reshape(len(plans), span, 2)
    tail = np.broadcast_to(np.r_[push_z, quat, GRIPPER_CLOSED], (*xy.shape[:2], 6))
    return np.concatenate([xy, tail], axis=-1).astype(np.float32)


class PlannedEpisode:
    """The simulator side of one planned episode: reset to the layout; step (keeping the last `history` body
    poses for the predictor and, with a renderer, the frames); the outcome by the task's own test."""

    def __init__(self, backend, instance, history: int, renderer=None):
        self.backend, self.instance, self.keep, self.renderer = backend, instance, history, renderer
        self.obs = backend.reset(instance.seed, instance.object_poses)
        self.names = list(backend.body_names)
        self.target = self.names.index(instance.target_object)
        self.goal = np.asarray(instance.goal_position[:2], float)
        self.history = [self.obs["body_poses"]]
        self.frames: list[np.ndarray] = []
        self.steps = 0

    def step(self, action) -> dict:
        self.obs = self.backend.step(action)
        self.history.append(self.obs["body_poses"])
        del self.history[:-self.keep]
        self.steps += 1
        if self.renderer is not None:
            self.frames.append(self.renderer.render(self.obs["body_poses"], self.obs["ee_pose"])["scene"])
        return self.obs

    def outcome(self, task, replans: list[float], calls: int, seconds: float) -> MPCOutcome:
        poses = {n: self.obs["body_poses"][i].astype(np.float64) for i, n in enumerate(self.names)}
        success = task.success(self.instance, poses, float(self.obs["gripper"][0]))
        err = float(np.linalg.norm(poses[self.instance.target_object][:2] - self.goal))
        return MPCOutcome(self.instance.seed, bool(success), err, replans, calls, seconds, self.steps, self.frames)


def run_push_mpc(backend, task, instance, predictor, cfg: PushMPCConfig = PushMPCConfig(), renderer=None,
                 rng: np.random.Generator | None = None) -> MPCOutcome:
    rng = rng if rng is not None else np.random.default_rng(instance.seed)
    ep = PlannedEpisode(backend, instance, cfg.history, renderer)
    start = approach_push_start(ep.obs, ep.names, task, instance, cfg, ep.step, backend.control_dt)
    cmd = start.cmd
    push_z, quat = start.push_z, start.quat

    def to_actions(plans: np.ndarray) -> np.ndarray:
        return plan_actions(plans, cmd, push_z, quat, cfg)

    weights = np.linspace(0.5, 1.0, cfg.chunks)
    weights[-1] = 2.0  # where the object ends counts most

    def cost(plans: np.ndarray) -> np.ndarray:
        pos = predictor.predict(to_actions(plans))  # (K, H*S, 3)
        ends = pos[:, cfg.chunk_steps - 1::cfg.chunk_steps, :2]  # (K, H, 2) at chunk ends
        return (np.linalg.norm(ends - ep.goal, axis=-1) * weights).sum(1) / weights.sum()

    warm = None
    replans = []
    calls0, secs0 = predictor.calls, predictor.seconds
    while ep.steps + cfg.chunk_steps * cfg.execute_chunks <= cfg.max_steps - cfg.settle_steps:
        if np.linalg.norm(ep.obs["body_poses"][ep.target][:2] - ep.goal) < cfg.stop_distance:
            break
        t0 = time.perf_counter()
        predictor.observe(np.stack(ep.history))
        res = plan(cost, cfg.chunks, 2, cfg.planner, warm_start=warm, rng=rng)
        replans.append(time.perf_counter() - t0)
        acts = to_actions(res.plan[None])[0]
        for a in acts[:cfg.chunk_steps * cfg.execute_chunks]:
            ep.step(a)
        cmd[:2] = acts[cfg.chunk_steps * cfg.execute_chunks - 1, :2]
        warm = shift_plan(res.mean, cfg.execute_chunks)
    # lift off, let the object settle
    for k in range(cfg.settle_steps):
        cmd[2] = push_z + 0.01 * (k + 1)
        ep.step(make_action(cmd, quat, GRIPPER_CLOSED))
    return ep.outcome(task, replans, predictor.calls - calls0, predictor.seconds - secs0)


__all__ = ["MPCOutcome", "PlannedEpisode", "PushMPCConfig", "PushStart", "approach_push_start", "plan_actions", "run_push_mpc"]
