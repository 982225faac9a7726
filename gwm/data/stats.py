"""Feature statistics as LeRobot v3.0 stores them (meta/stats.json and per-episode stats/* columns).

Per feature: min, max, mean, std, count and quantiles q01 q10 q50 q90 q99 over frames;
images get per-channel values scaled to [0, 1] with shape (3, 1, 1) (LeRobot's channel-first
convention). Other features of 3 or more dims (depth maps (H, W, 1)) get per-channel values of
shape (1, 1, C), broadcastable against the feature, instead of per-pixel ones. Episodes aggregate by
count-weighted mean and pooled variance, as LeRobot's aggregate_stats does.
"""

from __future__ import annotations

import numpy as np

QUANTILES = {"q01": 0.01, "q10": 0.10, "q50": 0.50, "q90": 0.90, "q99": 0.99}
STAT_KEYS = ("min", "max", "mean", "std", "count", *QUANTILES)
_MAX_IMAGE_SAMPLES = 20
_IMAGE_TARGET_SIZE = 64
_MAX_QUANTILE_VALUES = 100_000


def feature_stats(values: np.ndarray, is_image: bool = False) -> dict[str, np.ndarray]:
    """values: (T, ...) one episode of one feature."""
    t = values.shape[0]
    if is_image:
        # a subsample (like LeRobot's): <= 20 frames at <= 64 px, channel-first for fast reductions
        idx = np.linspace(0, t - 1, min(t, _MAX_IMAGE_SAMPLES)).round().astype(int)
        step = max(1, -(-max(values.shape[1:3]) // _IMAGE_TARGET_SIZE))
        sample = np.ascontiguousarray(values[idx, ::step, ::step].reshape(-1, 3).T, dtype=np.float32) / 255.0  # (3, S)
        out = {k: v.astype(np.float64).reshape(3, 1, 1) for k, v in _reduce(sample, axis=1).items()}
        out["count"] = np.array([len(idx)], dtype=np.int64)
        return out
    if values.ndim >= 4:  # (T, H, W, C) maps
        c = values.shape[-1]
        flat = np.ascontiguousarray(values.reshape(-1, c).T)  # (C, T*H*W)
        out = {k: v.astype(np.float64).reshape(*([1] * (values.ndim - 2)), c) for k, v in _reduce(flat, 1).items()}
    else:
        flat = values.reshape(t, -1).astype(np.float64)
        out = {k: v.reshape(values.shape[1:]) if values.ndim > 1 else v.reshape(1) for k, v in _reduce(flat).items()}
    out["count"] = np.array([t], dtype=np.int64)
    return out


def _reduce(flat: np.ndarray, axis: int = 0) -> dict[str, np.ndarray]:
    out = {
        "min": flat.min(axis),
        "max": flat.max(axis),
        "mean": flat.mean(axis, dtype=np.float64),
        "std": flat.std(axis, dtype=np.float64),
    }
    step = max(1, flat.shape[axis] // _MAX_QUANTILE_VALUES)  # quantiles from a strided subsample
    qs = np.quantile(flat[::step] if axis == 0 else flat[:, ::step], list(QUANTILES.values()), axis=axis)
    for i, key in enumerate(QUANTILES):
        out[key] = qs[i]
    return out


def aggregate_stats(per_episode: list[dict[str, dict[str, np.ndarray]]]) -> dict[str, dict[str, np.ndarray]]:
    keys = {k for s in per_episode for k in s}
    out = {}
    for key in keys:
        items = [s[key] for s in per_episode if key in s]
        counts = np.stack([np.asarray(s["count"], dtype=np.float64) for s in items])  # (E, 1)
        means = np.stack([np.asarray(s["mean"]) for s in items])
        total = counts.sum(0)  # (1,) broadcasts against every stat shape
        w = counts.reshape(len(items), *([1] * (means.ndim - 1)))  # (E, 1, ...)
        mean = (means * w).sum(0) / total
        var = np.stack([np.asarray(s["std"]) ** 2 for s in items])
        pooled = ((var + (means - mean) ** 2) * w).sum(0) / total
        agg = {
            "min": np.min(np.stack([np.asarray(s["min"]) for s in items]), 0),
            "max": np.max(np.stack([np.asarray(s["max"]) for s in items]), 0),
            "mean": mean,
            "std": np.sqrt(pooled),
            "count": total.astype(np.int64),
        }
        for q in QUANTILES:
            if all(q in s for s in items):
                qv = np.stack([np.asarray(s[q]) for s in items])
                agg[q] = (qv * w).sum(0) / total
        out[key] = agg
    return out


def stats_to_json(stats: dict[str, dict[str, np.ndarray]]) -> dict:
    return {k: {s: np.asarray(v).tolist() for s, v in d.items()} for k, d in stats.items()}
