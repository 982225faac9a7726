"""A world model for the push planner: record demonstrations + exploratory pushes, train, and measure whether
its predicted costs tell pushes apart.

    python benchmarks/planning_model.py --scene S.usdz --out DIR [--demos 20] [--explore 40] [--steps 3000]
    python benchmarks/planning_model.py --scene S.usdz --out DIR --explore 0      # demonstrations only (ablation)
    python benchmarks/planning_model.py --scene S.usdz --out DIR --probe-only     # re-measure DIR/model
    python benchmarks/planning_model.py --scene S.usdz --out DIR --record-only    # the dataset only
    python benchmarks/planning_model.py --scene S.usdz --out DIR2 --no-relative-actions --contact-share 0
        # the A/B baseline (DIR2/dataset and DIR2/rollouts linked to DIR's: the same data, another model)
    python benchmarks/planning_model.py --task pick_place --scene S.usdz --out DIR --explore 60
        # pick_place demonstrations + pick_place_explore (the planner's primitive at random numbers); its probe:
        # which grasps the model sees holding, and where it lands a held object (sim_tasks.planning_probe)

Steps (each skipped when its output exists, so a killed run resumes):
1. rollouts: `push` demonstrations (training seeds from 0, held-out seeds from 10,000) and `push_explore`
   episodes (the push task's approach, then randomised pushes: sim_tasks.push_explore_policy), recorded as
   ordinary LeRobot episodes without camera images (the model trains on body poses and canonical Gaussians),
   merged into one dataset whose held-out split is the held-out demonstrations;
2. train: the `planning` preset (gwm.model.config: the cpu preset, one model step per planner chunk);
3. probe (sim_tasks.planning_probe): at the MPC's push start on layouts no dataset holds (seeds from 50,000),
   the predicted and simulated object displacement for pushing towards the goal, holding still and moving
   away, and how often the model finds pushing towards the goal the cheapest of the three; and how precisely
   the model's latent holds the fingers' position relative to the object (encode + rigid decode); and on the
   recorded episodes, how far the model moves an object where contact begins (onset_displacement).
Writes DIR/probe_<model>_s<sample steps>.json and prints the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

HELDOUT_BASE = 10_000


def record(scene: Path, out: Path, demos: int, explore: int, heldout: int, task: str = "push") -> Path:
    """Record the three shards of `task` (push or pick_place: its demonstrations, its exploratory task, held-out
    demonstrations; states only: no camera images, which the planning model does not read and which cost ~5x
    the physics on a CPU) and merge them; the held-out demonstrations come last."""
    from dataclasses import replace

    from gwm.data import create_recorder, merge_datasets
    from sim_tasks.rendering import CameraConfig
    from sim_tasks.rollout import RolloutConfig, TaskRunner, record_results

    # cameras only for the canonical Gaussians and the dataset description; no frame is rendered
    runner = TaskRunner(scene, task, RolloutConfig(cameras=CameraConfig(width=16, height=16, depth=False),
                                                     save_videos=False))
    spec = runner.dataset_spec()
    spec = replace(spec, features={k: v for k, v in spec.features.items() if v.dtype != "image"
                                   and not k.startswith("observation.depth.")}, cameras=())
    shards = []
    for shard_task, seeds, name in ((task, range(demos), f"{task}-train"),
                                    (f"{task}_explore", range(explore), "explore-train"),
                                    (task, range(HELDOUT_BASE, HELDOUT_BASE + heldout), f"{task}-heldout")):
        if not len(seeds):
            continue
        root = out / "rollouts" / name
        shards.append(root)
        if (root / "done").exists():
            continue
        t0 = time.perf_counter()
        rec = create_recorder(root, spec, "lerobot", canonical_gaussians=runner.canonical_gaussians(),
                              metadata=runner.metadata(shard_task))
        if rec.num_episodes:
            raise SystemExit(f"error: {root} holds a partial recording; delete it and run again")
        entries = record_results((runner.run_episode(s, task=shard_task, render=False) for s in seeds), rec, root)
        rec.finalize()
        (root / "done").write_text("ok")
        ok = sum(e["success"] for e in entries)
        print(f"{name}: {len(entries)} episodes ({ok} succeeded), {time.perf_counter() - t0:.0f} s", flush=True)
    merged = out / "dataset"
    if not merged.exists():
        merge_datasets(shards, merged, "lerobot", heldout_episodes=heldout)
    return merged


def train(dataset: Path, out: Path, steps: int | None, preset: str, heldout: int, relative_actions: bool | None = None,
          contact_share: float | None = None, seed: int | None = None, grip_share: float | None = None) -> Path:
    """heldout: the dataset's last episodes, its valid split (the held-out demonstrations); relative_actions,
    contact_share, grip_share and seed: DiTConfig.relative_actions, OptimConfig.contact_share / grip_share,
    TrainConfig.seed over the preset's (None: the preset's)."""
    from dataclasses import replace

    from gwm.data import open_dataset
    from gwm.model.training import train_on_dataset, training_config

    ds = open_dataset(dataset)
    cfg = training_config(preset, total_steps=steps, val_episodes=heldout, num_episodes=ds.num_episodes)
    if relative_actions is not None:
        cfg = replace(cfg, model=replace(cfg.model, dit=replace(cfg.model.dit, relative_actions=relative_actions)))
    if contact_share is not None:
        cfg = replace(cfg, optim=replace(cfg.optim, contact_share=contact_share))
    if grip_share is not None:
        cfg = replace(cfg, optim=replace(cfg.optim, grip_share=grip_share))
    if seed is not None:
        cfg = replace(cfg, seed=seed)
    return train_on_dataset(ds, out / "model", cfg, source=str(dataset))


def probe(scene: Path, model_path: Path, layouts: int, seed_start: int, sample_steps: int, task: str = "push") -> dict:
    from gwm.planning import WorldModelPredictor
    from sim_tasks.planning_probe import (probe_pick_place, probe_push_separation, summarize_pick_place_probe,
                                          summarize_probe)
    from sim_tasks.planning_runs import load_setup

    setup = load_setup(scene, task, model_path, sample_steps=sample_steps)
    names = setup.runner.backend.body_names

    def make(inst):
        return WorldModelPredictor(setup.model, setup.info, names, inst.target_object, "cpu", setup.sample_steps,
                                   seed=inst.seed)

    seeds = range(seed_start, seed_start + layouts)
    if task == "pick_place":
        rows = probe_pick_place(setup.runner, seeds, make)
        return {"pick_place_summary": summarize_pick_place_probe(rows), "rows": [r.__dict__ for r in rows]}
    rows = probe_push_separation(setup.runner, seeds, make)
    return {"summary": summarize_probe(rows), "rows": [r.__dict__ for r in rows]}


def latent_contact_error(dataset: Path, model_path: Path, target: str, every: int = 5) -> dict:
    """How precisely the model's latent holds what decides contact: the decoded vector from each tool body
    (role "tool": the fingers) to the target object, against the recorded one, over every `every`-th frame of
    every 4th episode (encode -> rigid decode, no dynamics)."""
    import numpy as np
    import torch

    from gwm.data import open_dataset
    from gwm.model.inference import load_world_model

    ds = open_dataset(dataset)
    model, info = load_world_model(model_path)
    names = list(ds.body_names)
    modelled = list(info["bodies"]["modelled"])
    roles = dict(zip(names, ds.spec.body_roles))
    mnames = [names[i] for i in modelled]
    o = mnames.index(target)
    tools = [i for i, n in enumerate(mnames) if roles.get(n) == "tool"]
    errs = []
    with torch.no_grad():
        for ep in range(0, ds.num_episodes, 4):
            p = torch.as_tensor(np.asarray(ds.episode(ep)["observation.body_poses"])[::every][:, modelled],
                                dtype=torch.float32)  # (T, M, 7)
            _, tr = model.vae.decode_poses(model.encode(model.space.features_from_poses(p)))
            pos = tr * model.space.extent + model.space.centre  # (T, M, 3) body origins, metres
            for t in tools:
                errs.append(((pos[:, t] - pos[:, o]) - (p[:, t, :3] - p[:, o, :3])).norm(dim=-1).numpy())
    e = np.concatenate(errs)
    return {"tool_to_object_error_mm_median": 1e3 * float(np.median(e)),
            "tool_to_object_error_mm_p90": 1e3 * float(np.percentile(e, 90)), "frames": int(len(e))}


def onset_displacement(dataset: Path, model_path: Path, horizon: int = 4, max_windows: int = 40) -> dict:
    """What the probe's push start asks for, on recorded episodes: windows where an object rests over the context
    (< 0.5 mm) and then moves > 10 mm within `horizon` model steps (contact begins); the model's open-loop rollout
    (one Euler step) against the recorded displacement of that object, along its recorded direction. Training and
    held-out episodes apart (at most max_windows each, evenly spread)."""
    import numpy as np
    import torch

    from gwm.data import open_dataset
    from gwm.model.inference import load_world_model, rollout_batch
    from gwm.model.trajectories import load_trajectories

    model, info = load_world_model(model_path)
    traj = load_trajectories(open_dataset(dataset), info["config"].data)
    c, s, sp = model.context, model.action_chunk, model.space
    out = {}
    for split, episodes in (("train", traj.train), ("heldout", traj.val)):
        found = []  # (episode, t, object)
        for e in episodes:
            p, t = traj.poses[e], (c - 1) * s
            while t + horizon * s < len(p):
                o = next((o for o in traj.objects if (p[t, o, :3] - p[t - (c - 1) * s, o, :3]).norm() < 5e-4
                          and (p[t + horizon * s, o, :3] - p[t, o, :3]).norm() > 0.01), None)
                if o is None:
                    t += 1
                    continue
                found.append((e, t, o))
                t += horizon * s
        if not found:
            continue
        found = [found[i] for i in np.unique(np.linspace(0, len(found) - 1, max_windows).round().astype(int))]
        ctx, acts, truth = rollout_batch(traj, sp, [(e, t) for e, t, _ in found], horizon, c, s)
        with torch.no_grad():
            pred = model.rollout(ctx, acts, torch.Generator().manual_seed(0), 1)
        true_mm, pred_mm = [], []
        for i, (_, _, o) in enumerate(found):
            sel = sp.body_id == o
            c0 = sp.means(ctx[i, -1])[sel].mean(0)
            d_true, d_pred = sp.means(truth[i, -1])[sel].mean(0) - c0, sp.means(pred[i, -1])[sel].mean(0) - c0
            true_mm.append(1e3 * float(d_true.norm()))
            pred_mm.append(1e3 * float(d_pred[:2] @ (d_true[:2] / d_true[:2].norm())))
        out[split] = {"windows": len(found), "recorded_mm_mean": float(np.mean(true_mm)),
                      "predicted_along_mm_mean": float(np.mean(pred_mm)),
                      "predicted_along_mm_median": float(np.median(pred_mm))}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scene", type=Path, required=True)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--task", default="push", choices=("push", "pick_place"),
                    help="the planning task: its demonstrations and its exploratory task (push_explore, "
                         "pick_place_explore); each task its own probe")
    ap.add_argument("--demos", type=int, default=20, help="demonstrations (training)")
    ap.add_argument("--explore", type=int, default=40, help="exploratory episodes (training)")
    ap.add_argument("--heldout", type=int, default=4, help="held-out demonstrations (the validation split)")
    ap.add_argument("--steps", type=int, default=None, help="training steps (default: the preset's)")
    ap.add_argument("--preset", default="planning")
    ap.add_argument("--relative-actions", action=argparse.BooleanOptionalAction, default=None,
                    help="DiTConfig.relative_actions: the tool target in each body's decoded frame per token "
                         "(default: the preset's; planning: on)")
    ap.add_argument("--contact-share", type=float, default=None,
                    help="OptimConfig.contact_share: this share of each dynamics batch from windows where an object "
                         "moves (default: the preset's; planning: 0.5)")
    ap.add_argument("--grip-share", type=float, default=None,
                    help="OptimConfig.grip_share: this share of each dynamics batch from windows where the commanded "
                         "tool rises with the gripper closed (a grasp's lift, held or not; default: the preset's)")
    ap.add_argument("--seed", type=int, default=None, help="training seed (default: the preset's)")
    ap.add_argument("--probe-layouts", type=int, default=10)
    ap.add_argument("--probe-seed", type=int, default=50_000)
    ap.add_argument("--probe-only", action="store_true")
    ap.add_argument("--record-only", action="store_true", help="record and merge the dataset, then stop")
    ap.add_argument("--model", type=Path, default=None, help="with --probe-only: this model (default DIR/model/model.safetensors)")
    ap.add_argument("--sample-steps", type=int, default=2, help="Euler steps per world-model prediction")
    args = ap.parse_args()
    if not args.scene.exists():
        sys.exit(f"error: {args.scene} does not exist; build the scene first (gwm pipeline ... or gwm scene assemble)")
    args.out.mkdir(parents=True, exist_ok=True)
    model = args.model or args.out / "model" / "model.safetensors"
    t0 = time.perf_counter()
    if not args.probe_only:
        dataset = record(args.scene, args.out, args.demos, args.explore, args.heldout, args.task)
        t1 = time.perf_counter()
        print(f"data: {(t1 - t0) / 60:.1f} min", flush=True)
        if args.record_only:
            return
        if not model.exists():
            model = train(dataset, args.out, args.steps, args.preset, args.heldout, args.relative_actions,
                          args.contact_share, args.seed, args.grip_share)
        print(f"train: {(time.perf_counter() - t1) / 60:.1f} min", flush=True)
    elif not model.exists():
        sys.exit(f"error: {model} does not exist; run without --probe-only first")
    t2 = time.perf_counter()
    res = probe(args.scene, model, args.probe_layouts, args.probe_seed, args.sample_steps, args.task)
    res.update(scene=str(args.scene), model=str(model), task=args.task, demos=args.demos, explore=args.explore,
               steps=args.steps,
               preset=args.preset, relative_actions=args.relative_actions, contact_share=args.contact_share,
               grip_share=args.grip_share,
               seed=args.seed, probe_minutes=(time.perf_counter() - t2) / 60)
    res["sample_steps"] = args.sample_steps
    if (args.out / "dataset").exists():
        from gwm.scene.usd_scene import read_usd_scene
        from sim_tasks.tasks import make_task

        target = make_task(args.task, read_usd_scene(args.scene)).target_object
        res["latent_contact"] = latent_contact_error(args.out / "dataset", model, target)
        res["onset"] = onset_displacement(args.out / "dataset", model)
    out_json = args.out / f"probe_{model.stem}_s{args.sample_steps}.json"
    out_json.write_text(json.dumps(res, indent=1))
    s = res.get("summary")
    if s is not None:
        print(f"\nprobe at the push start, {s['layouts']} unseen layouts: object displacement along the push (mm), "
              "predicted / simulated")
        for k in ("towards", "still", "away"):
            print(f"  {k:8s} {s['predicted_displacement_mm'][k]:7.1f} / {s['simulated_displacement_mm'][k]:7.1f}")
        g = s["cost_gap_away_minus_towards_mm"]
        print(f"cost(away) - cost(towards): predicted {g['predicted']:.1f} mm, simulated {g['simulated']:.1f} mm; "
              f"towards the cheapest of the three: {100 * s['towards_cheapest']:.0f}% of layouts")
    pp = res.get("pick_place_summary")
    if pp is not None:
        print(f"\nprobe at the end of the approach, {pp['layouts']} unseen layouts, the demonstrator's grasp + 4 "
              f"random ones each: held (lift > 3 cm) simulated {100 * pp['held_simulated_share']:.0f}%, predicted "
              f"{100 * pp['held_predicted_share']:.0f}%, predicted = simulated "
              f"{100 * pp['held_agreement']:.0f}% (random grasps {100 * pp['held_agreement_random_grasps']:.0f}%); "
              f"final object position, predicted vs simulated: {pp['final_gap_mm_median_demonstrator_plan']:.1f} mm "
              f"(demonstrator's plan), {pp['final_gap_mm_median_random_grasps']:.1f} mm (random), median; after the "
              f"lift, the place phases: {pp['place_gap_mm_median_after_lift']:.1f} mm median, "
              f"{pp['place_gap_mm_p90_after_lift']:.1f} mm p90; from above the place point (lower, release, "
              f"retreat): {pp['place_gap_mm_median_before_lower']:.1f} mm median, "
              f"{pp['place_gap_mm_p90_before_lower']:.1f} mm p90")
    if "latent_contact" in res:
        lc = res["latent_contact"]
        print(f"decoded finger-to-object vector error (the latent's precision where contact is decided): median "
              f"{lc['tool_to_object_error_mm_median']:.1f} mm, p90 {lc['tool_to_object_error_mm_p90']:.1f} mm")
    for split, o in res.get("onset", {}).items():
        print(f"contact onset ({split}, {o['windows']} windows: object at rest, then > 10 mm in 4 model steps): "
              f"recorded {o['recorded_mm_mean']:.1f} mm, predicted along it {o['predicted_along_mm_mean']:.1f} mm "
              f"(median {o['predicted_along_mm_median']:.1f})")
    print(f"wrote {out_json}")


if __name__ == "__main__":
    main()
