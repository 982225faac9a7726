"""The Franka Panda: the Franka-Kitchen MJCF shipped in the gymnasium-robotics 1.4.2 wheel.

That model is three include fragments (assets, actuators, kinematic chain) meant to be pasted
into a kitchen scene. `write_panda_mjcf` pastes them into one self-contained MJCF with
absolute mesh paths, in a cache directory, so Newton's `add_mjcf` (and MuJoCo) can load it.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import xml.etree.ElementTree as ET
from pathlib import Path

from gwm.atomic_io import write_text_atomic

# Newton labels bodies by their MJCF path; these are the last path components.
ARM_JOINTS = tuple(f"robot:panda0_joint{i}" for i in range(1, 8))
FINGER_JOINTS = ("robot:panda0_finger_joint1", "robot:panda0_finger_joint2")
LINK_BODIES = tuple(f"panda0_link{i}" for i in range(8)) + ("panda0_leftfinger", "panda0_rightfinger")
TOOL_SITE = "end_effector"  # 0.21 m along link7 z; its y axis is the finger travel axis
FINGER_MAX = 0.04  # each finger travels 0..0.04 m, so the opening is 0..0.08 m
# Body names as recorded in datasets (short, stable, robot-prefixed).
LINK_RECORD_NAMES = tuple(f"panda_link{i}" for i in range(8)) + ("panda_leftfinger", "panda_rightfinger")
# Their roles (gwm.roles) in datasets: the fingers are the tool, the rest (link7 carries the hand) arm links.
LINK_ROLES = {**{f"panda_link{i}": "robot_link" for i in range(8)}, "panda_leftfinger": "tool",
              "panda_rightfinger": "tool"}

# Render colours per link. The kitchen model paints every link (.95 .99 .92); the hand, link7
# and fingers are darkened so the gripper stays visible against a white arm, as on the real robot.
LINK_RGB = {name: (0.93, 0.94, 0.90) for name in LINK_BODIES}
LINK_RGB.update({"panda0_link0": (0.85, 0.86, 0.84), "panda0_link7": (0.22, 0.22, 0.24),
                 "panda0_leftfinger": (0.35, 0.35, 0.37), "panda0_rightfinger": (0.35, 0.35, 0.37)})

LINK_RECORD_RGB = {rec: LINK_RGB[body] for rec, body in zip(LINK_RECORD_NAMES, LINK_BODIES)}  # the same, by record name

_WHEEL_SUBDIR = ("envs", "assets", "kitchen_franka", "franka_assets")


def franka_assets_dir() -> Path:
    """The franka_assets folder inside the installed gymnasium_robotics package.

    Located without importing gymnasium_robotics (its import registers every environment).
    """
    spec = importlib.util.find_spec("gymnasium_robotics")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(
            "gymnasium_robotics is not installed; the Panda model ships in its wheel. "
            "Fix: pip install gymnasium-robotics==1.4.2"
        )
    path = Path(list(spec.submodule_search_locations)[0]).joinpath(*_WHEEL_SUBDIR)
    missing = [f for f in ("assets.xml", "actuator.xml", "chain.xml") if not (path / f).exists()]
    if missing:
        raise FileNotFoundError(
            f"{path} lacks {missing}: this gymnasium_robotics build has no Franka-Kitchen model. "
            "Fix: pip install gymnasium-robotics==1.4.2"
        )
    return path


def gwm_cache_dir() -> Path:
    """Lasting cache root: $GWM_CACHE_DIR, else ~/.cache/gwm."""
    return Path(os.environ.get("GWM_CACHE_DIR", Path.home() / ".cache" / "gwm"))


def panda_mjcf_text(gravity_compensation: bool = True) -> str:
    """The flattened MJCF text (absolute mesh paths)."""
    root = franka_assets_dir()
    assets = ET.parse(root / "assets.xml").getroot()
    actuators = ET.parse(root / "actuator.xml").getroot()
    chain = ET.parse(root / "chain.xml").getroot()

    model = ET.Element("mujoco", model="franka_panda")
    # The kitchen scene's compiler settings: inertia from the collision geoms (group 3) only.
    ET.SubElement(model, "compiler", angle="radian", meshdir=str(root / "meshes"),
                  inertiafromgeom="auto", inertiagrouprange="3 5")
    for child in assets:
        if child.tag not in ("compiler", "option", "size"):  # scene-level settings are ours to set
            model.append(child)
    for child in actuators:
        model.append(child)
    worldbody = ET.SubElement(model, "worldbody")
    for child in chain:
        worldbody.append(child)
    if gravity_compensation:
        # The kitchen model's position servos (kp 870 / 120 N m/rad) sag several centimetres
        # under gravity; MuJoCo's per-body gravcomp cancels link weight (Isaac Lab's Franka
        # config does the same by disabling gravity on the robot links).
        for body in worldbody.iter("body"):
            body.set("gravcomp", "1")
    return ET.tostring(model, encoding="unicode")


def write_panda_mjcf(cache_dir: str | os.PathLike | None = None, gravity_compensation: bool = True) -> Path:
    """Write the flattened Panda MJCF once per content into the cache; returns its path."""
    text = panda_mjcf_text(gravity_compensation)
    digest = hashlib.sha256(text.encode()).hexdigest()[:12]
    out_dir = Path(cache_dir) if cache_dir is not None else gwm_cache_dir() / "robots"
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"franka_panda_{digest}.xml"
    if not path.exists():
        write_text_atomic(path, text)  # concurrent writers produce identical bytes
    return path


__all__ = [
    "ARM_JOINTS", "FINGER_JOINTS", "FINGER_MAX", "LINK_BODIES", "LINK_RECORD_NAMES", "LINK_RECORD_RGB", "LINK_RGB",
    "LINK_ROLES",
    "TOOL_SITE",
    "franka_assets_dir", "gwm_cache_dir", "panda_mjcf_text", "write_panda_mjcf",
]
