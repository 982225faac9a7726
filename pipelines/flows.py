"""Prefect flows: one per stage (each runnable alone) and the parent flow `real2sim`.

Flows pass paths, never arrays or models. Every stage goes through the content-hash stage
cache (pipelines/stage_cache.py), so a re-run skips what is finished and a changed input
re-runs only what depends on it. Each stage publishes a table artifact of its figures.
"""

from __future__ import annotations

from pathlib import Path

from prefect import flow, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact

from pipelines import stages
from pipelines.config import PipelineConfig, pipeline_preset
from pipelines.stage_cache import StageResult, run_stage


def _publish(result: StageResult) -> StageResult:
    rows = [{"item": k, "value": str(v)} for k, v in result.figures.items()]
    rows += [{"item": f"output: {k}", "value": v} for k, v in result.outputs.items()]
    rows.append({"item": "cached", "value": str(result.cached)})
    key = "".join(c if c.isalnum() else "-" for c in result.name.lower())
    create_table_artifact(table=rows, key=key, description=f"stage {result.name}")
    print(f"[{result.name}] {'cached' if result.cached else f'done in {result.seconds:.1f} s'}: {result.figures}")
    return result


def _cfg(config: dict | PipelineConfig) -> PipelineConfig:
    return config if isinstance(config, PipelineConfig) else PipelineConfig.from_dict(config)


def _inputs(**paths) -> dict:
    return {k: v for k, v in paths.items() if v is not None}


@flow(name="capture", log_prints=True)
def capture_flow(config: dict) -> StageResult:
    cfg = _cfg(config)
    out = cfg.out / "capture"
    ref = cfg.path(cfg.reference_poses) if cfg.reference_poses else None
    return _publish(run_stage("capture", cfg.out, out, _inputs(input=cfg.path(cfg.capture_input), reference=ref),
                              {"max_frames": cfg.capture_max_frames}, lambda: stages.capture(cfg, out)))


@flow(name="reconstruct", log_prints=True)
def reconstruct_flow(config: dict, capture_dir: str) -> StageResult:
    cfg = _cfg(config)
    out = cfg.out / "reconstruct"
    settings = {"preset": cfg.reconstruct_preset, "iterations": cfg.reconstruct_iterations}
    return _publish(run_stage("reconstruct", cfg.out, out, {"capture": capture_dir}, settings,
                              lambda: stages.reconstruct(cfg, Path(capture_dir), out)))


@flow(name="scene", log_prints=True)
def scene_flow(config: dict, splat: str, cameras: str | None = None) -> StageResult:
    """cameras: the capture's transforms.json; when the scene file has [masks], they are projected with these
    recovered poses (not the scene file's own cameras)."""
    cfg = _cfg(config)
    out = cfg.out / "scene"
    return _publish(run_stage("scene", cfg.out, out, _inputs(scene_file=cfg.path(cfg.scene_file), splat=splat,
                                                             cameras=cameras), {},
                              lambda: stages.assemble_and_export(cfg, Path(splat), out,
                                                                 Path(cameras) if cameras else None)))


@task(retries=1, retry_delay_seconds=5, task_run_name="rollouts-{task_name}-{split}-{shard}")
def rollout_shard_task(config: dict, scene_usd: str, task_name: str, split: str, shard: int, seeds: list[int]) -> StageResult:
    cfg = _cfg(config)
    name = f"rollouts-{task_name}-{split}-{shard}"
    out = cfg.out / "rollouts" / f"{task_name}-{split}-{shard}"
    return _publish(run_stage(name, cfg.out, out, {"scene": scene_usd},
                              {"seeds": seeds, "steps": cfg.episode_steps},
                              lambda: stages.rollout_shard(Path(scene_usd), task_name, seeds, cfg.episode_steps, out)))


def _task_runner(cfg: PipelineConfig):
    from prefect_dask import DaskTaskRunner

    if cfg.dask_address:
        return DaskTaskRunner(address=cfg.dask_address)
    # One simulator per worker process; each builds its Newton model once per shard.
    return DaskTaskRunner(cluster_kwargs={"n_workers": cfg.dask_workers, "threads_per_worker": 1,
                                          "processes": True, "dashboard_address": None})


@flow(name="rollouts", log_prints=True)
def rollouts_flow(config: dict, scene_usd: str) -> StageResult:
    """Scripted demonstrations, fanned out as Prefect tasks (shards of seeds) over Dask, then
    joined into one dataset (LeRobot + HDF5): training seeds first, held-out seeds last."""
    cfg = _cfg(config)
    tasks = stages.applicable_tasks(cfg, Path(scene_usd))  # (index, name); a task without a target is skipped
    futures = []
    for split in ("train", "heldout"):
        for ti, task_name in tasks:
            seeds = stages.rollout_seeds(cfg, ti, split)
            n = cfg.rollout_shards_per_task if split == "train" else 1
            futures += [rollout_shard_task.submit(cfg.to_dict(), scene_usd, task_name, split, k, seeds[k::n])
                        for k in range(n) if seeds[k::n]]
    shards = [Path(f.result().outputs["dataset"]) for f in futures]  # in submission order
    out = cfg.out / "datasets" / "demos"
    heldout = cfg.heldout_episodes_per_task * len(tasks)
    return _publish(run_stage("datasets", cfg.out, out, {str(i): p for i, p in enumerate(shards)},
                              {"heldout_episodes": heldout},
                              lambda: stages.merge_shards(shards, out, heldout)))


@flow(name="train", log_prints=True)
def train_flow(config: dict, dataset: str, heldout_episodes: int) -> StageResult:
    cfg = _cfg(config)
    out = cfg.out / "model"
    settings = {"preset": cfg.train_preset, "steps": cfg.train_steps, "heldout": heldout_episodes}
    return _publish(run_stage("train", cfg.out, out, {"dataset": dataset}, settings,
                              lambda: stages.train_world_model(cfg, Path(dataset), heldout_episodes, out)))


@flow(name="validate", log_prints=True)
def validate_flow(config: dict, model: str, dataset: str, scene_usd: str) -> StageResult:
    cfg = _cfg(config)
    out = cfg.out / "validation"
    return _publish(run_stage("validate", cfg.out, out, {"model": model, "dataset": dataset, "scene": scene_usd},
                              {"horizon": cfg.validate_horizon, "windows": cfg.validate_windows,
                               "baseline_steps": cfg.baseline_steps},
                              lambda: stages.validate_world_model(cfg, Path(model), Path(dataset), Path(scene_usd), out)))


@flow(name="real2sim", log_prints=True)
def real2sim(preset: str = "kitchen", overrides: dict | None = None) -> dict:
    """The whole pipeline on one capture: capture -> reconstruct -> scene -> rollouts -> train -> validate."""
    cfg = pipeline_preset(preset, **(overrides or {}))
    c = cfg.to_dict()
    results = [capture_flow(c)]
    capture_dir = str(Path(results[-1].outputs["dataset"]).parent)
    results.append(reconstruct_flow(c, capture_dir))
    results.append(scene_flow(c, results[-1].outputs["splat"], str(results[0].outputs["dataset"])))
    scene_usd = results[-1].outputs["usd"]
    data = rollouts_flow.with_options(task_runner=_task_runner(cfg))(c, scene_usd)
    results.append(data)
    dataset = data.outputs["lerobot"]
    results.append(train_flow(c, dataset, int(data.figures["heldout_episodes"])))
    results.append(validate_flow(c, results[-1].outputs["model"], dataset, scene_usd))
    summary = {r.name: {"outputs": r.outputs, "figures": r.figures, "cached": r.cached, "seconds": round(r.seconds, 1)}
               for r in results}
    create_markdown_artifact(markdown=_summary_markdown(cfg, summary), key="real2sim-summary",
                             description=f"real2sim {cfg.name}")
    return summary


def _summary_markdown(cfg: PipelineConfig, summary: dict) -> str:
    lines = [f"# real2sim: {cfg.name}", "", "| stage | cached | seconds | figures | outputs |", "|---|---|---|---|---|"]
    for name, s in summary.items():
        figs = ", ".join(f"{k}={v}" for k, v in s["figures"].items())
        outs = "<br>".join(f"{k}: `{v}`" for k, v in s["outputs"].items())
        lines.append(f"| {name} | {s['cached']} | {s['seconds']} | {figs} | {outs} |")
    return "\n".join(lines)
