"""The embedded simulator: Newton (SolverMuJoCo) with the exported scene USD and the Panda.

One `newton.ModelBuilder` composes `add_usd(scene)` (static support, rigid objects with convex
hulls, mass and friction) and then `add_mjcf(panda)` at /World/RobotBase. Physics settings are
the ones measured in FACTS.md: MuJoCo's C backend (CPU), Newton solver, implicitfast
integrator, elliptic friction cone, impratio 10, dt 2 ms. Multi-CCD is on so convex-hull
objects rest on several contact points instead of one (one point let boxes sink ~5 mm).
On a CUDA device the same code runs MuJoCo Warp.

Control: `step(action)` solves damped-least-squares IK for the tool target (warm-started
from the last command, on newton.eval_fk), rate-limits the joint command, sets the arm's
position targets and the finger targets (half the gripper width each), then runs
`substeps` physics steps.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from gwm.geometry import matrix_to_pose7, pose7_wxyz_to_xyzw, pose7_xyzw_to_matrix, quat_to_rotmat
from sim_tasks.backend import BACKGROUND_BODY, GRIPPER_OPEN, SimBackend, check_action
from sim_tasks.kinematics import IKConfig, PandaIK
from sim_tasks.panda_model import (ARM_JOINTS, FINGER_JOINTS, FINGER_MAX, LINK_BODIES, LINK_RECORD_NAMES,
                                   TOOL_SITE, gwm_cache_dir, write_panda_mjcf)

# A comfortable elbow-up posture the home IK starts from (joints 6/7 use the kitchen model's offsets).
_IK_SEED = np.array([0.0, -0.4, 0.0, -2.3, 0.0, 0.3, 0.0])


def configure_warp() -> None:
    """Point Warp's kernel cache at a lasting folder (WARP_CACHE_PATH, else ~/.cache/gwm/warp)
    before Warp initialises, and silence its per-module log lines."""
    os.environ.setdefault("WARP_CACHE_PATH", str(gwm_cache_dir() / "warp"))
    import warp as wp

    wp.config.log_level = wp.LOG_WARNING  # no per-module load lines
    wp.config.kernel_cache_dir = os.environ["WARP_CACHE_PATH"]
    wp.init()


@dataclass(frozen=True)
class NewtonSimConfig:
    device: str = "cpu"
    physics_dt: float = 0.002  # s (FACTS: stable grasps with the C backend at 2 ms)
    substeps: int = 25  # physics steps per control step: 25 x 2 ms = 50 ms, i.e. control at 20 Hz
    mujoco_backend: str = "auto"  # "c" (MuJoCo C, CPU), "warp" (MuJoCo Warp), "auto": c on CPU, warp on CUDA
    # "mujoco" (C backend only): the first substep goes through SolverMuJoCo.step (it pushes the
    # state and the joint targets), the other substeps run mujoco.mj_step on the solver's MjData
    # and the Newton state is pulled once at the end. Newton's per-step glue (7 Warp launches,
    # ~0.4-1 ms on CPU) dwarfs mj_step (~50 us) here, so this is ~10x faster. "newton": every
    # substep through SolverMuJoCo.step (the reference; tests compare the two).
    substep_mode: str = "mujoco"
    gravity_compensation: bool = True
    # Home: tool this far from the robot base (base frame, m), pointing down.
    home_tool_offset: tuple[float, float, float] = (0.40, 0.0, 0.35)
    max_joint_speed: float = 2.5  # rad/s limit on the arm command
    velocity_feedforward: bool = True  # lead the joint targets by the servo's damping lag
    ik: IKConfig = field(default_factory=IKConfig)

    @property
    def control_dt(self) -> float:
        return self.physics_dt * self.substeps



def index_by_suffix(names, suffix: str, what: str) -> int:
    """The one entry of names whose last path element is suffix."""
    hits = [i for i, n in enumerate(names) if n.split("/")[-1] == suffix]
    if len(hits) != 1:
        raise RuntimeError(f"expected one {what} named {suffix!r} in the Newton model, found {len(hits)}")
    return hits[0]


def advance(solver, model, state_0, state_1, control, dt: float, substeps: int, fast: bool):
    """substeps physics steps from state_0; returns (state_0, state_1) swapped so the new state is first.
    fast (MuJoCo C): the first substep through SolverMuJoCo.step, the rest straight on MjData."""
    if fast and substeps > 1:
        import mujoco

        solver.step(state_0, state_1, control, None, dt)  # pushes state and targets
        mujoco.mj_step(solver.mj_model, solver.mj_data, nstep=substeps - 1)
        # Pull MuJoCo's coordinates into the Newton state (what the last SolverMuJoCo.step would
        # have done; a private method of newton 1.8, which pyproject pins).
        solver._update_newton_state(model, state_1, solver.mj_data, state_prev=state_0)
        return state_1, state_0
    for _ in range(substeps):
        solver.step(state_0, state_1, control, None, dt)
        state_0, state_1 = state_1, state_0
    return state_0, state_1


def home_tool_pose(scene, config: NewtonSimConfig) -> np.ndarray:
    """(4,4) tool pose at home: home_tool_offset in the robot base's frame, z axis pointing down."""
    base = scene.robot_base.numpy()
    target = np.eye(4)
    # Tool z (approach) straight down, tool x along the base's x axis.
    target[:3, :3] = base[:3, :3] @ np.diag([1.0, -1.0, -1.0])
    target[:3, 3] = base[:3, :3] @ np.asarray(config.home_tool_offset) + base[:3, 3]
    return target


def resolve_backend(config: NewtonSimConfig, device) -> str:
    """The MuJoCo backend config asks for on this Warp device ("c" or "warp"); bad settings refused."""
    backend = config.mujoco_backend
    if backend == "auto":
        backend = "c" if device.is_cpu else "warp"
    if backend not in ("c", "warp"):
        raise ValueError(f"NewtonSimConfig.mujoco_backend must be 'c', 'warp' or 'auto', got {backend!r}")
    if config.substep_mode not in ("mujoco", "newton"):
        raise ValueError(f"NewtonSimConfig.substep_mode must be 'mujoco' or 'newton', got {config.substep_mode!r}")
    return backend


def build_world(scene_usd: Path, scene, config: NewtonSimConfig):
    """One world's ModelBuilder: the scene USD (rigid objects, static support) and the Panda at the
    scene's robot base. Returns (builder, object names); bodies are labelled /World/Objects/<name>."""
    import warp as wp

    import newton

    builder = newton.ModelBuilder()
    newton.solvers.SolverMuJoCo.register_custom_attributes(builder)
    # Gaussians are rendered by gwm, not Newton: skip parsing the splat prims (a reconstructed
    # background can hold millions).
    loaded = builder.add_usd(str(scene_usd), apply_up_axis_from_stage=True, ignore_paths=[r".*/Gaussians$"])
    path_body = loaded["path_body_map"]
    object_names = tuple(o.name for o in scene.objects)
    missing = [n for n in object_names if f"/World/Objects/{n}" not in path_body]
    if missing:
        raise ValueError(f"{scene_usd}: objects {missing} have no rigid body after add_usd; "
                         "they need UsdPhysics.RigidBodyAPI (re-export the scene with export_usd)")
    base = scene.robot_base.numpy()
    base_q = pose7_wxyz_to_xyzw(matrix_to_pose7(base.astype(np.float64)))  # Warp quats are xyzw
    robot_xform = wp.transform(wp.vec3(*base_q[:3]), wp.quat(*base_q[3:]))
    builder.add_mjcf(str(write_panda_mjcf(gravity_compensation=config.gravity_compensation)),
                     xform=robot_xform, floating=False, visual_classes=("panda_viz",),
                     collider_classes=("panda_col", "panda_finger"))
    return builder, object_names


# MuJoCo Warp preallocates constraint rows and contacts per world; its default estimate (64 rows here)
# overflows once the fingers close on an object (multi-CCD, elliptic cones: 3 rows per contact), and
# dropped rows change the grasp. MuJoCo C grows its arena as needed.
WARP_NJMAX = 600
WARP_NCONMAX = 200


def make_mujoco_solver(model, backend: str, separate_worlds: bool | None = None):
    """SolverMuJoCo with the settings measured in FACTS.md (backend "c": MuJoCo C on CPU, "warp": MuJoCo Warp)."""
    import newton

    sizes = {"njmax": WARP_NJMAX, "nconmax": WARP_NCONMAX} if backend == "warp" else {}
    with warnings.catch_warnings():
        # The MJCF's finger geoms author a 1 mm margin that MuJoCo's native CCD cannot use;
        # Newton zeroes it with one warning per geom. Expected here: silence just those.
        warnings.filterwarnings("ignore", message=".*authored margin=.*zeroed for NATIVECCD.*")
        return newton.solvers.SolverMuJoCo(
            model, use_mujoco_cpu=(backend == "c"), separate_worlds=separate_worlds, solver="newton",
            integrator="implicitfast", cone="elliptic", impratio=10.0, enable_multiccd=True, **sizes,
        )


def link_visual_meshes(model, link_bodies) -> dict[str, list[tuple[np.ndarray, np.ndarray]]]:
    """Visual meshes per robot link (record name -> [(vertices (V,3) in the link frame, faces (F,3))]).

    Visual-only mesh shapes (the MJCF's panda_viz geoms); a link without any falls back
    to its collision meshes.
    """
    import newton

    flags, bodies, types = model.shape_flags.numpy(), model.shape_body.numpy(), model.shape_type.numpy()
    scales, xforms = model.shape_scale.numpy(), model.shape_transform.numpy()
    out = {}
    for record, body in zip(LINK_RECORD_NAMES, link_bodies):
        shapes = [k for k in range(model.shape_count) if bodies[k] == body and types[k] == int(newton.GeoType.MESH)]
        visual = [k for k in shapes if not flags[k] & int(newton.ShapeFlags.COLLIDE_SHAPES)]
        meshes = []
        for k in visual or shapes:
            src = model.shape_source[k]
            v = np.asarray(src.vertices, np.float64) * scales[k]
            m = pose7_xyzw_to_matrix(xforms[k].astype(np.float64))
            meshes.append((v @ m[:3, :3].T + m[:3, 3], np.asarray(src.indices, np.int64).reshape(-1, 3)))
        out[record] = meshes
    return out


class NewtonBackend(SimBackend):
    """Newton + MuJoCo (C backend on CPU) simulation of the scene USD with the Panda."""

    def __init__(self, scene_usd: str | os.PathLike, config: NewtonSimConfig = NewtonSimConfig(), scene=None):
        """scene: the SceneAsset read from scene_usd, if the caller already has it."""
        configure_warp()
        import warp as wp

        from gwm.scene.usd_scene import read_usd_scene

        self.config = config
        self.scene_usd = Path(scene_usd)
        self.scene = scene if scene is not None else read_usd_scene(self.scene_usd)
        self.control_dt = config.control_dt
        self.device = wp.get_device(config.device)
        backend = resolve_backend(config, self.device)

        builder, self.object_names = build_world(self.scene_usd, self.scene, config)
        self.model = model = builder.finalize(device=self.device)
        # Newton's default 0.1 m contact gap goes straight into MuJoCo's geom_gap, where
        # distances between margin and margin - gap are *inactive* contacts: zero it.
        model.shape_gap.fill_(0.0)

        labels = list(model.body_label)
        joint_labels = list(model.joint_label)
        shape_labels = list(model.shape_label)
        object_bodies = [labels.index(f"/World/Objects/{n}") for n in self.object_names]

        self.link_bodies = [index_by_suffix(labels, n, "body") for n in LINK_BODIES]
        self.arm_joints = [index_by_suffix(joint_labels, n, "joint") for n in ARM_JOINTS]
        self.finger_joints = [index_by_suffix(joint_labels, n, "joint") for n in FINGER_JOINTS]
        q_start, qd_start = model.joint_q_start.numpy(), model.joint_qd_start.numpy()
        # Coordinates (joint_q, joint_target_q) and DOFs (joint_qd, gains, limits) index differently:
        # a free object has 7 coordinates and 6 DOFs.
        self.arm_coords = q_start[self.arm_joints]
        self.finger_coords = q_start[self.finger_joints]
        self.arm_dofs = qd_start[self.arm_joints]
        self.finger_dofs = qd_start[self.finger_joints]
        child = model.joint_child.numpy()
        self.object_coords = [int(q_start[int(np.flatnonzero(child == b)[0])]) for b in object_bodies]
        self.object_bodies = object_bodies

        site = index_by_suffix(shape_labels, TOOL_SITE, "site")
        self.tool_body = int(model.shape_body.numpy()[site])
        self.body_from_tool = pose7_xyzw_to_matrix(model.shape_transform.numpy()[site].astype(np.float64))
        lower = model.joint_limit_lower.numpy()[self.arm_dofs]
        upper = model.joint_limit_upper.numpy()[self.arm_dofs]
        self.ik = PandaIK(model, self.arm_joints, self.tool_body, self.body_from_tool, lower, upper,
                          rest_q=_IK_SEED, config=config.ik)
        kp = model.joint_target_ke.numpy()[self.arm_dofs].astype(np.float64)
        self._lag_time = model.joint_damping.numpy()[self.arm_dofs].astype(np.float64) / np.maximum(kp, 1e-9)
        self.home_q = self._solve_home()
        self.ik.rest_q = self.home_q.copy()

        self.body_names = (BACKGROUND_BODY, *self.object_names, *LINK_RECORD_NAMES)
        self._pose_bodies = np.array(object_bodies + self.link_bodies)

        self.state_0, self.state_1 = model.state(), model.state()
        self.control = model.control()
        self._targets = self.control.joint_target_q.numpy().copy()
        self.solver = make_mujoco_solver(model, backend)
        self._fast_substeps = config.substep_mode == "mujoco" and backend == "c"
        self._q_cmd = self.home_q.copy()
        self.steps_taken = 0

    # setup --------------------------------------------------------------------------------
    def home_tool_pose(self) -> np.ndarray:
        return home_tool_pose(self.scene, self.config)

    def _solve_home(self) -> np.ndarray:
        q, pos_err, rot_err = self.ik.solve(_IK_SEED, self.home_tool_pose(), max_iterations=300)
        if pos_err > 1e-3 or rot_err > 1e-2:
            raise RuntimeError(f"home pose IK did not converge (position error {pos_err:.4f} m, rotation "
                               f"{rot_err:.4f} rad); check /World/RobotBase and home_tool_offset")
        return q

    # SimBackend ---------------------------------------------------------------------------
    def reset(self, seed: int, object_poses: Mapping[str, np.ndarray] | None = None) -> dict[str, np.ndarray]:
        import newton

        object_poses = dict(object_poses or {})
        unknown = sorted(set(object_poses) - set(self.object_names))
        if unknown:
            raise KeyError(f"reset: unknown objects {unknown}; the scene has {list(self.object_names)}")
        self.seed = int(seed)
        self.solver.reset(self.state_0)  # clears MuJoCo's warm start and applied forces
        q = self.model.joint_q.numpy().copy()
        for name, coord, obj in zip(self.object_names, self.object_coords, self.scene.objects):
            pose = np.asarray(object_poses[name], np.float64) if name in object_poses \
                else matrix_to_pose7(obj.world_from_body.numpy())
            q[coord:coord + 3] = pose[:3]
            q[coord + 3:coord + 7] = pose[[4, 5, 6, 3]]  # free joints store quaternions xyzw
        q[self.arm_coords] = self.home_q
        q[self.finger_coords] = FINGER_MAX
        for state in (self.state_0, self.state_1):
            state.joint_q.assign(q.astype(np.float32))
            state.joint_qd.zero_()
            newton.eval_fk(self.model, state.joint_q, state.joint_qd, state)
        self._q_cmd = self.home_q.copy()
        self._targets[:] = 0.0
        self._targets[self.arm_coords] = self.home_q
        self._targets[self.finger_coords] = FINGER_MAX
        self.control.joint_target_q.assign(self._targets.astype(np.float32))
        self.steps_taken = 0
        return self.observe()

    def step(self, action: np.ndarray) -> dict[str, np.ndarray]:
        a = check_action(action)
        target = np.eye(4)
        target[:3, :3] = quat_to_rotmat(a[3:7])
        target[:3, 3] = a[:3]
        q, _, _ = self.ik.solve(self._q_cmd, target)
        # Rate limit by scaling the whole joint step (clipping joints one by one would bend the tool path).
        dq = q - self._q_cmd
        dq *= min(1.0, self.config.max_joint_speed * self.control_dt / max(float(np.abs(dq).max()), 1e-12))
        self._q_cmd = self._q_cmd + dq
        target_q = self._q_cmd
        if self.config.velocity_feedforward:
            # The MJCF's joints carry viscous damping d (100 / 10 N m s/rad) against position servos
            # kp (870 / 120 N m/rad): moving at v lags the target by (d / kp) v. Leading the target
            # by that much cancels the lag (0.05-0.1 rad at 1 rad/s otherwise).
            target_q = np.clip(self._q_cmd + self._lag_time * dq / self.control_dt, self.ik.lower, self.ik.upper)
        self._targets[self.arm_coords] = target_q
        self._targets[self.finger_coords] = np.clip(a[7], 0.0, GRIPPER_OPEN) / 2.0
        self.control.joint_target_q.assign(self._targets.astype(np.float32))
        self._advance(self.config.substeps)
        self.steps_taken += 1
        return self.observe()

    def _advance(self, substeps: int) -> None:
        self.state_0, self.state_1 = advance(self.solver, self.model, self.state_0, self.state_1, self.control,
                                             self.config.physics_dt, substeps, self._fast_substeps)

    def body_poses(self) -> np.ndarray:
        body_q = self.state_0.body_q.numpy()[self._pose_bodies].astype(np.float64)  # xyz + quat xyzw
        poses = np.zeros((len(self.body_names), 7))
        poses[0, 3] = 1.0  # the background is the world frame
        poses[1:, :3] = body_q[:, :3]
        poses[1:, 3:] = body_q[:, [6, 3, 4, 5]]
        poses[1:, 3:] *= np.where(poses[1:, 3:4] < 0, -1.0, 1.0)  # canonical sign: w >= 0
        return poses

    def joint_state(self) -> tuple[np.ndarray, np.ndarray]:
        q = self.state_0.joint_q.numpy()
        qd = self.state_0.joint_qd.numpy()
        return (np.concatenate([q[self.arm_coords], q[self.finger_coords]]).astype(np.float64),
                np.concatenate([qd[self.arm_dofs], qd[self.finger_dofs]]).astype(np.float64))

    def tool_matrix(self) -> np.ndarray:
        """(4,4) world pose of the tool site."""
        return pose7_xyzw_to_matrix(self.state_0.body_q.numpy()[self.tool_body].astype(np.float64)) @ self.body_from_tool

    def ee_pose(self) -> np.ndarray:
        return matrix_to_pose7(self.tool_matrix())

    def link_visual_meshes(self) -> dict[str, list[tuple[np.ndarray, np.ndarray]]]:
        """Visual meshes per robot link (see link_visual_meshes)."""
        return link_visual_meshes(self.model, self.link_bodies)

    def snapshot(self) -> dict:
        """Everything step() depends on (Newton state, MuJoCo's data incl. its warm start, the controller's
        command), so restore() followed by the same actions reproduces the same rollout (the planning oracle
        rolls candidate action sequences out from one state)."""
        import copy

        arrays = {name: getattr(self.state_0, name).numpy().copy()
                  for name in ("joint_q", "joint_qd", "body_q", "body_qd") if getattr(self.state_0, name, None) is not None}
        return {"state": arrays, "mj_data": copy.copy(self.solver.mj_data) if hasattr(self.solver, "mj_data") else None,
                "q_cmd": self._q_cmd.copy(), "targets": self._targets.copy(), "steps": self.steps_taken}

    def restore(self, snap: dict) -> None:
        import mujoco

        for name, value in snap["state"].items():
            for state in (self.state_0, self.state_1):
                getattr(state, name).assign(value)
        if snap["mj_data"] is not None:
            mujoco.mj_copyData(self.solver.mj_data, self.solver.mj_model, snap["mj_data"])
        self._q_cmd = snap["q_cmd"].copy()
        self._targets = snap["targets"].copy()
        self.control.joint_target_q.assign(self._targets.astype(np.float32))
        self.steps_taken = snap["steps"]

    def link_matrices(self) -> np.ndarray:
        """(num_links, 4, 4) world poses of the robot links (LINK_RECORD_NAMES order)."""
        return pose7_xyzw_to_matrix(self.state_0.body_q.numpy()[self.link_bodies].astype(np.float64))


__all__ = ["NewtonBackend", "NewtonSimConfig", "advance", "build_world", "configure_warp", "index_by_suffix", "link_visual_meshes",
           "home_tool_pose", "make_mujoco_solver", "resolve_backend"]
