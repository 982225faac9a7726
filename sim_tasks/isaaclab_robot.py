"""The project's Panda (sim_tasks.panda_model's MJCF) as a USD articulation Isaac Lab can spawn.

Isaac Lab's stock Franka is fetched from NVIDIA's servers (unreachable here) and its MJCF
importer needs Isaac Sim. Instead the same MJCF the embedded simulator loads is converted with
`mujoco_usd_converter` (NVIDIA's MJCF -> UsdPhysics converter, which authors the MuJoCo/Newton
attributes Newton's USD importer reads: joint damping and armature, per-body gravcomp).

Before converting, the MJCF is made Isaac-Lab-friendly:
- joints renamed `robot:panda0_joint<i>` -> `panda_joint<i>`, `robot:panda0_finger_joint<i>` ->
  `panda_finger_joint<i>` (a ':' would be mangled into the prim name);
- the <actuator> block is dropped: Isaac Lab's actuator config drives the joints (ISAAC_ACTUATORS,
  the MJCF's position gains), so the servo is not applied twice.

`robot_mjcf_text()` needs only the standard library (tested in the main venv); `write_panda_usd`
needs mujoco_usd_converter, which only the Isaac Lab venv installs (make isaaclab-venv).
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

from sim_tasks.panda_model import gwm_cache_dir, panda_mjcf_text

ARM_JOINT_NAMES = tuple(f"panda_joint{i}" for i in range(1, 8))
FINGER_JOINT_NAMES = ("panda_finger_joint1", "panda_finger_joint2")
TOOL_LINK = "panda0_link7"  # the body that carries the MJCF's end_effector site
# Position gains (N m/rad, N/m) and effort limits of the MJCF's <position> actuators; the joints'
# own damping (100 / 10 / 100 N m s/rad) stays in the USD as passive damping, as in the embedded sim.
ISAAC_ACTUATORS = {
    "shoulder": {"joints": r"panda_joint[1-4]", "stiffness": 870.0, "effort": 87.0},
    "forearm": {"joints": r"panda_joint[5-7]", "stiffness": 120.0, "effort": 12.0},
    "fingers": {"joints": r"panda_finger_joint[12]", "stiffness": 500.0, "effort": 70.0},
}


def robot_mjcf_text(gravity_compensation: bool = True) -> str:
    """The Panda MJCF with Isaac-Lab joint names and without actuators (see module doc)."""
    root = ET.fromstring(panda_mjcf_text(gravity_compensation))
    for actuator in root.findall("actuator"):
        root.remove(actuator)
    for el in root.iter():
        for key in ("name", "joint", "joint1", "joint2"):
            v = el.get(key)
            if v and v.startswith("robot:panda0_"):
                el.set(key, re.sub(r"^robot:panda0_", "panda_", v))
    return ET.tostring(root, encoding="unicode")


def _copy_gravcomp(stage) -> int:
    """The converter writes per-body gravity compensation as `mjc:body:gravcomp`; Newton 1.6.1 (Isaac Lab
    3.0's) reads `mjc:gravcomp`. Author both; returns how many bodies carry it."""
    from pxr import Sdf

    n = 0
    for prim in stage.Traverse():
        attr = prim.GetAttribute("mjc:body:gravcomp")
        if attr and attr.Get() is not None:
            prim.CreateAttribute("mjc:gravcomp", Sdf.ValueTypeNames.Float).Set(float(attr.Get()))
            n += 1
    return n


def write_panda_usd(cache_dir: str | os.PathLike | None = None) -> Path:
    """Convert robot_mjcf_text() to USD once per content; returns the .usdc path.

    The conversion runs in a fresh interpreter: once Isaac Lab / Newton have loaded their USD schema
    plugins, the converter's own (MjcImageableAPI, ...) no longer register in that process."""
    import subprocess

    usd = _cached_usd_path(cache_dir)
    if not usd.exists():
        cmd = [sys.executable, "-m", "sim_tasks.isaaclab_robot"] + ([str(cache_dir)] if cache_dir is not None else [])
        done = subprocess.run(cmd, capture_output=True, text=True)
        if done.returncode != 0 or not usd.exists():
            raise RuntimeError(f"converting the Panda MJCF to USD failed: {done.stderr.strip().splitlines()[-1:]}")
    return usd


def _cached_usd_path(cache_dir=None) -> Path:
    digest = hashlib.sha256(robot_mjcf_text().encode()).hexdigest()[:12]
    out_dir = Path(cache_dir) if cache_dir is not None else gwm_cache_dir() / "robots" / f"panda_usd_{digest}"
    return out_dir / "franka_panda.usdc"


def _convert(cache_dir=None) -> Path:
    try:
        import mujoco_usd_converter
        import usdex.core  # noqa: F401  (the converter's USD layer helpers)
    except ImportError as e:
        raise ImportError("mujoco_usd_converter is not installed here; it lives in the Isaac Lab venv. "
                          "Fix: make isaaclab-venv, then run with .venv-isaaclab/bin/python") from e
    from pxr import Usd

    text = robot_mjcf_text()
    usd = _cached_usd_path(cache_dir)
    out_dir = usd.parent
    out_dir.mkdir(parents=True, exist_ok=True)
    mjcf = out_dir / "franka_panda.xml"
    mjcf.write_text(text)
    tmp = out_dir / f"tmp-{os.getpid()}"
    converter = mujoco_usd_converter.Converter(layer_structure=False, scene=False)
    asset = converter.convert(str(mjcf), str(tmp))
    stage = Usd.Stage.Open(asset.path)
    if stage is None or not stage.GetDefaultPrim():
        raise RuntimeError(f"mujoco_usd_converter wrote no usable stage for {mjcf}")
    _copy_gravcomp(stage)
    stage.GetRootLayer().Save()
    os.replace(asset.path, usd)  # atomic: a half-written asset never sits at the cached path
    shutil.rmtree(tmp, ignore_errors=True)
    return usd


if __name__ == "__main__":
    _convert(sys.argv[1] if len(sys.argv) > 1 else None)


__all__ = ["ARM_JOINT_NAMES", "FINGER_JOINT_NAMES", "ISAAC_ACTUATORS", "TOOL_LINK", "robot_mjcf_text",
           "write_panda_usd"]
