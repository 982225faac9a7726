"""Overfitting, bit-exact resume, checkpoint errors, deterministic sampling."""

from dataclasses import replace

import pytest
import torch

from gwm.model.checkpoint import CheckpointError
from gwm.model.config import OptimConfig, preset
from gwm.model.inference import load_world_model
from gwm.model.train import Trainer


def _tiny(vae_steps=4, dyn_steps=6, **kw):
    return preset("tiny", optim=OptimConfig(vae_steps=vae_steps, dynamics_steps=dyn_steps, batch_size=4,
                                            warmup_steps=2, **kw))


def test_tiny_model_overfits_a_few_windows(small_traj):
    """VAE reconstruction and one-step dynamics on 2 episodes' windows: losses drop well below their start."""
    traj = replace(small_traj, train=[0, 1])
    cfg = _tiny(vae_steps=200, dyn_steps=100, vae_lr=3e-3, dynamics_lr=2e-3, body_mix=0.0, pose_jitter=0.0,
                context_noise=0.0)
    tr = Trainer(cfg, traj, progress=False)
    first_vae = tr.train_step()["xyz"]
    vae = [tr.train_step()["xyz"] for _ in range(199)]
    assert first_vae > 0.05 and sum(vae[-10:]) / 10 < 0.01 * first_vae  # centre MSE down > 100x
    with torch.no_grad():  # the overfit frames decode to within a few mm (the scene spans ~0.6 m)
        x = tr.model.space.features_from_poses(tr.train_frames)
        err = (tr.model.space.means(tr.model.decode(tr.model.encode(x))) - tr.model.space.means(x)).norm(dim=-1)
    assert float(err.mean()) < 0.015
    dyn = [tr.train_step()["edm"] for _ in range(100)]
    assert sum(dyn[-20:]) / 20 < 0.5 * sum(dyn[:20]) / 20


def _all_state(tr):
    state = {f"m/{k}": v.clone() for k, v in tr.model.state_dict().items()}
    for name, opt in (("vae", tr.vae_opt), ("dyn", tr.dyn_opt)):
        for i, st in opt.state_dict()["state"].items():
            for k, v in st.items():
                state[f"{name}/{i}/{k}"] = torch.as_tensor(v).clone()
    return state


@pytest.mark.parametrize("stop", [3, 7])  # inside the VAE stage; inside the dynamics stage
def test_resume_is_bit_exact(small_traj, tmp_path, stop):
    cfg = _tiny()
    a = Trainer(cfg, small_traj, progress=False)
    a.run(until_step=stop)
    a.save(tmp_path / "ckpt.safetensors")
    a.run(until_step=stop + 3)
    b = Trainer(cfg, small_traj, progress=False)
    b.load(tmp_path / "ckpt.safetensors")
    assert b.step == stop
    b.run(until_step=stop + 3)
    sa, sb = _all_state(a), _all_state(b)
    assert sa.keys() == sb.keys()
    for k in sa:
        assert torch.equal(sa[k], sb[k]), k
    assert torch.equal(a.gen.get_state(), b.gen.get_state())


def test_corrupted_checkpoint_is_a_clear_error(small_traj, tmp_path):
    tr = Trainer(_tiny(), small_traj, progress=False)
    path = tr.save(tmp_path / "ckpt.safetensors")
    data = path.read_bytes()
    (tmp_path / "truncated.safetensors").write_bytes(data[: len(data) // 2])
    (tmp_path / "garbage.safetensors").write_bytes(b"\x00" * 64)
    for name in ("truncated", "garbage"):
        with pytest.raises(CheckpointError, match="corrupt or not a safetensors file"):
            tr.load(tmp_path / f"{name}.safetensors")
    with pytest.raises(CheckpointError, match="does not exist"):
        tr.load(tmp_path / "missing.safetensors")


def test_mismatched_checkpoint_is_a_clear_error(small_traj, tmp_path):
    tr = Trainer(_tiny(), small_traj, progress=False)
    path = tr.save(tmp_path / "ckpt.safetensors")
    other = Trainer(_tiny(vae_steps=5), small_traj, progress=False)
    with pytest.raises(CheckpointError, match=r"different config \(differs in \['optim'\]\)"):
        other.load(path)
    # same config, other dataset (3 boxes instead of 2): shapes differ
    from gwm.model.synthetic import SyntheticPushConfig, SyntheticPushDataset
    from gwm.model.trajectories import load_trajectories

    traj3 = load_trajectories(SyntheticPushDataset(SyntheticPushConfig(num_episodes=3, episode_length=8, num_boxes=3)))
    with pytest.raises(CheckpointError, match="does not match this model.*same preset and dataset"):
        Trainer(_tiny(), traj3, progress=False).load(path)
    # a weights-only model file cannot resume training, but it loads for inference
    tr.save(tmp_path / "model.safetensors", with_training_state=False)
    with pytest.raises(CheckpointError, match="weights only"):
        tr.load(tmp_path / "model.safetensors")
    model, info = load_world_model(tmp_path / "model.safetensors")
    assert info["shapes"]["num_gaussians"] == small_traj.space.num_gaussians
    assert torch.equal(model.space.canon_means, small_traj.space.canon_means)


def test_sampling_is_deterministic_under_a_seed(small_traj):
    tr = Trainer(_tiny(), small_traj, progress=False)
    tr.run()  # through both stages, so statistics and the DiT are set
    m = tr.model.eval()
    sp = m.space
    ctx = sp.features_from_poses(torch.stack([small_traj.poses[e][[2, 3]] for e in (0, 1)]))  # (2, C, N, 14)
    acts = torch.stack([small_traj.actions[e][3:6].reshape(3, 1, -1) for e in (0, 1)])  # (2, 3, 1, A)
    run = lambda seed: m.rollout(ctx, acts, torch.Generator().manual_seed(seed))  # noqa: E731
    a, b, c = run(7), run(7), run(8)
    assert torch.equal(a, b)
    assert not torch.equal(a, c)


def test_render_loss_trains_through_the_renderer(small_traj):
    """loss.render > 0 and every other term 0: the VAE still gets a gradient, through the rasterizer."""
    from gwm.model.objective import ReconstructionLossConfig

    cfg = replace(_tiny(vae_steps=3, dyn_steps=1), render_size=24,
                  loss=ReconstructionLossConfig(xyz=0, log_scale=0, quat=0, rgb=0, opacity=0, kl=0, render=1.0))
    tr = Trainer(cfg, small_traj, progress=False)
    rec = tr.train_step()
    assert rec["render"] > 1e-4 and rec["loss"] == pytest.approx(rec["render"], rel=1e-5)
    assert rec["grad_norm"] > 0


def test_relative_actions_and_contact_windows_train_save_and_load(small_traj, tmp_path):
    """Positions as actions (the pusher's next position, padded to the robot's 8 values): with relative_actions the
    statistics come from the training windows and travel with the weights; contact_share=1 draws only windows
    where a box moves."""
    names = [small_traj.body_names[b] for b in small_traj.modelled]
    pusher = next(i for i, n in enumerate(names) if i not in small_traj.objects)
    acts = [torch.cat([torch.cat([p[1:, pusher, :3], p[-1:, pusher, :3]]), torch.zeros(len(p), 5)], -1)
            for p in small_traj.poses]
    traj = replace(small_traj, actions=acts)
    base = _tiny(vae_steps=4, dyn_steps=6, contact_share=1.0)
    cfg = replace(base, model=replace(base.model, dit=replace(base.model.dit, relative_actions=True)))
    tr = Trainer(cfg, traj, tmp_path, progress=False)
    assert 0 < len(tr.contact_windows) < len(tr.tgt_idx)
    moving = set(tr.contact_windows.tolist())
    tr.run(until_step=4)
    tr.train_step()  # the first dynamics step sets the statistics
    assert (tr.model.relative_std != 1).all()
    g = tr.gen.get_state()
    lat = tr._latents[0]
    _, _, tgt = tr._dynamics_batch(64)
    tr.gen.set_state(g)
    w = torch.randint(len(tr.tgt_idx), (64,), generator=tr.gen)  # the uniform draw comes first, then the pick
    pick = tr.contact_windows[torch.randint(len(tr.contact_windows), (64,), generator=tr.gen)]
    assert set(pick.tolist()) <= moving and torch.equal(tgt, lat[tr.tgt_idx[pick]]) and not torch.equal(w, pick)
    tr.run()
    model, _ = load_world_model(tmp_path / "model.safetensors")
    torch.testing.assert_close(model.relative_std, tr.model.relative_std)
    ctx = model.space.features_from_poses(traj.poses[0][[0, 2]])[None]
    a = acts[0][2:4].reshape(1, 2, 1, 8)
    out = model.rollout(ctx, a, torch.Generator().manual_seed(0))
    tr.model.eval()
    torch.testing.assert_close(out, tr.model.rollout(ctx, a, torch.Generator().manual_seed(0)))


def test_grip_windows_are_closed_gripper_lifts_and_grip_share_draws_them(small_traj):
    """grip_share: windows where the commanded tool rises with the gripper commanded closed (action[-1] below half
    its largest width), held or not; grip_share=1 draws only those, whatever contact_share says."""
    acts = []
    for p in small_traj.poses:  # the command rises for the second half of each episode; the gripper closes at 1/4
        t = torch.arange(len(p), dtype=torch.float32)
        z = torch.where(t < len(p) // 2, torch.zeros_like(t), 0.01 * (t - len(p) // 2))
        grip = torch.where(t < len(p) // 4, torch.full_like(t, 0.08), torch.zeros_like(t))
        acts.append(torch.cat([torch.zeros(len(p), 2), z[:, None], torch.zeros(len(p), 4), grip[:, None]], -1))
    with pytest.raises(ValueError, match="gripper width last"):  # the fixture's 2-value actions have no gripper
        Trainer(_tiny(grip_share=1.0), small_traj, progress=False)
    traj = replace(small_traj, actions=acts)
    base = _tiny(vae_steps=2, dyn_steps=4, contact_share=1.0, grip_share=1.0)
    with pytest.raises(ValueError, match="action chunk > 1"):  # the rise is measured over the chunk
        Trainer(base, traj, progress=False)
    cfg = replace(base, model=replace(base.model, dit=replace(base.model.dit, action_chunk=3)))  # as planning
    tr = Trainer(cfg, traj, progress=False)
    a = tr.train_actions
    grip = set(tr.grip_windows.tolist())
    expect = {w for w in range(len(tr.tgt_idx)) if float(a[tr.act_idx[w], -1].max()) < 0.04
              and float(a[tr.act_idx[w, -1], 2] - a[tr.ctx_idx[w, -1], 2]) > 1e-3}
    assert grip == expect and 0 < len(grip) < len(tr.tgt_idx)
    tr.run(until_step=2)
    tr.train_step()
    g = tr.gen.get_state()
    lat = tr._latents[0]
    _, _, tgt = tr._dynamics_batch(64)
    tr.gen.set_state(g)
    torch.randint(len(tr.tgt_idx), (64,), generator=tr.gen)  # uniform, then contact (pick + coin), then grip
    torch.randint(len(tr.contact_windows), (64,), generator=tr.gen)
    torch.rand(64, generator=tr.gen)
    pick = tr.grip_windows[torch.randint(len(tr.grip_windows), (64,), generator=tr.gen)]
    assert torch.equal(tgt, lat[tr.tgt_idx[pick]])
