"""The Gaussian world model: Gaussian VAE + action-conditioned latent DiT + EDM, with rollout.

State at a step: the modelled Gaussians as features (N, 14) (gwm.model.gaussian_space). The VAE
maps them to K latent tokens; the DiT predicts the next latent from `context` latents and the action
chunk; the prediction is the change from the last context latent, scaled to the EDM's sigma_data;
autoregressive rollout feeds predictions back as context.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import torch
from torch import nn

from gwm.model.dit import DiTConfig, LatentDiT
from gwm.model.distributed import ShardedGenerator, batch_rand, batch_randn
from gwm.model.gaussian_space import GaussianSpace
from gwm.model.objective import EDMConfig, EDMObjective
from gwm.model.vae import GaussianVAE, VAEConfig


@dataclass(frozen=True)
class WorldModelConfig:
    vae: VAEConfig = field(default_factory=VAEConfig)
    dit: DiTConfig = field(default_factory=DiTConfig)
    edm: EDMConfig = field(default_factory=EDMConfig)
    # "anchored": predictions are applied as per-body rigid motions to the last observed Gaussians
    # (needs the rigid decoder); "decoded": the decoder's Gaussians are the prediction. See rollout.
    rollout: str = "anchored"

    def __post_init__(self) -> None:
        if self.rollout not in ("anchored", "decoded"):
            raise ValueError(f"WorldModelConfig.rollout must be 'anchored' or 'decoded', got {self.rollout!r}")
        if self.rollout == "anchored" and self.vae.decoder != "rigid":
            raise ValueError("WorldModelConfig.rollout='anchored' needs VAEConfig.decoder='rigid'; use "
                             "rollout='decoded' with the free decoder")
        if self.dit.relative_actions and (self.vae.decoder != "rigid" or self.vae.slots != "body"):
            raise ValueError("DiTConfig.relative_actions needs body poses per token: VAEConfig.decoder='rigid' and "
                             "slots='body'")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "WorldModelConfig":
        return cls(vae=VAEConfig(**d["vae"]), dit=DiTConfig(**d["dit"]), edm=EDMConfig(**d["edm"]),
                   rollout=d.get("rollout", "decoded"))  # checkpoints from before the option decoded


class GaussianWorldModel(nn.Module):
    def __init__(self, cfg: WorldModelConfig, space: GaussianSpace, action_dim: int):
        super().__init__()
        self.cfg = cfg
        self.vae = GaussianVAE(cfg.vae, space)  # owns the GaussianSpace (one copy in the state dict)
        self.dit = LatentDiT(cfg.dit, cfg.vae.num_tokens, cfg.vae.latent_dim, action_dim)
        self.edm = EDMObjective(cfg.edm)
        k, d = cfg.vae.num_tokens, cfg.vae.latent_dim
        # normalisation statistics per token and channel (tokens of a body that rarely moves get their own
        # small delta scale), set from the training data (set_statistics), saved with the weights
        self.register_buffer("latent_mean", torch.zeros(k, d))
        self.register_buffer("latent_std", torch.ones(k, d))
        self.register_buffer("delta_std", torch.ones(k, d))
        self.register_buffer("action_mean", torch.zeros(action_dim))
        self.register_buffer("action_std", torch.ones(action_dim))
        if cfg.dit.relative_actions and action_dim < 3:
            raise ValueError(f"DiTConfig.relative_actions reads a commanded position from the first 3 action values; "
                             f"these actions have {action_dim}")
        if cfg.dit.relative_actions:  # per body and axis, over the training windows (set_relative_statistics)
            self.register_buffer("relative_mean", torch.zeros(space.num_bodies, 3))
            self.register_buffer("relative_std", torch.ones(space.num_bodies, 3))

    @property
    def space(self) -> GaussianSpace:
        return self.vae.space

    @property
    def context(self) -> int:
        return self.cfg.dit.context

    @property
    def action_chunk(self) -> int:
        return self.cfg.dit.action_chunk

    def set_statistics(self, latents: torch.Tensor, deltas: torch.Tensor, actions: torch.Tensor) -> None:
        """latents (..., K, D), one-step latent changes (..., K, D), actions (..., A) from the training split."""
        k, d, a = *latents.shape[-2:], actions.shape[-1]
        self.latent_mean.copy_(latents.reshape(-1, k, d).mean(0))
        self.latent_std.copy_(latents.reshape(-1, k, d).std(0).clamp_min(1e-4))
        self.delta_std.copy_(deltas.reshape(-1, k, d).std(0).clamp_min(1e-4))
        self.action_mean.copy_(actions.reshape(-1, a).mean(0))
        self.action_std.copy_(actions.reshape(-1, a).std(0).clamp_min(1e-4))

    @torch.no_grad()
    def relative_tool_targets(self, last: torch.Tensor, actions: torch.Tensor,
                              last_poses: tuple[torch.Tensor, torch.Tensor] | None = None) -> torch.Tensor:
        """The commanded tool positions (actions[..., :3], metres, world) in each body's frame as the frozen VAE
        decodes it from the latent `last` (B,K,D); actions (B,S,A) -> (B,S,M,3) in feature units, unnormalised.
        Read from the model's own latent (observed or predicted), never from recorded poses. last_poses:
        vae.decode_poses(last) where the caller already has it (a rollout decodes each latent once)."""
        rot, tr = self.vae.decode_poses(last) if last_poses is None else last_poses  # (B,M,3,3), (B,M,3) feature units
        p = (actions[..., :3] - self.space.centre) / self.space.extent  # (B, S, 3)
        return torch.einsum("bmji,bsmj->bsmi", rot, p[:, :, None] - tr[:, None])  # R^T (p - t)

    def set_relative_statistics(self, relative: torch.Tensor) -> None:
        """relative (..., M, 3) from relative_tool_targets over the training windows."""
        r = relative.reshape(-1, *relative.shape[-2:])
        self.relative_mean.copy_(r.mean(0))
        self.relative_std.copy_(r.std(0).clamp_min(1e-4))

    def _relative_tokens(self, last: torch.Tensor, actions: torch.Tensor, last_poses=None) -> torch.Tensor | None:
        """-> (B,K,S,3) normalised tool targets in the frame of each token's body, or None when not configured."""
        if not self.cfg.dit.relative_actions:
            return None
        rel = (self.relative_tool_targets(last, actions, last_poses) - self.relative_mean) / self.relative_std  # (B,S,M,3)
        return rel[:, :, self.vae.token_body].transpose(1, 2)  # (B, K, S, 3)

    # VAE ----------------------------------------------------------------------------------------------
    def encode(self, features: torch.Tensor) -> torch.Tensor:
        """Gaussian features (..., N, 14) -> latent tokens (..., K, D) (posterior mean)."""
        lead = features.shape[:-2]
        mean, _ = self.vae.encode(features.reshape(-1, *features.shape[-2:]))
        return mean.reshape(*lead, *mean.shape[-2:])

    def decode(self, latents: torch.Tensor) -> torch.Tensor:
        """Latent tokens (..., K, D) -> Gaussian features (..., N, 14)."""
        lead = latents.shape[:-2]
        out = self.vae.decode(latents.reshape(-1, *latents.shape[-2:]))
        return out.reshape(*lead, *out.shape[-2:])

    # dynamics -----------------------------------------------------------------------------------------
    def _denoiser(self, context: torch.Tensor, actions: torch.Tensor, net: nn.Module | None = None,
                  last_poses: tuple[torch.Tensor, torch.Tensor] | None = None):
        # the DiT sees the last latent (normalised by the latent spread) and the changes between
        # consecutive context latents (normalised by the one-step change): velocities are ~1% of the
        # latent spread, and as raw inputs the network hardly used them (moving objects were predicted
        # little better than by copying the last state)
        last = (context[:, -1:] - self.latent_mean) / self.latent_std  # (B, 1, K, D)
        diffs = (context[:, 1:] - context[:, :-1]) / self.delta_std  # (B, C-1, K, D)
        ctx = torch.cat([last, diffs], dim=1)  # (B, C, K, D)
        act = (actions - self.action_mean) / self.action_std  # (B, S, A)
        net = self.dit if net is None else net  # net: the DiT, or its DistributedDataParallel wrapper
        rel = self._relative_tokens(context[:, -1], actions, last_poses)
        if rel is None:
            return lambda x, c_noise: net(x, c_noise, ctx, act)
        return lambda x, c_noise: net(x, c_noise, ctx, act, rel)

    def dynamics_loss(self, context: torch.Tensor, actions: torch.Tensor, target: torch.Tensor,
                      generator: torch.Generator | ShardedGenerator | None = None, context_noise: float = 0.0,
                      net: nn.Module | None = None) -> torch.Tensor:
        """context (B,C,K,D), actions (B,S,A), target next latent (B,K,D) -> scalar EDM loss.

        context_noise: Gaussian noise on the context latents (in units of the one-step change's std, level
        uniform in [0, context_noise]) so the model tolerates small errors in its own predictions. Larger
        levels, and the same shift for every context frame, were measured worse (see the report).
        """
        if context_noise > 0:
            dev = context.device
            level = batch_rand((context.shape[0], 1, 1, 1), generator, device=dev) * context_noise
            context = context + level * self.delta_std * batch_randn(context.shape, generator, device=dev)
        x0 = (target - context[:, -1]) / self.delta_std * self.cfg.edm.sigma_data  # (B, K, D)
        return self.edm.loss(self._denoiser(context, actions, net), x0, generator)

    @torch.no_grad()
    def predict_next(self, context: torch.Tensor, actions: torch.Tensor, generator: torch.Generator | None = None,
                     steps: int | None = None, last_poses: tuple[torch.Tensor, torch.Tensor] | None = None
                     ) -> torch.Tensor:
        """context latents (B,C,K,D), action chunk (B,S,A) -> next latent (B,K,D) by Euler sampling.
        last_poses: vae.decode_poses(context[:, -1]) where the caller has it (relative_actions decodes it else)."""
        b, _, k, d = context.shape
        den = self._denoiser(context, actions, last_poses=last_poses)
        x0 = self.edm.sample(den, (b, k, d), generator, steps, context.device)
        return context[:, -1] + x0 * self.delta_std / self.cfg.edm.sigma_data

    @torch.no_grad()
    def rollout(self, context_features: torch.Tensor, actions: torch.Tensor, generator: torch.Generator | None = None,
                steps: int | None = None) -> torch.Tensor:
        """Open-loop rollout: context states (B,C,N,14), action chunks (B,H,S,A) -> predicted states (B,H,N,14).

        The rollout stays in latent space: re-encoding each decoded prediction before it becomes context
        was measured worse (object error at h=8 +7%), the VAE's small error then adds up step by step.
        With rollout="anchored" the decoder's output is read as motion: each body's decoded pose at step h
        relative to its decoded pose at the last context latent is applied to the last observed Gaussians.
        The VAE's reconstruction error (mm) is then the same in both decodes and cancels, a body whose
        latent does not move stays exactly where it was observed, and colours/scales are the observed ones.
        """
        lat = self.encode(context_features)  # (B, C, K, D)
        preds = []
        for h in range(actions.shape[1]):
            nxt = self.predict_next(lat, actions[:, h], generator, steps)  # (B, K, D)
            preds.append(nxt)
            lat = torch.cat([lat[:, 1:], nxt[:, None]], dim=1)
        preds = torch.stack(preds, dim=1)  # (B, H, K, D)
        if self.cfg.rollout == "decoded":
            return self.decode(preds)  # (B, H, N, 14)
        b, h_len = preds.shape[:2]
        last = self.encode(context_features[:, -1])  # (B, K, D)
        rot0, tr0 = self.vae.decode_poses(last)  # (B, M, 3, 3), (B, M, 3)
        rot, tr = self.vae.decode_poses(preds.flatten(0, 1))
        rot, tr = rot.view(b, h_len, *rot.shape[1:]), tr.view(b, h_len, *tr.shape[1:])
        d_rot = rot @ rot0[:, None].transpose(-1, -2)  # (B, H, M, 3, 3) world-frame motion since the context
        d_tr = tr - (d_rot @ tr0[:, None, ..., None])[..., 0]  # (B, H, M, 3)
        return self.space.move_bodies(context_features[:, -1:], d_rot, d_tr)

def parameter_count(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


__all__ = ["GaussianWorldModel", "WorldModelConfig", "parameter_count"]
