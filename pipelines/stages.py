"""The pipeline's stages as plain functions: paths and settings in, (outputs, figures) out.

Each is a short call into library code; flows.py wraps them in Prefect flows/tasks and the
content-hash stage cache. Nothing here imports Prefect, so the CLI and tests can call them.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from pipelines.config import PipelineConfig

Outputs = tuple[dict[str, Path], dict]


def capture(cfg: PipelineConfig, out_dir: Path) -> Outputs:
    from gwm.capture import CaptureConfig, run_capture

    ref = cfg.path(cfg.reference_poses) if cfg.reference_poses else None
    result = run_capture(cfg.path(cfg.capture_input), out_dir, CaptureConfig(max_frames=cfg.capture_max_frames),
                         reference=ref, overwrite=True)
    print(result.summary())
    figures = {"registered": result.num_registered, "frames": result.num_frames,
               "reprojection_px": round(result.mean_reprojection_error_px or 0.0, 3)}
    if result.pose_error:
        figures["pose_error_cm"] = round(result.pose_error["translation_cm_mean"], 3)
        figures["pose_error_deg"] = round(result.pose_error["rotation_deg_mean"], 3)
    return {"dataset": out_dir / "transforms.json"}, figures


def reconstruct(cfg: PipelineConfig, capture_dir: Path, out_dir: Path) -> Outputs:
    from gwm.reconstruct import reconstruct as run_reconstruct
    from gwm.reconstruct import train_preset

    overrides = {"iterations": cfg.reconstruct_iterations} if cfg.reconstruct_iterations else {}
    result = run_reconstruct(capture_dir, out_dir, train_preset(cfg.reconstruct_preset, **overrides))
    figures = {"gaussians": result.num_gaussians, "minutes": round(result.seconds / 60, 2)}
    if result.psnr is not None:
        figures.update(heldout_psnr=round(result.psnr, 2), heldout_ssim=round(result.ssim, 4))
    return {"splat": result.splat_path}, figures


def _masks_cover(cameras: Path, mask_dir: Path | None) -> bool:
    """Whether every frame of a transforms.json has a mask in mask_dir (a capture of the masked images; a video
    capture's frames have none, and then the scene file's own cameras for its masks are used)."""
    import json

    frames = json.loads(Path(cameras).read_text()).get("frames", [])
    return mask_dir is not None and bool(frames) and all(
        (mask_dir / Path(f["file_path"]).name).is_file() for f in frames)


def assemble_and_export(cfg: PipelineConfig, splat: Path, out_dir: Path, cameras: Path | None = None) -> Outputs:
    """cameras: a transforms.json replacing the scene file's [masks] cameras (the capture's recovered poses)."""
    from dataclasses import replace

    from exporters.splat_files import export_ply, export_spz
    from exporters.usd import export_usd
    from gwm.scene import assemble_scene, load_scene_config

    config = load_scene_config(cfg.path(cfg.scene_file), splat=splat)
    if cameras is not None and config.masks is not None and _masks_cover(cameras, config.masks.dir):
        config = replace(config, masks=replace(config.masks, cameras=cameras))
    scene = assemble_scene(config)
    usd = export_usd(scene, out_dir / "scene.usdz")
    export_ply(scene, out_dir / "ply")
    export_spz(scene, out_dir / "spz")
    figures = {"objects": len(scene.objects), "background_gaussians": len(scene.background),
               "object_gaussians": sum(len(o.splats) for o in scene.objects)}
    return {"usd": usd, "ply": out_dir / "ply", "spz": out_dir / "spz"}, figures


def rollout_seeds(cfg: PipelineConfig, task_index: int, split: str) -> list[int]:
    """Seeds (object layouts) per task: training seeds from 0, held-out seeds from 10,000."""
    base = 100_000 * task_index + (10_000 if split == "heldout" else 0)
    n = cfg.train_episodes_per_task if split == "train" else cfg.heldout_episodes_per_task
    return list(range(base, base + n))


def applicable_tasks(cfg: PipelineConfig, scene_usd: Path) -> list[tuple[int, str]]:
    """(index in cfg.tasks, name) of the tasks with a valid target in this scene; the others are skipped
    with their reason printed (e.g. pick_place_bowl in a scene without a container)."""
    from exporters.usd import read_usd_scene
    from sim_tasks.tasks import TaskConfig, skipped_tasks

    skipped = skipped_tasks(cfg.tasks, read_usd_scene(scene_usd), TaskConfig(max_steps=cfg.episode_steps))
    for name, why in skipped.items():
        print(f"skipping task {name}: {why}")
    kept = [(i, name) for i, name in enumerate(cfg.tasks) if name not in skipped]
    if not kept:
        raise ValueError(f"none of the tasks {list(cfg.tasks)} applies to {scene_usd} (reasons above); "
                         "give the scene a graspable object (and a container for pick_place_bowl)")
    return kept


def rollout_shard(scene_usd: Path, task: str, seeds: list[int], episode_steps: int, out_dir: Path) -> Outputs:
    """Record the given seeds into out_dir; seeds already recorded there (a killed run) are skipped."""
    from gwm.data import open_dataset
    from sim_tasks.rollout import RolloutConfig, run_rollouts
    from sim_tasks.tasks import TaskConfig

    done: set[int] = set()
    if out_dir.exists() and any(out_dir.iterdir()):
        try:
            ds = open_dataset(out_dir)
            done = {int(ds.episode_info(i)["seed"]) for i in range(ds.num_episodes)}
        except ValueError:
            shutil.rmtree(out_dir)  # killed before its first episode landed: nothing to keep
    todo = [s for s in seeds if s not in done]
    config = RolloutConfig(task=TaskConfig(max_steps=episode_steps))
    if todo:
        run_rollouts(scene_usd, task, todo, out_dir, workers=1, config=config)
    ds = open_dataset(out_dir)
    successes = sum(bool(ds.episode_info(i)["success"]) for i in range(ds.num_episodes))
    return {"dataset": out_dir}, {"episodes": ds.num_episodes, "successes": successes, "resumed_from": len(done)}


def merge_shards(shards: list[Path], out_dir: Path, heldout_episodes: int) -> Outputs:
    """Join shards into one LeRobot dataset and a robomimic/Isaac Lab HDF5 copy, atomically.

    The last `heldout_episodes` episodes are the held-out seeds (unseen object layouts) that
    the world model's validation uses.
    """
    from gwm.data import convert_dataset, merge_datasets, open_dataset

    outputs: dict[str, Path] = {}
    for fmt in ("lerobot", "hdf5"):
        final = out_dir / fmt
        tmp = final.with_name(final.name + ".partial")
        if tmp.exists():
            shutil.rmtree(tmp)
        if fmt == "lerobot":
            merge_datasets(shards, tmp, "lerobot")
        else:
            convert_dataset(outputs["lerobot"], tmp, "hdf5")
        if final.exists():
            shutil.rmtree(final)
        os.replace(tmp, final)
        outputs[fmt] = final
    ds = open_dataset(outputs["lerobot"])
    success = [bool(ds.episode_info(i)["success"]) for i in range(ds.num_episodes)]
    figures = {"episodes": ds.num_episodes, "heldout_episodes": heldout_episodes, "frames": ds.num_frames,
               "success_rate": round(sum(success) / max(len(success), 1), 3),
               "size_mb": round(sum(f.stat().st_size for f in out_dir.rglob("*") if f.is_file()) / 2**20, 1)}
    return outputs, figures


def train_world_model(cfg: PipelineConfig, dataset: Path, heldout_episodes: int, out_dir: Path) -> Outputs:
    """Train the Gaussian world model; the last `heldout_episodes` episodes are its validation split."""
    from dataclasses import replace

    from gwm.data import open_dataset
    from gwm.model.cli import train_world_model as train
    from gwm.model.config import preset

    base = preset(cfg.train_preset)
    n = open_dataset(dataset).num_episodes
    overrides = {"data": replace(base.data, val_fraction=heldout_episodes / n)}
    if cfg.train_steps:
        share = base.optim.vae_steps / base.total_steps
        vae = max(1, round(cfg.train_steps * share))
        overrides["optim"] = replace(base.optim, vae_steps=vae, dynamics_steps=max(1, cfg.train_steps - vae))
    model = train(str(dataset), out_dir, cfg.train_preset, **overrides)
    return {"model": model}, {"episodes": n, "validation_episodes": heldout_episodes}


def validate_world_model(cfg: PipelineConfig, model: Path, dataset: Path, scene_usd: Path, out_dir: Path) -> Outputs:
    """Open-loop predictions on the held-out episodes against the simulator replaying the same actions."""
    from dataclasses import replace

    from gwm.data import open_dataset
    from gwm.model.validate import ValidationConfig, validate
    from sim_tasks.replay import SimulatorReplay

    ds = open_dataset(dataset)
    vcfg = ValidationConfig(horizon=cfg.validate_horizon, max_windows=cfg.validate_windows)
    if cfg.baseline_steps:
        vcfg = replace(vcfg, baseline=replace(vcfg.baseline, steps=cfg.baseline_steps))
    result = validate(model, ds, out_dir, vcfg, replay=SimulatorReplay(scene_usd, ds), progress=True)
    h = cfg.validate_horizon - 1
    figures = {f"{m}_{k}@{h + 1}": round(v[h], 4) for m, d in result.metrics.items() for k, v in d.items()
               if k in ("psnr", "object_position_error_m")}
    figures["beats_baselines"] = str(result.info["beats_baselines"])
    return {"report": out_dir / "report.md"}, figures
