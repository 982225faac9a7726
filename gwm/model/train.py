"""Two-stage training of the Gaussian world model, resumable bit-exactly.

Stage 1 (steps [0, vae_steps)): the Gaussian VAE on single states of the training episodes.
Stage 2 (steps [vae_steps, total)): the VAE is frozen; every frame is encoded once (posterior mean)
and the DiT learns one-step latent dynamics with the EDM objective.

All randomness of a step (batch indices, VAE noise, diffusion sigma/noise, context noise, render
camera) comes from one torch.Generator whose state is saved in the checkpoint together with the
model, the optimizers and the step, so `continue from a checkpoint` == `never stopped`, bit for bit
on the same machine and thread count. Evaluation uses its own generator and leaves that state alone.

Data parallel: under torchrun (WORLD_SIZE > 1) the VAE and the DiT are wrapped in
DistributedDataParallel (NCCL on CUDA, gloo on CPU). optim.batch_size is the global batch and must be
divisible by the world size. Every rank runs the same generator and draws the random numbers of the whole
global batch, keeping its own rows (gwm.model.distributed), so the ranks' shards together are the batch
one process would train on. Every loss term is a mean over equally sized per-sample terms (no batch
statistics: the networks use LayerNorm only), so DDP's gradient average is the global-batch gradient; the
render loss, which renders only the global batch's first two states, is scaled so that holds too. W
processes therefore train like one process with the same global batch, up to float summation order
(tests/model/test_ddp.py runs 2 gloo processes on the CPU against 1). Weights stay identical on all ranks,
so every rank's evaluation gives the same figures; the logged losses are averaged over the ranks; rank 0
alone writes checkpoints and logs. A checkpoint holds the one shared stream, so any number of processes
that divides the batch can resume it.
"""

from __future__ import annotations

import copy
import json
import math
import os
import time
from pathlib import Path

import torch
from tqdm.auto import tqdm

from gwm.model.checkpoint import (CheckpointError, load_checkpoint, load_state_strict, optimizer_from_tensors,
                                  optimizer_to_tensors, save_checkpoint)
from gwm.geometry import quat_multiply
from gwm.model.config import TrainConfig
from gwm.model.distributed import ShardedGenerator
# Loading and rollout helpers live in gwm.model.inference; gwm/model/validate.py still imports them from here.
from gwm.model.inference import resize_cameras, rollout_batch
from gwm.model.objective import GaussianReconstructionLoss
from gwm.model.trajectories import Trajectories
from gwm.model.world_model import GaussianWorldModel
from gwm.splats import GaussianSplats

CHECKPOINT_NAME = "checkpoint.safetensors"
MODEL_NAME = "model.safetensors"


class ProcessCountError(ValueError):
    """The global batch cannot be split evenly over the data-parallel processes."""


def transition_windows(poses: list[torch.Tensor], episodes: list[int], context: int, chunk: int):
    """Index every (context, action chunk, next state) window of the given episodes into flat frame arrays.

    Returns frame_offsets (per episode, into the concatenation of `episodes`), ctx (W, C) frame indices
    (the first frame is repeated before an episode's start), act (W, S), target (W,).
    """
    ctx, act, tgt, offsets, base = [], [], [], {}, 0
    for e in episodes:
        t_len = poses[e].shape[0]
        offsets[e] = base
        for t in range(t_len - chunk):
            ctx.append([base + max(0, t - (context - 1 - j) * chunk) for j in range(context)])
            act.append([base + t + s for s in range(chunk)])
            tgt.append(base + t + chunk)
        base += t_len
    if not tgt:
        raise ValueError(f"episodes are shorter than the action chunk ({chunk}); no training windows")
    return offsets, torch.tensor(ctx), torch.tensor(act), torch.tensor(tgt)


class Trainer:
    def __init__(self, cfg: TrainConfig, traj: Trajectories, out_dir: str | Path | None = None,
                 dataset_meta: dict | None = None, device: str | None = None, progress: bool = True):
        self.cfg, self.traj, self.progress = cfg, traj, progress
        self.out_dir = Path(out_dir) if out_dir is not None else None
        self.dataset_meta = dataset_meta or {}
        self.world_size = int(os.environ.get("WORLD_SIZE", "1"))
        self.rank = int(os.environ.get("RANK", "0"))
        if cfg.optim.batch_size % self.world_size:
            raise ProcessCountError(f"optim.batch_size={cfg.optim.batch_size} (the global batch) is not divisible "
                                    f"by the {self.world_size} processes; run torchrun --nproc_per_node with a "
                                    "divisor of it")
        local_rank = int(os.environ.get("LOCAL_RANK", "0"))
        if device is None:
            device = "cuda" if torch.cuda.is_available() else "cpu"
        self.device = torch.device(device)
        if self.device.type == "cuda" and self.device.index is None:
            self.device = torch.device("cuda", local_rank)  # one GPU per process under torchrun
        if self.device.type == "cpu":  # cpu_threads is per machine: processes on one machine share its cores
            torch.set_num_threads(max(1, cfg.cpu_threads // int(os.environ.get("LOCAL_WORLD_SIZE", "1"))))
        torch.manual_seed(cfg.seed)  # parameter initialisation
        self.model = GaussianWorldModel(cfg.model, copy.deepcopy(traj.space), traj.action_dim).to(self.device)
        o = cfg.optim
        self.vae_opt = torch.optim.AdamW(self.model.vae.parameters(), lr=o.vae_lr, weight_decay=o.weight_decay)
        self.dyn_opt = torch.optim.AdamW(self.model.dit.parameters(), lr=o.dynamics_lr, weight_decay=o.weight_decay)
        # the same seed on every rank: ranks draw the global batch's random numbers and keep their rows
        self.gen = torch.Generator(device=self.device).manual_seed(cfg.seed * 1_000_003)
        self.rng = ShardedGenerator(self.gen, self.rank, self.world_size)
        self.step = 0
        self.recon_loss = GaussianReconstructionLoss(cfg.loss)
        self.render_enabled = cfg.loss.render > 0 and _renderer_available()
        if cfg.loss.render > 0 and not self.render_enabled:
            print("gwm.model: gwm.render is not available; training without the render loss")
        if self.render_enabled and self.device.type == "cuda":
            from gwm.render.gsplat_backend import gsplat_available

            if not gsplat_available():  # measured on an H200: 6 s per VAE step instead of milliseconds
                print("gwm.model: gsplat is not installed, so the render loss runs on the CPU rasterizer "
                      "(seconds per step); pip install gsplat, or set loss.render=0")
        # training data on the device
        self.train_frames = torch.cat([traj.poses[e] for e in traj.train]).to(self.device)  # (F, M, 7)
        self.val_frames = torch.cat([traj.poses[e] for e in traj.val]).to(self.device)
        c, s = cfg.model.dit.context, cfg.model.dit.action_chunk
        _, ctx_idx, act_idx, tgt_idx = transition_windows(traj.poses, traj.train, c, s)
        self.ctx_idx, self.act_idx, self.tgt_idx = (i.to(self.device) for i in (ctx_idx, act_idx, tgt_idx))
        self.train_actions = torch.cat([traj.actions[e] for e in traj.train]).to(self.device)  # (F, A)
        # windows where an object moves from the last context frame to the target (optim.contact_share)
        obj = torch.as_tensor(traj.objects, dtype=torch.long, device=self.device)
        moved = (self.train_frames[self.tgt_idx][:, obj, :3] - self.train_frames[self.ctx_idx[:, -1]][:, obj, :3])
        self.contact_windows = (torch.nonzero(moved.norm(dim=-1).amax(-1) > 1e-3)[:, 0] if len(obj)
                                else torch.zeros(0, dtype=torch.long, device=self.device))  # (W',)
        # windows where the commanded tool rises with the gripper commanded closed (optim.grip_share; the robot's
        # action layout: xyz first, gripper width last)
        self.grip_windows = torch.zeros(0, dtype=torch.long, device=self.device)  # (W'',)
        if cfg.optim.grip_share > 0:
            acts = self.train_actions
            if acts.shape[-1] < 4 or s < 2:  # the rise is over the chunk: one action has none
                raise ValueError(f"optim.grip_share needs actions with xyz first and a gripper width last (these "
                                 f"have {acts.shape[-1]} values) and an action chunk > 1 (this one {s})")
            closed = acts[self.act_idx][:, :, -1].amax(-1) < 0.5 * acts[:, -1].max()
            rise = acts[self.act_idx[:, -1], 2] - acts[self.ctx_idx[:, -1], 2]
            self.grip_windows = torch.nonzero(closed & (rise > 1e-3))[:, 0]
        self._latents: tuple[torch.Tensor, torch.Tensor] | None = None  # (train, val) (F, K, D)
        self._static_splats = None  # render loss: unmodelled bodies on self.device (made on first use)
        self._ddp_vae = self._ddp_dit = None
        self._owns_process_group = False
        if self.world_size > 1:
            self._setup_ddp()

    # ------------------------------------------------------------------------------------------------
    def _setup_ddp(self) -> None:
        import torch.distributed as dist
        from torch.nn.parallel import DistributedDataParallel as DDP

        if not dist.is_initialized():
            if self.device.type == "cuda":
                torch.cuda.set_device(self.device)
            dist.init_process_group("nccl" if self.device.type == "cuda" else "gloo")
            self._owns_process_group = True
        ids = [self.device.index] if self.device.type == "cuda" else None
        self._ddp_vae = DDP(self.model.vae, device_ids=ids)
        self._ddp_dit = DDP(self.model.dit, device_ids=ids)

    def close(self) -> None:
        """End the process group this trainer started (torch warns at exit otherwise)."""
        if self._owns_process_group:
            import torch.distributed as dist

            dist.destroy_process_group()
            self._owns_process_group = False

    @property
    def stage(self) -> str:
        return "vae" if self.step < self.cfg.optim.vae_steps else "dynamics"

    def _lr(self, peak: float, step_in_stage: int, stage_steps: int) -> float:
        o = self.cfg.optim
        warm = min(1.0, (step_in_stage + 1) / max(o.warmup_steps, 1))
        cos = 0.5 * (1 + math.cos(math.pi * min(step_in_stage / max(stage_steps, 1), 1.0)))
        return peak * warm * (o.min_lr_ratio + (1 - o.min_lr_ratio) * cos)

    # one step -------------------------------------------------------------------------------------------
    def train_step(self) -> dict[str, float]:
        """One optimizer step on the global batch (this rank's rows of it under DDP)."""
        o = self.cfg.optim
        b = o.batch_size  # global
        mine = self.rng.rows(b // self.world_size)
        if self.stage == "vae":
            for g in self.vae_opt.param_groups:
                g["lr"] = self._lr(o.vae_lr, self.step, o.vae_steps)
            x = self.model.space.features_from_poses(self._vae_batch(b)[mine])  # (B/W, N, 14)
            vae = self._ddp_vae or self.model.vae
            pred, mean, logvar = vae(x, generator=self.rng)
            loss, parts = self.recon_loss(pred, x, mean, logvar, self._render_loss if self.render_enabled else None)
            opt, params = self.vae_opt, self.model.vae.parameters()
        else:
            if self._latents is None:
                self._prepare_dynamics(set_statistics=True)
            for g in self.dyn_opt.param_groups:
                g["lr"] = self._lr(o.dynamics_lr, self.step - o.vae_steps, o.dynamics_steps)
            ctx, act, tgt = self._dynamics_batch(b, mine)
            loss = self.model.dynamics_loss(ctx, act, tgt, self.rng, o.context_noise, net=self._ddp_dit)
            parts = {"edm": float(loss.detach())}
            opt, params = self.dyn_opt, self.model.dit.parameters()
        opt.zero_grad(set_to_none=True)
        loss.backward()  # under DDP this also averages the gradients over the ranks
        gnorm = torch.nn.utils.clip_grad_norm_(list(params), o.grad_clip)
        opt.step()
        self.step += 1
        rec = {"loss": float(loss.detach()), **parts}
        if self.world_size > 1:  # log the global batch's losses, not this rank's
            rec = self._mean_over_ranks(rec)
        return {"loss": rec.pop("loss"), "grad_norm": float(gnorm), **rec}

    def _mean_over_ranks(self, values: dict[str, float]) -> dict[str, float]:
        import torch.distributed as dist

        t = torch.tensor(list(values.values()), dtype=torch.float64, device=self.device)
        dist.all_reduce(t)
        return dict(zip(values, (t / self.world_size).tolist()))

    def _dynamics_batch(self, b: int, mine: slice = slice(None)) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Context latents (B,C,K,D), action chunks (B,S,A), next latents (B,K,D) of random training windows:
        b windows drawn, the rows `mine` of them returned."""
        lat = self._latents[0]
        w = torch.randint(len(self.tgt_idx), (b,), generator=self.gen, device=self.device)
        for share, pool in ((self.cfg.optim.contact_share, self.contact_windows),
                            (self.cfg.optim.grip_share, self.grip_windows)):  # a later pool overrides with its share
            if share > 0 and len(pool):
                pick = pool[torch.randint(len(pool), (b,), generator=self.gen, device=self.device)]
                w = torch.where(torch.rand(b, generator=self.gen, device=self.device) < share, pick, w)
        w = w[mine]
        return lat[self.ctx_idx[w]], self.train_actions[self.act_idx[w]], lat[self.tgt_idx[w]]

    def _vae_batch(self, b: int) -> torch.Tensor:
        """Body poses (B, M, 7) for a VAE batch, augmented so the VAE sees far more scene configurations
        than the episodes hold (without this it memorises the training frames: measured ~3x the held-out
        pose error). With probability body_mix each body takes its pose from its own random training
        frame; then every moving body is jittered by a random planar shift and a rotation about the
        world z axis (pose_jitter metres / radians)."""
        o, dev, g = self.cfg.optim, self.device, self.gen
        m = self.train_frames.shape[1]
        idx = torch.randint(len(self.train_frames), (b,), generator=g, device=dev)
        mixed = torch.randint(len(self.train_frames), (b, m), generator=g, device=dev)
        mix = torch.rand(b, 1, generator=g, device=dev) < o.body_mix
        idx = torch.where(mix, mixed, idx[:, None])  # (B, M)
        poses = self.train_frames[idx, torch.arange(m, device=dev)].clone()  # (B, M, 7)
        if o.pose_jitter > 0:
            shift = (torch.rand(b, m, 2, generator=g, device=dev) * 2 - 1) * o.pose_jitter
            angle = (torch.rand(b, m, generator=g, device=dev) * 2 - 1) * o.pose_jitter * 10
            dq = torch.stack([torch.cos(angle / 2), torch.zeros_like(angle), torch.zeros_like(angle),
                              torch.sin(angle / 2)], -1)  # (B, M, 4) rotation about world z
            poses[..., :2] += shift
            poses[..., 3:] = quat_multiply(dq, poses[..., 3:])
        return poses

    @torch.no_grad()
    def _encode_all(self, frames: torch.Tensor, chunk: int = 256) -> torch.Tensor:
        """Body poses (F, M, 7) -> posterior-mean latents (F, K, D), in fixed-size chunks (deterministic)."""
        out = [self.model.encode(self.model.space.features_from_poses(frames[i:i + chunk]))
               for i in range(0, len(frames), chunk)]
        return torch.cat(out)

    def _prepare_dynamics(self, set_statistics: bool) -> None:
        self.model.vae.eval()
        train_lat, val_lat = self._encode_all(self.train_frames), self._encode_all(self.val_frames)
        if set_statistics:
            deltas = train_lat[self.tgt_idx] - train_lat[self.ctx_idx[:, -1]]
            self.model.set_statistics(train_lat, deltas, self.train_actions)
            if self.cfg.model.dit.relative_actions:
                rel = [self.model.relative_tool_targets(train_lat[self.ctx_idx[i:i + 1024, -1]],
                                                        self.train_actions[self.act_idx[i:i + 1024]])
                       for i in range(0, len(self.tgt_idx), 1024)]
                self.model.set_relative_statistics(torch.cat(rel))
        self._latents = (train_lat, val_lat)

    def _render_loss(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """L1 between renders of predicted and true states (the global batch's first 2, one random camera).

        pred, target: this rank's rows (B/W, N, 14). Under DDP the first 2 rows of the global batch sit on
        the first rank(s); their terms are multiplied by W so DDP's average over ranks gives the global loss.
        """
        from gwm.render import rasterize

        cams = self.traj.cameras
        i = int(torch.randint(len(cams), (1,), generator=self.gen, device=self.device))  # drawn on every rank
        cam = resize_cameras(cams[i], self.cfg.render_size).to(self.device)
        if self._static_splats is None:  # the unmodelled bodies, on the training device
            self._static_splats = self.traj.static_splats.to(device=self.device)
        sp = self.model.space  # on the training device (traj.space stays on the CPU)
        full = lambda f: GaussianSplats.cat([self._static_splats, sp.to_splats(f)])  # noqa: E731
        loss = pred.new_zeros(())
        n = min(2, self.cfg.optim.batch_size)
        first = self.rank * pred.shape[0]  # global index of this rank's first row
        for j in range(max(0, min(n - first, pred.shape[0]))):
            rp = rasterize(full(pred[j]), cam).rgb
            with torch.no_grad():
                rt = rasterize(full(target[j]), cam).rgb
            loss = loss + (rp - rt).abs().mean() / n
        return loss * self.world_size

    # evaluation -----------------------------------------------------------------------------------------
    @torch.no_grad()
    def evaluate(self) -> dict[str, float]:
        """Held-out figures: VAE centre error (m); in stage 2 also rollout centre error at h=1 and h=H."""
        was_training = self.model.training
        self.model.eval()
        sp = self.model.space
        gen = torch.Generator(device=self.device).manual_seed(12345)
        idx = torch.linspace(0, len(self.val_frames) - 1, min(64, len(self.val_frames))).long()
        x = sp.features_from_poses(self.val_frames[idx])
        rec = self.model.decode(self.model.encode(x))
        out = {"val_vae_centre_err_m": float((sp.means(rec) - sp.means(x)).norm(dim=-1).mean())}
        if self.stage == "dynamics" or self.step >= self.cfg.optim.vae_steps:
            h = self.cfg.eval_horizon
            starts = self._rollout_starts(h)
            if starts:
                ctx_f, acts, truth = self._rollout_batch(starts, h)
                pred = self.model.rollout(ctx_f, acts, gen)
                err = (sp.means(pred) - sp.means(truth)).norm(dim=-1).mean(-1).mean(0)  # (H,)
                copy = (sp.means(ctx_f[:, -1:]) - sp.means(truth)).norm(dim=-1).mean(-1).mean(0)
                out.update({"val_rollout_err_h1_m": float(err[0]), f"val_rollout_err_h{h}_m": float(err[-1]),
                            "val_copy_last_err_h1_m": float(copy[0]), f"val_copy_last_err_h{h}_m": float(copy[-1])})
        self.model.train(was_training)
        return out

    def _rollout_starts(self, horizon: int) -> list[tuple[int, int]]:
        s = self.cfg.model.dit.action_chunk
        cands = [(e, t) for e in self.traj.val for t in range(0, len(self.traj.poses[e]) - horizon * s, 2)]
        if not cands:
            return []
        pick = torch.linspace(0, len(cands) - 1, min(self.cfg.eval_windows, len(cands))).round().long()
        return [cands[int(i)] for i in pick]

    def _rollout_batch(self, starts: list[tuple[int, int]], horizon: int):
        """(episode, t) starts -> context features (B,C,N,14), actions (B,H,S,A), true states (B,H,N,14)."""
        return rollout_batch(self.traj, self.model.space, starts, horizon, self.cfg.model.dit.context,
                             self.cfg.model.dit.action_chunk, self.device)

    # checkpoints ----------------------------------------------------------------------------------------
    def metadata(self) -> dict:
        t = self.traj
        return {
            "config": self.cfg.to_json(),
            "step": self.step,
            "shapes": {"num_gaussians": t.space.num_gaussians, "num_bodies": t.space.num_bodies,
                       "action_dim": t.action_dim},
            "bodies": {"names": list(t.body_names), "modelled": t.modelled, "objects": t.objects},
            "dataset": self.dataset_meta,
            "scene_normalisation": self.dataset_meta.get("normalisation", torch.eye(4).tolist()),
        }

    def save(self, path: str | Path, with_training_state: bool = True) -> Path:
        tensors = {f"model/{k}": v for k, v in self.model.state_dict().items()}
        meta = self.metadata()
        if with_training_state:
            optim_info = {}
            for name, opt in (("vae", self.vae_opt), ("dynamics", self.dyn_opt)):
                t, info = optimizer_to_tensors(opt, f"optim/{name}")
                tensors.update(t)
                optim_info[name] = info
            tensors["rng/generator"] = self.gen.get_state()
            tensors["rng/torch"] = torch.get_rng_state()
            meta["optim"] = optim_info
        return save_checkpoint(path, tensors, meta)

    def load(self, path: str | Path) -> None:
        """Restore model, optimizers, step and RNG from a training checkpoint (resume)."""
        tensors, meta = load_checkpoint(path)
        if "optim" not in meta:
            raise CheckpointError(f"{path} holds model weights only (no optimizer/RNG state), so training cannot "
                                  f"resume from it; resume from {CHECKPOINT_NAME}")
        saved = json.loads(meta["config"])
        mine = json.loads(self.cfg.to_json())
        diff = sorted(k for k in mine if saved.get(k) != mine[k])
        if diff:
            raise CheckpointError(f"{path} was trained with a different config (differs in {diff}); resume with "
                                  "the same preset, or train into a new output folder")
        load_state_strict(self.model, {k[6:]: v for k, v in tensors.items() if k.startswith("model/")},
                          f"checkpoint {path}")
        optim_info = json.loads(meta["optim"])
        optimizer_from_tensors(self.vae_opt, tensors, optim_info["vae"], "optim/vae")
        optimizer_from_tensors(self.dyn_opt, tensors, optim_info["dynamics"], "optim/dynamics")
        self.step = int(meta["step"])
        self.gen.set_state(tensors["rng/generator"].to(torch.uint8))  # the stream all ranks share
        torch.set_rng_state(tensors["rng/torch"].to(torch.uint8))
        self._latents = None
        if self.stage == "dynamics":
            self._prepare_dynamics(set_statistics=False)  # statistics came with the checkpoint

    # loop -----------------------------------------------------------------------------------------------
    def run(self, until_step: int | None = None) -> list[dict]:
        """Train to `until_step` (default: the config's total), evaluating and checkpointing periodically."""
        end = self.cfg.total_steps if until_step is None else min(until_step, self.cfg.total_steps)
        logs = []
        main = self.rank == 0
        bar = tqdm(total=end, initial=self.step, disable=not (self.progress and main), desc="gwm train",
                   dynamic_ncols=True)
        self.model.train()
        t0, n0 = time.perf_counter(), self.step
        while self.step < end:
            rec = self.train_step()
            bar.update(1)
            if self.step % 20 == 0 or self.step == end:
                bar.set_postfix(stage=self.stage, loss=f"{rec['loss']:.4g}")
            if self.step % self.cfg.eval_every == 0 or self.step == end or self.step == self.cfg.optim.vae_steps:
                rec.update(self.evaluate())
                rec.update(step=self.step, stage=self.stage,
                           samples_per_s=(self.step - n0) * self.cfg.optim.batch_size / (time.perf_counter() - t0))
                logs.append(rec)
                if main and self.out_dir is not None:
                    with open(self.out_dir / "train_log.jsonl", "a") as f:
                        f.write(json.dumps(rec) + "\n")
                if main:
                    bar.write(" ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
                                       for k, v in rec.items()))
            if main and self.out_dir is not None and (self.step % self.cfg.checkpoint_every == 0 or self.step == end):
                self.save(self.out_dir / CHECKPOINT_NAME)
        bar.close()
        if main and self.out_dir is not None and self.step == self.cfg.total_steps:
            self.save(self.out_dir / MODEL_NAME, with_training_state=False)
        return logs


def _renderer_available() -> bool:
    try:
        import gwm.render  # noqa: F401
    except ModuleNotFoundError:
        return False
    return True


__all__ = ["CHECKPOINT_NAME", "MODEL_NAME", "ProcessCountError", "Trainer", "transition_windows"]
