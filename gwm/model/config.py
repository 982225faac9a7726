"""Training configuration and named presets (`gwm model train DATASET OUT --preset cpu|gpu`)."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, replace

from gwm.model.dit import DiTConfig
from gwm.model.objective import EDMConfig, ReconstructionLossConfig
from gwm.model.trajectories import DataConfig
from gwm.model.vae import VAEConfig
from gwm.model.world_model import WorldModelConfig


@dataclass(frozen=True)
class OptimConfig:
    vae_steps: int = 1600
    dynamics_steps: int = 4000
    batch_size: int = 32
    vae_lr: float = 2e-3
    dynamics_lr: float = 1e-3
    weight_decay: float = 0.0
    warmup_steps: int = 100
    min_lr_ratio: float = 0.05  # cosine decay to this fraction of the peak within each stage
    grad_clip: float = 1.0
    body_mix: float = 0.75  # VAE augmentation: share of states whose bodies take poses from different frames
    pose_jitter: float = 0.02  # VAE augmentation: planar shift (m) per body; yaw jitter 10x this (rad)
    context_noise: float = 0.1  # dynamics: noise on context latents (one-step-change std units), see dynamics_loss
    # dynamics: share of each batch drawn from the training windows where an object (role object/container)
    # moves between the last context frame and the target (> 1 mm); 0 draws windows uniformly
    contact_share: float = 0.0
    # dynamics: share of each batch drawn from the training windows where the commanded tool (action xyz) rises
    # (> 1 mm from the last context frame's command to the chunk's last; needs action_chunk > 1) with the gripper commanded closed (action[-1] below half its largest recorded
    # width): the lift of a grasp, held or not; contact windows hold only the held lifts, so a model trained on
    # them alone learns that a closed gripper going up carries the object. Drawn after contact_share (a window
    # is a grip window with this probability, else as contact_share says)
    grip_share: float = 0.0


@dataclass(frozen=True)
class TrainConfig:
    preset: str = "cpu"
    model: WorldModelConfig = field(default_factory=WorldModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    loss: ReconstructionLossConfig = field(default_factory=ReconstructionLossConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    seed: int = 0
    eval_every: int = 500
    checkpoint_every: int = 500
    eval_horizon: int = 8
    eval_windows: int = 16  # held-out rollout windows per evaluation
    render_size: int = 48  # render loss image size (when loss.render > 0)
    cpu_threads: int = 2

    @property
    def total_steps(self) -> int:
        return self.optim.vae_steps + self.optim.dynamics_steps

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> "TrainConfig":
        d = json.loads(text)
        return cls(preset=d["preset"], model=WorldModelConfig.from_dict(d["model"]), data=DataConfig(**d["data"]),
                   loss=ReconstructionLossConfig(**d["loss"]), optim=OptimConfig(**d["optim"]), seed=d["seed"],
                   eval_every=d["eval_every"], checkpoint_every=d["checkpoint_every"],
                   eval_horizon=d["eval_horizon"], eval_windows=d["eval_windows"], render_size=d["render_size"],
                   cpu_threads=d["cpu_threads"])


def _cpu() -> TrainConfig:
    """Trains in about 6 minutes on 2 CPU cores on the kitchen demonstrations (5k modelled Gaussians).

    Rigid decoder without per-Gaussian residuals (a VAE step costs ~1/2); 400 VAE steps suffice because
    the anchored rollout only needs the decoder's pose *changes* (measured on the kitchen: 1,500 VAE
    steps instead of 500 changed the held-out object error by < 0.1 mm); 3,000 dynamics steps.
    """
    return TrainConfig(
        preset="cpu",
        model=WorldModelConfig(vae=VAEConfig(residual_scale=0.0)),
        optim=OptimConfig(vae_steps=400, dynamics_steps=3000),
    )


def _gpu() -> TrainConfig:
    """DiT-S sized dynamics (the official GWM code), 2,048 Gaussians per body, render loss on."""
    return TrainConfig(
        preset="gpu",
        model=WorldModelConfig(
            vae=VAEConfig(num_tokens=64, latent_dim=16, width=384, heads=6, encoder_cross_layers=2,
                          encoder_self_layers=4, decoder_self_layers=4, decoder_cross_layers=2),
            dit=DiTConfig(width=384, depth=12, heads=6),
            edm=EDMConfig(),
        ),
        data=DataConfig(max_gaussians_per_body=2048),
        loss=ReconstructionLossConfig(render=0.1, chamfer=0.1),
        optim=OptimConfig(vae_steps=30_000, dynamics_steps=60_000, batch_size=128, vae_lr=3e-4, dynamics_lr=2e-4,
                          warmup_steps=1000),
        eval_every=2000, checkpoint_every=2000, eval_windows=64, render_size=128, cpu_threads=8,
    )


def _planning() -> TrainConfig:
    """For the push planner (sim_tasks.planning_mpc), on demonstrations plus exploratory pushes (task
    push_explore): the cpu preset with one model step per planner chunk (3 control steps), so a replan costs
    a third of the model calls and the context frames lie as far apart as the planner's chunks."""
    cpu = _cpu()
    # 128 Gaussians per body: the planner reads rigid body motion only, and every VAE step and every encode
    # costs in proportion. One thread: a shared 2-core machine stalls two synchronising threads.
    # relative_actions + contact_share 0.5: without them the model predicts no motion where the fingers first
    # reach a resting object (kitchen, same data and steps, seeds 0/1: contact onset 0.3 vs 10-13 mm predicted of
    # 13 mm recorded; MPC 0/6 and 0/10 vs 5/6 and 9/10 pushes; README, "A planning model"); relative_actions
    # alone: onset 3 mm, MPC 4/6; contact_share alone: no gain
    return replace(cpu, preset="planning",
                   model=replace(cpu.model, dit=replace(cpu.model.dit, action_chunk=3, relative_actions=True)),
                   data=replace(cpu.data, max_gaussians_per_body=128),
                   optim=replace(cpu.optim, vae_steps=300, dynamics_steps=2700, contact_share=0.5), cpu_threads=1)


def _tiny() -> TrainConfig:
    """For tests: a few seconds on CPU."""
    return TrainConfig(
        preset="tiny",
        model=WorldModelConfig(vae=VAEConfig(num_tokens=4, latent_dim=8, width=32, heads=2, decoder_self_layers=1),
                               dit=DiTConfig(width=32, depth=2, heads=2)),
        optim=OptimConfig(vae_steps=20, dynamics_steps=20, batch_size=8, warmup_steps=5),
        eval_every=10_000, checkpoint_every=10_000, eval_windows=4,
    )


PRESETS = {"cpu": _cpu, "gpu": _gpu, "planning": _planning, "tiny": _tiny}


def preset(name: str, **overrides) -> TrainConfig:
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; choose one of {sorted(PRESETS)}")
    return replace(PRESETS[name](), **overrides)


__all__ = ["OptimConfig", "PRESETS", "TrainConfig", "preset"]
