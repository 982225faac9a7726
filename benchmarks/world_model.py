"""World model benchmark: training throughput, one-step prediction latency, validation table.

    python benchmarks/world_model.py                       # train (cpu preset) + validate on the kitchen demos
    python benchmarks/world_model.py --model OUT/model.safetensors   # validate an existing model
    python benchmarks/world_model.py --skip-validation     # throughput and latency only (~1 min)
    python benchmarks/world_model.py --dataset synthetic   # the synthetic pushing world (no pipeline run needed)

The kitchen demonstrations and scene come from `make run` (datasets/outputs/kitchen); their last
--heldout episodes (unseen seeds) are held out, and the simulator replays them as the reference.

Figures depend on the machine and on other load: a matmul rate measured in the same run is printed as
the reference, with throughput per reference GFLOP/s so runs on different machines compare.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

# Idle OpenMP threads sleep instead of spinning: on a machine shared with other jobs, spinning made
# 2-thread training ~10x slower (0.68 s vs 0.07 s per step measured). Must be set before torch loads.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import torch  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
KITCHEN = ROOT / "datasets" / "outputs" / "kitchen"


def matmul_gflops(n: int = 512, reps: int = 20) -> float:
    a, b = torch.randn(n, n), torch.randn(n, n)
    a @ b
    t = time.perf_counter()
    for _ in range(reps):
        a @ b
    return 2 * n**3 * reps / (time.perf_counter() - t) / 1e9


def throughput(traj, cfg, steps: int = 30) -> dict[str, float]:
    from gwm.model.train import Trainer

    tr = Trainer(cfg, traj, progress=False)
    out = {}
    for stage, start in (("vae", 0), ("dynamics", cfg.optim.vae_steps)):
        tr.step = start
        for _ in range(3):  # warm-up (and the dynamics stage's one-off latent encoding)
            tr.train_step()
        t = time.perf_counter()
        for _ in range(steps):
            tr.train_step()
        out[stage] = steps * cfg.optim.batch_size / (time.perf_counter() - t)
    return out


def latency(model, traj, reps: int = 50) -> dict[str, float]:
    """Median ms: one latent prediction step (1 sample, the model's Euler steps), encode, decode."""
    sp = model.space
    ctx_f = sp.features_from_poses(traj.poses[traj.val[0]][[3, 4]])[None]  # (1, C, N, 14)
    act = traj.actions[traj.val[0]][4:5][None]  # (1, S=1, A)
    with torch.no_grad():
        lat = model.encode(ctx_f)
        gen = torch.Generator().manual_seed(0)

        def timed(fn):
            fn()
            ts = []
            for _ in range(reps):
                t = time.perf_counter()
                fn()
                ts.append(1e3 * (time.perf_counter() - t))
            return statistics.median(ts)

        return {"predict_latent_ms": timed(lambda: model.predict_next(lat, act, gen)),
                "encode_ms": timed(lambda: model.encode(ctx_f[:, -1])),
                "decode_ms": timed(lambda: model.decode(lat[:, -1]))}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dataset", default=str(KITCHEN / "datasets" / "demos" / "lerobot"),
                   help="dataset folder or synthetic[:EPISODES]")
    p.add_argument("--scene", type=Path, default=KITCHEN / "scene" / "scene.usdz",
                   help="scene USD for simulator replay of the held-out episodes (dataset folders only)")
    p.add_argument("--heldout", type=int, default=6, help="last episodes held out (the kitchen: 2 seeds x 3 tasks)")
    p.add_argument("--model", type=Path, help="a trained model.safetensors (skips training)")
    p.add_argument("--out", type=Path, default=ROOT / "datasets" / "outputs" / "world_model_benchmark")
    p.add_argument("--preset", default="cpu")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--skip-validation", action="store_true")
    args = p.parse_args()
    torch.set_num_threads(args.threads)

    from gwm.model.cli import open_world_dataset, train_world_model
    from gwm.model.config import preset
    from gwm.model.inference import load_world_model
    from gwm.model.trajectories import load_trajectories
    from gwm.model.validate import ValidationConfig, markdown_table, validate
    from gwm.model.world_model import GaussianWorldModel, parameter_count

    synthetic = args.dataset.startswith("synthetic")
    if not synthetic and not Path(args.dataset).exists():
        raise SystemExit(f"{args.dataset} does not exist: run `make run` first (it writes the kitchen demonstrations), "
                         "or pass --dataset synthetic")
    ds = open_world_dataset(args.dataset)
    cfg = preset(args.preset, cpu_threads=args.threads)
    if not synthetic:
        from dataclasses import replace

        cfg = replace(cfg, data=replace(cfg.data, val_fraction=args.heldout / ds.num_episodes))
    traj = load_trajectories(ds, cfg.data)
    ref = matmul_gflops()
    print(f"reference: fp32 matmul {ref:.1f} GFLOP/s with {torch.get_num_threads()} threads")
    tp = throughput(traj, cfg)
    for stage, v in tp.items():
        print(f"training throughput, {stage:8s}: {v:8.1f} samples/s  ({v / ref:.2f} samples/s per reference GFLOP/s)")

    if args.model is not None:
        model, _ = load_world_model(args.model)
    else:
        torch.manual_seed(0)
        model = GaussianWorldModel(cfg.model, traj.space, traj.action_dim).eval()  # latency needs no training
    torch.set_num_threads(args.threads)
    lat = latency(model, traj)
    n_vae, n_dit = parameter_count(model.vae), parameter_count(model.dit)
    print(f"parameters: {parameter_count(model):,} (VAE {n_vae:,}, DiT {n_dit:,})")
    print(f"one-step prediction latency (latent, 1 sample, {model.cfg.edm.sample_steps} Euler steps): "
          f"{lat['predict_latent_ms']:.1f} ms (target < 50 ms); encode {lat['encode_ms']:.1f} ms, "
          f"decode {lat['decode_ms']:.1f} ms")
    if args.skip_validation:
        return
    model_path = args.model
    if model_path is None:
        t = time.perf_counter()
        model_path = train_world_model(args.dataset, args.out / "model", args.preset, resume=False,
                                       cpu_threads=args.threads, data=cfg.data)
        print(f"trained in {time.perf_counter() - t:.0f} s")
    replay, baselines = None, None
    if not synthetic and args.scene.exists():
        from sim_tasks.kinematic_baseline import kinematic_baselines
        from sim_tasks.replay import SimulatorReplay

        replay = SimulatorReplay(args.scene, ds)
        baselines = kinematic_baselines(ds)  # the robot posed from the commanded actions
    result = validate(model_path, ds, args.out / "validation", ValidationConfig(cpu_threads=args.threads),
                      replay=replay, baselines=baselines)
    print(f"reference: {result.info['reference']}")
    print(markdown_table(result))
    print(f"GWM better than each baseline at every step: {result.info['beats_baselines']}")
    print(f"report: {args.out / 'validation' / 'report.md'}")


if __name__ == "__main__":
    main()
