"""Isaac Lab backend: the project's tasks as Isaac Lab 3 manager-based environments (Newton backend, CPU).

    spec = build_isaaclab_spec(scene_usd, "pick_place")            # sim_tasks.isaaclab_spec, no Isaac Lab
    results = record_isaaclab_demos(spec, seeds=range(4), num_envs=2)  # Isaac Lab HDF5, successful demos

What the environment is made of (make_isaaclab_env_cfg):
- scene: the exported scene USD cut into per-env assets (sim_tasks.isaaclab_assets: support collider,
  one rigid body per object, no /World/PhysicsScene inside the envs) and the project's Panda
  converted from its MJCF (sim_tasks.isaaclab_robot); physics: the `newton_mjwarp` preset (Newton +
  MuJoCo Warp) with the embedded simulator's solver settings, on device "cpu", each physics step replayed
  as a Warp CPU graph (sim_tasks.isaaclab_cpu_graph: Isaac Lab graphs it on CUDA only);
- actions: Isaac Lab's differential IK on the tool point (absolute pose in the robot base frame) and
  a binary gripper;
- observations: joint positions / velocities, tool pose, object poses (env frame, xyz + quat xyzw as
  Isaac Lab 3 stores them), last action;
- events: at every reset each env takes the next seed from a LayoutQueue and places the objects as
  the project's Task samples them for that seed (the embedded path's layouts, seed for seed);
- terminations: "success" (the Task's own success test on the post-action poses) and time_out one
  step after the last demonstrator action (spec.max_episode_length = max_steps + 1);
- rewards: success, and minus the target object's distance to its goal;
- recorders: Isaac Lab's ActionStateRecorderManagerCfg plus next_obs / rewards / dones, exported at
  each env's reset with success from the "success" term (successful demos only by default).

Runs in the Isaac Lab venv (`make isaaclab-venv`); isaaclab is imported inside the functions. Not run:
Isaac Sim / Kit, PhysX, RTX cameras (the spec's cameras are not added to the env).
"""

from __future__ import annotations

import os
from collections import deque
from pathlib import Path

import numpy as np

from gwm.geometry import matrix_to_pose7, pose7_to_matrix, pose7_wxyz_to_xyzw, wxyz_to_xyzw
from sim_tasks.backend import BACKGROUND_BODY, SimBackend
from sim_tasks.isaaclab_spec import (SUCCESS_TERM, TIME_OUT_TERM, IsaacLabTaskSpec, poses_from_isaaclab,
                                     to_isaaclab_action)
from sim_tasks.panda_model import LINK_BODIES, LINK_RECORD_NAMES

ARM_AND_FINGERS = [f"panda_joint{i}" for i in range(1, 8)] + ["panda_finger_joint1", "panda_finger_joint2"]


def _require_isaaclab():
    try:
        import isaaclab  # noqa: F401
        import isaaclab_newton  # noqa: F401
    except ImportError as e:
        raise ImportError(
            "Isaac Lab is not installed in this environment. It lives in its own venv (it needs newton 1.6.1; "
            "the main venv has 1.8.0). Fix: `make isaaclab-venv`, then run with .venv-isaaclab/bin/python"
        ) from e


def _torch(a):
    import warp as wp

    return wp.to_torch(a) if isinstance(a, wp.array) else a  # Isaac Lab 3 data are Warp arrays


class LayoutQueue:
    """Seeds for the episodes to come, handed out one per env reset, and the TaskInstance each env runs."""

    def __init__(self, task, seeds=()):
        self.task = task
        self.pending: deque[int] = deque(int(s) for s in seeds)
        self.current: dict[int, object] = {}  # env id -> TaskInstance (None: no seed left, env idles)

    def put(self, seeds) -> None:
        self.pending.extend(int(s) for s in seeds)

    def take(self, env_id: int):
        self.current[env_id] = self.task.sample(self.pending.popleft()) if self.pending else None
        return self.current[env_id]


# observation / termination / reward / event terms (plain functions of the env) ----------------------
def _object_poses_wxyz(env, spec: IsaacLabTaskSpec) -> np.ndarray:
    """(num_envs, n_objects, 7) object poses in each env's frame, xyz + wxyz."""
    origins = _torch(env.scene.env_origins).cpu().numpy()
    out = []
    for o in spec.objects:
        d = env.scene[o.name].data
        out.append(poses_from_isaaclab(_torch(d.root_pos_w).cpu().numpy() - origins,
                                       _torch(d.root_quat_w).cpu().numpy()))
    return np.stack(out, 1)


def _gripper_widths(env) -> np.ndarray:
    robot = env.scene["robot"]
    ids = robot.find_joints(["panda_finger_joint1", "panda_finger_joint2"], preserve_order=True)[0]
    return _torch(robot.data.joint_pos)[:, ids].sum(-1).cpu().numpy()


def _task_success(env, spec, layouts) -> np.ndarray:
    poses = _object_poses_wxyz(env, spec)
    widths = _gripper_widths(env)
    names = [o.name for o in spec.objects]
    out = np.zeros(env.num_envs, bool)
    for i in range(env.num_envs):
        inst = layouts.current.get(i)
        if inst is not None:
            out[i] = layouts.task.success(inst, dict(zip(names, poses[i])), float(widths[i]))
    return out


# Isaac Lab deep-copies term params (and cannot copy a frozen spec): terms get a key into this registry.
_CONTEXTS: dict[str, tuple] = {}


def _context(key: str):
    return _CONTEXTS[key]


def success_term(env, ctx):
    import torch

    spec, layouts = _context(ctx)

    return torch.as_tensor(_task_success(env, spec, layouts), device=env.device)


def success_reward(env, ctx):
    import torch

    spec, layouts = _context(ctx)

    return torch.as_tensor(_task_success(env, spec, layouts), dtype=torch.float32, device=env.device)


def goal_distance(env, ctx):
    """Horizontal distance (m) of each env's target object to its goal (0 where no episode runs)."""
    import torch

    spec, layouts = _context(ctx)

    poses = _object_poses_wxyz(env, spec)
    names = [o.name for o in spec.objects]
    out = np.zeros(env.num_envs, np.float32)
    for i in range(env.num_envs):
        inst = layouts.current.get(i)
        if inst is not None:
            p = poses[i, names.index(inst.target_object)]
            out[i] = np.linalg.norm(p[:2] - inst.goal_position[:2])
    return torch.as_tensor(out, device=env.device)


def object_poses_obs(env, ctx):
    import torch

    spec, _ = _context(ctx)

    p = _object_poses_wxyz(env, spec)
    return torch.as_tensor(p.reshape(env.num_envs, -1), dtype=torch.float32, device=env.device)


def tool_pose_obs(env, ctx):
    import torch

    spec, _ = _context(ctx)

    return torch.as_tensor(_tool_poses(env, spec), dtype=torch.float32, device=env.device)


def _tool_poses(env, spec) -> np.ndarray:
    """(num_envs, 7) tool point xyz + wxyz in each env's frame."""
    robot = env.scene["robot"]
    tool_id = robot.find_bodies(spec.tool_body)[0][0]
    origins = _torch(env.scene.env_origins).cpu().numpy()
    link = poses_from_isaaclab(_torch(robot.data.body_pos_w)[:, tool_id].cpu().numpy() - origins,
                               _torch(robot.data.body_quat_w)[:, tool_id].cpu().numpy())
    offset = spec.tool_offset.to_matrix()
    return np.stack([matrix_to_pose7(pose7_to_matrix(p) @ offset) for p in link])


def place_objects(env, env_ids, ctx):
    """Reset event: each env in env_ids takes its next seed's layout; objects not in it go to the scene pose."""
    import torch

    spec, layouts = _context(ctx)

    origins = _torch(env.scene.env_origins).cpu().numpy()
    if env_ids is None or isinstance(env_ids, slice):
        ids = list(range(env.num_envs))[env_ids or slice(None)]
    else:
        ids = [int(i) for i in env_ids.tolist()]
    for o in spec.objects:
        roots = []
        for i in ids:
            inst = layouts.take(i) if o is spec.objects[0] else layouts.current[i]
            pose = None if inst is None else inst.object_poses.get(o.name)
            if pose is None:
                pos, quat = np.asarray(o.init_pose.pos), np.asarray(o.init_pose.quat_xyzw)
            else:
                pos, quat = np.asarray(pose[:3]), wxyz_to_xyzw(np.asarray(pose[3:7], np.float64))
            roots.append(np.concatenate([pos + origins[i], quat, np.zeros(6)]))
        t = torch.tensor(np.array(roots), dtype=torch.float32, device=env.device)
        idx = torch.tensor(ids, dtype=torch.int64, device=env.device)
        env.scene[o.name].write_root_pose_to_sim_index(root_pose=t[:, :7], env_ids=idx)
        env.scene[o.name].write_root_velocity_to_sim_index(root_velocity=t[:, 7:], env_ids=idx)


def make_isaaclab_env_cfg(spec: IsaacLabTaskSpec, layouts: LayoutQueue, work_dir: str | os.PathLike | None = None):
    """An Isaac Lab 3 ManagerBasedRLEnvCfg for the spec (see module doc)."""
    _require_isaaclab()
    import isaaclab.envs.mdp as mdp
    import isaaclab.sim as sim_utils
    from isaaclab.actuators import ImplicitActuatorCfg
    from isaaclab.assets import ArticulationCfg, AssetBaseCfg, RigidObjectCfg
    from isaaclab.controllers import DifferentialIKControllerCfg
    from isaaclab.envs import ManagerBasedRLEnvCfg
    from isaaclab.envs.mdp.actions import BinaryJointPositionActionCfg, DifferentialInverseKinematicsActionCfg
    from isaaclab.envs.mdp.recorders.recorders_cfg import ActionStateRecorderManagerCfg
    from isaaclab.managers import DatasetExportMode, RecorderTerm, RecorderTermCfg, SceneEntityCfg
    from isaaclab.managers import EventTermCfg as EventTerm
    from isaaclab.managers import ObservationGroupCfg as ObsGroup
    from isaaclab.managers import ObservationTermCfg as ObsTerm
    from isaaclab.managers import RewardTermCfg as RewTerm
    from isaaclab.managers import TerminationTermCfg as DoneTerm
    from isaaclab.scene import InteractiveSceneCfg
    from isaaclab.utils import configclass
    from isaaclab_newton.physics import MJWarpSolverCfg, NewtonCfg

    from sim_tasks.isaaclab_assets import write_isaaclab_scene_assets
    from sim_tasks.isaaclab_robot import ISAAC_ACTUATORS, write_panda_usd

    cfg = spec.config
    ctx = f"gwm-{id(layouts)}"
    _CONTEXTS[ctx] = (spec, layouts)
    work_dir = Path(work_dir or Path(cfg.dataset_dir) / "assets")
    assets = write_isaaclab_scene_assets(spec.scene_usd, work_dir)
    robot_usd = write_panda_usd()
    base = spec.robot_base
    home = dict(zip(ARM_AND_FINGERS[:7], spec.home_joint_pos))
    home.update({"panda_finger_joint1": cfg.finger_open, "panda_finger_joint2": cfg.finger_open})

    scene_fields = {
        "support": AssetBaseCfg(prim_path="{ENV_REGEX_NS}/Support", spawn=sim_utils.UsdFileCfg(usd_path=assets.support_usd)),
        "robot": ArticulationCfg(
            prim_path=cfg.robot_prim,
            spawn=sim_utils.UsdFileCfg(usd_path=str(robot_usd)),
            init_state=ArticulationCfg.InitialStateCfg(pos=base.pos, rot=base.quat_xyzw, joint_pos=home),
            actuators={name: ImplicitActuatorCfg(joint_names_expr=[a["joints"]], stiffness=a["stiffness"], damping=0.0,
                                                 effort_limit_sim=a["effort"])
                       for name, a in ISAAC_ACTUATORS.items()},
        ),
    }
    for o in spec.objects:
        scene_fields[o.name] = RigidObjectCfg(
            prim_path="{ENV_REGEX_NS}/" + o.name, spawn=sim_utils.UsdFileCfg(usd_path=assets.object_usds[o.name]),
            init_state=RigidObjectCfg.InitialStateCfg(pos=o.init_pose.pos, rot=o.init_pose.quat_xyzw))
    SceneCfg = configclass(type("GwmSceneCfg", (InteractiveSceneCfg,), {
        "__annotations__": {k: type(v) for k, v in scene_fields.items()}, **scene_fields}))
    robot_joints = SceneEntityCfg("robot", joint_names=ARM_AND_FINGERS, preserve_order=True)

    @configclass
    class ActionsCfg:
        arm = DifferentialInverseKinematicsActionCfg(
            asset_name="robot", joint_names=["panda_joint[1-7]"], body_name=spec.tool_body,
            controller=DifferentialIKControllerCfg(command_type="pose", use_relative_mode=False,
                                                   ik_method=cfg.ik_method, ik_params={"lambda_val": cfg.ik_lambda}),
            body_offset=DifferentialInverseKinematicsActionCfg.OffsetCfg(pos=spec.tool_offset.pos,
                                                                          rot=spec.tool_offset.quat_xyzw),
        )
        gripper = BinaryJointPositionActionCfg(
            asset_name="robot", joint_names=["panda_finger_joint[12]"],
            open_command_expr={"panda_finger_joint.*": cfg.finger_open},
            close_command_expr={"panda_finger_joint.*": cfg.finger_closed},
        )

    @configclass
    class ObservationsCfg:
        @configclass
        class PolicyCfg(ObsGroup):
            joint_pos = ObsTerm(func=mdp.joint_pos, params={"asset_cfg": robot_joints})
            joint_vel = ObsTerm(func=mdp.joint_vel, params={"asset_cfg": robot_joints})
            ee_pose = ObsTerm(func=tool_pose_obs, params={"ctx": ctx})
            object_poses = ObsTerm(func=object_poses_obs, params={"ctx": ctx})
            actions = ObsTerm(func=mdp.last_action)

            def __post_init__(self):
                self.enable_corruption = False
                self.concatenate_terms = False

        policy: PolicyCfg = PolicyCfg()

    @configclass
    class EventsCfg:
        # Robot joints and objects back to their defaults (home posture), then this episode's layout.
        defaults = EventTerm(func=mdp.reset_scene_to_default, mode="reset", params={"reset_joint_targets": True})
        layout = EventTerm(func=place_objects, mode="reset", params={"ctx": ctx})

    term_fields = {TIME_OUT_TERM: DoneTerm(func=mdp.time_out, time_out=True)}
    if cfg.terminate_on_success:
        term_fields[SUCCESS_TERM] = DoneTerm(func=success_term, params={"ctx": ctx})
    TerminationsCfg = configclass(type("GwmTerminationsCfg", (), {
        "__annotations__": {k: DoneTerm for k in term_fields}, **term_fields}))

    @configclass
    class RewardsCfg:
        success = RewTerm(func=success_reward, weight=1.0, params={"ctx": ctx})
        goal_distance = RewTerm(func=goal_distance, weight=-1.0, params={"ctx": ctx})

    class PostStepRobomimic(RecorderTerm):
        """next_obs, rewards and dones after each step (before any reset), as robomimic reads them."""

        def record_post_step(self):
            return "next_obs", self._env.obs_buf["policy"]

    class PostStepRewards(RecorderTerm):
        def record_post_step(self):
            return "rewards", self._env.reward_buf

    class PostStepDones(RecorderTerm):
        def record_post_step(self):
            return "dones", self._env.reset_buf

    export = {"all": DatasetExportMode.EXPORT_ALL,
              "succeeded_failed_separate": DatasetExportMode.EXPORT_SUCCEEDED_FAILED_IN_SEPARATE_FILES,
              "succeeded_only": DatasetExportMode.EXPORT_SUCCEEDED_ONLY}[cfg.export_mode]

    @configclass
    class RecordersCfg(ActionStateRecorderManagerCfg):
        record_next_obs = RecorderTermCfg(class_type=PostStepRobomimic)
        record_rewards = RecorderTermCfg(class_type=PostStepRewards)
        record_dones = RecorderTermCfg(class_type=PostStepDones)

    # Isaac Lab's MuJoCo Warp manager, replaying its step as a Warp CPU graph (cfg.cpu_graph) and failing on
    # contact-buffer overflow (sim_tasks.isaaclab_cpu_graph).
    from sim_tasks.isaaclab_cpu_graph import NewtonCpuGraphMJWarpManager

    NewtonCpuGraphMJWarpManager.replay_graph = cfg.cpu_graph
    physics = NewtonCfg(
        solver_cfg=MJWarpSolverCfg(solver=cfg.solver, integrator=cfg.integrator, cone=cfg.cone, impratio=cfg.impratio,
                                   enable_multiccd=cfg.enable_multiccd, njmax=cfg.njmax, nconmax=cfg.nconmax,
                                   class_type=NewtonCpuGraphMJWarpManager),
        num_substeps=1, use_cuda_graph=False)

    @configclass
    class EnvCfg(ManagerBasedRLEnvCfg):
        scene = SceneCfg(num_envs=cfg.num_envs, env_spacing=cfg.env_spacing)
        actions = ActionsCfg()
        observations = ObservationsCfg()
        events = EventsCfg()
        terminations = TerminationsCfg()
        rewards = RewardsCfg()
        recorders = RecordersCfg(dataset_export_dir_path=str(Path(cfg.dataset_dir).resolve()),
                                 dataset_filename=cfg.dataset_filename, dataset_export_mode=export,
                                 export_in_record_pre_reset=cfg.export_in_record_pre_reset)

        def get_ep_meta(self) -> dict:
            """env_args of the HDF5 (Isaac Lab's recorder asks for them); gwm reads env_name as the task."""
            return {"env_name": f"gwm/{spec.task}", "type": 2, "sim_args": {
                "dt": cfg.physics_dt, "decimation": cfg.decimation, "num_envs": cfg.num_envs},
                "env_kwargs": {"fps": round(1.0 / spec.control_dt), "scene_usd": spec.scene_usd,
                               "quaternion_order": "xyzw"}}

        def __post_init__(self):
            self.sim.dt = cfg.physics_dt
            self.sim.device = "cpu"
            self.sim.physics = physics
            self.decimation = cfg.decimation
            self.episode_length_s = spec.episode_length_s

    return EnvCfg()


def make_isaaclab_env(spec: IsaacLabTaskSpec, seeds=(), task=None):
    """(env, layouts): the ManagerBasedRLEnv for the spec and the seed queue its reset event reads."""
    _require_isaaclab()
    from isaaclab.envs import ManagerBasedRLEnv

    from gwm.scene.usd_scene import read_usd_scene
    from sim_tasks.tasks import TaskConfig, make_task

    if task is None:
        scene = read_usd_scene(spec.scene_usd)
        tc = dict(spec.metadata["task_config"])
        tc.pop("workspace", None)
        task = make_task(spec.task, scene, TaskConfig(**tc))
    layouts = LayoutQueue(task, seeds)
    return ManagerBasedRLEnv(cfg=make_isaaclab_env_cfg(spec, layouts)), layouts


def observations(env, spec: IsaacLabTaskSpec) -> list[dict[str, np.ndarray]]:
    """Per env, the project's observation dict (sim_tasks.backend: quaternions w-first, env frame)."""
    robot = env.scene["robot"]
    joint_ids = robot.find_joints(ARM_AND_FINGERS, preserve_order=True)[0]
    link_ids = robot.find_bodies(list(LINK_BODIES), preserve_order=True)[0]
    q = _torch(robot.data.joint_pos)[:, joint_ids].cpu().numpy().astype(np.float64)
    qd = _torch(robot.data.joint_vel)[:, joint_ids].cpu().numpy().astype(np.float64)
    origins = _torch(env.scene.env_origins).cpu().numpy()
    links = poses_from_isaaclab(_torch(robot.data.body_pos_w)[:, link_ids].cpu().numpy() - origins[:, None],
                                _torch(robot.data.body_quat_w)[:, link_ids].cpu().numpy())
    objects = _object_poses_wxyz(env, spec)
    tools = _tool_poses(env, spec)
    out = []
    for i in range(env.num_envs):
        background = np.array([[0, 0, 0, 1, 0, 0, 0]], np.float64)
        out.append({"joint_pos": q[i].astype(np.float32), "joint_vel": qd[i].astype(np.float32),
                    "gripper": np.array([q[i, 7] + q[i, 8]], np.float32), "ee_pose": tools[i].astype(np.float32),
                    "body_poses": np.concatenate([background, objects[i], links[i]]).astype(np.float32)})
    return out


def body_names(spec: IsaacLabTaskSpec) -> tuple[str, ...]:
    return (BACKGROUND_BODY, *(o.name for o in spec.objects), *LINK_RECORD_NAMES)


def record_isaaclab_demos(spec: IsaacLabTaskSpec, seeds, demo_config=None, env=None, layouts=None,
                          progress=None) -> list[dict]:
    """Scripted demos for `seeds` in Isaac Lab, num_envs at a time, recorded by its recorder manager.

    Each env runs the Task's scripted demonstrator on the layout of the seed it took at reset; the env
    ends the episode itself (success term, or time_out after max_steps actions) and its recorder
    exports it with that success flag. Returns one dict per seed: seed, success, steps.
    """
    import torch

    from sim_tasks.demonstrator import DemoConfig

    seeds = [int(s) for s in seeds]
    if env is None:
        env, layouts = make_isaaclab_env(spec, seeds)
    else:
        layouts.put(seeds)
    names = body_names(spec)
    env.reset(seed=seeds[0] if seeds else 0)
    demos, steps, results = {}, {}, []

    def start(i):
        inst = layouts.current.get(i)
        demos[i] = None if inst is None else layouts.task.demonstrator(inst, names, spec.control_dt,
                                                                         demo_config or DemoConfig())
        steps[i] = 0
        if inst is not None:  # the recorder writes it as the demo's `seed` attribute
            env.recorder_manager.get_episode(i).seed = int(inst.seed)

    for i in range(env.num_envs):
        start(i)
    hold = None
    while any(d is not None for d in demos.values()):
        obs = observations(env, spec)
        actions = []
        for i in range(env.num_envs):
            if demos[i] is not None:
                actions.append(to_isaaclab_action(demos[i].act(obs[i]), spec.robot_base))
            else:  # idle env (no seed left): hold the tool where it is
                hold = to_isaaclab_action(np.concatenate([obs[i]["ee_pose"], [0.08]]), spec.robot_base)
                actions.append(hold)
        running = {i: layouts.current.get(i) for i in range(env.num_envs)}
        _, _, terminated, truncated, _ = env.step(torch.tensor(np.array(actions), device=env.device))
        done = (terminated | truncated).cpu().numpy()
        succeeded = env.termination_manager.get_term(SUCCESS_TERM).cpu().numpy() if spec.config.terminate_on_success \
            else np.zeros(env.num_envs, bool)
        for i in range(env.num_envs):
            if demos[i] is None:
                continue
            steps[i] += 1
            if done[i]:
                results.append({"seed": int(running[i].seed), "success": bool(succeeded[i]), "steps": steps[i]})
                if progress is not None:
                    progress(results[-1])
                start(i)
    return results


class IsaacLabBackend(SimBackend):
    """SimBackend over env 0 of an Isaac Lab env built from a spec with terminate_on_success=False
    (for replaying the same actions as the embedded simulator)."""

    def __init__(self, spec: IsaacLabTaskSpec):
        self.spec = spec
        self.env, self.layouts = make_isaaclab_env(spec)
        self.object_names = tuple(o.name for o in spec.objects)
        self.body_names = body_names(spec)
        self.control_dt = spec.control_dt

    def reset(self, seed, object_poses=None):
        self.layouts.put([seed])
        self.env.reset(seed=int(seed))
        return self.observe()

    def step(self, action):
        import torch

        a = to_isaaclab_action(action, self.spec.robot_base)
        self.env.step(torch.tensor(a[None], device=self.env.device).repeat(self.env.num_envs, 1))
        return self.observe()

    def observe(self):
        return observations(self.env, self.spec)[0]

    def body_poses(self):
        return self.observe()["body_poses"].astype(np.float64)

    def joint_state(self):
        o = self.observe()
        return o["joint_pos"].astype(np.float64), o["joint_vel"].astype(np.float64)

    def ee_pose(self):
        return self.observe()["ee_pose"].astype(np.float64)


__all__ = ["IsaacLabBackend", "LayoutQueue", "make_isaaclab_env", "make_isaaclab_env_cfg", "observations",
           "record_isaaclab_demos"]
