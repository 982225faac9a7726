"""Shapes, the body-slot masking, and the Gaussian state vs the dataset's gaussians_at."""

import numpy as np
import pytest
import torch

from gwm.model.dit import DiTConfig, LatentDiT
from gwm.model.train import transition_windows
from gwm.model.vae import GaussianVAE, VAEConfig
from gwm.model.world_model import GaussianWorldModel, WorldModelConfig


def test_state_features_equal_dataset_gaussians(small_ds, small_traj):
    sp = small_traj.space
    n_static = len(small_traj.static_splats)
    for e, t in [(0, 0), (2, 7), (5, 11)]:
        want = small_ds.gaussians_at(e, t)[n_static:]  # the table (static) comes first in body order
        got = sp.to_splats(sp.features_from_poses(small_traj.poses[e][t]))
        assert torch.allclose(got.means, want.means, atol=1e-6)
        assert torch.allclose(got.rgb_dc, want.rgb_dc, atol=1e-6)
        assert torch.allclose(got.opacities, want.opacities, atol=1e-5)
        assert torch.allclose(got.log_scales, want.log_scales, atol=1e-5)
        dots = (got.unit_quats_wxyz * want.unit_quats_wxyz).sum(-1).abs()
        assert torch.allclose(dots, torch.ones_like(dots), atol=1e-6)
        assert torch.allclose(sp.features_from_splats(want), sp.features_from_poses(small_traj.poses[e][t]), atol=1e-5)


def test_static_bodies_are_not_modelled(small_traj):
    assert small_traj.body_names[0] == "table"
    assert 0 not in small_traj.modelled
    assert [small_traj.modelled_names[o] for o in small_traj.objects] == ["box_0", "box_1"]


def test_objects_and_cameras_come_from_the_dataset_spec(small_ds, small_traj):
    import copy
    import dataclasses

    from gwm.cameras import fixed_cameras
    from gwm.data import GaussianDataset
    from gwm.model.trajectories import load_trajectories

    assert isinstance(small_ds, GaussianDataset)
    assert small_ds.body_roles == {"table": "background", "pusher": "tool", "box_0": "object", "box_1": "object"}
    torch.testing.assert_close(small_traj.cameras.world_from_cam, fixed_cameras(small_ds.cameras).world_from_cam)
    # The pusher moves but is the tool: only the role decides. A dataset recorded before roles has no objects.
    old = copy.copy(small_ds)
    old.spec = dataclasses.replace(small_ds.spec, body_roles=())
    with pytest.warns(UserWarning, match="records no body roles"):
        assert load_trajectories(old).objects == []
    tool_box = copy.copy(small_ds)
    tool_box.spec = dataclasses.replace(small_ds.spec, body_roles=("background", "object", "tool", "object"))
    assert [small_traj.modelled_names[o] for o in load_trajectories(tool_box).objects] == ["pusher", "box_1"]


def _vae(traj, **kw):
    torch.manual_seed(0)
    return GaussianVAE(VAEConfig(num_tokens=6, latent_dim=4, width=32, heads=2, **kw), traj.space)


def test_vae_shapes(small_traj):
    sp = small_traj.space
    x = sp.features_from_poses(small_traj.poses[0][:3])  # (3, N, 14)
    for kw in ({}, {"decoder": "free"}, {"slots": "free"}, {"encoder_cross_layers": 1, "encoder_self_layers": 1}):
        vae = _vae(small_traj, **kw)
        mean, logvar = vae.encode(x)
        assert mean.shape == logvar.shape == (3, 6, 4)
        rec, m2, _ = vae(x, sample=False)
        assert rec.shape == x.shape and torch.equal(m2, mean)
        assert torch.isfinite(rec).all()


def test_body_slots_isolate_bodies(small_traj):
    """Moving one body changes only its own latent tokens and its own decoded Gaussians."""
    sp = small_traj.space
    poses = small_traj.poses[1][4:5].clone()  # (1, M, 7)
    moved = poses.clone()
    moved[0, 1, :2] += 0.05  # body 1 (box_0) moves 5 cm
    vae = _vae(small_traj, encoder_self_layers=1, encoder_cross_layers=1)
    with torch.no_grad():
        z0, _ = vae.encode(sp.features_from_poses(poses))
        z1, _ = vae.encode(sp.features_from_poses(moved))
        own = vae.token_body == 1
        assert torch.equal(z0[:, ~own], z1[:, ~own])
        assert not torch.allclose(z0[:, own], z1[:, own])
        d0, d1 = vae.decode(z0), vae.decode(z1)
        other = sp.body_id != 1
        assert torch.equal(d0[:, other], d1[:, other])
    # with free slots the same move reaches every token (the mask is what isolates)
    free = _vae(small_traj, slots="free", encoder_self_layers=1)
    with torch.no_grad():
        f0, _ = free.encode(sp.features_from_poses(poses))
        f1, _ = free.encode(sp.features_from_poses(moved))
    assert not torch.isclose(f0, f1).all(-1).any()


def test_body_slots_need_enough_tokens(small_traj):
    with pytest.raises(ValueError, match="num_tokens >= bodies"):
        GaussianVAE(VAEConfig(num_tokens=2, latent_dim=4, width=32, heads=2), small_traj.space)


def test_dit_shapes_and_checks():
    dit = LatentDiT(DiTConfig(width=32, depth=2, heads=2, context=2, action_chunk=3), num_tokens=5, latent_dim=4,
                    action_dim=2)
    x, ctx, act = torch.randn(7, 5, 4), torch.randn(7, 2, 5, 4), torch.randn(7, 3, 2)
    assert dit(x, torch.rand(7), ctx, act).shape == (7, 5, 4)
    with pytest.raises(ValueError, match="context"):
        dit(x, torch.rand(7), ctx[:, :1], act)
    with pytest.raises(ValueError, match="actions"):
        dit(x, torch.rand(7), ctx, act[:, :2])


def test_rollout_shapes(small_traj):
    torch.manual_seed(0)
    cfg = WorldModelConfig(vae=VAEConfig(num_tokens=3, latent_dim=4, width=32, heads=2),
                           dit=DiTConfig(width=32, depth=1, heads=2, action_chunk=2))
    model = GaussianWorldModel(cfg, small_traj.space, small_traj.action_dim).eval()
    ctx = small_traj.space.features_from_poses(small_traj.poses[0][[0, 2]])[None].expand(4, -1, -1, -1)
    acts = torch.randn(4, 5, 2, small_traj.action_dim)
    out = model.rollout(ctx, acts, torch.Generator().manual_seed(0))
    assert out.shape == (4, 5, small_traj.space.num_gaussians, 14)


def test_transition_windows_repeat_the_first_frame():
    poses = [torch.zeros(5, 1, 7), torch.zeros(4, 1, 7)]
    _, ctx, act, tgt = transition_windows(poses, [0, 1], context=2, chunk=2)
    # episode 0: t = 0, 1, 2 ; episode 1 (offset 5): t = 0, 1
    assert tgt.tolist() == [2, 3, 4, 7, 8]
    assert ctx.tolist() == [[0, 0], [0, 1], [0, 2], [5, 5], [5, 6]]
    assert act.tolist() == [[0, 1], [1, 2], [2, 3], [5, 6], [6, 7]]


def _random_poses(traj, n, seed=0):
    g = torch.Generator().manual_seed(seed)
    p = traj.poses[0][:n].clone()  # (n, M, 7)
    p[..., :3] += 0.05 * torch.randn(p[..., :3].shape, generator=g)
    q = torch.randn(p[..., 3:].shape, generator=g)
    p[..., 3:] = q / q.norm(dim=-1, keepdim=True)
    return p


def test_move_bodies_equals_posing_the_moved_bodies(small_traj):
    """A rigid motion applied to posed Gaussians == the canonical Gaussians posed by the moved poses."""
    from gwm.geometry import quat_to_rotmat

    sp = small_traj.space
    p0, p1 = _random_poses(small_traj, 3, 0), _random_poses(small_traj, 3, 1)
    # motion taking p0 to p1 per body, world frame: R = R1 R0^T, t = t1 - R t0 (in feature units: / extent,
    # about the space's centre)
    r0, r1 = quat_to_rotmat(p0[..., 3:]), quat_to_rotmat(p1[..., 3:])
    rot = r1 @ r0.transpose(-1, -2)
    c0 = (p0[..., :3] - sp.centre) / sp.extent
    c1 = (p1[..., :3] - sp.centre) / sp.extent
    trans = c1 - (rot @ c0[..., None])[..., 0]
    moved = sp.move_bodies(sp.features_from_poses(p0), rot, trans)
    want = sp.features_from_poses(p1)
    assert torch.allclose(moved, want, atol=1e-5)


def test_anchored_rollout_of_an_unchanged_latent_copies_the_last_state(small_traj, monkeypatch):
    """If the dynamics predict no latent change, the anchored rollout returns the last observed state exactly
    (whatever the VAE's reconstruction error), while the decoded rollout returns the VAE's reconstruction."""
    sp = small_traj.space
    torch.manual_seed(0)
    cfg = WorldModelConfig(vae=VAEConfig(num_tokens=6, latent_dim=4, width=32, heads=2),
                           dit=DiTConfig(width=32, depth=1, heads=2))
    model = GaussianWorldModel(cfg, sp, small_traj.action_dim).eval()
    monkeypatch.setattr(model, "predict_next", lambda ctx, act, gen=None, steps=None: ctx[:, -1])
    ctx = sp.features_from_poses(torch.stack([small_traj.poses[0][[3, 4]], small_traj.poses[1][[5, 6]]]))
    acts = torch.zeros(2, 4, 1, small_traj.action_dim)
    pred = model.rollout(ctx, acts)  # (2, 4, N, 14)
    assert pred.shape == (2, 4, sp.num_gaussians, 14)
    assert torch.allclose(pred, ctx[:, -1:].expand_as(pred), atol=1e-5)
    model.cfg = WorldModelConfig(vae=cfg.vae, dit=cfg.dit, rollout="decoded")
    decoded = model.rollout(ctx, acts)
    assert (sp.means(decoded) - sp.means(ctx[:, -1:])).norm(dim=-1).mean() > 1e-3  # untrained VAE: far off


def test_anchored_rollout_needs_the_rigid_decoder():
    with pytest.raises(ValueError, match="anchored.*rigid"):
        WorldModelConfig(vae=VAEConfig(decoder="free"))


def test_decoder_without_residuals_is_its_decoded_poses(small_traj):
    """residual_scale=0: decode(z) is exactly the canonical Gaussians under decode_poses(z)."""
    vae = _vae(small_traj, residual_scale=0.0)
    with torch.no_grad():
        for p in vae.parameters():  # non-trivial poses
            p.add_(0.05 * torch.randn(p.shape, generator=torch.Generator().manual_seed(p.numel())))
        z = torch.randn(2, 6, 4, generator=torch.Generator().manual_seed(5))
        rot, trans = vae.decode_poses(z)
        sp = small_traj.space
        want = sp.means(vae.pose_canonical(rot, trans, None))
        assert torch.allclose(sp.means(vae.decode(z)), want, atol=1e-6)
        bid = sp.body_id
        local = (rot[:, bid].transpose(-1, -2) @ (vae.decode(z)[..., :3] - trans[:, bid])[..., None])[..., 0]
        assert torch.allclose(local, (sp.canon_means / sp.extent).expand_as(local), atol=1e-5)  # rigid


def test_relative_tool_targets_are_the_commanded_position_in_each_decoded_body_frame(small_traj):
    """Mapping the features back through each body's decoded pose gives the commanded position (feature units),
    for rotated bodies too; each token gets its own body's frame; the DiT needs them when configured."""
    torch.manual_seed(0)
    cfg = WorldModelConfig(vae=VAEConfig(num_tokens=4, latent_dim=4, width=32, heads=2, residual_scale=0.0),
                           dit=DiTConfig(width=32, depth=1, heads=2, action_chunk=2, relative_actions=True))
    model = GaussianWorldModel(cfg, small_traj.space, 8).eval()
    last = torch.randn(5, 4, 4)  # random latents: decoded rotations far from identity
    acts = torch.randn(5, 2, 8) * 0.3
    rel = model.relative_tool_targets(last, acts)  # (B, S, M, 3)
    rot, tr = model.vae.decode_poses(last)
    assert (rot - torch.eye(3)).abs().amax() > 0.1
    back = torch.einsum("bmij,bsmj->bsmi", rot, rel) + tr[:, None]
    p = (acts[..., :3] - model.space.centre) / model.space.extent
    torch.testing.assert_close(back, p[:, :, None].expand_as(back), atol=1e-5, rtol=1e-5)
    tokens = model._relative_tokens(last, acts)  # (B, K, S, 3), token k -> body k mod M
    m = model.space.num_bodies
    for k in range(4):
        torch.testing.assert_close(tokens[:, k], rel[:, :, k % m])
    with pytest.raises(ValueError, match="relative_actions needs relative"):
        model.dit(torch.randn(5, 4, 4), torch.rand(5), torch.randn(5, 2, 4, 4), acts)


def test_relative_actions_need_rigid_body_slots():
    with pytest.raises(ValueError, match="relative_actions"):
        WorldModelConfig(vae=VAEConfig(slots="free"), dit=DiTConfig(relative_actions=True))


def test_an_episode_where_a_body_leaves_the_scene_is_left_out(small_ds, small_traj):
    """A box falling off the table (tens of metres down in a simulator without a floor) would set the
    normalisation box; that episode is left out of training with a warning, and the normalisation is unchanged."""
    from gwm.model.synthetic import SyntheticPushDataset
    from gwm.model.trajectories import load_trajectories

    class Falling(SyntheticPushDataset):
        def episode(self, i, keys=None):
            ep = dict(super().episode(i, keys))
            if i == 2 and "observation.body_poses" in ep:
                p = np.array(ep["observation.body_poses"])
                p[-3:, list(self.body_names).index("box_0"), 2] -= 30.0
                ep["observation.body_poses"] = p
            return ep

    with pytest.warns(UserWarning, match=r"episode 2: box_0 at \["):
        traj = load_trajectories(Falling(small_ds.cfg))
    assert 2 not in traj.train + traj.val and len(traj.train) == len(small_traj.train) - 1
    assert float(traj.space.extent) < 2 * float(small_traj.space.extent)
