"""A training run's config: the step budget split as the preset splits it, the held-out episodes exact."""

import pytest

from gwm.model.config import preset
from gwm.model.training import split_steps, training_config


@pytest.mark.parametrize("total", [60, 601, 10_000])
def test_split_keeps_the_total_and_the_presets_proportion(total):
    base = preset("cpu").optim  # 400 VAE + 3,000 dynamics steps
    optim = split_steps(base, total)
    assert optim.vae_steps + optim.dynamics_steps == total
    assert optim.vae_steps >= 1 and optim.dynamics_steps >= 1
    assert abs(optim.vae_steps / total - 400 / 3400) <= 0.5 / total + 1e-12  # the nearest whole step
    assert optim.batch_size == base.batch_size  # nothing else changes


def test_a_tiny_budget_still_trains_both_parts():
    optim = split_steps(preset("cpu").optim, 2)
    assert (optim.vae_steps, optim.dynamics_steps) == (1, 1)


@pytest.mark.parametrize("val,n", [(1, 2), (2, 7), (6, 36), (13, 97)])
def test_held_out_episodes_are_exactly_the_last_val_episodes(val, n):
    cfg = training_config("cpu", val_episodes=val, num_episodes=n)
    assert max(1, int(round(cfg.data.val_fraction * n))) == val  # as load_trajectories counts them
    assert cfg.optim == preset("cpu").optim  # no step budget given: the preset's own


def test_a_validation_split_without_training_episodes_is_refused():
    with pytest.raises(ValueError, match="must leave training episodes"):
        training_config("cpu", val_episodes=3, num_episodes=3)


def test_the_planning_preset_feeds_tool_targets_per_body_and_favours_contact_windows():
    """README, "A planning model": without these the model predicts no motion where contact begins."""
    from gwm.model.world_model import WorldModelConfig

    cfg = training_config("planning")
    assert cfg.model.dit.relative_actions and cfg.optim.contact_share == 0.5
    WorldModelConfig.from_dict(cfg.model.to_dict())  # a valid model config (rigid decoder, body slots)
    assert not training_config("cpu").model.dit.relative_actions and training_config("cpu").optim.contact_share == 0
