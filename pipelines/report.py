"""The closing printout of a pipeline run: where each output is, the key figures, and how to look at it."""

from __future__ import annotations

from gwm.viewer.kinds import viewable


def print_summary(summary: dict, total_seconds: float | None = None) -> None:
    print("\nreal2sim finished. Outputs and figures per stage:")
    for name, s in summary.items():
        state = "cached" if s["cached"] else f"{s['seconds']:.0f} s"
        print(f"\n  {name} ({state})")
        for k, v in s["figures"].items():
            print(f"    {k:>22}: {v}")
        for k, v in s["outputs"].items():
            print(f"    {'-> ' + k:>22}: {v}")
        for v in dict.fromkeys(p for p in map(viewable, s["outputs"].values()) if p is not None):
            print(f"    {'view':>22}: gwm view {v}")
    if total_seconds is not None:
        print(f"\n  total: {total_seconds / 60:.1f} min (Prefect server start included)")
