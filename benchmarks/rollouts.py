"""Scripted rollouts: success rate per task, physics steps/s and recorded episodes/minute.

    python benchmarks/rollouts.py                       # 50 seeds per task, 10 recorded episodes
    python benchmarks/rollouts.py --seeds 10 --record-episodes 4 --workers 2
    python benchmarks/rollouts.py --scene my_scene.usda
    python benchmarks/rollouts.py --scene datasets/outputs/kitchen/scene/scene.usdz --skip physics,throughput \
        --workers 1                                     # success rate only: no cameras, no rendering
    python benchmarks/rollouts.py --skip success,physics,throughput --batch-sizes 1,2,4,8   # batching only

1. Success rate: every task over seeds 0..N-1, physics + demonstrator only (cameras off; the
   cameras only observe, so they change nothing in the physics), in `workers` processes (workers=1:
   in this process). `--skip physics,throughput` measures only this: nothing is rendered.
2. Physics steps/s: the fast substep path (mj_step between synchronisations) against the
   reference path (every substep through SolverMuJoCo.step), same episode, same process.
3. Throughput: run_rollouts with two 128x128 cameras (RGB + depth), LeRobot recording and a
   preview video per episode, `workers` processes: episodes per minute (150 control steps of
   50 ms = 3,750 physics steps each), with and without the workers' start-up.
4. Batching (`--batch-sizes`, issue #16): pick_place episodes per hour in ONE process with N worlds in
   one Newton model (BatchTaskRunner) against the single-world path (TaskRunner, one world per
   process) measured in the same run, state-only and with the two default 128x128 RGB-D cameras
   (rendered, not recorded: recording costs the same per episode on both paths). One process per
   world on C free cores runs at most min(N, C) x the single-world rate (printed as the bound); a
   batch runs in one process, so the fair per-core comparison is batch-N against the single rate.
Timings on a shared 2-core machine are noisy: compare ratios within one run.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

TASKS = ("pick_place", "pick_place_bowl", "push")
_RUNNER = None


def _init(scene_usd: str, task: str) -> None:
    import numba
    import torch

    torch.set_num_threads(1)
    numba.set_num_threads(1)
    from sim_tasks.rollout import RolloutConfig, TaskRunner

    global _RUNNER
    _RUNNER = TaskRunner(scene_usd, task, RolloutConfig(cameras=None))


def _episode(args):
    task, seed = args
    r = _RUNNER.run_episode(seed, task=task, render=False)
    return task, seed, r.success, r.timings["physics"], r.physics_steps, r.first_success_step, r.num_frames


def success_rates(scene_usd: str, seeds: int, workers: int, seed_start: int = 0, tasks=TASKS) -> dict:
    from tqdm import tqdm

    from gwm.scene.usd_scene import read_usd_scene
    from sim_tasks.tasks import skipped_tasks

    skipped = skipped_tasks(tasks, read_usd_scene(scene_usd))
    for name, why in skipped.items():
        print(f"skipping task {name}: {why}")
    tasks = [t for t in tasks if t not in skipped]
    jobs = [(t, s) for t in tasks for s in range(seed_start, seed_start + seeds)]
    out = {t: [] for t in tasks}
    physics_time = physics_steps = 0
    pool = None
    if workers <= 1:  # in this process: no worker start-up, one simulation at a time
        _init(scene_usd, tasks[0])
        results = map(_episode, jobs)
    else:
        pool = mp.get_context("spawn").Pool(workers, initializer=_init, initargs=(scene_usd, tasks[0]))
        results = pool.imap_unordered(_episode, jobs)
    try:
        for task, seed, ok, t_phys, steps, first, length in tqdm(results, total=len(jobs), desc="success rate",
                                                        unit="episode"):
            out[task].append((seed, ok, first, length))
            physics_time += t_phys
            physics_steps += steps
    finally:
        if pool is not None:
            pool.terminate()
            pool.join()
    print("\nScripted success rate (cameras off, seeds %d..%d):" % (seed_start, seed_start + seeds - 1))
    for task in tasks:
        runs = sorted(out[task])
        ok = sum(r[1] for r in runs)
        failed = [r[0] for r in runs if not r[1]]
        firsts = [r[2] for r in runs if r[2] is not None]
        print(f"  {task:16s} {ok}/{len(runs)} = {ok / len(runs):.0%}   failed seeds: {failed or '-'}   "
              f"solved at step {min(firsts, default=0)}-{max(firsts, default=0)} of {max(r[3] for r in runs)}")
    print(f"  physics (incl. IK) in the workers: {physics_steps / physics_time:,.0f} physics steps/s per process")
    return out


def physics_speed(scene_usd: str) -> None:
    import numba
    import torch

    torch.set_num_threads(1)
    numba.set_num_threads(1)
    from sim_tasks.rollout import RolloutConfig, TaskRunner

    runner = TaskRunner(scene_usd, "pick_place", RolloutConfig(cameras=None))
    be = runner.backend
    rates = {}
    for mode, fast in (("fast (mj_step between syncs)", True), ("reference (SolverMuJoCo.step each substep)", False)):
        be._fast_substeps = fast
        r = runner.run_episode(0, render=False)
        rates[mode] = r.physics_steps / r.timings["physics"]
        print(f"  {mode:45s} {rates[mode]:8,.0f} physics steps/s (incl. IK per control step)  success={r.success}")
    be._fast_substeps = True
    fast, ref = rates.values()
    print(f"  speed-up of the fast path: {fast / ref:.1f}x")


def throughput(scene_usd: str, episodes: int, workers: int) -> None:
    from sim_tasks.rollout import RolloutConfig, run_rollouts

    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        summary = run_rollouts(scene_usd, "pick_place", range(1000, 1000 + episodes), Path(tmp) / "ds",
                               workers=workers, config=RolloutConfig())
        wall = time.perf_counter() - t0
        eps = summary.episodes
        per_episode = sum(e["timings"]["total"] for e in eps) / len(eps)
        physics = sum(e["timings"]["physics"] for e in eps) / len(eps)
        render = sum(e["timings"]["render"] for e in eps) / len(eps)
        steps = 150 * 25
        print(f"\nRecorded rollouts, pick_place, {episodes} episodes x 150 steps, {workers} workers, "
              "cameras 2 x 128x128 RGB+depth, LeRobot + preview mp4:")
        print(f"  per episode in a worker: {per_episode:.2f} s  (physics+IK {physics:.2f} s = "
              f"{steps / physics:,.0f} physics steps/s, rendering {render:.2f} s = {render / 150 * 1e3:.0f} ms "
              f"per step for both cameras, rest {per_episode - physics - render:.2f} s)")
        print(f"  episodes/minute: {60 * episodes / wall:.1f} wall clock including worker start-up and recording; "
              f"{60 * workers / per_episode:.1f} steady state ({workers} workers x 60 / per-episode time)")
        print(f"  success {summary.success_rate:.0%}")


def batching(scene_usd: str, sizes, episodes: int, camera_episodes: int, rounds: int = 3, camera_rounds: int = 1,
             seed_start: int = 2000, device: str = "cpu") -> dict:
    """Episodes/hour for batch sizes against the single-world path, state-only and with cameras.

    Every path is built once, then `rounds` rounds run each path over the same seeds in turn, so load
    from other processes on a shared machine hits all paths alike; the median round is reported. A
    batch larger than the episode count runs one full batch (its first `episodes` seeds are the others')."""
    import numba
    import torch

    from sim_tasks.newton_backend import NewtonSimConfig
    from sim_tasks.rollout import BatchTaskRunner, RolloutConfig, TaskRunner

    torch.set_num_threads(1)
    numba.set_num_threads(1)
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    out = {}
    for label, count, render, rounds in (("state-only", episodes, False, rounds),
                                         ("cameras 2 x 128x128 RGB-D", camera_episodes, True, camera_rounds)):
        if count <= 0:
            continue
        sim = NewtonSimConfig(device=device)
        config = RolloutConfig(sim=sim) if render else RolloutConfig(sim=sim, cameras=None)
        seeds = list(range(seed_start, seed_start + max([count, *sizes])))
        runners = {"single world (TaskRunner)": TaskRunner(scene_usd, "pick_place", config)}
        for n in sizes:
            runners[f"batch {n} (BatchTaskRunner)"] = BatchTaskRunner(scene_usd, "pick_place", config, n)
        for runner in runners.values():
            runner.run_episode(seeds[0], render=render, max_steps=2)  # first-call costs out of the timing
        rows = {name: {"rates": [], "cpu_rates": [], "timings": [], "success": None} for name in runners}
        for _ in range(rounds):
            for name, runner in runners.items():
                t0, c0 = time.perf_counter(), time.process_time()
                if isinstance(runner, BatchTaskRunner):
                    n_eps = max(count, runner.batch)
                    results = [r for k in range(0, n_eps, runner.batch)
                               for r in runner.run_batch(seeds[k:min(k + runner.batch, n_eps)], render=render)]
                else:
                    results = [runner.run_episode(s, render=render) for s in seeds[:count]]
                wall, cpu = time.perf_counter() - t0, time.process_time() - c0
                row = rows[name]
                n_eps = len(results)
                row["rates"].append(3600 * n_eps / wall)
                # CPU time of this process: what other processes on a shared machine disturb least
                row["cpu_rates"].append(3600 * n_eps / cpu)
                phys = sum(r.timings["physics"] for r in results) / n_eps
                rend = sum(r.timings["render"] for r in results) / n_eps
                row["timings"].append((phys, rend, wall / n_eps - phys - rend))
                success = [r.seed for r in results[:count] if r.success]  # the seeds every path runs
                if row["success"] is not None and row["success"] != success:
                    raise AssertionError(f"{name}: a repeated round succeeded on other seeds")
                row["success"] = success
        print(f"\nBatched rollouts on {device}, pick_place, {label}, {count} episodes per round (seeds {seeds[0]}.."
              f"{seeds[count - 1]}; a larger batch runs one full batch), {rounds} rounds, one process, median round "
              "(success: of the first seeds, the same on every path):")
        print(f"  {'path':28s} {'episodes/h':>10s} {'(range)':>17s} {'vs single':>9s} {'per CPU-h':>10s} {'vs single':>9s} "
              f"{'success':>8s}   per episode (s): physics+IK / render / policy+obs+rest")
        base = float(np.median(rows["single world (TaskRunner)"]["rates"]))
        base_cpu = float(np.median(rows["single world (TaskRunner)"]["cpu_rates"]))
        for name, row in rows.items():
            rate, cpu_rate = float(np.median(row["rates"])), float(np.median(row["cpu_rates"]))
            phys, rend, rest = row["timings"][int(np.argmin(np.abs(np.asarray(row["rates"]) - rate)))]
            ok = len(row["success"])
            print(f"  {name:28s} {rate:10,.0f} {min(row['rates']):8,.0f}-{max(row['rates']):<8,.0f} {rate / base:8.2f}x "
                  f"{cpu_rate:10,.0f} {cpu_rate / base_cpu:8.2f}x {ok:4d}/{count:<3d}   {phys:.3f} / {rend:.3f} / {rest:.3f}",
                  flush=True)
            row["median"], row["cpu_median"] = rate, cpu_rate
        bounds = ", ".join(f"N={n}: {min(n, cores) * base:,.0f}" for n in sizes)
        print(f"  one process per world on this machine's {cores} cores, upper bound min(N, {cores}) x single: {bounds} "
              "episodes/h (no start-up, perfect scaling)")
        out[label] = rows
        del runners
    return out

def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--scene", default=None, help="scene USD/USDZ, e.g. datasets/outputs/kitchen/scene/scene.usdz "
                                                 "(default: the synthetic demo scene)")
    p.add_argument("--seeds", type=int, default=50)
    p.add_argument("--seed-start", type=int, default=0)
    p.add_argument("--record-episodes", type=int, default=10)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--tasks", default=",".join(TASKS), help="comma list of tasks for the success rate")
    p.add_argument("--skip", default="", help="comma list of parts to skip: success,physics,throughput,batch")
    p.add_argument("--batch-sizes", default="1,2,4,8", help="batch sizes for the batching part")
    p.add_argument("--batch-episodes", type=int, default=16, help="state-only episodes per batching row")
    p.add_argument("--batch-camera-episodes", type=int, default=8, help="episodes with cameras per batching row (0: skip)")
    p.add_argument("--batch-rounds", type=int, default=3, help="state-only rounds over all batching paths (median reported)")
    p.add_argument("--batch-camera-rounds", type=int, default=1, help="rounds with cameras")
    p.add_argument("--device", default="cpu", help="simulator and camera device for the batching part: cpu or "
                                                   "cuda (MuJoCo Warp worlds, gsplat cameras; e.g. --batch-sizes "
                                                   "1,16,256,1024 --batch-episodes 64)")
    args = p.parse_args()
    if args.device.startswith("cuda"):
        import torch

        if not torch.cuda.is_available():
            p.error(f"--device {args.device} needs a CUDA GPU and torch sees none here; use --device cpu")
    skip = set(filter(None, args.skip.split(",")))
    print(f"CPU cores: {os.cpu_count()}, load average: {os.getloadavg()[0]:.1f}")
    with tempfile.TemporaryDirectory() as tmp:
        scene = args.scene
        if scene is None:
            from sim_tasks.demo_scene import write_demo_scene_usd

            scene = str(write_demo_scene_usd(Path(tmp) / "demo_scene.usda"))
        if "physics" not in skip:
            print("\nPhysics speed (one process, pick_place seed 0, 3,750 physics steps):")
            physics_speed(scene)
        if "throughput" not in skip:
            throughput(scene, args.record_episodes, args.workers)
        if "batch" not in skip:
            batching(scene, [int(n) for n in args.batch_sizes.split(",")], args.batch_episodes,
                     args.batch_camera_episodes, args.batch_rounds, args.batch_camera_rounds, device=args.device)
        if "success" not in skip:
            success_rates(scene, args.seeds, args.workers, args.seed_start,
                          tuple(filter(None, args.tasks.split(","))))


if __name__ == "__main__":
    main()
