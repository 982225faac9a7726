"""Prefect flows: one per stage (each runnable alone) and the parent flow `real2sim`.

Flows pass paths, never arrays or models. Every stage goes through the content-hash stage
cache (pipelines/stage_cache.py), so a re-run skips what is finished and a changed input
re-runs only what depends on it. Each stage publishes a table artifact of its figures.
"""

from __future__ import annotations

from pathlib import Path

from prefect import flow, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.states import Failed

from pipelines import stages
from pipelines.config import PipelineConfig, PipelineSettingError, capture_overrides, check_devices, resolve_config
from pipelines.stage_cache import StageResult


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


@flow(name="capture", log_prints=True)
def capture_flow(config: dict) -> StageResult:
    return _publish(stages.capture(_cfg(config)))


@flow(name="reconstruct", log_prints=True)
def reconstruct_flow(config: dict, capture_dir: str) -> StageResult:
    return _publish(stages.reconstruct(_cfg(config), Path(capture_dir)))


@flow(name="scene", log_prints=True)
def scene_flow(config: dict, splat: str, cameras: str) -> StageResult:
    """cameras: the capture's transforms.json. Without a scene file, `gwm scene init` authors the scene from
    the splat and the capture; a scene file's [masks] are projected with these recovered poses."""
    return _publish(stages.assemble_and_export(_cfg(config), Path(splat), Path(cameras)))


@task(retries=1, retry_delay_seconds=5, task_run_name="rollouts-{task_name}-{split}-{shard}")
def rollout_shard_task(config: dict, scene_usd: str, task_name: str, split: str, shard: int, seeds: list[int]) -> StageResult:
    return _publish(stages.rollout_shard(_cfg(config), Path(scene_usd), task_name, split, shard, seeds))


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
    return _publish(stages.merge_shards(cfg, shards, cfg.heldout_episodes_per_task * len(tasks)))


@flow(name="train", log_prints=True)
def train_flow(config: dict, dataset: str, heldout_episodes: int) -> StageResult:
    return _publish(stages.train_world_model(_cfg(config), Path(dataset), heldout_episodes))


@flow(name="validate", log_prints=True)
def validate_flow(config: dict, model: str, dataset: str, scene_usd: str) -> StageResult:
    return _publish(stages.validate_world_model(_cfg(config), Path(model), Path(dataset), Path(scene_usd)))


@flow(name="real2sim", log_prints=True)
def real2sim(preset: str = "kitchen", overrides: dict | None = None, capture_input: str | None = None) -> dict:
    """The whole pipeline on one capture: capture -> reconstruct -> scene -> rollouts -> train -> validate.

    capture_input: another capture than the preset's (a video, an image folder or a phone export); the run is
    then named after it and writes to datasets/outputs/<name> unless overrides say otherwise."""
    try:
        if capture_input:
            overrides = capture_overrides(capture_input, overrides)
        cfg = resolve_config(preset, overrides)
        check_devices(cfg)
    except PipelineSettingError as e:
        return Failed(message=str(e))  # one line in the run's state, not a traceback
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
