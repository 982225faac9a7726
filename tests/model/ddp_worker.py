"""Run by tests/model/test_ddp.py under torchrun: train the tiny world model, data-parallel, into OUT.

    python -m torch.distributed.run --standalone --nproc_per_node 2 tests/model/ddp_worker.py OUT

Every rank saves its final state as OUT/rank<R>.safetensors and its logs as OUT/logs_rank<R>.json;
rank 0 alone writes the trainer's own files (checkpoint, model, train_log.jsonl).
"""

import json
import sys
from pathlib import Path

from gwm.model.config import OptimConfig, TrainConfig, preset
from gwm.model.objective import ReconstructionLossConfig
from gwm.model.synthetic import SyntheticPushConfig, SyntheticPushDataset
from gwm.model.train import Trainer
from gwm.model.trajectories import Trajectories, load_trajectories

DATA = SyntheticPushConfig(num_episodes=6, episode_length=12, num_boxes=2, seed=3)  # conftest's SMALL


def config() -> TrainConfig:
    """Both stages, a global batch of 8, evaluation every 4 steps (and at the stage change); every VAE loss
    term on, the render loss too (it renders only the global batch's first 2 states, on rank 0)."""
    return preset("tiny", optim=OptimConfig(vae_steps=6, dynamics_steps=6, batch_size=8, warmup_steps=2),
                  loss=ReconstructionLossConfig(chamfer=0.1, render=0.5), render_size=24, eval_every=4)


def trajectories() -> Trajectories:
    return load_trajectories(SyntheticPushDataset(DATA))


def train(out: Path, traj: Trajectories | None = None) -> Trainer:
    tr = Trainer(config(), traj or trajectories(), out, progress=False)
    try:
        logs = tr.run()
    finally:
        tr.close()
    tr.save(out / f"rank{tr.rank}.safetensors")
    (out / f"logs_rank{tr.rank}.json").write_text(json.dumps(logs))
    return tr


if __name__ == "__main__":
    train(Path(sys.argv[1]))
