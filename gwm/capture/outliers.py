"""Cameras whose registration is inconsistent with the rest of the capture.

SfM occasionally registers a frame wrongly and still reports a small reprojection error: a
planar scene admits a flipped pose, a repetitive texture a far-off one. Such a camera would
reach the splat trainer and poison it, so each registered camera is checked against the
others' consensus and left out, with its reason, when it is:

- upside down: rolled more than 120 deg about its optical axis from the others' median roll
  (gravity taken from the cameras; people hold cameras level or consistently tilted);
- looking away from what it sees: most SfM points it observes lie behind it;
- far from the others: more than 3x the median distance from the cameras' median centre and
  more than 5x the median nearest-neighbour spacing away from its own nearest neighbour;
- weakly registered: fewer than max(20, 20% of the median) observed SfM points, or a mean
  reprojection error above max(2 px, 3x the median).

The thresholds are relative to the capture itself, so they carry from scene to scene. A
later check, once the table plane is known, leaves out cameras below it (alignment.py).
"""

from __future__ import annotations

import numpy as np

ROLL_LIMIT_DEG = 120.0
FAR_RATIO, ISOLATION_RATIO = 3.0, 5.0
MIN_OBSERVATIONS, MIN_OBSERVATION_FRACTION = 20, 0.2
MAX_REPROJECTION_PX, REPROJECTION_RATIO = 2.0, 3.0


def up_from_cameras(world_from_cam: np.ndarray) -> np.ndarray:
    """Up estimated from the cameras, assuming they are held level (little roll): the
    direction most perpendicular to every camera's x (right) axis, signed to agree with the
    cameras' up axes (-y in OpenCV). Falls back to the mean camera up when all cameras face
    one way (their x axes do not span a plane)."""
    cam_up = -world_from_cam[:, :3, 1].mean(axis=0)
    cam_up = cam_up / max(np.linalg.norm(cam_up), 1e-12)
    x = world_from_cam[:, :3, 0]
    evals, evecs = np.linalg.eigh(x.T @ x)  # ascending
    if len(x) >= 2 and evals[0] < 0.5 * evals[1]:
        n = evecs[:, 0]
        return n if n @ cam_up > 0 else -n
    return cam_up


def camera_rolls_deg(world_from_cam: np.ndarray, up: np.ndarray) -> np.ndarray:
    """Each camera's roll about its optical axis (0: up points up in the image); NaN for a camera
    looking almost straight up or down, where roll is undefined."""
    up_cam = np.einsum("nji,j->ni", world_from_cam[:, :3, :3], up)  # up in camera axes (R^T up)
    roll = np.degrees(np.arctan2(up_cam[:, 0], -up_cam[:, 1]))
    roll[np.abs(up_cam[:, 2]) > 0.95] = np.nan
    return roll


def _wrap_deg(a: np.ndarray) -> np.ndarray:
    return (a + 180.0) % 360.0 - 180.0


def _observed_in_front(model) -> np.ndarray | None:
    """Per camera, the fraction of its observed SfM points in front of it (None without tracks)."""
    if model.point_tracks is None or not len(model.points):
        return None
    cam_from_world = np.linalg.inv(model.world_from_cam)
    front = np.zeros(model.num_registered)
    seen = np.zeros(model.num_registered)
    for p, track in zip(model.points, model.point_tracks):
        z = cam_from_world[track, 2, :3] @ p + cam_from_world[track, 2, 3]
        front[track] += z > 0
        seen[track] += 1
    return np.where(seen > 0, front / np.maximum(seen, 1), 1.0)


def check_cameras(model) -> list[dict]:
    """One JSON row per registered camera: its statistics, `outlier` and the `reasons`."""
    poses = model.world_from_cam
    n = model.num_registered
    reasons: list[list[str]] = [[] for _ in range(n)]
    rows = [{"name": name} for name in model.image_names]

    # roll against the others, with the consensus recomputed without the flipped ones
    up = up_from_cameras(poses)
    roll = camera_rolls_deg(poses, up)
    if n >= 3 and np.isfinite(roll).sum() >= 3:
        off = np.abs(_wrap_deg(roll - np.nanmedian(roll)))
        ok = ~(off > ROLL_LIMIT_DEG)
        if (~ok).any() and ok.sum() >= 2:
            up = up_from_cameras(poses[ok])
            roll = camera_rolls_deg(poses, up)
        off = np.abs(_wrap_deg(roll - np.nanmedian(roll)))
        for i in np.flatnonzero(off > ROLL_LIMIT_DEG):
            reasons[i].append(f"upside down: rolled {off[i]:.0f} deg from the other cameras")
        for i in range(n):
            rows[i]["roll_from_median_deg"] = None if np.isnan(off[i]) else round(float(off[i]), 2)

    front = _observed_in_front(model)
    if front is not None:
        for i in range(n):
            rows[i]["points_in_front"] = round(float(front[i]), 3)
            if front[i] < 0.5:
                reasons[i].append(f"looks away from what it sees: {100 * (1 - front[i]):.0f}% of its points are behind it")

    if n >= 4:
        centres = poses[:, :3, 3]
        dist = np.linalg.norm(centres - np.median(centres, axis=0), axis=1)
        pair = np.linalg.norm(centres[:, None] - centres[None], axis=-1)
        np.fill_diagonal(pair, np.inf)
        nearest = pair.min(axis=1)
        far = dist / max(np.median(dist), 1e-12)
        iso = nearest / max(np.median(nearest), 1e-12)
        for i in range(n):
            rows[i]["distance_ratio"] = round(float(far[i]), 3)
            rows[i]["isolation_ratio"] = round(float(iso[i]), 3)
            if far[i] > FAR_RATIO and iso[i] > ISOLATION_RATIO:
                reasons[i].append(f"far from the other cameras: {far[i]:.1f}x their median distance from the centre, "
                                  f"{iso[i]:.1f}x the usual spacing from its nearest neighbour")

    if model.num_observations is not None:
        obs = model.num_observations
        floor = max(MIN_OBSERVATIONS, MIN_OBSERVATION_FRACTION * float(np.median(obs)))
        for i in range(n):
            rows[i]["observations"] = int(obs[i])
            if obs[i] < floor:
                reasons[i].append(f"weakly registered: observes {int(obs[i])} SfM points (< {floor:.0f})")
    if model.image_reprojection_error is not None:
        err = model.image_reprojection_error
        limit = max(MAX_REPROJECTION_PX, REPROJECTION_RATIO * float(np.median(err)))
        for i in range(n):
            rows[i]["reprojection_px"] = round(float(err[i]), 3)
            if err[i] > limit:
                reasons[i].append(f"reprojection error {err[i]:.2f} px (> {limit:.2f} px)")

    for row, r in zip(rows, reasons):
        row["outlier"] = bool(r)
        row["reasons"] = r
    return rows
