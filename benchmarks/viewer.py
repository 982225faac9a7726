"""How long `gwm view` takes to open each kind of output, and a 1M-Gaussian PLY within memory.

    python benchmarks/viewer.py                                  # the kitchen outputs: datasets/outputs/kitchen
    python benchmarks/viewer.py --outputs OUT [--million] [PATH ...]

Each path opens in a fresh process, as `gwm view PATH` does: "open s" runs from the process start (Python
imports included) until the server is up and the view is built (the scene sent to viser; a browser then
draws it), split into "imports s" (Python, torch, viser, the project: the same for every path) and "view s"
(reading the path and building the view). --million writes a random 1M-Gaussian PLY (SH degree 3, ~250 MB)
and opens it with the default Gaussian budget; peak RSS is the process's maximum resident memory (VmHWM).
Target (issue 15): open < 5 s for the kitchen outputs on 2 cores; the 1M PLY must open (subsampled)
without running out of memory (no time target).
Runs with OMP_WAIT_POLICY=PASSIVE, as `make` sets it.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

_T0 = time.perf_counter()
ROOT = Path(__file__).resolve().parents[1]
TARGET_S = 5.0


def pipeline_outputs(out: Path) -> list[Path]:
    """The outputs the pipeline writes under out (those present)."""
    candidates = [out / "capture", out / "reconstruct" / "splat.ply", out / "scene" / "scene.usdz",
                  out / "datasets" / "demos" / "lerobot", out / "datasets" / "demos" / "hdf5", out / "validation"]
    return [p for p in candidates if p.exists()]


def _peak_rss_mb() -> float:
    """This process's peak resident memory (VmHWM: unlike ru_maxrss it does not carry the parent's over exec)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def measure_one(path: str) -> dict:
    """In this (fresh) process: import what `gwm view` imports, then open the viewer on path."""
    import torch  # noqa: F401
    import viser  # noqa: F401

    from gwm.viewer import open_viewer

    imported = time.perf_counter() - _T0
    viewer = open_viewer(path, port=0)
    opened = time.perf_counter() - _T0
    result = {"path": path, "kind": viewer.kind, "open_s": opened, "imports_s": imported, **viewer.info}
    viewer.close()
    result["peak_rss_mb"] = _peak_rss_mb()
    return result


def million_ply(folder: Path, n: int = 1_000_000) -> Path:
    import torch

    from gwm.geometry import normalize_quats
    from gwm.ply import write_ply
    from gwm.splats import GaussianSplats

    g = torch.Generator().manual_seed(0)
    splats = GaussianSplats(means=torch.randn(n, 3, generator=g), quats_wxyz=normalize_quats(torch.randn(n, 4, generator=g)),
                            log_scales=torch.randn(n, 3, generator=g) * 0.3 - 4.5,
                            logit_opacities=torch.randn(n, generator=g), sh=torch.randn(n, 16, 3, generator=g) * 0.3)
    return write_ply(folder / "million.ply", splats)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("paths", nargs="*", type=Path)
    ap.add_argument("--outputs", type=Path, default=ROOT / "datasets" / "outputs" / "kitchen")
    ap.add_argument("--million", action="store_true", help="also open a random 1M-Gaussian PLY")
    ap.add_argument("--one", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one:
        print(json.dumps(measure_one(args.one)))
        return 0
    paths = pipeline_outputs(args.outputs) + list(args.paths)
    tmp = tempfile.TemporaryDirectory(prefix="gwm-viewer-bench-")
    if args.million:
        t = time.perf_counter()
        paths.append(million_ply(Path(tmp.name)))
        print(f"wrote a 1M-Gaussian PLY in {time.perf_counter() - t:.1f} s")
    if not paths:
        print(f"nothing to open: no pipeline outputs under {args.outputs} (run `make run`) and no paths given")
        return 2
    rows = []
    for p in paths:
        # the environment `make` gives every command here (Makefile): idle OpenMP workers sleep instead of spinning
        env = {**os.environ, "OMP_WAIT_POLICY": os.environ.get("OMP_WAIT_POLICY", "PASSIVE")}
        r = subprocess.run([sys.executable, __file__, "--one", str(p)], capture_output=True, text=True, cwd=ROOT, env=env)
        if r.returncode:
            print(f"{p}: failed\n{r.stderr[-2000:]}")
            return 1
        rows.append(json.loads(r.stdout.strip().splitlines()[-1]))
    print(f"\n{'kind':<11} {'open s':>7} {'imports s':>9} {'view s':>7} {'shown':>9} {'total':>10} {'RSS MB':>7}  path")
    for r in rows:
        print(f"{r['kind']:<11} {r['open_s']:7.2f} {r['imports_s']:9.2f} {r['open_s'] - r['imports_s']:7.2f} "
              f"{r.get('gaussians_shown', 0):9,} {r.get('gaussians_total', 0):10,} {r['peak_rss_mb']:7.0f}  {r['path']}")
    slow = [r for r in rows if r["open_s"] >= TARGET_S and not r["path"].endswith("million.ply")]
    print(f"\nopen < {TARGET_S:.0f} s: {'met' if not slow else 'NOT met for ' + ', '.join(r['kind'] for r in slow)}")
    tmp.cleanup()
    return 0 if not slow else 1


if __name__ == "__main__":
    sys.exit(main())
