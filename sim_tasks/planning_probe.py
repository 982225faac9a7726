"""Does a predictor tell pushes apart? At the push start of a layout (after the MPC's scripted approach), three
plans over the planner's horizon: push straight towards the goal at full speed, hold still, move straight away.
For each, the object's final position as the predictor sees it and as the simulator makes it.

A planner can only follow a model whose cost for "towards" is clearly below "still" and "away"; the world model
trained on demonstrations alone scored the three within 1 mm of each other (README, planning).

    rows = probe_push_separation(setup, seeds, predictor_factory)   # sim_tasks.planning_runs.PlanningSetup

probe_pick_place asks the pick-and-place questions: which grasps hold, and where a held object lands.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sim_tasks.planning_mpc import PlannedEpisode, PushMPCConfig, approach_push_start, plan_actions

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
        ep = PlannedEpisode(be, inst, cfg.history)
        start = approach_push_start(ep.obs, names, task, inst, cfg, ep.step, be.control_dt)
        d = start.direction
        plans = np.stack([np.broadcast_to(d, (cfg.chunks, 2)), np.zeros((cfg.chunks, 2)),
                          np.broadcast_to(-d, (cfg.chunks, 2))])  # (3, H, 2)
        acts = plan_actions(plans, start.cmd, start.push_z, start.quat, cfg)
        obj0 = start.obs["body_poses"][names.index(inst.target_object)][:2].astype(np.float64)
        goal = np.asarray(inst.goal_position[:2], float)
        pred = make_predictor(inst)
        pred.observe(np.stack(ep.history))
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


@dataclass
class PickPlaceProbeRow:
    seed: int
    lift_predicted_m: list[float]  # per grasp (the demonstrator's, then random ones): object rise at the lift's end
    lift_simulated_m: list[float]
    final_gap_m: list[float]  # per grasp: predicted vs simulated final object position (horizontal) of the primitive
    place_gap_m: float  # after the demonstrator's grasp and lift (executed): the same for its place phases
    place_gap_before_lower_m: float  # after its move too (executed; the closed-loop planner's last replan)


def probe_pick_place(runner, seeds, make_predictor, grasps: int = 4, cfg=None) -> list[PickPlaceProbeRow]:
    """Does a predictor see which grasps hold, and where a held object lands? At the end of the scripted approach
    of each layout: the primitive (sim_tasks.pick_place_primitive) at zero (the demonstrator's plan) and at
    `grasps` random numbers, predicted and simulated from the same state; then the zero grasp and lift executed,
    and the zero place phases predicted and simulated from there; then their move executed, and the rest (lower,
    release, retreat) predicted and simulated from above the place point. runner: a pick_place TaskRunner;
    make_predictor(instance) -> a Predictor."""
    from sim_tasks.pick_place_primitive import GRASP_PARAMS, PrimitiveStart, grasp_primitive, place_primitive
    from sim_tasks.planning_pick_place import PickPlaceMPCConfig, predict_positions
    from sim_tasks.sim_predictor import SimulatorPredictor

    cfg = cfg or PickPlaceMPCConfig()
    be, task = runner.backend, runner.task
    names = list(be.body_names)
    rows = []
    for seed in seeds:
        inst = task.sample(seed)
        ep = PlannedEpisode(be, inst, cfg.history)
        demo = task.demonstrator(inst, names, be.control_dt, cfg.primitive.demo)
        for _ in range(cfg.approach_steps):
            a = demo.act(ep.obs)
            if demo.phase != "approach":
                break
            ep.step(a)
        start = PrimitiveStart.from_demonstrator(demo, ep.obs)
        z0 = float(start.obj[2])
        rng = np.random.default_rng([int(seed), 7])
        params = np.concatenate([np.zeros((1, len(GRASP_PARAMS))), rng.uniform(-1, 1, (grasps, len(GRASP_PARAMS)))])
        seq = grasp_primitive(params, start, task, inst, be.control_dt, cfg.primitive)
        model, sim = make_predictor(inst), SimulatorPredictor(be, inst.target_object)
        model.observe(np.stack(ep.history))
        p_model, p_sim = predict_positions(model, seq.actions), predict_positions(sim, seq.actions)
        for a in seq.actions[0][:seq.lift_end + 1]:
            ep.step(a)
        yaw = float(seq.waypoints["yaw"][0])

        def place_from_here(cmd):
            """The zero place phases from the episode's state (tool commanded at cmd), predicted both ways."""
            place = place_primitive(np.zeros((1, 2)), ep.obs, cmd[:3].astype(np.float64), yaw, names, task, inst,
                                    be.control_dt, cfg.primitive)
            model.observe(np.stack(ep.history))
            return place, predict_positions(model, place.actions), predict_positions(sim, place.actions)

        place, q_model, q_sim = place_from_here(seq.actions[0][seq.lift_end])
        for a in place.actions[0][:place.move_end + 1]:
            ep.step(a)
        _, r_model, r_sim = place_from_here(place.actions[0][place.move_end])
        rows.append(PickPlaceProbeRow(
            int(seed), (p_model[:, seq.lift_end, 2] - z0).tolist(), (p_sim[:, seq.lift_end, 2] - z0).tolist(),
            np.linalg.norm(p_model[:, -1, :2] - p_sim[:, -1, :2], axis=-1).tolist(),
            float(np.linalg.norm(q_model[0, -1, :2] - q_sim[0, -1, :2])),
            float(np.linalg.norm(r_model[0, -1, :2] - r_sim[0, -1, :2]))))
    return rows


def summarize_pick_place_probe(rows: list[PickPlaceProbeRow], min_lift: float = 0.03) -> dict:
    held_pred = np.array([[x > min_lift for x in r.lift_predicted_m] for r in rows])  # (layouts, 1 + grasps)
    held_sim = np.array([[x > min_lift for x in r.lift_simulated_m] for r in rows])
    gaps = np.array([r.final_gap_m for r in rows])
    return {"layouts": len(rows),
            "held_simulated_share": float(held_sim.mean()),
            "held_predicted_share": float(held_pred.mean()),
            "held_agreement": float((held_pred == held_sim).mean()),  # predicted held == simulated held
            "held_agreement_random_grasps": float((held_pred[:, 1:] == held_sim[:, 1:]).mean()),
            "final_gap_mm_median_demonstrator_plan": 1e3 * float(np.median(gaps[:, 0])),
            "final_gap_mm_median_random_grasps": 1e3 * float(np.median(gaps[:, 1:])),
            "place_gap_mm_median_after_lift": 1e3 * float(np.median([r.place_gap_m for r in rows])),
            "place_gap_mm_p90_after_lift": 1e3 * float(np.percentile([r.place_gap_m for r in rows], 90)),
            "place_gap_mm_median_before_lower":
                1e3 * float(np.median([r.place_gap_before_lower_m for r in rows])),
            "place_gap_mm_p90_before_lower":
                1e3 * float(np.percentile([r.place_gap_before_lower_m for r in rows], 90))}


__all__ = ["PLANS", "PickPlaceProbeRow", "ProbeRow", "probe_pick_place", "probe_push_separation",
           "summarize_pick_place_probe", "summarize_probe"]
