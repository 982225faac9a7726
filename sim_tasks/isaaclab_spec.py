"""Isaac Lab task spec, without Isaac Lab: everything an Isaac Lab environment needs, as plain dataclasses.

`build_isaaclab_spec(scene_usd, task)` -> IsaacLabTaskSpec (JSON-able via `to_dict`): scene USD, robot
base pose, objects and their initial poses, cameras, the tool frame, IK and gripper action settings,
simulation rates and the recorder's export settings; and the action / pose conversions across the
boundary. sim_tasks/isaaclab_env.py turns the spec into an Isaac Lab environment.

Conventions at this boundary: Isaac Lab 3 quaternions are x, y, z, w (our API is w, x, y, z);
the differential-IK action takes the tool target in the robot base frame; the gripper is a
binary action (>= 0 open, < 0 close). The robot is Isaac Lab's own Franka asset; its
`panda_hand` frame offset by 0.1034 m along z is the Panda's tool point, which matches our
MJCF's `end_effector` site (0.21 m along link7 = hand + 0.103 m, same orientation) to 0.5 mm.
Joint angles are not comparable between the two robots (the kitchen MJCF offsets joints 6/7);
tool poses are.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from gwm.geometry import matrix_to_pose7, normalize_quats, pose7_to_matrix, positive_w, wxyz_to_xyzw, xyzw_to_wxyz
from sim_tasks.backend import GRIPPER_OPEN, check_action

TOOL_OFFSET_FROM_HAND = (0.0, 0.0, 0.1034)  # m, Isaac Lab Franka panda_hand -> tool point
ISAAC_LINK_BODIES = tuple(f"panda_link{i}" for i in range(8)) + ("panda_leftfinger", "panda_rightfinger")
EXPORT_MODES = ("all", "succeeded_failed_separate", "succeeded_only")


@dataclass(frozen=True)
class PoseXYZW:
    """A pose as Isaac Lab 3 takes it: position (3,) and quaternion x, y, z, w (4,)."""

    pos: tuple[float, float, float]
    quat_xyzw: tuple[float, float, float, float]

    @classmethod
    def from_matrix(cls, m: np.ndarray) -> "PoseXYZW":
        p = matrix_to_pose7(np.asarray(m, np.float64))
        return cls(tuple(map(float, p[:3])), tuple(map(float, wxyz_to_xyzw(p[3:]))))

    def to_matrix(self) -> np.ndarray:
        return pose7_to_matrix(np.concatenate([self.pos, xyzw_to_wxyz(np.asarray(self.quat_xyzw))]))


@dataclass(frozen=True)
class IsaacObjectSpec:
    name: str
    prim_path: str  # in the scene USD
    init_pose: PoseXYZW
    mass: float
    friction: float


@dataclass(frozen=True)
class IsaacCameraSpec:
    name: str
    parent: str  # "world" or a robot body name the camera is fixed to
    offset: PoseXYZW  # parent_from_cam, camera axes in Isaac Lab's "ros" convention (= OpenCV)
    intrinsic_matrix: tuple[float, ...]  # K row-major (9,)
    width: int
    height: int
    convention: str = "ros"
    data_types: tuple[str, ...] = ("rgb", "distance_to_image_plane")


@dataclass(frozen=True)
class IsaacLabConfig:
    num_envs: int = 1
    physics_dt: float = 0.002  # s, as the embedded simulator
    decimation: int = 25  # physics steps per action: 20 Hz control
    ik_method: str = "dls"
    ik_lambda: float = 0.03
    finger_open: float = 0.04  # m per finger
    finger_closed: float = 0.0
    dataset_dir: str = "datasets/outputs/isaaclab"
    dataset_filename: str = "demos"
    export_mode: str = "all"  # "all" | "succeeded_failed_separate" | "succeeded_only"
    robot_prim: str = "{ENV_REGEX_NS}/Robot"


@dataclass(frozen=True)
class IsaacLabTaskSpec:
    task: str
    scene_usd: str
    robot_base: PoseXYZW  # world pose of /World/RobotBase
    objects: tuple[IsaacObjectSpec, ...]
    support_prim: str
    cameras: tuple[IsaacCameraSpec, ...]
    tool_body: str
    tool_offset: PoseXYZW  # tool_body_from_tool
    episode_length_s: float
    config: IsaacLabConfig
    metadata: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return asdict(self)

    @property
    def control_dt(self) -> float:
        return self.config.physics_dt * self.config.decimation


def build_isaaclab_spec(scene_usd: str | os.PathLike, task: str, config: IsaacLabConfig = IsaacLabConfig(),
                        task_config=None, cameras=None, scene=None) -> IsaacLabTaskSpec:
    """Everything an Isaac Lab environment needs for this scene and task, as plain dataclasses."""
    from gwm.scene.usd_scene import read_usd_scene
    from sim_tasks.rendering import CameraConfig, CameraRig
    from sim_tasks.tasks import TaskConfig, make_task

    if config.export_mode not in EXPORT_MODES:
        raise ValueError(f"IsaacLabConfig.export_mode must be one of {EXPORT_MODES}, got {config.export_mode!r}")
    scene_usd = Path(scene_usd)
    scene = scene if scene is not None else read_usd_scene(scene_usd)
    task_config = task_config or TaskConfig()
    steps = make_task(task, scene, task_config).max_steps  # also validates the task and its objects for this scene
    cams = cameras or CameraConfig()
    robot_base = scene.robot_base.numpy()

    objects = tuple(
        IsaacObjectSpec(o.name, f"/World/Objects/{o.name}", PoseXYZW.from_matrix(o.world_from_body.numpy()),
                        float(o.mass), float(o.friction))
        for o in scene.objects
    )
    # Cameras: the same scene camera and wrist mount the embedded renderer uses.
    rig = CameraRig(robot_base, cams)
    hand_from_tool = np.eye(4)
    hand_from_tool[:3, 3] = TOOL_OFFSET_FROM_HAND
    hand_from_wrist = hand_from_tool @ rig.tool_from_wrist_cam.numpy().astype(np.float64)
    camera_specs = (
        IsaacCameraSpec("scene", "world", PoseXYZW.from_matrix(rig.world_from_scene_cam.numpy()),
                        tuple(map(float, rig.K_scene.reshape(-1))), cams.width, cams.height),
        IsaacCameraSpec("wrist", "panda_hand", PoseXYZW.from_matrix(hand_from_wrist),
                        tuple(map(float, rig.K_wrist.reshape(-1))), cams.width, cams.height),
    )
    return IsaacLabTaskSpec(
        task=task,
        scene_usd=str(scene_usd.resolve()),
        robot_base=PoseXYZW.from_matrix(robot_base),
        objects=objects,
        support_prim="/World/Support",
        cameras=camera_specs,
        tool_body="panda_hand",
        tool_offset=PoseXYZW(TOOL_OFFSET_FROM_HAND, (0.0, 0.0, 0.0, 1.0)),
        episode_length_s=steps * config.physics_dt * config.decimation,
        config=config,
        metadata={"normalisation": scene.metadata.get("normalisation"), "quaternion_order": "xyzw",
                  "task_config": asdict(task_config)},
    )


# actions and observations across the boundary ----------------------------------------------------
def to_isaaclab_action(action: np.ndarray, robot_base: PoseXYZW, gripper_threshold: float = 0.5 * GRIPPER_OPEN
                       ) -> np.ndarray:
    """Our action (world tool target xyz + wxyz, gripper width m) -> Isaac Lab's
    [pos_b (3), quat_b xyzw (4), gripper +1 open / -1 close] with the target in the robot base frame."""
    a = check_action(action)
    world_from_tool = pose7_to_matrix(a[:7])
    base_from_tool = np.linalg.inv(robot_base.to_matrix()) @ world_from_tool
    p = matrix_to_pose7(base_from_tool)
    gripper = 1.0 if a[7] >= gripper_threshold else -1.0
    return np.concatenate([p[:3], wxyz_to_xyzw(p[3:]), [gripper]]).astype(np.float32)


def from_isaaclab_action(isaac_action: np.ndarray, robot_base: PoseXYZW) -> np.ndarray:
    """Inverse of to_isaaclab_action (the gripper comes back as fully open or closed)."""
    a = np.asarray(isaac_action, np.float64)
    base_from_tool = pose7_to_matrix(np.concatenate([a[:3], xyzw_to_wxyz(a[3:7])]))
    p = matrix_to_pose7(robot_base.to_matrix() @ base_from_tool)
    return np.concatenate([p, [GRIPPER_OPEN if a[7] >= 0 else 0.0]]).astype(np.float32)


def poses_from_isaaclab(pos_w: np.ndarray, quat_w_xyzw: np.ndarray) -> np.ndarray:
    """(B,3) positions + (B,4) xyzw quaternions -> (B,7) xyz + wxyz with w >= 0."""
    q = positive_w(normalize_quats(xyzw_to_wxyz(np.asarray(quat_w_xyzw, np.float64))))
    return np.concatenate([np.asarray(pos_w, np.float64), q], axis=-1)


__all__ = [
    "EXPORT_MODES", "ISAAC_LINK_BODIES", "IsaacCameraSpec", "IsaacLabConfig", "IsaacLabTaskSpec", "IsaacObjectSpec",
    "PoseXYZW", "TOOL_OFFSET_FROM_HAND", "build_isaaclab_spec", "from_isaaclab_action", "poses_from_isaaclab",
    "to_isaaclab_action",
]
