"""Run by test_crash_safety in a subprocess: save N episodes, start one more, signal, then wait to be killed."""

from __future__ import annotations

import sys
import time
from pathlib import Path

from gwm.data import create_recorder
from tests.data.conftest import make_episode, make_gaussians, make_spec

LENGTHS = (6, 8, 7, 9, 5, 6)


def main(root: str, fmt: str, saved: int, image_format: str) -> None:
    spec = make_spec(depth=False)
    rec = create_recorder(root, spec, fmt, canonical_gaussians=make_gaussians(), image_format=image_format)
    for e in range(saved):
        for frame in make_episode(spec, LENGTHS[e], seed=e):
            rec.add_frame(frame, f"task {e % 2}")
        rec.save_episode(success=e % 2 == 0, seed=e)
    for frame in make_episode(spec, LENGTHS[saved], seed=saved)[:3]:  # mid-episode
        rec.add_frame(frame, "task 0")
    Path(root, "READY").write_text("ready")
    time.sleep(600)  # killed here


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4])
