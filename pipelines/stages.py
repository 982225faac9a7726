"""The pipeline's stages as plain functions: a PipelineConfig and input paths in, a StageResult out.

Each stage builds the library configs it runs with (`*_settings`: the dataclasses, in full) and
runs through the content-hash stage cache, whose key covers its inputs' contents, those configs
and a fingerprint of the library code it calls (CODE). flows.py wraps the stages in Prefect flows
and tasks; nothing here imports Prefect, so the CLI and tests can call them.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path

from pipelines.config import PipelineConfig
from pipelines.stage_cache import StageResult, run_stage

# The library modules each stage calls into. Its cache key fingerprints their source and that of
# every project module they import (stage_cache.code_fingerprint): a code change re-runs the
# stages that can execute it, and only those.
CODE: dict[str, tuple[str, ...]] = {
    "capture": ("gwm.capture",),
    "reconstruct": ("gwm.reconstruct",),
    "scene": ("gwm.scene", "exporters.usd", "exporters.splat_files"),
    "rollouts": ("sim_tasks.rollout", "gwm.data"),
    "datasets": ("gwm.data",),
    "train": ("gwm.model.training", "gwm.data"),
    "validate": ("gwm.model.validate", "sim_tasks.replay", "sim_tasks.newton_backend", "sim_tasks.kinematic_baseline",
                 "gwm.data"),
}


def _inputs(**paths) -> dict:
    return {k: v for k, v in paths.items() if v is not None}


# capture ------------------------------------------------------------------------------------------
def capture_settings(cfg: PipelineConfig) -> dict:
    from gwm.capture import CaptureConfig

    return {"capture": CaptureConfig(max_frames=cfg.capture_max_frames, marker_size_m=cfg.marker_size_m,
                                     table_width_m=cfg.table_width_m, table_depth_m=cfg.table_depth_m,
                                     metric_input=cfg.metric_input)}


def capture(cfg: PipelineConfig) -> StageResult:
    """Frames, SfM cameras and the metric table frame from the capture's own cue (no reference poses)."""
    out = cfg.out / "capture"
    settings = capture_settings(cfg)

    def run():
        from gwm.capture import run_capture

        result = run_capture(cfg.path(cfg.capture_input), out, settings["capture"], overwrite=True)
        print(result.summary())
        m = result.metric
        figures = {"registered": result.num_registered, "frames": result.num_frames,
                   "left_out": len(result.outliers),
                   "reprojection_px": round(result.mean_reprojection_error_px or 0.0, 3),
                   "metric_from": m["metric_from"] if m["metric"] else "none",
                   "fingerprint": result.fingerprint}
        if m["metric"] and m["scale_uncertainty"] is not None:
            figures["scale_uncertainty_pct"] = round(100 * m["scale_uncertainty"], 3)
        return {"dataset": out / "transforms.json"}, figures

    return run_stage("capture", cfg.out, out, {"input": cfg.path(cfg.capture_input)}, settings, run,
                     code=CODE["capture"])


# reconstruction -----------------------------------------------------------------------------------
def reconstruct_settings(cfg: PipelineConfig) -> dict:
    from gwm.reconstruct import train_preset

    overrides = {"iterations": cfg.reconstruct_iterations} if cfg.reconstruct_iterations else {}
    return {"reconstruct": train_preset(cfg.reconstruct_preset, **overrides)}


def reconstruct(cfg: PipelineConfig, capture_dir: Path) -> StageResult:
    out = cfg.out / "reconstruct"
    settings = reconstruct_settings(cfg)

    def run():
        from gwm.reconstruct import reconstruct as run_reconstruct

        result = run_reconstruct(capture_dir, out, settings["reconstruct"])
        figures = {"gaussians": result.num_gaussians, "minutes": round(result.seconds / 60, 2),
                   "device": settings["reconstruct"].device}
        if result.psnr is not None:
            figures.update(heldout_psnr=round(result.psnr, 2), heldout_ssim=round(result.ssim, 4))
        return {"splat": result.splat_path}, figures

    return run_stage("reconstruct", cfg.out, out, {"capture": capture_dir}, settings, run, code=CODE["reconstruct"])


# scene --------------------------------------------------------------------------------------------
def _masks_cover(cameras: Path, mask_dir: Path | None) -> bool:
    """Whether every frame of a transforms.json has a mask in mask_dir (a capture of the masked images; a video
    capture's frames have none, and then the scene file's own cameras for its masks are used)."""
    frames = json.loads(Path(cameras).read_text()).get("frames", [])
    return mask_dir is not None and bool(frames) and all(
        (mask_dir / Path(f["file_path"]).name).is_file() for f in frames)


def scene_settings(cfg: PipelineConfig, splat: Path, cameras: Path) -> dict:
    """Without a scene file, `gwm scene init`'s settings (it authors the scene from the capture); with one,
    the user's scene file, its [masks] projected with the capture's recovered cameras."""
    if cfg.scene_file is None:
        from gwm.scene.autoscene import InitConfig

        return {"init": InitConfig(scale=cfg.scene_scale)}
    from gwm.scene import load_scene_config

    config = load_scene_config(cfg.path(cfg.scene_file), splat=splat)
    if config.masks is not None and _masks_cover(cameras, config.masks.dir):
        config = replace(config, masks=replace(config.masks, cameras=Path(cameras)))
    return {"scene": config}


def assemble_and_export(cfg: PipelineConfig, splat: Path, cameras: Path) -> StageResult:
    """cameras: the capture's transforms.json (its folder holds the images scene init checks Gaussians against)."""
    out = cfg.out / "scene"
    settings = scene_settings(cfg, splat, cameras)

    def run():
        from exporters.splat_files import export_ply, export_spz
        from exporters.usd import export_usd
        from gwm.scene import assemble_scene

        outputs: dict[str, Path] = {}
        if "init" in settings:
            from gwm.scene.autoscene import init_scene

            result = init_scene(splat, Path(cameras).parent, out / "scene.toml", settings["init"], overwrite=True)
            print(result.summary())
            scene = result.scene
            outputs.update(scene_file=result.scene_file, preview=result.preview)
        else:
            scene = assemble_scene(settings["scene"])
        outputs["usd"] = export_usd(scene, out / "scene.usdz")
        export_ply(scene, out / "ply")
        export_spz(scene, out / "spz")
        outputs.update(ply=out / "ply", spz=out / "spz")
        figures = {"objects": len(scene.objects), "background_gaussians": len(scene.background),
                   "object_gaussians": sum(len(o.splats) for o in scene.objects),
                   "roles": ",".join(f"{o.name}:{o.role}" for o in scene.objects)}
        return outputs, figures

    # the capture's cameras and images (not its report, whose timings differ between equal runs)
    inputs = _inputs(scene_file=cfg.path(cfg.scene_file) if cfg.scene_file else None, splat=splat,
                     cameras=cameras, images=Path(cameras).parent / "images")
    return run_stage("scene", cfg.out, out, inputs, settings, run, code=CODE["scene"])


# simulated demonstrations -------------------------------------------------------------------------
def rollout_seeds(cfg: PipelineConfig, task_index: int, split: str) -> list[int]:
    """Seeds (object layouts) per task: training seeds from 0, held-out seeds from 10,000."""
    base = 100_000 * task_index + (10_000 if split == "heldout" else 0)
    n = cfg.train_episodes_per_task if split == "train" else cfg.heldout_episodes_per_task
    return list(range(base, base + n))


def applicable_tasks(cfg: PipelineConfig, scene_usd: Path) -> list[tuple[int, str]]:
    """(index in cfg.tasks, name) of the tasks with a valid target in this scene; the others are skipped
    with their reason printed (e.g. pick_place_bowl in a scene without a container)."""
    from gwm.scene.usd_scene import read_usd_scene
    from sim_tasks.tasks import TaskConfig, skipped_tasks

    skipped = skipped_tasks(cfg.tasks, read_usd_scene(scene_usd), TaskConfig(max_steps=cfg.episode_steps))
    for name, why in skipped.items():
        print(f"skipping task {name}: {why}")
    kept = [(i, name) for i, name in enumerate(cfg.tasks) if name not in skipped]
    if not kept:
        raise ValueError(f"none of the tasks {list(cfg.tasks)} applies to {scene_usd} (reasons above); "
                         "give the scene a graspable object (and a container for pick_place_bowl)")
    return kept


def rollout_settings(cfg: PipelineConfig, task: str, seeds: list[int]) -> dict:
    from sim_tasks.rollout import RolloutConfig
    from sim_tasks.tasks import TaskConfig

    from sim_tasks.newton_backend import NewtonSimConfig

    return {"task": task, "seeds": list(seeds), "batch": cfg.rollout_batch,
            "rollout": RolloutConfig(sim=NewtonSimConfig(device=cfg.device), task=TaskConfig(max_steps=cfg.episode_steps))}


def rollout_shard(cfg: PipelineConfig, scene_usd: Path, task: str, split: str, shard: int,
                  seeds: list[int]) -> StageResult:
    """Record the given seeds; a killed shard resumes where it stopped (run_rollouts skips recorded seeds)."""
    out = cfg.out / "rollouts" / f"{task}-{split}-{shard}"
    settings = rollout_settings(cfg, task, seeds)

    def run():
        from gwm.data import open_dataset
        from sim_tasks.rollout import run_rollouts

        summary = run_rollouts(scene_usd, task, seeds, out, workers=1, config=settings["rollout"],
                               batch=settings["batch"])
        ds = open_dataset(summary.dataset_path)
        successes = sum(bool(ds.episode_info(i)["success"]) for i in range(ds.num_episodes))
        return {"dataset": out}, {"episodes": ds.num_episodes, "successes": successes,
                                  "resumed_from": len(summary.skipped_seeds), "device": cfg.device,
                                  "batch": settings["batch"]}

    return run_stage(f"rollouts-{task}-{split}-{shard}", cfg.out, out, {"scene": scene_usd}, settings, run,
                     code=CODE["rollouts"])


def merge_settings(heldout_episodes: int) -> dict:
    return {"heldout_episodes": heldout_episodes}


def merge_shards(cfg: PipelineConfig, shards: list[Path], heldout_episodes: int) -> StageResult:
    """Join shards into one LeRobot dataset and a robomimic/Isaac Lab HDF5 copy, atomically.

    The last `heldout_episodes` episodes are the held-out seeds (unseen object layouts) that
    the world model's validation uses.
    """
    out = cfg.out / "datasets" / "demos"
    settings = merge_settings(heldout_episodes)

    def run():
        from gwm.data import convert_dataset, merge_datasets, open_dataset
        from gwm.atomic_io import atomic_dir

        outputs: dict[str, Path] = {}
        for fmt in ("lerobot", "hdf5"):
            final = out / fmt
            with atomic_dir(final) as tmp:  # a dataset appears whole or not at all
                shutil.rmtree(tmp)  # the writers create their own root
                if fmt == "lerobot":  # the held-out seeds are the last shards: marked as the dataset's valid split
                    merge_datasets(shards, tmp, "lerobot", heldout_episodes=settings["heldout_episodes"] or None)
                else:
                    convert_dataset(outputs["lerobot"], tmp, "hdf5")
            outputs[fmt] = final
        ds = open_dataset(outputs["lerobot"])
        success = [bool(ds.episode_info(i)["success"]) for i in range(ds.num_episodes)]
        figures = {"episodes": ds.num_episodes, "heldout_episodes": settings["heldout_episodes"],
                   "frames": ds.num_frames, "success_rate": round(sum(success) / max(len(success), 1), 3),
                   "size_mb": round(sum(f.stat().st_size for f in out.rglob("*") if f.is_file()) / 2**20, 1)}
        return outputs, figures

    return run_stage("datasets", cfg.out, out, {str(i): p for i, p in enumerate(shards)}, settings, run,
                     code=CODE["datasets"])


# world model --------------------------------------------------------------------------------------
def train_settings(cfg: PipelineConfig, num_episodes: int, heldout_episodes: int) -> dict:
    """The last heldout_episodes of the dataset's num_episodes are the validation split."""
    from gwm.model.training import training_config

    return {"train": training_config(cfg.train_preset, total_steps=cfg.train_steps, val_episodes=heldout_episodes,
                                     num_episodes=num_episodes), "device": cfg.device}


def train_world_model(cfg: PipelineConfig, dataset: Path, heldout_episodes: int) -> StageResult:
    from gwm.data import open_dataset

    out = cfg.out / "model"
    ds = open_dataset(dataset)
    settings = train_settings(cfg, ds.num_episodes, heldout_episodes)

    def run():
        from gwm.model.training import train_on_dataset

        model = train_on_dataset(ds, out, settings["train"], source=str(dataset), device=settings["device"])
        return {"model": model}, {"episodes": ds.num_episodes, "validation_episodes": heldout_episodes,
                                  "device": settings["device"]}

    return run_stage("train", cfg.out, out, {"dataset": dataset}, settings, run, code=CODE["train"])


def validate_settings(cfg: PipelineConfig) -> dict:
    from gwm.model.validate import ValidationConfig
    from sim_tasks.newton_backend import NewtonSimConfig

    vcfg = ValidationConfig(horizon=cfg.validate_horizon, max_windows=cfg.validate_windows,
                            video_baseline=cfg.validate_video_baseline)
    if cfg.baseline_steps:  # an explicit budget replaces "as many samples as the world model saw"
        vcfg = replace(vcfg, baseline=replace(vcfg.baseline, steps=cfg.baseline_steps), baseline_match_samples=False)
    return {"validation": vcfg, "replay_sim": NewtonSimConfig(device=cfg.device)}  # the simulator that replays the actions


def validate_world_model(cfg: PipelineConfig, model: Path, dataset: Path, scene_usd: Path) -> StageResult:
    """Open-loop predictions on the held-out episodes against the simulator replaying the same actions."""
    out = cfg.out / "validation"
    settings = validate_settings(cfg)

    def run():
        from gwm.data import open_dataset
        from gwm.model.validate import validate
        from sim_tasks.newton_backend import NewtonBackend
        from sim_tasks.replay import SimulatorReplay

        from sim_tasks.kinematic_baseline import kinematic_baselines

        ds = open_dataset(dataset)
        replay = SimulatorReplay(scene_usd, ds, backend=NewtonBackend(scene_usd, settings["replay_sim"]))
        result = validate(model, ds, out, settings["validation"], replay=replay, baselines=kinematic_baselines(ds),
                          progress=True)
        h = settings["validation"].horizon - 1
        figures = {f"{m}_{k}@{h + 1}": round(v[h], 4) for m, d in result.metrics.items() for k, v in d.items()
                   if k in ("psnr", "object_position_error_m")}
        figures["beats_baselines"] = json.dumps(result.info["beats_baselines"])
        return {"report": out / "report.md"}, figures

    return run_stage("validate", cfg.out, out, {"model": model, "dataset": dataset, "scene": scene_usd}, settings,
                     run, code=CODE["validate"])
