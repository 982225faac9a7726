"""Isaac Lab (3.0, Newton backend, CPU) against the embedded simulator: success, speed, agreement.

    python benchmarks/isaaclab.py                              # 50 seeds per task, 16 envs, cross-check seed 0
    python benchmarks/isaaclab.py --tasks pick_place --seeds 4 --num-envs 2 --crosscheck-seeds 0
    python benchmarks/isaaclab.py --scene my_scene.usda --skip record

Runs in the main venv; the Isaac Lab side runs in .venv-isaaclab (`make isaaclab-venv`) as subprocesses.

1. record: per task, the scripted demonstrator in the Isaac Lab env over seeds 0..N-1, num_envs at a
   time (python -m sim_tasks.isaaclab_cli record): success rate, episodes/min (after env creation), and
   the embedded simulator's success on the same seeds (physics only) for reference.
2. crosscheck: per seed, the embedded simulator (Newton 1.8 + MuJoCo C) runs the demonstrator and its
   actions are replayed open-loop in the Isaac Lab env (Newton 1.6.1 + MuJoCo Warp, same MJCF robot,
   same scene USD, same 2 ms x 25 stepping); object positions are compared after every step.
   Tolerance stated (sim_tasks/isaaclab_crosscheck.py): untouched objects within 2 mm; the manipulated
   object within 2 cm at the end.
Timings on a shared 2-core machine are noisy: compare within one run.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
TASKS = ("pick_place", "pick_place_bowl", "push")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--scene", default=None, help="scene USD (default: the bundled demo scene)")
    p.add_argument("--tasks", default=",".join(TASKS))
    p.add_argument("--seeds", type=int, default=50)
    # 16 envs in one process: the fastest measured here (per env step, 2 / 8 / 16 / 32 envs: 0.57 / 0.90 / 1.34 /
    # 3.45 s with the CPU graph, i.e. 3.5 / 8.9 / 11.9 / 9.3 env steps per second).
    p.add_argument("--num-envs", type=int, default=16)
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
    from sim_tasks.isaaclab_crosscheck import MOVED_TOL, STILL_TOL, crosscheck, embedded_episode, run_isaaclab_cli
    from sim_tasks.rollout import RolloutConfig, TaskRunner

    tasks = [t for t in args.tasks.split(",") if t]
    runner = TaskRunner(scene_usd, tasks[0], RolloutConfig(cameras=None))
    report = {"scene": scene_usd, "tasks": {}}
    for task in tasks:
        row = {}
        if "record" not in skip:
            out = work / f"record_{task}"
            t0 = time.perf_counter()
            run_isaaclab_cli(["record", "--task", task, "--scene", scene_usd, "--seeds", f"0-{args.seeds - 1}",
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
