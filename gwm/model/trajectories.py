"""Trajectories for the world model, read from a dataset through the gwm.data read API.

Any gwm.data.GaussianDataset works (gwm.data.open_dataset's datasets and
gwm.model.synthetic.SyntheticPushDataset): the bodies' roles and the cameras come from its spec.

States are kept as body poses and turned into Gaussians on the fly by `GaussianSpace.features_from_poses`
(canonical Gaussians posed per body: exactly ds.gaussians_at, batched); `load_trajectories` checks that
equality against ds.gaussians_at on sample frames and refuses a dataset where it does not hold.
Bodies that never move in the data (table, background) are static: they are rendered with the
prediction but not modelled. The object pose metrics cover the modelled bodies whose role is object or
container; a dataset recorded before roles has none (a warning says so).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import torch

from gwm.body_gaussians import BodyGaussians, pose_body_gaussians, pose_means_quats
from gwm.cameras import Cameras, fixed_cameras, intrinsics_from_fov, look_at
from gwm.model.gaussian_space import GaussianSpace, farthest_point_indices
from gwm.roles import OBJECT_ROLES
from gwm.splats import GaussianSplats

if TYPE_CHECKING:
    from gwm.data.contract import GaussianDataset


@dataclass(frozen=True)
class DataConfig:
    max_gaussians_per_body: int = 512  # farthest-point subsample of each body's canonical Gaussians
    val_fraction: float = 0.15  # the last episodes are held out (at least one)
    check_frames: int = 2  # frames per episode checked against ds.gaussians_at (first/last episodes)
    static_tolerance: float = 1e-5  # a body whose pose moves less than this (m / quat units) is static


@dataclass
class Trajectories:
    body_names: tuple[str, ...]  # every body of the dataset
    modelled: list[int]  # dataset body indices that the model predicts (the moving ones)
    objects: list[int]  # indices into `modelled` that are objects (not robot) for pose metrics
    space: GaussianSpace  # the modelled Gaussians (ordered) and their normalisation
    static_splats: GaussianSplats  # unmodelled bodies posed (world), rendered behind predictions
    poses: list[torch.Tensor]  # per episode (T, M, 7) poses of the modelled bodies
    actions: list[torch.Tensor]  # per episode (T, A)
    train: list[int]  # episode indices (into poses/actions)
    val: list[int]
    fps: float
    cameras: Cameras
    action_dim: int = field(init=False)

    def __post_init__(self) -> None:
        self.action_dim = int(self.actions[0].shape[-1])

    @property
    def modelled_names(self) -> list[str]:
        return [self.body_names[b] for b in self.modelled]

    def full_splats(self, features: torch.Tensor) -> GaussianSplats:
        """One predicted state (N,14) -> the whole scene (static bodies + modelled Gaussians)."""
        return GaussianSplats.cat([self.static_splats, self.space.to_splats(features)])


def world_model_cameras(ds: GaussianDataset, extent: tuple[np.ndarray, np.ndarray] | None = None, size: int = 64) -> Cameras:
    """The dataset's fixed cameras (ds.cameras; cameras on the robot move and are skipped), else two
    views framing the scene bounds `extent`."""
    fixed = fixed_cameras(ds.cameras)
    if fixed is not None:
        return fixed
    lo, hi = extent if extent is not None else (np.full(3, -0.5), np.full(3, 0.5))
    centre, radius = (lo + hi) / 2, float(np.linalg.norm(hi - lo)) / 2 + 1e-3
    eyes = [centre + radius * np.array(d) for d in ((0.0, -1.6, 1.3), (1.5, 0.8, 1.4))]
    k = intrinsics_from_fov(50.0, size, size)
    return Cameras(k[None].repeat(2, 1, 1), torch.stack([look_at(e, centre) for e in eyes]), size, size)


def load_trajectories(ds: GaussianDataset, cfg: DataConfig = DataConfig()) -> Trajectories:
    """Read every episode's body poses and actions, build the Gaussian space, check against gaussians_at."""
    body_names = tuple(ds.body_names)
    canonical = ds.canonical_gaussians()
    if not canonical:
        raise ValueError("the dataset has no canonical Gaussians; record it with create_recorder("
                         "canonical_gaussians=...) so that its world state is a set of Gaussians")
    if ds.num_episodes < 2:
        raise ValueError(f"the world model needs >= 2 episodes (train + held-out), dataset has {ds.num_episodes}")
    needed = ("observation.body_poses", "action")
    for key in needed:
        if key not in ds.spec.features:
            raise ValueError(f"the dataset has no '{key}'; the world model needs body poses and actions")
    poses_all, actions = [], []
    for e in range(ds.num_episodes):
        ep = ds.episode(e, keys=list(needed))  # not the images: decoding every frame's video costs seconds
        p = torch.as_tensor(np.asarray(ep["observation.body_poses"]), dtype=torch.float32)
        if p.ndim != 3 or p.shape[1:] != (len(body_names), 7):
            raise ValueError(f"episode {e}: observation.body_poses has shape {tuple(p.shape)}, expected "
                             f"(T, {len(body_names)}, 7) for body_names {body_names}")
        poses_all.append(p)
        actions.append(torch.as_tensor(np.asarray(ep["action"]), dtype=torch.float32).reshape(len(p), -1))

    # static bodies: same pose at every step of every episode
    ref = poses_all[0][0]
    moving = torch.zeros(len(body_names), dtype=torch.bool)
    for p in poses_all:
        moving |= ((p - ref).abs().amax(dim=(0, 2)) > cfg.static_tolerance)
    # bodies without Gaussians (e.g. invisible links) are neither modelled nor rendered
    modelled = [i for i in range(len(body_names)) if moving[i] and body_names[i] in canonical]
    if not modelled:
        raise ValueError("no body moves in this dataset: there is nothing for a world model to predict")

    # the modelled Gaussian set: each moving body's canonical Gaussians, subsampled, in body order
    parts, body_id = [], []
    for m, b in enumerate(modelled):
        splats = canonical[body_names[b]]
        idx = farthest_point_indices(splats.means.float(), cfg.max_gaussians_per_body)
        parts.append(splats[idx].with_sh_degree(0).to(dtype=torch.float32))
        body_id.append(torch.full((len(idx),), m, dtype=torch.long))
    canon = GaussianSplats.cat(parts)
    body_id = torch.cat(body_id)
    static = {body_names[b]: canonical[body_names[b]].with_sh_degree(0).to(dtype=torch.float32)
              for b in range(len(body_names)) if not moving[b] and body_names[b] in canonical}
    static_splats = (pose_body_gaussians(BodyGaussians.stack(body_names, static), ref) if static
                     else GaussianSplats.empty())

    train, val = split_episodes(ds, cfg)
    left = _episodes_leaving_the_scene(poses_all, modelled, static_splats, body_names)
    if left:
        warnings.warn("episodes where a body leaves the scene (the static bodies' bounds, grown) are left out: "
                      + "; ".join(left.values()), stacklevel=2)
        train, val = [e for e in train if e not in left], [e for e in val if e not in left]
        if not train or not val:
            raise ValueError("every training or every held-out episode has a body leaving the scene; re-record")
    # normalisation: a box around every modelled centre over the training frames (held-out episodes
    # must not shape the model's inputs)
    radius = float(canon.means.norm(dim=-1).max())
    positions = torch.cat([poses_all[e][:, modelled, :3].reshape(-1, 3) for e in train])
    lo, hi = positions.amin(0) - radius, positions.amax(0) + radius
    log_s = canon.log_scales
    space = GaussianSpace(canon, body_id, len(modelled), centre=(lo + hi) / 2, extent=float((hi - lo).max() / 2),
                          log_scale_mean=log_s.mean(0), log_scale_std=log_s.std(0) if len(log_s) > 1 else torch.ones(3))

    _check_against_gaussians_at(ds, body_names, canonical, poses_all, cfg.check_frames)
    roles = ds.body_roles
    if not roles:
        warnings.warn("the dataset records no body roles (recorded before roles existed): no body counts as an "
                      "object for the object pose metrics; re-record it to get them", stacklevel=2)
    objects = [m for m, b in enumerate(modelled) if roles.get(body_names[b]) in OBJECT_ROLES]
    fps = float(getattr(ds, "fps", 0) or 0) or 10.0
    scene_lo = torch.minimum(lo, static_splats.means.amin(0) if len(static_splats) else lo).numpy()
    scene_hi = torch.maximum(hi, static_splats.means.amax(0) if len(static_splats) else hi).numpy()
    return Trajectories(body_names=body_names, modelled=modelled, objects=objects, space=space,
                        static_splats=static_splats, poses=[p[:, modelled] for p in poses_all], actions=actions,
                        train=train, val=val, fps=fps, cameras=world_model_cameras(ds, (scene_lo, scene_hi)))


def _episodes_leaving_the_scene(poses_all, modelled, static_splats, body_names) -> dict[int, str]:
    """Episodes in which a modelled body's origin leaves the box of the static bodies' Gaussians, grown by that
    box's largest side on every face (a flat table has no height), e.g. an object pushed off the table, which
    falls without end in a simulator: one such episode would set the normalisation box (tens of metres) and with
    it every position's precision. -> {episode: why}; none without static bodies."""
    if not len(static_splats):
        return {}
    lo, hi = static_splats.means.amin(0), static_splats.means.amax(0)
    size = float((hi - lo).max())
    lo, hi = lo - size, hi + size
    out = {}
    for e, p in enumerate(poses_all):
        pos = p[:, modelled, :3]  # (T, M, 3)
        outside = ((pos < lo) | (pos > hi)).any(-1)  # (T, M)
        if outside.any():
            t, m = (int(i) for i in torch.nonzero(outside)[0])
            out[e] = f"episode {e}: {body_names[modelled[m]]} at {[round(float(v), 2) for v in pos[t, m]]} (step {t})"
    return out


def split_episodes(ds, cfg: DataConfig = DataConfig()) -> tuple[list[int], list[int]]:
    """(training, held-out) episode indices: the dataset's own held-out split when it marks one (LeRobot
    splits["valid"], HDF5 mask/valid as Recorder.mark_heldout writes them), else the last val_fraction."""
    n_ep = ds.num_episodes
    marked = list(getattr(ds, "heldout_episodes", lambda: [])())
    if marked:
        held = set(marked)
        return [e for e in range(n_ep) if e not in held], sorted(held)
    val_count = max(1, int(round(cfg.val_fraction * n_ep)))
    return list(range(n_ep - val_count)), list(range(n_ep - val_count, n_ep))


def _check_against_gaussians_at(ds, body_names, canonical, poses_all, frames: int) -> None:
    """gaussians_at(e, t) must equal the canonical Gaussians posed by the body poses, in body order."""
    if frames <= 0:
        return
    bodies = BodyGaussians.stack(body_names, canonical)
    for e in sorted({0, len(poses_all) - 1}):
        steps = np.linspace(0, len(poses_all[e]) - 1, frames).round().astype(int)
        for t in sorted(set(steps.tolist())):
            got = ds.gaussians_at(e, int(t)).means.float()
            want = pose_means_quats(poses_all[e][t], bodies.body_index, bodies.splats.means, bodies.splats.quats_wxyz)[0]
            if got.shape != want.shape:
                raise ValueError(f"ds.gaussians_at({e}, {t}) has {got.shape[0]} Gaussians but the canonical "
                                 f"Gaussians of body_names {body_names} have {want.shape[0]}; the world model "
                                 "expects gaussians_at to concatenate each body's posed Gaussians in body order")
            err = float((got - want).abs().max())
            if err > 1e-4:
                raise ValueError(f"ds.gaussians_at({e}, {t}) differs from the canonical Gaussians posed by "
                                 f"observation.body_poses by {err:.3g} m; the dataset's poses and canonical "
                                 "Gaussians disagree (re-record it, or check the quaternion order w,x,y,z)")


__all__ = ["DataConfig", "Trajectories", "load_trajectories", "split_episodes", "world_model_cameras"]
