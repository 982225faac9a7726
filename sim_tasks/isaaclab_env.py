"""Isaac Lab backend: the same scene USD, task, demonstrator and action, recorded by Isaac Lab.

`make_isaaclab_env_cfg(spec)` / `IsaacLabBackend` / `record_isaaclab_demos` turn an IsaacLabTaskSpec
(sim_tasks/isaaclab_spec.py, built and tested without Isaac Lab) into an Isaac Lab 3
ManagerBasedRLEnvCfg, drive it with the scripted demonstrator and record through Isaac Lab's recorder
manager (HDF5). They import isaaclab inside the functions; isaaclab needs Isaac Sim (not installable
on the CPU machines this project is tested on).
"""

from __future__ import annotations

import numpy as np

from gwm.geometry import matrix_to_pose7, pose7_to_matrix, wxyz_to_xyzw
from sim_tasks.backend import BACKGROUND_BODY, SimBackend
from sim_tasks.isaaclab_spec import ISAAC_LINK_BODIES, IsaacLabTaskSpec, poses_from_isaaclab, to_isaaclab_action
from sim_tasks.panda_model import LINK_RECORD_NAMES


# Isaac Lab proper (import-guarded) ---------------------------------------------------------------
def _require_isaaclab():
    try:
        import isaaclab  # noqa: F401
    except ImportError as e:
        raise ImportError(
            "Isaac Lab is not installed in this environment. It needs Isaac Sim 5/6 and an RTX GPU "
            "(Isaac Lab 3.0: Python 3.12). Fix: run this on an Isaac Sim machine with Isaac Lab 3 "
            "installed, or use the embedded backend (sim_tasks.newton_backend.NewtonBackend)."
        ) from e


def make_isaaclab_env_cfg(spec: IsaacLabTaskSpec):
    """An Isaac Lab 3 ManagerBasedRLEnvCfg for the spec (scene USD + Franka + objects + cameras +
    differential-IK / binary-gripper actions + the action/state recorder)."""
    _require_isaaclab()
    import isaaclab.envs.mdp as mdp
    import isaaclab.sim as sim_utils
    from isaaclab.assets import AssetBaseCfg, RigidObjectCfg
    from isaaclab.controllers import DifferentialIKControllerCfg
    from isaaclab.envs import ManagerBasedRLEnvCfg
    from isaaclab.envs.mdp.actions import BinaryJointPositionActionCfg, DifferentialInverseKinematicsActionCfg
    from isaaclab.envs.mdp.recorders.recorders_cfg import ActionStateRecorderManagerCfg
    from isaaclab.managers import DatasetExportMode
    from isaaclab.managers import ObservationGroupCfg as ObsGroup
    from isaaclab.managers import ObservationTermCfg as ObsTerm
    from isaaclab.managers import TerminationTermCfg as DoneTerm
    from isaaclab.scene import InteractiveSceneCfg
    from isaaclab.sensors import CameraCfg
    from isaaclab.utils import configclass
    from isaaclab_assets.robots.franka import FRANKA_PANDA_HIGH_PD_CFG

    cfg = spec.config
    base = spec.robot_base
    scene_fields = {
        # The whole exported stage (background Gaussians, support, objects); objects are then
        # wrapped as RigidObjects below so the env can read and reset their poses.
        "scene": AssetBaseCfg(prim_path="{ENV_REGEX_NS}/Scene", spawn=sim_utils.UsdFileCfg(usd_path=spec.scene_usd)),
        "robot": FRANKA_PANDA_HIGH_PD_CFG.replace(
            prim_path=cfg.robot_prim,
            init_state=FRANKA_PANDA_HIGH_PD_CFG.init_state.replace(pos=base.pos, rot=base.quat_xyzw),
        ),
    }
    for o in spec.objects:
        scene_fields[o.name] = RigidObjectCfg(
            prim_path="{ENV_REGEX_NS}/Scene" + o.prim_path.removeprefix("/World"),
            spawn=None, init_state=RigidObjectCfg.InitialStateCfg(pos=o.init_pose.pos, rot=o.init_pose.quat_xyzw))
    for c in spec.cameras:
        parent = "{ENV_REGEX_NS}" if c.parent == "world" else f"{cfg.robot_prim}/{c.parent}"
        k = np.asarray(c.intrinsic_matrix).reshape(3, 3)
        scene_fields[f"{c.name}_camera"] = CameraCfg(
            prim_path=f"{parent}/{c.name}_camera", width=c.width, height=c.height, data_types=list(c.data_types),
            spawn=sim_utils.PinholeCameraCfg.from_intrinsic_matrix(
                intrinsic_matrix=k.reshape(-1).tolist(), width=c.width, height=c.height),
            offset=CameraCfg.OffsetCfg(pos=c.offset.pos, rot=c.offset.quat_xyzw, convention=c.convention),
        )
    SceneCfg = configclass(type("GwmSceneCfg", (InteractiveSceneCfg,), {"__annotations__": {
        k: type(v) for k, v in scene_fields.items()}, **scene_fields}))

    @configclass
    class ActionsCfg:
        arm = DifferentialInverseKinematicsActionCfg(
            asset_name="robot", joint_names=["panda_joint.*"], body_name=spec.tool_body,
            controller=DifferentialIKControllerCfg(command_type="pose", use_relative_mode=False,
                                                   ik_method=cfg.ik_method, ik_params={"lambda_val": cfg.ik_lambda}),
            body_offset=DifferentialInverseKinematicsActionCfg.OffsetCfg(pos=spec.tool_offset.pos,
                                                                          rot=spec.tool_offset.quat_xyzw),
        )
        gripper = BinaryJointPositionActionCfg(
            asset_name="robot", joint_names=["panda_finger.*"],
            open_command_expr={"panda_finger_.*": cfg.finger_open},
            close_command_expr={"panda_finger_.*": cfg.finger_closed},
        )

    @configclass
    class ObservationsCfg:
        @configclass
        class PolicyCfg(ObsGroup):
            joint_pos = ObsTerm(func=mdp.joint_pos)
            joint_vel = ObsTerm(func=mdp.joint_vel)
            actions = ObsTerm(func=mdp.last_action)

            def __post_init__(self):
                self.enable_corruption = False
                self.concatenate_terms = False

        policy: PolicyCfg = PolicyCfg()

    @configclass
    class TerminationsCfg:
        time_out = DoneTerm(func=mdp.time_out, time_out=True)

    export = {"all": DatasetExportMode.EXPORT_ALL,
              "succeeded_failed_separate": DatasetExportMode.EXPORT_SUCCEEDED_FAILED_IN_SEPARATE_FILES,
              "succeeded_only": DatasetExportMode.EXPORT_SUCCEEDED_ONLY}[cfg.export_mode]

    @configclass
    class EnvCfg(ManagerBasedRLEnvCfg):
        scene = SceneCfg(num_envs=cfg.num_envs, env_spacing=3.0)
        actions = ActionsCfg()
        observations = ObservationsCfg()
        terminations = TerminationsCfg()
        rewards = None
        recorders = ActionStateRecorderManagerCfg(dataset_export_dir_path=cfg.dataset_dir,
                                                  dataset_filename=cfg.dataset_filename, dataset_export_mode=export)

        def __post_init__(self):
            self.sim.dt = cfg.physics_dt
            self.decimation = cfg.decimation
            self.episode_length_s = spec.episode_length_s

    return EnvCfg()


class IsaacLabBackend(SimBackend):
    """SimBackend over an Isaac Lab ManagerBasedRLEnv built from a spec (env 0 of num_envs)."""

    def __init__(self, spec: IsaacLabTaskSpec, env=None):
        _require_isaaclab()
        import gymnasium as gym  # noqa: F401  (Isaac Lab registers through gymnasium)
        from isaaclab.envs import ManagerBasedRLEnv

        self.spec = spec
        self.env = env if env is not None else ManagerBasedRLEnv(cfg=make_isaaclab_env_cfg(spec))
        self.object_names = tuple(o.name for o in spec.objects)
        self.body_names = (BACKGROUND_BODY, *self.object_names, *LINK_RECORD_NAMES)
        self.control_dt = spec.control_dt
        robot = self.env.scene["robot"]
        self._link_ids = [robot.find_bodies(n)[0][0] for n in ISAAC_LINK_BODIES]
        self._tool_id = robot.find_bodies(spec.tool_body)[0][0]
        self._arm_ids = robot.find_joints("panda_joint.*")[0]
        self._finger_ids = robot.find_joints("panda_finger.*")[0]

    def _torch(self, a):
        import warp as wp

        return wp.to_torch(a) if isinstance(a, wp.array) else a  # Isaac Lab 3 data are warp arrays

    def reset(self, seed, object_poses=None):
        import torch

        self.env.reset(seed=int(seed))
        for name, pose in (object_poses or {}).items():
            obj = self.env.scene[name]
            root = np.concatenate([pose[:3], wxyz_to_xyzw(np.asarray(pose[3:7]))])
            origin = self._torch(self.env.scene.env_origins)[0].cpu().numpy()
            root[:3] += origin
            obj.write_root_pose_to_sim(torch.tensor(root[None], dtype=torch.float32, device=self.env.device))
        return self.observe()

    def step(self, action):
        import torch

        a = to_isaaclab_action(action, self.spec.robot_base)
        self.env.step(torch.tensor(a[None], device=self.env.device).repeat(self.env.num_envs, 1))
        return self.observe()

    def _origin(self) -> np.ndarray:
        return self._torch(self.env.scene.env_origins)[0].cpu().numpy()

    def body_poses(self):
        origin = self._origin()
        out = np.zeros((len(self.body_names), 7))
        out[0, 3] = 1.0
        for i, name in enumerate(self.object_names, start=1):
            d = self.env.scene[name].data
            out[i] = poses_from_isaaclab(self._torch(d.root_pos_w)[0].cpu().numpy() - origin,
                                         self._torch(d.root_quat_w)[0].cpu().numpy())
        d = self.env.scene["robot"].data
        pos = self._torch(d.body_pos_w)[0, self._link_ids].cpu().numpy() - origin
        quat = self._torch(d.body_quat_w)[0, self._link_ids].cpu().numpy()
        out[1 + len(self.object_names):] = poses_from_isaaclab(pos, quat)
        return out

    def joint_state(self):
        d = self.env.scene["robot"].data
        ids = list(self._arm_ids) + list(self._finger_ids)
        return (self._torch(d.joint_pos)[0, ids].cpu().numpy().astype(np.float64),
                self._torch(d.joint_vel)[0, ids].cpu().numpy().astype(np.float64))

    def ee_pose(self):
        d = self.env.scene["robot"].data
        hand = poses_from_isaaclab(self._torch(d.body_pos_w)[0, self._tool_id].cpu().numpy() - self._origin(),
                                   self._torch(d.body_quat_w)[0, self._tool_id].cpu().numpy())
        return matrix_to_pose7(pose7_to_matrix(hand) @ self.spec.tool_offset.to_matrix())


def record_isaaclab_demos(spec: IsaacLabTaskSpec, seeds, demo_config=None) -> list[dict]:
    """Scripted demos in Isaac Lab, recorded by its recorder manager (HDF5 under spec.config.dataset_dir).

    Each seed: reset, place the objects as our Task samples them, run the demonstrator for the
    episode length, mark success from the object poses, export the episode.
    """
    import torch

    from gwm.scene.usd_scene import read_usd_scene
    from sim_tasks.demonstrator import DemoConfig
    from sim_tasks.tasks import TaskConfig, make_task

    backend = IsaacLabBackend(spec)
    scene = read_usd_scene(spec.scene_usd)
    task = make_task(spec.task, scene, TaskConfig(**{k: v for k, v in spec.metadata["task_config"].items()
                                                     if k != "workspace"}))
    steps = int(round(spec.episode_length_s / spec.control_dt))
    env, results = backend.env, []
    for seed in seeds:
        instance = task.sample(seed)
        obs = backend.reset(seed, instance.object_poses)
        env.recorder_manager.reset()
        demo = task.demonstrator(instance, backend.body_names, backend.control_dt, demo_config or DemoConfig())
        success = False
        for _ in range(steps):
            obs = backend.step(demo.act(obs))
            poses = {n: obs["body_poses"][i] for i, n in enumerate(backend.body_names)}
            success = task.success(instance, poses, float(obs["gripper"][0]))
        ids = torch.arange(env.num_envs, device=env.device)
        env.recorder_manager.record_pre_reset(ids)
        env.recorder_manager.set_success_to_episodes(
            ids, torch.full((env.num_envs, 1), success, dtype=torch.bool, device=env.device))
        env.recorder_manager.export_episodes(ids)
        results.append({"seed": int(seed), "success": bool(success)})
    return results


__all__ = ["IsaacLabBackend", "make_isaaclab_env_cfg", "record_isaaclab_demos"]
