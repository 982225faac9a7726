"""One training run of the world model on a recorded dataset: its config (a preset, with the
step budget split between VAE and dynamics as the preset splits it, and the held-out episodes)
and the run itself (train, or resume, into a folder).

    cfg = training_config("cpu", total_steps=600, val_episodes=2, num_episodes=12)
    model_path = train_on_dataset(open_dataset(path), out_dir, cfg)
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

from gwm.atomic_io import write_text_atomic
from gwm.model.config import OptimConfig, TrainConfig, preset


def split_steps(optim: OptimConfig, total_steps: int) -> OptimConfig:
    """optim with total_steps VAE + dynamics steps, in optim's own proportion (at least one each)."""
    vae = max(1, round(total_steps * optim.vae_steps / (optim.vae_steps + optim.dynamics_steps)))
    return replace(optim, vae_steps=vae, dynamics_steps=max(1, total_steps - vae))


def training_config(preset_name: str, total_steps: int | None = None, val_episodes: int | None = None,
                    num_episodes: int | None = None) -> TrainConfig:
    """A preset, with total_steps split as it splits them (None: its own) and the last val_episodes of
    num_episodes held out for validation (None: its val_fraction)."""
    cfg = preset(preset_name)
    if total_steps:
        cfg = replace(cfg, optim=split_steps(cfg.optim, total_steps))
    if val_episodes is not None:
        if not num_episodes or not 0 < val_episodes < num_episodes:
            raise ValueError(f"val_episodes={val_episodes} must leave training episodes of num_episodes={num_episodes}")
        cfg = replace(cfg, data=replace(cfg.data, val_fraction=val_episodes / num_episodes))
    return cfg


def dataset_meta(source: str, ds) -> dict:
    """What a model records about the dataset it was trained on."""
    meta = getattr(ds, "metadata", {}) or {}
    return {"source": source, "num_episodes": ds.num_episodes, "body_names": list(ds.body_names),
            "normalisation": meta.get("normalisation") if isinstance(meta, dict) else None}


def train_on_dataset(ds, out: str | Path, cfg: TrainConfig, source: str | None = None, resume: bool = True,
                     device: str | None = None, progress: bool = True) -> Path:
    """Train (or resume from out/checkpoint) on ds (the gwm.data read API) into out; returns the model file."""
    from gwm.model.train import CHECKPOINT_NAME, MODEL_NAME, Trainer
    from gwm.model.trajectories import load_trajectories

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    traj = load_trajectories(ds, cfg.data)
    trainer = Trainer(cfg, traj, out, dataset_meta(source or str(getattr(ds, "path", "")), ds), device=device,
                      progress=progress)
    ckpt = out / CHECKPOINT_NAME
    if resume and ckpt.exists():
        trainer.load(ckpt)
        if progress:
            print(f"resumed from {ckpt} at step {trainer.step}")
    if trainer.rank == 0:
        write_text_atomic(out / "config.json", json.dumps(json.loads(cfg.to_json()), indent=1))
    try:
        trainer.run()
    finally:
        trainer.close()
    return out / MODEL_NAME


__all__ = ["dataset_meta", "split_steps", "train_on_dataset", "training_config"]
