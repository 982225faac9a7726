"""Pick-and-place by planning over a parameterised primitive (sim_tasks.pick_place_primitive), executed in the
simulator.

An episode: the task's layout (seed); the scripted demonstrator's approach (tool above the object, gripper
open, turned to its narrow axis; the same for every method, not what is compared); then
1. the planner chooses the four grasp numbers (offset, yaw, height) by the predicted window through descend,
   close and lift only (short rollouts, where the model errs least; the landing is decided later, from the
   observed state): cost = how far the predicted object stays below `min_lift` at the end of the lift (a plan
   that does not lift it is no plan) + `prior` x the numbers' distance from zero (the demonstrator's own grasp);
2. descend, grasp and lift are executed;
3. closed loop during the carry: every `place_every` control steps, from the observed state (hold offset
   measured), the planner chooses the two place numbers over the remaining phases by the predicted final
   object-to-goal distance + `prior` x their distance from zero (warm-started at the previous choice); the
   last replan is made when the tool has arrived above the place point, before lowering;
4. place, release and retreat are executed; the task's own success test judges the final state.
The prior is in metres per unit of the [-1, 1] box and smaller than what a unit moves the object (4 cm), so an
exact model's optimum is unchanged (a norm, not its square: |e - 4 cm x p| + prior x |p| is least at the same
p); a model that sees no difference keeps the demonstrator's numbers instead of following its own noise.
Random shooting draws the same budget uniformly for the same cost; the oracle is the same planner with the
simulator as the predictor.

    outcome = run_pick_place_mpc(backend, task, instance, predictor, PickPlaceMPCConfig())
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from gwm.planning.planners import PlannerConfig, plan
from sim_tasks.pick_place_primitive import (GRASP_PARAMS, PLACE_PARAMS, PrimitiveConfig, PrimitiveStart,
                                            grasp_primitive, pad_to_multiple, place_primitive)
from sim_tasks.planning_mpc import MPCOutcome, PlannedEpisode


@dataclass(frozen=True)
class PickPlaceMPCConfig:
    planner: PlannerConfig = field(default_factory=lambda: PlannerConfig(samples=32, iterations=3, elites=6))
    primitive: PrimitiveConfig = field(default_factory=PrimitiveConfig)
    min_lift: float = 0.03  # m: the demonstrator's test of a held object after the lift
    # m of cost per unit of the numbers' distance from zero (the demonstrator's plan): half of what a unit of the
    # place numbers moves the object (4 cm), so a model has to predict at least half the physical effect
    prior: float = 0.02
    place_every: int = 9  # control steps (three model chunks) executed between place replans during the carry
    max_steps: int = 150  # control steps of a planned episode (the pick_place task's own; the scripted row's too)
    settle_steps: int = 5  # holding still at the end
    approach_steps: int = 60  # at most, for the scripted approach
    history: int = 16  # observed frames kept for the predictor's context


GRASP_ONLY = len(GRASP_PARAMS) - len(PLACE_PARAMS)  # the grasp numbers (offset x, y, yaw, height)


def model_chunk(predictor) -> int:
    """Control steps per model step: the world model predicts whole chunks (the simulator any length)."""
    return int(getattr(getattr(predictor, "model", None), "action_chunk", 1))


def predict_positions(predictor, actions: np.ndarray) -> np.ndarray:
    """(K, L, 8) -> (K, L, 3) predicted target positions (padded to whole model chunks, then cut back)."""
    return predictor.predict(pad_to_multiple(actions, model_chunk(predictor)))[:, :actions.shape[1]]


def _prior(cfg: PickPlaceMPCConfig, plans: np.ndarray) -> np.ndarray:
    return cfg.prior * np.linalg.norm(plans.reshape(len(plans), -1), axis=1)


def plan_grasp(predictor, start: PrimitiveStart, z0: float, task, instance, dt: float,
               cfg: PickPlaceMPCConfig = PickPlaceMPCConfig(), rng: np.random.Generator | None = None):
    """Choose the grasp numbers (predictor already observed), the place numbers left at zero. z0: the object's
    height now. Cost, over the window through the lift: the predicted lift's shortfall below cfg.min_lift + the
    prior. -> (PlanResult over the GRASP_ONLY numbers, the chosen whole PrimitiveSequence)."""

    def seq(plans):
        p = plans.reshape(len(plans), -1)
        full = np.concatenate([p, np.zeros((len(p), len(PLACE_PARAMS)))], 1)
        return grasp_primitive(full, start, task, instance, dt, cfg.primitive)

    def cost(plans: np.ndarray) -> np.ndarray:
        s = seq(plans)
        pos = predict_positions(predictor, s.actions[:, :s.lift_end + 1])  # (K, lift_end + 1, 3)
        lift = pos[:, -1, 2] - z0
        return np.maximum(0.0, cfg.min_lift - lift) + _prior(cfg, plans)

    res = plan(cost, 1, GRASP_ONLY, cfg.planner, rng=rng)
    return res, seq(res.plan[None])


def plan_place(predictor, obs: dict, cmd: np.ndarray, yaw: float, body_names, task, instance, dt: float,
               cfg: PickPlaceMPCConfig = PickPlaceMPCConfig(), rng: np.random.Generator | None = None,
               warm_start: np.ndarray | None = None):
    """During the carry: choose the place numbers from the observed state (predictor already observed). Cost:
    predicted final object-to-goal distance + the prior. -> (PlanResult, the chosen PrimitiveSequence)."""
    goal = np.asarray(instance.goal_position[:2], float)

    def seq(plans):
        return place_primitive(plans.reshape(len(plans), -1), obs, cmd, yaw, body_names, task, instance, dt,
                               cfg.primitive)

    def cost(plans: np.ndarray) -> np.ndarray:
        pos = predict_positions(predictor, seq(plans).actions)
        return np.linalg.norm(pos[:, -1, :2] - goal, axis=-1) + _prior(cfg, plans)

    res = plan(cost, 1, len(PLACE_PARAMS), cfg.planner, warm_start=warm_start, rng=rng)
    return res, seq(res.plan[None])


def run_pick_place_mpc(backend, task, instance, predictor, cfg: PickPlaceMPCConfig = PickPlaceMPCConfig(),
                       renderer=None, rng: np.random.Generator | None = None) -> MPCOutcome:
    dt = backend.control_dt
    rng = rng if rng is not None else np.random.default_rng(instance.seed)
    ep = PlannedEpisode(backend, instance, cfg.history, renderer)
    demo = task.demonstrator(instance, ep.names, dt, cfg.primitive.demo)
    for _ in range(cfg.approach_steps):
        a = demo.act(ep.obs)
        if demo.phase != "approach":  # arrived: the planner takes over from here
            break
        ep.step(a)
    start = PrimitiveStart.from_demonstrator(demo, ep.obs)
    z0 = float(ep.obs["body_poses"][ep.target][2])
    replans = []
    calls0, secs0 = predictor.calls, predictor.seconds

    def replan(fn, *args):
        t0 = time.perf_counter()
        predictor.observe(np.stack(ep.history))
        out = fn(*args)
        replans.append(time.perf_counter() - t0)
        return out

    _, seq = replan(plan_grasp, predictor, start, z0, task, instance, dt, cfg, rng)
    for a in seq.actions[0][:seq.lift_end + 1]:
        ep.step(a)
    cmd = seq.actions[0][seq.lift_end, :3].astype(np.float64)
    yaw = float(seq.waypoints["yaw"][0])

    warm, arrived = None, False
    while True:
        res, seq = replan(plan_place, predictor, ep.obs, cmd, yaw, ep.names, task, instance, dt, cfg, rng, warm)
        acts = seq.actions[0]
        room = cfg.max_steps - cfg.settle_steps - ep.steps
        if arrived or len(acts) >= room:  # above the place point (or out of time): place, release, retreat
            break
        n = seq.move_end + 1
        if n > cfg.place_every:
            n = cfg.place_every
        else:
            arrived = True  # the next replan is the last, from above the place point
        for a in acts[:n]:
            ep.step(a)
        cmd = acts[n - 1, :3].astype(np.float64)
        warm = res.mean
    for a in acts[:max(0, room)]:
        ep.step(a)
    for _ in range(min(cfg.settle_steps, cfg.max_steps - ep.steps)):
        ep.step(acts[-1])
    return ep.outcome(task, replans, predictor.calls - calls0, predictor.seconds - secs0)


__all__ = ["GRASP_ONLY", "PickPlaceMPCConfig", "model_chunk", "plan_grasp", "plan_place", "predict_positions",
           "run_pick_place_mpc"]
