import pytest
import torch

from gwm.model.synthetic import SyntheticPushConfig, SyntheticPushDataset
from gwm.model.trajectories import load_trajectories

torch.set_num_threads(2)

SMALL = SyntheticPushConfig(num_episodes=6, episode_length=12, num_boxes=2, seed=3)


@pytest.fixture(scope="session")
def small_ds():
    return SyntheticPushDataset(SMALL)


@pytest.fixture(scope="session")
def small_traj(small_ds):
    return load_trajectories(small_ds)
