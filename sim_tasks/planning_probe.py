"""Does a predictor tell pushes apart? At the push start of a layout (after the MPC's scripted approach), three
plans over the planner's horizon: push straight towards the goal at full speed, hold still, move straight away.
For each, the object's final position as the predictor sees it and as the simulator makes it.

A planner can only follow a model whose cost for "towards" is clearly below "still" and "away"; the world model
trained on demonstrations alone scored the three within 1 mm of each other (README, planning).

    rows = probe_push_separation(setup, seeds, predictor_factory)   # sim_tasks.planning_runs.PlanningSetup
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sim_tasks.planning_mpc import PushMPCConfig, approach_push_start, plan_actions

PLANS = ("towards", "still", "away")


@dataclass
class ProbeRow:
    seed: int
    predicted_m: dict[str, float]  # plan -> predicted final object displacement along the push direction (m)
    simulated_m: dict[str, float]  # the same, simulator
    predicted_cost_m: dict[str, float]  # plan -> predicted final object-to-goal distance
    simulated_cost_m: dict[str, float]


def probe_push_separation(runner, seeds, make_predictor, cfg: PushMPCConfig = PushMPCConfig()) -> list[ProbeRow]:
    """runner: sim_tasks.rollout.TaskRunner of the push task; make_predictor(instance) -> a Predictor."""
    from sim_tasks.sim_predictor import SimulatorPredictor

    be, task = runner.backend, runner.task
    names = list(be.body_names)
    rows = []
    for seed in seeds:
        inst = task.sample(seed)
        obs = be.reset(seed, inst.object_poses)
        history = [obs["body_poses"]]

        def step(action):
            o = be.step(action)
            history.append(o["body_poses"])
            return o

        start = approach_push_start(obs, names, task, inst, cfg, step, be.control_dt)
        d = start.direction
        plans = np.stack([np.broadcast_to(d, (cfg.chunks, 2)), np.zeros((cfg.chunks, 2)),
                          np.broadcast_to(-d, (cfg.chunks, 2))])  # (3, H, 2)
        acts = plan_actions(plans, start.cmd, start.push_z, start.quat, cfg)
        obj0 = start.obs["body_poses"][names.index(inst.target_object)][:2].astype(np.float64)
        goal = np.asarray(inst.goal_position[:2], float)
        pred = make_predictor(inst)
        pred.observe(np.stack(history[-cfg.history:]))
        p_end = pred.predict(acts)[:, -1, :2]
        s_end = SimulatorPredictor(be, inst.target_object).predict(acts)[:, -1, :2]
        rows.append(ProbeRow(
            int(seed),
            {k: float((p - obj0) @ d) for k, p in zip(PLANS, p_end)},
            {k: float((p - obj0) @ d) for k, p in zip(PLANS, s_end)},
            {k: float(np.linalg.norm(p - goal)) for k, p in zip(PLANS, p_end)},
            {k: float(np.linalg.norm(p - goal)) for k, p in zip(PLANS, s_end)}))
    return rows


def summarize_probe(rows: list[ProbeRow]) -> dict:
    """Means over layouts (mm), and how often the predictor finds pushing towards the goal the cheapest of the
    three plans (what the simulator says on every layout where the push moves the object)."""
    mean = lambda key, attr: 1e3 * float(np.mean([getattr(r, attr)[key] for r in rows]))  # noqa: E731
    ranked = [r.predicted_cost_m["towards"] < min(r.predicted_cost_m["still"], r.predicted_cost_m["away"])
              for r in rows]
    gap = [r.predicted_cost_m["away"] - r.predicted_cost_m["towards"] for r in rows]
    sim_gap = [r.simulated_cost_m["away"] - r.simulated_cost_m["towards"] for r in rows]
    return {"layouts": len(rows),
            "predicted_displacement_mm": {k: mean(k, "predicted_m") for k in PLANS},
            "simulated_displacement_mm": {k: mean(k, "simulated_m") for k in PLANS},
            "cost_gap_away_minus_towards_mm": {"predicted": 1e3 * float(np.mean(gap)),
                                               "simulated": 1e3 * float(np.mean(sim_gap))},
            "towards_cheapest": float(np.mean(ranked))}


__all__ = ["PLANS", "ProbeRow", "probe_push_separation", "summarize_probe"]
