"""Isaac Lab (3.0, Newton backend, CPU) against the embedded simulator: success, speed, agreement.

    python benchmarks/isaaclab.py                              # 50 seeds per task, 2 envs, cross-check seed 0
    python benchmarks/isaaclab.py --tasks pick_place --seeds 4 --num-envs 2 --crosscheck-seeds 0
    python benchmarks/isaaclab.py --scene my_scene.usda --skip record

Runs in the main venv; the Isaac Lab side runs in .venv-isaaclab (`make isaaclab-venv`) as subprocesses.

1. record: per task, the scripted demonstrator in the Isaac Lab env over seeds 0..N-1, num_envs at a
   time (python -m sim_tasks.isaaclab_cli record): success rate, episodes/min (after env creation), and
   the embedded simulator's success on the same seeds (physics only) for reference.
2. crosscheck: per seed, the embedded simulator (Newton 1.8 + MuJoCo C) runs the demonstrator and its
   actions are replayed open-loop in the Isaac Lab env (Newton 1.6.1 + MuJoCo Warp, same MJCF robot,
   same scene USD, same 2 ms x 25 stepping); object positions are compared after every step.
   Tolerance stated: untouched objects within 2 mm; the manipulated object within 2 cm at the end.
Timings on a shared 2-core machine are noisy: compare within one run.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
VENV_PY = Path(os.environ.get("GWM_ISAACLAB_PYTHON", REPO / ".venv-isaaclab" / "bin" / "python"))
TASKS = ("pick_place", "pick_place_bowl", "push")
STILL_TOL = 0.002  # m, objects the demonstrator does not touch
MOVED_TOL = 0.02  # m, the manipulated object's final position


def _isaaclab(args: list[str]) -> None:
    if not VENV_PY.exists():
        sys.exit(f"error: {VENV_PY} is missing; build the Isaac Lab venv with `make isaaclab-venv`")
    env = {**os.environ, "PYTHONPATH": str(REPO), "WARP_CACHE_PATH": str(VENV_PY.parent.parent / "warp-cache")}
    done = subprocess.run([str(VENV_PY), "-m", "sim_tasks.isaaclab_cli", *args], cwd=REPO, env=env,
                          capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"error: Isaac Lab run failed:\n{done.stderr[-2000:]}")


def embedded_episode(runner, task_name: str, seed: int) -> dict:
    """Embedded simulator, physics only: the demonstrator's actions and object poses after each step."""
    be = runner.backend
    task = runner.get_task(task_name)
    instance = task.sample(seed)
    obs = be.reset(seed, instance.object_poses)
    demo = task.demonstrator(instance, be.body_names, be.control_dt, runner.config.demo)
    n_obj = len(be.object_names)
    actions, poses, success = [], [obs["body_poses"][1:1 + n_obj].astype(np.float64)], False
    for _ in range(task.config.max_steps):
        a = demo.act(obs)
        obs = be.step(a)
        actions.append(a)
        poses.append(obs["body_poses"][1:1 + n_obj].astype(np.float64))
        named = {n: obs["body_poses"][i].astype(np.float64) for i, n in enumerate(be.body_names)}
        success = task.success(instance, named, float(obs["gripper"][0]))
    return {"actions": np.array(actions), "object_poses": np.array(poses), "success": success,
            "target": instance.target_object, "object_names": list(be.object_names)}


def crosscheck(runner, scene_usd: str, task: str, seed: int, work: Path) -> dict:
    ref = embedded_episode(runner, task, seed)
    npz = work / f"actions_{task}_{seed}.npz"
    np.savez(npz, seed=seed, actions=ref["actions"])
    out = work / f"replay_{task}_{seed}"
    _isaaclab(["replay", "--task", task, "--scene", scene_usd, "--actions", str(npz), "--out", str(out)])
    rep = json.loads((out / "replay.json").read_text())
    assert rep["object_names"] == ref["object_names"]
    isaac = np.array(rep["object_poses"])
    err = np.linalg.norm(isaac[:, :, :3] - ref["object_poses"][:, :, :3], axis=-1)  # (T+1, n_obj)
    t = ref["object_names"].index(ref["target"])
    still = [i for i in range(err.shape[1]) if i != t]
    res = {"task": task, "seed": seed, "embedded_success": bool(ref["success"]),
           "target_final_err_m": float(err[-1, t]), "target_max_err_m": float(err[:, t].max()),
           "others_max_err_m": float(err[:, still].max()) if still else 0.0}
    res["within_tolerance"] = res["target_final_err_m"] <= MOVED_TOL and res["others_max_err_m"] <= STILL_TOL
    return res


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--scene", default=None, help="scene USD (default: the bundled demo scene)")
    p.add_argument("--tasks", default=",".join(TASKS))
    p.add_argument("--seeds", type=int, default=50)
    p.add_argument("--num-envs", type=int, default=2)
    p.add_argument("--crosscheck-seeds", default="0")
    p.add_argument("--skip", default="", help="comma list of: record, crosscheck")
    args = p.parse_args()
    skip = set(filter(None, args.skip.split(",")))
    work = Path(tempfile.mkdtemp(prefix="gwm_isaaclab_bench_"))
    if args.scene:
        scene_usd = str(Path(args.scene).resolve())
    else:
        from exporters.usd import export_usd
        from sim_tasks.demo_scene import make_demo_scene

        scene_usd = str(export_usd(make_demo_scene(), work / "scene" / "demo_scene.usda"))
    from sim_tasks.rollout import RolloutConfig, TaskRunner

    tasks = [t for t in args.tasks.split(",") if t]
    runner = TaskRunner(scene_usd, tasks[0], RolloutConfig(cameras=None))
    report = {"scene": scene_usd, "tasks": {}}
    for task in tasks:
        row = {}
        if "record" not in skip:
            out = work / f"record_{task}"
            t0 = time.perf_counter()
            _isaaclab(["record", "--task", task, "--scene", scene_usd, "--seeds", f"0-{args.seeds - 1}",
                       "--num-envs", str(args.num_envs), "--out", str(out)])
            s = json.loads((out / "results.json").read_text())
            emb = [embedded_episode(runner, task, seed)["success"] for seed in range(args.seeds)]
            row.update({"isaaclab_success": s["successes"] / len(s["results"]),
                        "isaaclab_episodes_per_min": s["episodes_per_min"], "isaaclab_env_build_s": s["env_build_s"],
                        "embedded_success_same_seeds": float(np.mean(emb)), "wall_s": time.perf_counter() - t0})
        if "crosscheck" not in skip:
            row["crosscheck"] = [crosscheck(runner, scene_usd, task, int(seed), work)
                                 for seed in args.crosscheck_seeds.split(",") if seed != ""]
        report["tasks"][task] = row
        print(json.dumps({task: row}, indent=1), flush=True)
    print(f"tolerances: untouched objects {STILL_TOL * 1000:.0f} mm, manipulated object {MOVED_TOL * 100:.0f} cm at the end")
    (work / "report.json").write_text(json.dumps(report, indent=1))
    print(f"report: {work / 'report.json'}")


if __name__ == "__main__":
    main()
