"""Cross-check: the embedded simulator and the Isaac Lab env, same seed and same actions.

Runs in the main venv. The embedded simulator (Newton 1.8 + MuJoCo C backend) runs the task's scripted
demonstrator; its actions are replayed open-loop in the Isaac Lab env (Newton 1.6.1 + MuJoCo Warp, same
scene USD, same MJCF robot, same 2 ms x 25 stepping) by the Isaac Lab venv's python
(`python -m sim_tasks.isaaclab_cli replay`); object positions are compared after every step.

Tolerances: objects the demonstrator does not touch within STILL_TOL; the manipulated object within
MOVED_TOL at the end (contacts and grasps differ in detail between the two MuJoCo builds).
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
STILL_TOL = 0.002  # m
MOVED_TOL = 0.02  # m


def isaaclab_python() -> Path:
    """The Isaac Lab venv's interpreter ($GWM_ISAACLAB_PYTHON, else .venv-isaaclab/bin/python)."""
    return Path(os.environ.get("GWM_ISAACLAB_PYTHON", REPO / ".venv-isaaclab" / "bin" / "python"))


def run_isaaclab_cli(args: list[str], timeout: float | None = None) -> subprocess.CompletedProcess:
    py = isaaclab_python()
    if not py.exists():
        raise FileNotFoundError(f"{py} is missing; build the Isaac Lab venv with `make isaaclab-venv`")
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_WAIT_POLICY": "PASSIVE",
           "WARP_CACHE_PATH": str(py.parent.parent / "warp-cache")}  # the Isaac Lab venv's own kernels
    done = subprocess.run([str(py), "-m", "sim_tasks.isaaclab_cli", *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0:
        raise RuntimeError(f"Isaac Lab run failed ({' '.join(args[:1])}):\n{done.stderr[-3000:]}")
    return done


def embedded_episode(runner, task_name: str, seed: int) -> dict:
    """Embedded simulator, physics only: the demonstrator's actions and object poses after each step."""
    be = runner.backend
    task = runner.get_task(task_name)
    instance = task.sample(seed)
    obs = be.reset(seed, instance.object_poses)
    demo = task.demonstrator(instance, be.body_names, be.control_dt, runner.config.demo)
    n_obj = len(be.object_names)
    actions, poses, success = [], [obs["body_poses"][1:1 + n_obj].astype(np.float64)], False
    for _ in range(task.max_steps):
        a = demo.act(obs)
        obs = be.step(a)
        actions.append(a)
        poses.append(obs["body_poses"][1:1 + n_obj].astype(np.float64))
        named = {n: obs["body_poses"][i].astype(np.float64) for i, n in enumerate(be.body_names)}
        success = task.success(instance, named, float(obs["gripper"][0]))
    return {"actions": np.array(actions), "object_poses": np.array(poses), "success": bool(success),
            "target": instance.target_object, "object_names": list(be.object_names)}


def crosscheck(runner, scene_usd: str, task: str, seed: int, work_dir) -> dict:
    """Errors (m) between the two simulators' object positions for one seed (see module doc)."""
    work = Path(work_dir)
    work.mkdir(parents=True, exist_ok=True)
    ref = embedded_episode(runner, task, seed)
    npz = work / f"actions_{task}_{seed}.npz"
    np.savez(npz, seed=seed, actions=ref["actions"])
    out = work / f"replay_{task}_{seed}"
    run_isaaclab_cli(["replay", "--task", task, "--scene", str(scene_usd), "--actions", str(npz), "--out", str(out)])
    rep = json.loads((out / "replay.json").read_text())
    if rep["object_names"] != ref["object_names"]:
        raise RuntimeError(f"object order differs: {rep['object_names']} vs {ref['object_names']}")
    isaac = np.array(rep["object_poses"])
    err = np.linalg.norm(isaac[:, :, :3] - ref["object_poses"][:, :, :3], axis=-1)  # (T+1, n_obj)
    t = ref["object_names"].index(ref["target"])
    still = [i for i in range(err.shape[1]) if i != t]
    res = {"task": task, "seed": int(seed), "embedded_success": ref["success"],
           "target_final_err_m": float(err[-1, t]), "target_max_err_m": float(err[:, t].max()),
           "others_max_err_m": float(err[:, still].max()) if still else 0.0}
    res["within_tolerance"] = res["target_final_err_m"] <= MOVED_TOL and res["others_max_err_m"] <= STILL_TOL
    return res


__all__ = ["MOVED_TOL", "STILL_TOL", "crosscheck", "embedded_episode", "isaaclab_python", "run_isaaclab_cli"]
