"""The world model behind the planner's predictor interface: the batched latent shortcut (context encoded
once, object motion read from the decoded rigid poses) agrees with the model's own rollout."""

from __future__ import annotations

import copy
from dataclasses import replace

import numpy as np
import pytest
import torch

from gwm.model.config import preset
from gwm.model.synthetic import SyntheticPushConfig, SyntheticPushDataset
from gwm.model.inference import load_world_model
from gwm.model.training import train_on_dataset
from gwm.model.world_model import GaussianWorldModel
from gwm.planning import WorldModelPredictor


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    ds = SyntheticPushDataset(SyntheticPushConfig(num_episodes=6, episode_length=12, num_boxes=2, seed=3))
    path = train_on_dataset(ds, tmp_path_factory.mktemp("wm"), preset("tiny"), progress=False, device="cpu")
    return ds, *load_world_model(path)


def _relative_model(model):
    """A model with DiTConfig.relative_actions on the tiny model's VAE (the synthetic actions are planar, so its
    DiT is random: 3-D actions, non-zero weights so the tool targets in each body's frame change the prediction)."""
    cfg = replace(model.cfg, dit=replace(model.cfg.dit, relative_actions=True))
    rel = GaussianWorldModel(cfg, copy.deepcopy(model.space), 3)
    rel.vae.load_state_dict(model.vae.state_dict())
    torch.manual_seed(1)
    with torch.no_grad():
        for p in rel.dit.parameters():
            p.normal_(0.0, 0.05)
        rel.relative_std.fill_(0.3)
    return rel.eval()


@pytest.mark.parametrize("relative", [False, True])
def test_predictor_matches_the_model_rollout(tiny_model, relative):
    """The predictor decodes each latent once (its poses feed the next step's relative actions and the readout)
    and the context's last latent once per replan; the model's own rollout decodes them again inside every
    step: both agree."""
    ds, model, info = tiny_model
    if relative:
        model = _relative_model(model)
        assert model.cfg.rollout == "anchored"
    names = list(ds.body_names)
    poses = np.asarray(ds.episode(0)["observation.body_poses"])  # (T, B, 7)
    actions = np.asarray(ds.episode(0)["action"])
    pred = WorldModelPredictor(model, info, names, "box_0", sample_steps=2, seed=5)
    history = poses[:4]
    pred.observe(history)
    k, length = 3, 5
    rng = np.random.default_rng(0)
    if relative:  # commanded tool positions around the box
        near = poses[4:4 + length, names.index("box_0"), :3]
        acts = near[None].repeat(k, 0) + rng.normal(0, 0.05, (k, length, 3))
    else:
        acts = actions[4:4 + length][None].repeat(k, 0) + rng.normal(0, 0.02, (k, length, actions.shape[1]))
    got = pred.predict(acts)  # (K, L, 3)
    assert got.shape == (k, length, 3) and pred.calls == k * length
    if relative:  # the tool targets in the box's frame move the prediction: candidates end centimetres apart
        assert np.ptp(got[:, -1], axis=0).max() > 0.01

    # the same sampling noise through GaussianWorldModel.rollout (the anchored decode), then the
    # centroid motion of box_0's Gaussians added to its observed position
    modelled = [names[i] for i in info["bodies"]["modelled"]]
    ctx = torch.as_tensor(history[[-2, -1]][:, [names.index(n) for n in modelled]], dtype=torch.float32)
    sp = model.space
    feats = sp.features_from_poses(ctx)[None].expand(k, -1, -1, -1)
    gen = torch.Generator().manual_seed(5)
    out = model.rollout(feats, torch.as_tensor(acts, dtype=torch.float32)[:, :, None], gen, 2)  # (K, L, N, 14)
    sel = sp.body_id == modelled.index("box_0")
    moved = (sp.means(out)[:, :, sel].mean(2) - sp.means(feats[:, -1])[:, sel].mean(1)[:, None])
    want = history[-1, names.index("box_0"), :3] + moved.numpy()
    np.testing.assert_allclose(got, want, atol=1e-5)


def test_predictor_refuses_bodies_it_does_not_model(tiny_model):
    ds, model, info = tiny_model
    with pytest.raises(ValueError, match="does not model"):
        WorldModelPredictor(model, info, list(ds.body_names), "table")
    with pytest.raises(ValueError, match="does not have"):
        WorldModelPredictor(model, info, ["pusher"], "pusher")
