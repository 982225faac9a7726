"""Planned episodes by method, on layouts no dataset recorded: what `gwm plan` and benchmarks/planning.py run.

Tasks: push (sim_tasks.planning_mpc: MPC over planar tool motion) and pick_place
(sim_tasks.planning_pick_place: the scripted demonstrator's phases as a primitive whose numbers are planned).

Methods:
    world_model      CEM (the task config's planner) with the Gaussian world model as the predictor
    random_shooting  the same budget (samples x iterations) of uniformly random plans, world model predictor
    oracle           CEM with the simulator itself as the predictor (snapshot, roll out, restore)
    scripted         the scripted demonstrator (sim_tasks.demonstrator), no planning

Layouts are task seeds from UNSEEN_SEED_BASE on: the pipeline records training seeds from 0 and held-out
seeds from 10,000 (per task +100,000), so these layouts were in no dataset the model saw.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from sim_tasks.planning_mpc import MPCOutcome, PushMPCConfig, run_push_mpc
from sim_tasks.planning_pick_place import PickPlaceMPCConfig, run_pick_place_mpc

METHODS = ("world_model", "random_shooting", "oracle", "scripted")
TASKS = ("push", "pick_place")
UNSEEN_SEED_BASE = 50_000


@dataclass
class PlanningSetup:
    runner: object  # sim_tasks.rollout.TaskRunner
    model: object | None = None
    info: dict | None = None
    device: str = "cpu"
    sample_steps: int | None = 2  # Euler steps per world-model prediction while planning


def load_setup(scene_usd, task: str = "push", model_path=None, device: str = "cpu", cameras: bool = False,
               sample_steps: int | None = 2) -> PlanningSetup:
    """The simulator (with cameras when videos are wanted) and the world model, on `device` ('cuda' needs a
    GPU; checked here with one clear message)."""
    from sim_tasks.rendering import CameraConfig
    from sim_tasks.rollout import RolloutConfig, TaskRunner

    if task not in TASKS:
        raise ValueError(f"planning task {task!r} is not implemented; choose from {', '.join(TASKS)}")
    if device.startswith("cuda"):
        import torch

        if not torch.cuda.is_available():
            raise ValueError(f"device {device!r} asked for, but torch sees no CUDA device here; use --device cpu")
    runner = TaskRunner(scene_usd, task, RolloutConfig(cameras=CameraConfig() if cameras else None))
    model = info = None
    if model_path is not None:
        from gwm.model.inference import load_world_model

        model, info = load_world_model(model_path, device=device)
    return PlanningSetup(runner, model, info, device, sample_steps)


def planning_config(task: str, samples: int | None = None,
                    iterations: int | None = None) -> PushMPCConfig | PickPlaceMPCConfig:
    """The task's planning config, its planner budget replaced where samples / iterations are given."""
    base = PushMPCConfig() if task == "push" else PickPlaceMPCConfig()
    samples = base.planner.samples if samples is None else samples
    iterations = base.planner.iterations if iterations is None else iterations
    return replace(base, planner=replace(base.planner, samples=samples, iterations=iterations,
                                         elites=max(1, min(base.planner.elites, samples))))


def run_method(setup: PlanningSetup, method: str, seed: int, cfg: PushMPCConfig | PickPlaceMPCConfig | None = None,
               video: bool = False) -> MPCOutcome:
    if method not in METHODS:
        raise ValueError(f"unknown planning method {method!r}; choose from {METHODS}")
    runner = setup.runner
    task = runner.task
    cfg = planning_config(task.name) if cfg is None else cfg
    instance = task.sample(seed)
    renderer = runner.renderer if video else None
    if method == "scripted":
        r = runner.run_episode(seed, render=False, max_steps=cfg.max_steps)
        p = r.frames["observation.body_poses"][-1][list(runner.backend.body_names).index(instance.target_object)]
        return MPCOutcome(seed, r.success, float(np.linalg.norm(p[:2] - instance.goal_position[:2])), [], 0, 0.0,
                          r.num_frames)
    if method == "oracle":
        from sim_tasks.sim_predictor import SimulatorPredictor

        predictor = SimulatorPredictor(runner.backend, instance.target_object)
    else:
        if setup.model is None:
            raise ValueError(f"method {method!r} needs a world model (--model)")
        from gwm.planning import WorldModelPredictor

        predictor = WorldModelPredictor(setup.model, setup.info, runner.backend.body_names, instance.target_object,
                                        setup.device, setup.sample_steps, seed=seed)
    if method == "random_shooting":
        cfg = replace(cfg, planner=replace(cfg.planner, method="random"))
    run = run_pick_place_mpc if isinstance(cfg, PickPlaceMPCConfig) else run_push_mpc
    return run(runner.backend, task, instance, predictor, cfg, renderer=renderer, rng=np.random.default_rng(seed))


def write_video(path: Path, frames: list[np.ndarray], fps: int) -> Path:
    from gwm.data.frames_codec import encode_video

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    return encode_video(path, np.stack(frames), fps)


def summarize(outcomes: list[MPCOutcome]) -> dict:
    replans = [s for o in outcomes for s in o.replan_seconds]
    calls = sum(o.model_calls for o in outcomes)
    secs = sum(o.model_seconds for o in outcomes)
    return {"layouts": len(outcomes), "success_rate": float(np.mean([o.success for o in outcomes])),
            "final_error_mm_median": 1e3 * float(np.median([o.final_error for o in outcomes])),
            "final_error_mm_mean": 1e3 * float(np.mean([o.final_error for o in outcomes])),
            "replan_s_mean": float(np.mean(replans)) if replans else None,
            "replan_s_p90": float(np.percentile(replans, 90)) if replans else None,
            "model_calls_per_s": calls / secs if secs > 0 else None}


def unseen_seeds(count: int, start: int = UNSEEN_SEED_BASE) -> list[int]:
    return list(range(start, start + int(count)))


__all__ = ["METHODS", "PlanningSetup", "TASKS", "UNSEEN_SEED_BASE", "load_setup", "planning_config", "run_method",
           "summarize", "unseen_seeds", "write_video"]
