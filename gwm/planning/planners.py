"""Sampling-based planners over a box of normalised action chunks: CEM, MPPI and random shooting.

A plan is a (H, D) array in [-1, 1] (H chunks of D numbers; the caller maps them to robot actions).
`cost(plans (K, H, D)) -> (K,)` is evaluated in batches of `samples`; every method gets the same number of
cost evaluations (samples x iterations), so comparisons at equal budget are fair:

- cem: Gaussian per (chunk, dim); each iteration keeps the `elites` cheapest samples and refits mean and
  std (smoothed by `momentum`); the best sample seen is returned;
- mppi: the mean moves to the exp(-cost / temperature)-weighted average of the samples, the std shrinks
  by `mppi_decay` per iteration;
- random: samples x iterations plans drawn uniformly from the box, the cheapest returned.

A warm start (the previous plan shifted by the executed chunks) seeds the mean of cem and mppi.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

PLANNERS = ("cem", "mppi", "random")


@dataclass(frozen=True)
class PlannerConfig:
    method: str = "cem"
    samples: int = 64  # cost evaluations per iteration
    iterations: int = 4
    elites: int = 8  # cem
    init_std: float = 0.6  # in normalised units (the box is [-1, 1])
    min_std: float = 0.05
    momentum: float = 0.1  # cem: weight of the previous mean/std in each refit
    temperature: float = 0.05  # mppi: relative to the spread of the sample costs
    mppi_decay: float = 0.7  # mppi: std factor per iteration
    seed: int = 0

    def __post_init__(self) -> None:
        if self.method not in PLANNERS:
            raise ValueError(f"planner method must be one of {PLANNERS}, got {self.method!r}")
        if self.samples < 1 or self.iterations < 1:
            raise ValueError(f"planner needs samples >= 1 and iterations >= 1, got {self.samples}, {self.iterations}")
        if self.method == "cem" and not 1 <= self.elites <= self.samples:
            raise ValueError(f"cem needs 1 <= elites <= samples, got elites={self.elites}, samples={self.samples}")

    @property
    def budget(self) -> int:
        return self.samples * self.iterations


@dataclass
class PlanResult:
    plan: np.ndarray  # (H, D) best plan found
    cost: float  # its cost
    mean: np.ndarray  # (H, D) final sampling mean (the warm start of the next replan)
    evaluations: int
    history: list[float]  # best cost after each iteration


def plan(cost: Callable[[np.ndarray], np.ndarray], horizon: int, dim: int, cfg: PlannerConfig = PlannerConfig(),
         warm_start: np.ndarray | None = None, rng: np.random.Generator | None = None) -> PlanResult:
    """Search [-1, 1]^(horizon x dim) for the plan of lowest cost."""
    rng = rng if rng is not None else np.random.default_rng(cfg.seed)
    shape = (horizon, dim)
    mean = np.zeros(shape) if warm_start is None else np.clip(np.asarray(warm_start, float).reshape(shape), -1, 1)
    std = np.full(shape, cfg.init_std)
    best, best_cost, history, evals = mean.copy(), np.inf, [], 0
    for it in range(cfg.iterations):
        if cfg.method == "random":
            x = rng.uniform(-1.0, 1.0, (cfg.samples, *shape))
        else:
            x = np.clip(mean + std * rng.standard_normal((cfg.samples, *shape)), -1.0, 1.0)
            if it == 0:
                x[0] = mean  # the warm start itself is always scored
        c = np.asarray(cost(x), float).reshape(cfg.samples)
        evals += cfg.samples
        c = np.where(np.isfinite(c), c, np.inf)
        i = int(np.argmin(c))
        if c[i] < best_cost:
            best, best_cost = x[i].copy(), float(c[i])
        history.append(best_cost)
        if cfg.method == "cem":
            elite = x[np.argsort(c)[:cfg.elites]]
            mean = cfg.momentum * mean + (1 - cfg.momentum) * elite.mean(0)
            std = np.maximum(cfg.momentum * std + (1 - cfg.momentum) * elite.std(0), cfg.min_std)
        elif cfg.method == "mppi":
            finite = np.isfinite(c)
            if finite.any():
                spread = max(float(np.ptp(c[finite])), 1e-9)
                w = np.where(finite, np.exp(-(c - c[finite].min()) / (cfg.temperature * spread)), 0.0)
                mean = (w[:, None, None] * x).sum(0) / w.sum()
            std = np.maximum(std * cfg.mppi_decay, cfg.min_std)
    return PlanResult(best, best_cost, mean if cfg.method != "random" else best, evals, history)


def shift_plan(previous: np.ndarray, executed: int) -> np.ndarray:
    """The warm start after executing the first `executed` chunks: the rest moved forward, the last repeated."""
    p = np.asarray(previous)
    if executed <= 0:
        return p.copy()
    rest = p[executed:]
    pad = np.repeat(p[-1:], min(executed, len(p)), axis=0)
    return np.concatenate([rest, pad])[:len(p)]


__all__ = ["PLANNERS", "PlanResult", "PlannerConfig", "plan", "shift_plan"]
