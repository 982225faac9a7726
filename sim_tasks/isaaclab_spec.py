"""Isaac Lab task spec, without Isaac Lab: everything an Isaac Lab environment needs, as plain dataclasses.

`build_isaaclab_spec(scene_usd, task)` -> IsaacLabTaskSpec (JSON-able via `to_dict`): scene USD, robot
base pose, objects and their initial poses, cameras, the tool frame, IK and gripper action settings,
simulation rates and the recorder's export settings; and the action / pose conversions across the
boundary. sim_tasks/isaaclab_env.py turns the spec into an Isaac Lab environment.

Conventions at this boundary: Isaac Lab 3 quaternions are x, y, z, w (our API is w, x, y, z);
the differential-IK action takes the tool target in the robot base frame; the gripper is a
binary action (>= 0 open, < 0 close). The robot is the project's own Panda (the MJCF the embedded
simulator loads, converted to USD by sim_tasks.isaaclab_robot), so joint angles, link frames and
the tool point (the MJCF's end_effector site on panda0_link7) are the embedded simulator's.

Episode timing (Isaac Lab: time_out fires once `episode_length_buf >= ceil(episode_length_s / step_dt)`,
inside the step that reaches it, and the env then resets at once): `episode_length_s` is set so the
limit is max_steps + 1, i.e. all max_steps demonstrator actions run and are judged on their own
poses before any time-out reset. Success is a termination term named "success" (the name Isaac Lab's
recorder reads in record_pre_reset): a successful episode ends, is flagged success=True and exported;
one that times out is flagged failed (dropped under export_mode "succeeded_only").
"""

from __future__ import annotations

import math
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from gwm.geometry import matrix_to_pose7, normalize_quats, pose7_to_matrix, positive_w, wxyz_to_xyzw, xyzw_to_wxyz
from sim_tasks.backend import GRIPPER_OPEN, check_action

# The embedded simulator's home IK seed (sim_tasks.newton_backend._IK_SEED).
HOME_IK_SEED = np.array([0.0, -0.4, 0.0, -2.3, 0.0, 0.3, 0.0])

EXPORT_MODES = ("all", "succeeded_failed_separate", "succeeded_only")
SUCCESS_TERM = "success"  # Isaac Lab's RecorderManager.record_pre_reset reads success from this term
TIME_OUT_TERM = "time_out"


class ContactBufferOverflow(RuntimeError):
    """MuJoCo Warp ran out of contact or constraint slots and dropped some: that run's physics is not trusted."""


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
    export_mode: str = "succeeded_only"  # "all" | "succeeded_failed_separate" | "succeeded_only"
    # Export at the env's own reset (record_pre_reset), with success from the SUCCESS_TERM termination.
    export_in_record_pre_reset: bool = True
    terminate_on_success: bool = True  # False: run every episode to its time-out (cross-checks)
    robot_prim: str = "{ENV_REGEX_NS}/Robot"
    env_spacing: float = 3.0  # m between cloned environments
    # MuJoCo (Warp) solver settings of the embedded simulator (sim_tasks.newton_backend)
    solver: str = "newton"
    integrator: str = "implicitfast"
    cone: str = "elliptic"
    impratio: float = 10.0
    enable_multiccd: bool = True
    # Contact / constraint-row slots per env. MuJoCo Warp's CPU kernels run over every slot, used or not (the
    # dense solver's JTCJ kernel: nconmax x nv^2 / 2 threads per env, twice a physics step), so they cost time;
    # an env that needs more fails with ContactBufferOverflow rather than dropping contacts. The demo scene's
    # episodes use at most 40 contacts and 144 rows per env.
    njmax: int = 400
    nconmax: int = 96
    # Replay each physics step as a Warp CPU graph instead of ~120 Python kernel launches (same kernels and
    # arrays, same results; sim_tasks.isaaclab_cpu_graph). False: Isaac Lab's own eager launches.
    cpu_graph: bool = True


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
    home_joint_pos: tuple[float, ...]  # 7 arm joints at the home tool pose (the embedded sim's home)
    max_steps: int  # demonstrator actions per episode
    episode_length_s: float
    config: IsaacLabConfig
    metadata: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return asdict(self)

    @property
    def control_dt(self) -> float:
        return self.config.physics_dt * self.config.decimation

    @property
    def max_episode_length(self) -> int:
        """Env steps after which Isaac Lab's time_out fires (its own formula)."""
        return math.ceil(self.episode_length_s / self.control_dt)

    @property
    def termination_terms(self) -> tuple[str, ...]:
        return ((SUCCESS_TERM,) if self.config.terminate_on_success else ()) + (TIME_OUT_TERM,)


def episode_length_s_for(max_steps: int, control_dt: float) -> float:
    """Episode length whose Isaac Lab time-out fires one step after the last of max_steps actions.

    Half a step of slack: ceil((max_steps + 0.5) * dt / dt) is max_steps + 1 whatever the rounding
    of dt (a whole step could round up to max_steps + 2)."""
    return (max_steps + 0.5) * control_dt


def home_tool_pose(robot_base: np.ndarray, offset=(0.40, 0.0, 0.35)) -> np.ndarray:
    """(4,4) home tool pose: offset in the base frame, tool z pointing down (as NewtonBackend.home_tool_pose)."""
    target = np.eye(4)
    target[:3, :3] = robot_base[:3, :3] @ np.diag([1.0, -1.0, -1.0])
    target[:3, 3] = robot_base[:3, :3] @ np.asarray(offset, np.float64) + robot_base[:3, 3]
    return target


def build_isaaclab_spec(scene_usd: str | os.PathLike, task: str, config: IsaacLabConfig = IsaacLabConfig(),
                        task_config=None, cameras=None, scene=None,
                        home_tool_offset=(0.40, 0.0, 0.35)) -> IsaacLabTaskSpec:
    """Everything an Isaac Lab environment needs for this scene and task, as plain dataclasses."""
    from gwm.scene.usd_scene import read_usd_scene
    from sim_tasks.panda_chain import panda_chain
    from sim_tasks.rendering import CameraConfig, CameraRig
    from sim_tasks.tasks import TaskConfig, make_task

    if config.export_mode not in EXPORT_MODES:
        raise ValueError(f"IsaacLabConfig.export_mode must be one of {EXPORT_MODES}, got {config.export_mode!r}")
    scene_usd = Path(scene_usd)
    scene = scene if scene is not None else read_usd_scene(scene_usd)
    task_config = task_config or TaskConfig()
    steps = make_task(task, scene, task_config).max_steps  # also validates the task and its objects for this scene
    cams = cameras or CameraConfig()
    robot_base = scene.robot_base.numpy().astype(np.float64)

    objects = tuple(
        IsaacObjectSpec(o.name, f"/World/Objects/{o.name}", PoseXYZW.from_matrix(o.world_from_body.numpy()),
                        float(o.mass), float(o.friction))
        for o in scene.objects
    )
    # The tool point and home posture of the project's Panda (the embedded simulator's).
    chain = panda_chain()
    tool_body = chain.links[chain.tool_body].name
    body_from_tool = chain.body_from_tool
    home = home_tool_pose(robot_base, home_tool_offset)
    home_q = chain.ik(home, HOME_IK_SEED, robot_base, max_iterations=300, rest_q=HOME_IK_SEED)
    pos_err = float(np.linalg.norm(chain.tool_pose(home_q, robot_base)[:3, 3] - home[:3, 3]))
    if pos_err > 1e-3:
        raise RuntimeError(f"home pose IK did not converge (position error {pos_err:.4f} m); check /World/RobotBase")
    # Cameras: the same scene camera and wrist mount the embedded renderer uses.
    rig = CameraRig(robot_base, cams)
    link_from_wrist = body_from_tool @ rig.tool_from_wrist_cam.numpy().astype(np.float64)
    camera_specs = (
        IsaacCameraSpec("scene", "world", PoseXYZW.from_matrix(rig.world_from_scene_cam.numpy()),
                        tuple(map(float, rig.K_scene.reshape(-1))), cams.width, cams.height),
        IsaacCameraSpec("wrist", tool_body, PoseXYZW.from_matrix(link_from_wrist),
                        tuple(map(float, rig.K_wrist.reshape(-1))), cams.width, cams.height),
    )
    return IsaacLabTaskSpec(
        task=task,
        scene_usd=str(scene_usd.resolve()),
        robot_base=PoseXYZW.from_matrix(robot_base),
        objects=objects,
        support_prim="/World/Support",
        cameras=camera_specs,
        tool_body=tool_body,
        tool_offset=PoseXYZW.from_matrix(body_from_tool),
        home_joint_pos=tuple(map(float, home_q)),
        max_steps=int(steps),
        episode_length_s=episode_length_s_for(steps, config.physics_dt * config.decimation),
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
    "ContactBufferOverflow", "EXPORT_MODES", "HOME_IK_SEED", "IsaacCameraSpec", "IsaacLabConfig", "IsaacLabTaskSpec",
    "IsaacObjectSpec",
    "PoseXYZW", "SUCCESS_TERM", "TIME_OUT_TERM", "build_isaaclab_spec", "episode_length_s_for", "from_isaaclab_action",
    "home_tool_pose", "poses_from_isaaclab", "to_isaaclab_action",
]
