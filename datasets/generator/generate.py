"""Regenerate the bundled sample captures: `python datasets/generator/generate.py [kitchen] [workbench]`.

Each sample is written next to its README.md in datasets/<name>/ (or --out for one sample):
stills, masks, depth, an orbit video, meshes, ground_truth.json, an exactly posed nerfstudio
copy, a preview sheet and, for the workbench, a phone AR export. Deterministic for a given
--seed (textures, geometry, poses, noise; pixels are identical on the same renderer build).
Headless: MUJOCO_GL=egl, or osmesa when EGL is missing.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # samplegen/ sits next to this script

DATASETS = Path(__file__).resolve().parents[1]


def main(argv=None) -> int:
    from samplegen import SCENES

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("scenes", nargs="*", metavar="SAMPLE", help=f"samples to write: {', '.join(SCENES)} (default: all)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=None, help="output folder (one sample only; default datasets/<name>)")
    args = ap.parse_args(argv)
    names = args.scenes or list(SCENES)
    unknown = [n for n in names if n not in SCENES]
    if unknown:
        ap.error(f"unknown sample {', '.join(unknown)}; choose from {', '.join(SCENES)}")
    if args.out is not None and len(names) != 1:
        ap.error("--out needs exactly one sample name")
    from samplegen.render import select_gl
    from samplegen.write import write_sample

    select_gl()  # before mujoco is imported
    for name in names:
        write_sample(SCENES[name](args.seed), args.out or DATASETS / name, args.seed)
    return 0


if __name__ == "__main__":
    sys.exit(main())
