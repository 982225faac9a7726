"""The read side of the dataset contract: what every dataset offers, and the one reader of roles and cameras.

`GaussianDataset` is the read API that the LeRobot and HDF5 readers (gwm.data.open_dataset) and the
in-memory synthetic world (gwm.model.synthetic) implement, and that the world model consumes.
Body roles are read from the spec alone (`DatasetSpec.roles`; empty, i.e. unknown, for datasets recorded
before roles); `dataset_cameras` is the one reader of camera specs, which also reads the older
metadata["cameras"] layouts of datasets recorded before cameras were typed fields of the spec.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np

from gwm.cameras import EE_MOUNT, WORLD_MOUNT, CameraSpec
from gwm.data.spec import IMAGE_PREFIX, DatasetSpec
from gwm.splats import GaussianSplats


@runtime_checkable
class GaussianDataset(Protocol):
    """Episodes of body poses and actions with canonical Gaussians per body (the world state)."""

    spec: DatasetSpec
    metadata: dict

    @property
    def num_episodes(self) -> int: ...

    @property
    def fps(self) -> int: ...

    @property
    def body_names(self) -> tuple[str, ...]: ...

    @property
    def body_roles(self) -> dict[str, str]:
        """body name -> role (gwm.roles); empty when the dataset does not record roles."""

    @property
    def cameras(self) -> tuple[CameraSpec, ...]: ...

    def episode(self, i: int, keys: list[str] | None = None) -> dict[str, np.ndarray]:
        """Features of episode i as (T, ...) arrays (only `keys` when given)."""

    def episode_info(self, i: int) -> dict:
        """dict(success, seed, task, length)."""

    def canonical_gaussians(self) -> dict[str, GaussianSplats]: ...

    def gaussians_at(self, episode: int, step: int) -> GaussianSplats: ...


def dataset_cameras(spec: DatasetSpec, metadata: dict | None) -> tuple[CameraSpec, ...]:
    """The dataset's camera specs: spec.cameras, else those in an older dataset's metadata["cameras"]."""
    if spec.cameras:
        return spec.cameras
    cams = (metadata or {}).get("cameras")
    if not isinstance(cams, dict) or not cams:
        return ()
    if "Ks" in cams:  # gwm.model.synthetic before CameraSpec: a fixed Cameras batch
        return tuple(CameraSpec(f"cam{i}", k, cams["width"], cams["height"], WORLD_MOUNT, m)
                     for i, (k, m) in enumerate(zip(cams["Ks"], cams["world_from_cam"])))
    out = []  # sim_tasks before CameraSpec: {name: {"K", "world_from_cam" | "tool_from_cam"}}
    for name, c in cams.items():
        if not isinstance(c, dict) or "K" not in c:
            continue
        image = spec.features.get(IMAGE_PREFIX + name)
        if image is not None:
            height, width = image.shape[:2]
        else:  # no images recorded: the principal point was the image centre
            width, height = round(2 * c["K"][0][2]), round(2 * c["K"][1][2])
        if "world_from_cam" in c:
            out.append(CameraSpec(name, c["K"], width, height, WORLD_MOUNT, c["world_from_cam"]))
        elif "tool_from_cam" in c:
            out.append(CameraSpec(name, c["K"], width, height, EE_MOUNT, c["tool_from_cam"]))
    return tuple(out)


__all__ = ["GaussianDataset", "dataset_cameras"]
