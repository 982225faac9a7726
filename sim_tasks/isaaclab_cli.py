"""Launcher for the Isaac Lab environments; run it with the Isaac Lab venv's python:

    .venv-isaaclab/bin/python -m sim_tasks.isaaclab_cli record --task pick_place --seeds 0-3 --num-envs 2 --out DIR
    .venv-isaaclab/bin/python -m sim_tasks.isaaclab_cli replay --task pick_place --actions A.npz --out DIR

record: scripted demos recorded by Isaac Lab's recorder into DIR/demos.hdf5 (successful ones by default),
        and DIR/results.json (per seed: success, steps; timings).
replay: the actions in A.npz (`seed`, `actions` (T, 8) in the project's action layout) in env 0 with no
        success termination; DIR/replay.json holds the object poses after every step (xyz + wxyz).

Without --scene the bundled demo scene (sim_tasks.demo_scene) is exported to DIR/scene first. The main
venv never imports this module's Isaac Lab parts (they need newton 1.6.1; `make isaaclab-venv`).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np


def parse_seeds(text: str) -> list[int]:
    """"0-3" -> [0, 1, 2, 3]; "1,5,7" -> [1, 5, 7]."""
    out = []
    for part in text.split(","):
        part = part.strip()
        if "-" in part[1:]:
            lo, hi = part.split("-", 1)
            if int(hi) < int(lo):
                raise ValueError(f"--seeds {text!r}: range {part!r} runs backwards; write it low-high, e.g. 0-3")
            out.extend(range(int(lo), int(hi) + 1))
        elif part:
            out.append(int(part))
    if not out:
        raise ValueError(f"--seeds {text!r} names no seed; give e.g. 0-3 or 1,5,7")
    return out


def _scene_usd(args) -> Path:
    if args.scene:
        path = Path(args.scene)
        if not path.is_file():
            raise FileNotFoundError(f"--scene {path}: no such USD file; export one with `gwm scene export`")
        return path
    from exporters.usd import export_usd
    from sim_tasks.demo_scene import make_demo_scene

    return Path(export_usd(make_demo_scene(), Path(args.out) / "scene" / "demo_scene.usda"))


def _spec(args, **overrides):
    from sim_tasks.isaaclab_spec import IsaacLabConfig, build_isaaclab_spec

    settings = {"num_envs": args.num_envs, "dataset_dir": str(Path(args.out).resolve()),
                "physics_dt": args.physics_dt, "decimation": args.decimation, "export_mode": args.export_mode,
                "nconmax": args.nconmax, "njmax": args.njmax, "cpu_graph": not args.no_cpu_graph}
    config = IsaacLabConfig(**{**settings, **overrides})
    return build_isaaclab_spec(_scene_usd(args), args.task, config)


def record(args) -> dict:
    from gwm.atomic_io import write_text_atomic
    from sim_tasks.isaaclab_env import make_isaaclab_env, record_isaaclab_demos

    seeds = parse_seeds(args.seeds)
    spec = _spec(args)
    t0 = time.perf_counter()
    env, layouts = make_isaaclab_env(spec)
    t_env = time.perf_counter() - t0
    t1 = time.perf_counter()
    results = record_isaaclab_demos(spec, seeds, env=env, layouts=layouts,
                                    progress=lambda r: print(json.dumps(r), flush=True))
    t_run = time.perf_counter() - t1
    env.close()  # flushes and closes the HDF5 file
    summary = {"task": args.task, "num_envs": args.num_envs, "nconmax": spec.config.nconmax,
               "cpu_graph": spec.config.cpu_graph, "seeds": seeds, "results": results,
               "successes": sum(r["success"] for r in results), "env_build_s": t_env, "run_s": t_run,
               "episodes_per_min": 60.0 * len(results) / t_run if t_run > 0 else None,
               "hdf5": str(Path(spec.config.dataset_dir) / f"{spec.config.dataset_filename}.hdf5"),
               "physics_dt": spec.config.physics_dt, "decimation": spec.config.decimation}
    write_text_atomic(Path(args.out) / "results.json", json.dumps(summary, indent=1))
    return summary


def replay(args) -> dict:
    from gwm.atomic_io import write_text_atomic
    from sim_tasks.isaaclab_env import IsaacLabBackend

    data = np.load(args.actions)
    spec = _spec(args, terminate_on_success=False, export_mode="all")
    backend = IsaacLabBackend(spec)
    obs = backend.reset(int(data["seed"]))
    poses = [obs["body_poses"][1:1 + len(backend.object_names)].tolist()]
    for a in data["actions"]:
        obs = backend.step(a)
        poses.append(obs["body_poses"][1:1 + len(backend.object_names)].tolist())
    out = {"seed": int(data["seed"]), "object_names": list(backend.object_names), "object_poses": poses}
    write_text_atomic(Path(args.out) / "replay.json", json.dumps(out))
    backend.env.close()
    return out


def main(argv=None) -> int:
    from sim_tasks.isaaclab_spec import ContactBufferOverflow, IsaacLabConfig

    p = argparse.ArgumentParser(prog="python -m sim_tasks.isaaclab_cli", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    for name in ("record", "replay"):
        s = sub.add_parser(name)
        s.add_argument("--task", default="pick_place")
        s.add_argument("--scene", default=None, help="scene USD (default: the bundled demo scene)")
        s.add_argument("--out", required=True)
        s.add_argument("--num-envs", type=int, default=1)
        s.add_argument("--physics-dt", type=float, default=0.002)
        s.add_argument("--decimation", type=int, default=25)
        s.add_argument("--export-mode", default="succeeded_only")
        s.add_argument("--nconmax", type=int, default=IsaacLabConfig.nconmax, help="contact slots per env")
        s.add_argument("--njmax", type=int, default=IsaacLabConfig.njmax, help="constraint rows per env")
        s.add_argument("--no-cpu-graph", action="store_true",
                       help="launch every physics kernel from Python (Isaac Lab's own way) instead of a Warp CPU graph")
        if name == "record":
            s.add_argument("--seeds", default="0-1")
        else:
            s.add_argument("--actions", required=True)
    args = p.parse_args(argv)
    os.environ.setdefault("WARP_CACHE_PATH", str(Path(sys.prefix) / "warp-cache"))  # the venv's own kernels
    try:
        summary = record(args) if args.cmd == "record" else replay(args)
    except (FileNotFoundError, ValueError, ImportError, ContactBufferOverflow) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if args.cmd == "record":
        print(f"{summary['successes']}/{len(summary['results'])} successful; {summary['hdf5']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
