"""The Gaussian world state of a frame: canonical Gaussians per body, posed by that frame's body poses.

Gaussians(t) = cat over bodies b (in body_names order, bodies with Gaussians only) of
pose_b(t) * canonical[b] (gwm.body_gaussians.pose_body_gaussians), with poses stored as xyz + quat wxyz.
"""

from __future__ import annotations

import re

import numpy as np

from gwm.body_gaussians import BodyGaussians, pose_body_gaussians
from gwm.splats import GaussianSplats

_BODY_NAME = re.compile(r"^[A-Za-z0-9_.-]+$")


def check_body_gaussians(body_names: tuple[str, ...], canonical: dict[str, GaussianSplats]) -> None:
    for name in body_names:
        if not _BODY_NAME.match(name):
            raise ValueError(f"body name {name!r} must match [A-Za-z0-9_.-]+ (it names files on disk)")
    unknown = [b for b in canonical if b not in body_names]
    if unknown:
        raise ValueError(
            f"canonical_gaussians has bodies {unknown} that are not in DatasetSpec.body_names {list(body_names)}; "
            "every Gaussian set needs a pose per frame (add static ones, e.g. 'background', with an identity pose)"
        )
    for name, splats in canonical.items():
        if not isinstance(splats, GaussianSplats):
            raise TypeError(f"canonical_gaussians[{name!r}] must be GaussianSplats, got {type(splats).__name__}")
        splats.assert_finite(f"canonical_gaussians[{name!r}]")


def gaussians_from_poses(
    body_names: tuple[str, ...], canonical: dict[str, GaussianSplats] | BodyGaussians, poses: np.ndarray
) -> GaussianSplats:
    """World-frame Gaussians for one frame; poses (len(body_names), 7) xyz + quat wxyz.

    canonical may be the per-body dict or its BodyGaussians stack (built once, reused per frame).
    """
    if not canonical:
        raise ValueError("this dataset has no canonical Gaussians; record it with create_recorder(canonical_gaussians=...)")
    bodies = canonical if isinstance(canonical, BodyGaussians) else BodyGaussians.stack(body_names, canonical)
    return pose_body_gaussians(bodies, np.asarray(poses, np.float32))
