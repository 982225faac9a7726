"""Regenerate this sample: `python datasets/kitchen/generate.py [--seed N] [--out DIR]`.

The scene is defined in datasets/generator/samplegen/kitchen.py; the generator shared by every
sample is datasets/generator/generate.py (see its docstring and datasets/kitchen/README.md).
"""

import runpy
import sys
from pathlib import Path

if __name__ == "__main__":
    sys.argv = [sys.argv[0], "kitchen", *sys.argv[1:]]
    runpy.run_path(str(Path(__file__).resolve().parents[1] / "generator" / "generate.py"), run_name="__main__")
