"""Test bed for the tracker: "real" camera streams of a scene under physics the twin does not model.

The real world here is MuJoCo (its own MJCF of the scene, its own physics step, its own OpenGL
mesh renderer), not the project's Gaussian renderer or the Newton twin: objects are the scene's
collision hulls in their mean Gaussian colour, the support's top carries the background
Gaussians' colours as a texture, lighting is mostly ambient with some headlight shading, and
frames get sensor noise. What differs from the twin's model is a Scenario: a heavier or
slipperier object, an unmodelled push, an object taken away by hand. Pushes the twin does know
about (stand-ins for the robot's modelled actions) come with the stream as known wrenches; in the robot's
scenarios (robot_scenarios) MuJoCo's Panda pushes an object itself (sim_tasks.real_robot), and the stream
carries its joint states, what a robot's log gives the twin.
Ground-truth poses per frame are for scoring only: the tracker never reads them.

Import this module before anything imports mujoco: MuJoCo picks its OpenGL backend on import
(headless: MUJOCO_GL=egl, or osmesa).
"""

from __future__ import annotations

import math
import os
import sys
from dataclasses import dataclass, field

if "mujoco" not in sys.modules:
    os.environ.setdefault("MUJOCO_GL", "egl")

import numpy as np
import torch

from gwm.cameras import Cameras, CameraSpec, intrinsics_from_fov, look_at
from gwm.geometry import matrix_to_pose7, positive_w, quat_multiply, quat_to_rotmat
from gwm.track.stream import JOINT_COLUMNS
from sim_tasks.real_robot import RealRobot, RobotPush, attach_panda

GRAVITY = 9.81


@dataclass(frozen=True)
class Push:
    """A force on one object's COM, world frame, held for `duration` seconds from `start`."""

    body: str
    start: float
    duration: float
    force: tuple[float, float, float]

    def active(self, t: float) -> bool:
        return self.start - 1e-9 <= t < self.start + self.duration - 1e-9


@dataclass(frozen=True)
class Scenario:
    name: str
    duration: float = 3.0  # s
    known_pushes: tuple[Push, ...] = ()  # applied in the real world and told to the twin
    unmodelled_pushes: tuple[Push, ...] = ()  # real world only
    removals: tuple[tuple[str, float], ...] = ()  # (object, time): lifted out of the scene by hand
    mass_scale: tuple[tuple[str, float], ...] = ()  # real mass = scene mass * scale
    friction: tuple[tuple[str, float], ...] = ()  # real friction of the object against everything
    robot_push: RobotPush | None = None  # the robot pushes an object; the twin is told its joint states only
    description: str = ""

    @property
    def model_is_right(self) -> bool:
        return not (self.unmodelled_pushes or self.removals or self.mass_scale or self.friction)


@dataclass
class RealStream:
    scenario: Scenario
    fps: float
    body_names: tuple[str, ...]  # the scene's objects (the twin's bodies), in scene order
    cameras: Cameras
    camera_specs: tuple[CameraSpec, ...]
    frames: np.ndarray  # (T, C, H, W, 3) uint8
    true_poses: np.ndarray  # (T, B, 7) xyz + quat wxyz, for scoring only
    known_wrenches: np.ndarray  # (T, B, 6) force, torque applied during frame t -> t+1 (known pushes)
    present: np.ndarray = field(default=None)  # (T, B) bool: the object is still in the scene
    joints: np.ndarray | None = None  # (T, 9) the robot's measured joint positions per frame, when it is in the scene

    @property
    def num_frames(self) -> int:
        return len(self.frames)

    def true_errors(self, t: int, names, poses: np.ndarray, com_body: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(N,3) position and (N,3) rotation-vector errors (true - given, world frame, the rigid offset about each
        body's COM, as gwm.track's estimates are) of the bodies `names` at frame t, from their poses (N,7, xyz +
        quat wxyz) and COMs in their own frames (N,3); zero for a body no longer in the scene. The truth: for the
        benchmark's measure of the law fed exact errors, never for the tracker."""
        index = [self.body_names.index(n) for n in names]
        true, poses = self.true_poses[t, index], np.asarray(poses, np.float64)
        com = np.asarray(com_body, np.float64)
        position = (np.einsum("nij,nj->ni", quat_to_rotmat(true[:, 3:]), com) + true[:, :3]
                    - np.einsum("nij,nj->ni", quat_to_rotmat(poses[:, 3:]), com) - poses[:, :3])
        turn = positive_w(quat_multiply(true[:, 3:], poses[:, 3:] * np.array([1.0, -1.0, -1.0, -1.0])))
        sin = np.linalg.norm(turn[:, 1:], axis=1)
        scale = np.where(sin > 1e-12, 2.0 * np.arctan2(sin, turn[:, 0]) / np.maximum(sin, 1e-12), 2.0)
        rotation = turn[:, 1:] * scale[:, None]
        gone = ~self.present[t, index]
        position[gone], rotation[gone] = 0.0, 0.0
        return position, rotation


def slide_push_force(mass: float, friction: float, distance: float, duration: float) -> float:
    """Force (N) that, held for `duration` s on a resting body, makes it slide `distance` m in all
    under Coulomb friction: 0.5 a tau^2 + (a tau)^2 / (2 mu g) = distance, F = m (a + mu g)."""
    mg = friction * GRAVITY
    tau = duration
    a2, a1 = tau * tau / (2 * mg), 0.5 * tau * tau
    a = (-a1 + math.sqrt(a1 * a1 + 4 * a2 * distance)) / (2 * a2)
    return mass * (a + mg)


def standard_scenarios(scene, duration: float = 3.0) -> list[Scenario]:
    """The issue's scenarios for any scene with >= 2 movable objects, derived from its geometry:
    a modelled push sized to slide the first object (role "object") ~6 cm toward the support's centre
    (a tall one tips over instead), seen with the model right, the object slipperier (0.9x the friction
    the twin slides it at), and the object heavier; an unmodelled push of the steadiest other body at
    t = 1 s, sideways; that body taken away at t = 1 s. Pushes are sized with the friction the twin
    slides each body at on the support (on_support_friction)."""
    if len(scene.objects) < 2:
        raise ValueError("standard_scenarios needs a scene with at least two movable objects")
    a = next((o for o in scene.objects if o.role == "object"), scene.objects[0])
    # The unmodelled push goes to the steadiest other body (widest base for its height), which slides
    # rather than tips over: a tumbling body is another test.
    b = max((o for o in scene.objects if o is not a), key=_steadiness)
    centre = _support_centre(scene)

    def direction(obj, turn: float) -> np.ndarray:
        d = centre[:2] - obj.world_from_body[:2, 3].numpy()
        d = d / np.linalg.norm(d) if np.linalg.norm(d) > 1e-3 else np.array([1.0, 0.0])
        c, s = math.cos(turn), math.sin(turn)
        return np.array([c * d[0] - s * d[1], s * d[0] + c * d[1], 0.0])

    tau = 0.4  # a hand-speed nudge: about 0.3 m/s at most
    fa = slide_push_force(a.mass, on_support_friction(scene, a), 0.06, tau) * direction(a, 0.0)
    fb = slide_push_force(b.mass, on_support_friction(scene, b), 0.06, tau) * direction(b, math.pi / 2)
    known = (Push(a.name, 0.5, tau, tuple(fa)),)
    return [
        Scenario("model_right", duration, known, description=f"modelled push of {a.name}; physics as modelled"),
        Scenario("slippery", duration, known, friction=((a.name, 0.9 * on_support_friction(scene, a)),),
                 description=f"modelled push of {a.name}; its real friction is 0.9x the model's"),
        Scenario("heavy", duration, known, mass_scale=((a.name, 2.0),),
                 description=f"modelled push of {a.name}; it is really 2x heavier"),
        Scenario("unmodelled_push", duration, unmodelled_pushes=(Push(b.name, 1.0, tau, tuple(fb)),),
                 description=f"{b.name} pushed at t = 1 s by something the twin does not model"),
        Scenario("removed", duration, removals=((b.name, 1.0),),
                 description=f"{b.name} taken out of the scene at t = 1 s"),
    ]


def robot_scenarios(scene, duration: float = 3.0) -> list[Scenario]:
    """The robot's own push: its closed fingers push the object of standard_scenarios' modelled push 6 cm
    the same way (toward the support's centre) from t = 0.5 s over 0.6 s, seen with the physics as
    modelled (only the contacts differ: MuJoCo's Panda against Newton's), the object 2x heavier, and 0.9x
    as slippery. The twin is told the robot's joint states, never its forces."""
    known = standard_scenarios(scene, duration)[0].known_pushes[0]
    direction = np.asarray(known.force) / np.linalg.norm(known.force)
    push = RobotPush(known.body, 0.5, 0.6, 0.06, tuple(direction))
    mu = 0.9 * on_support_friction(scene, next(o for o in scene.objects if o.name == push.body))
    return [
        Scenario("robot_push", duration, robot_push=push,
                 description=f"the robot pushes {push.body}; physics as modelled"),
        Scenario("robot_heavy", duration, robot_push=push, mass_scale=((push.body, 2.0),),
                 description=f"the robot pushes {push.body}; it is really 2x heavier"),
        Scenario("robot_slippery", duration, robot_push=push, friction=((push.body, mu),),
                 description=f"the robot pushes {push.body}; its real friction is 0.9x the model's"),
    ]


def on_support_friction(scene, obj) -> float:
    """The friction between obj and the support in the twin: MuJoCo takes the larger of a contact pair's
    values (and Newton hands it one per shape), so a 0.6 object on a 0.8 support slides at 0.8."""
    return max(float(obj.friction), float(scene.support_friction))


def _steadiness(obj) -> float:
    """Half the base's smallest width over the COM's height above the base (tips when pushed if < ~mu)."""
    v = obj.collision_vertices
    return float(0.5 * min(np.ptp(v[:, 0]), np.ptp(v[:, 1])) / max(-v[:, 2].min(), 1e-3))


def _support_centre(scene) -> np.ndarray:
    v = scene.support_vertices
    lo, hi = v.min(0), v.max(0)
    return np.array([(lo[0] + hi[0]) / 2, (lo[1] + hi[1]) / 2, hi[2]])


def observing_cameras(scene, count: int, width: int, height: int, fov_y_deg: float = 45.0,
                      elevation_deg: float = 55.0, azimuths_deg=None) -> tuple[Cameras, tuple[CameraSpec, ...]]:
    """1-3 fixed cameras around the objects (first one on the robot's right), all seeing every object.
    azimuths_deg: world azimuths (from +x about +z, as seen from the objects' centre) instead, one per
    camera, for rooms where the default ring would put a camera behind a wall."""
    if not 1 <= count <= 3:
        raise ValueError(f"observing_cameras: 1 to 3 cameras, got {count}")
    centre = np.mean([o.world_from_body[:3, 3].numpy() for o in scene.objects], 0)
    spread = max(np.linalg.norm(o.world_from_body[:2, 3].numpy() - centre[:2]) for o in scene.objects) + 0.18
    fov = math.radians(min(fov_y_deg, fov_y_deg * width / height))
    dist = spread / math.tan(fov / 2)
    base = scene.robot_base.numpy()
    yaw0 = math.atan2(base[1, 0], base[0, 0])
    elev = math.radians(elevation_deg)
    K = intrinsics_from_fov(fov_y_deg, width, height)
    mats, specs = [], []
    if azimuths_deg is not None and len(azimuths_deg) != count:
        raise ValueError(f"observing_cameras: {len(azimuths_deg)} azimuths for {count} cameras")
    angles = ([yaw0 + az for az in (-math.pi / 2, math.pi / 6, 5 * math.pi / 6)[:count]] if azimuths_deg is None
              else [math.radians(a) for a in azimuths_deg])
    for k, a in enumerate(angles):
        eye = centre + dist * np.array([math.cos(elev) * math.cos(a), math.cos(elev) * math.sin(a), math.sin(elev)])
        m = look_at(tuple(eye), tuple(centre))
        mats.append(m)
        specs.append(CameraSpec(f"cam{k}", K, width, height, "world", m))
    return Cameras(torch.stack([K] * count), torch.stack(mats), width, height), tuple(specs)


# MuJoCo world ------------------------------------------------------------------------------------
def _fmt(a) -> str:
    return " ".join(f"{x:.7g}" for x in np.asarray(a, np.float64).ravel())


def support_texture(scene, texels: int = 512) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The background Gaussians seen straight down onto the support's top: (texels, texels, 3) uint8,
    and the top face's xy box (lo, hi). A plane seen by a downward pinhole is an exact scaled image."""
    from gwm.render import rasterize

    v = scene.support_vertices
    lo, hi = v.min(0), v.max(0)
    size = max(hi[0] - lo[0], hi[1] - lo[1])
    height = 10.0
    f = texels * height / size
    centre = (lo + hi) / 2
    K = torch.tensor([[f, 0, texels / 2], [0, f, texels / 2], [0, 0, 1]], dtype=torch.float32)
    # Looking down -z with image x along world +x and image y along world -y (row 0 at max y).
    m = torch.eye(4)
    m[:3, :3] = torch.tensor([[1.0, 0, 0], [0, -1.0, 0], [0, 0, -1.0]])
    m[:3, 3] = torch.tensor([centre[0], centre[1], hi[2] + height])
    with torch.no_grad():
        out = rasterize(scene.background.detach().to("cpu", torch.float32).with_sh_degree(0),
                        Cameras(K, m, texels, texels), background=torch.tensor([0.5, 0.5, 0.5]), backend="cpu")
    img = (out.rgb[0].clamp(0, 1) * 255 + 0.5).to(torch.uint8).numpy()
    half = size / 2
    return img, np.array([centre[0] - half, centre[1] - half]), np.array([centre[0] + half, centre[1] + half])


def build_real_mjcf(scene, scenario: Scenario, physics_dt: float, tex_path: str, width: int, height: int) -> str:
    """The scene as MJCF with the scenario's real masses and frictions."""
    mass_scale, friction = dict(scenario.mass_scale), dict(scenario.friction)
    unknown = sorted((set(mass_scale) | set(friction)) - {o.name for o in scene.objects})
    if unknown:
        raise ValueError(f"scenario {scenario.name!r} names objects {unknown} the scene does not have")
    v = scene.support_vertices
    lo, hi = v.min(0), v.max(0)
    c, h = (lo + hi) / 2, (hi - lo) / 2
    assets = [f'<texture name="t_support" type="2d" file="{tex_path}"/>',
              '<material name="m_support" texture="t_support" specular="0" shininess="0" reflectance="0"/>']
    # Top face as a thin textured box mesh (UVs on the top four vertices: the square texture box).
    size = max(hi[0] - lo[0], hi[1] - lo[1])
    sq_lo = c[:2] - size / 2
    top_v, top_uv = [], []
    for sx in (lo[0], hi[0]):
        for sy in (lo[1], hi[1]):
            for sz in (hi[2] - 0.001, hi[2]):
                top_v.append([sx, sy, sz])
                top_uv.append([(sx - sq_lo[0]) / size, (sy - sq_lo[1]) / size])
    top_f = [[0, 2, 6], [0, 6, 4], [1, 5, 7], [1, 7, 3], [0, 4, 5], [0, 5, 1],
             [2, 3, 7], [2, 7, 6], [0, 1, 3], [0, 3, 2], [4, 6, 7], [4, 7, 5]]
    assets.append(f'<mesh name="support_top" vertex="{_fmt(top_v)}" texcoord="{_fmt(top_uv)}" face="{_fmt(top_f)}"/>')
    geoms = [f'<geom name="support" type="box" pos="{_fmt(c - [0, 0, 0.0005])}" size="{_fmt(h - [0, 0, 0.0005])}" '
             f'rgba="0.45 0.4 0.35 1" contype="0" conaffinity="0"/>',
             '<geom name="support_top" type="mesh" mesh="support_top" material="m_support" contype="0" '
             'conaffinity="0" group="1"/>']
    bodies, pairs = [], []
    names = [o.name for o in scene.objects]
    for o in scene.objects:
        rgb = o.splats.rgb_dc.mean(0).numpy()
        mass = o.mass * mass_scale.get(o.name, 1.0)
        assets.append(f'<mesh name="hull_{o.name}" vertex="{_fmt(o.collision_vertices)}"/>')
        p7 = matrix_to_pose7(o.world_from_body.numpy())
        bodies.append(f'<body name="{o.name}" pos="{_fmt(p7[:3])}" quat="{_fmt(p7[3:])}"><freejoint/>'
                      f'<geom name="g_{o.name}" type="mesh" mesh="hull_{o.name}" mass="{mass:.7g}" '
                      f'rgba="{_fmt(rgb)} 1" contype="0" conaffinity="0"/></body>')
    mu = {o.name: friction.get(o.name, o.friction) for o in scene.objects}
    for i, a in enumerate(names):
        # Newton hands MuJoCo one friction per shape and MuJoCo takes the larger of a pair: the
        # real world does the same, except that an overridden object's value wins its contacts.
        fs = mu[a] if a in friction else max(mu[a], scene.support_friction)
        pairs.append(f'<pair geom1="g_{a}" geom2="support" friction="{fs:.6g} {fs:.6g} 0.005 0.0001 0.0001"/>')
        for b in names[i + 1:]:
            fo = min(mu[a], mu[b]) if (a in friction or b in friction) else max(mu[a], mu[b])
            pairs.append(f'<pair geom1="g_{a}" geom2="g_{b}" friction="{fo:.6g} {fo:.6g} 0.005 0.0001 0.0001"/>')
    nl = "\n    "
    return f"""<mujoco model="real_{scenario.name}">
  <option timestep="{physics_dt:.9g}" integrator="implicitfast" cone="elliptic" impratio="10" solver="Newton">
    <flag multiccd="enable"/>
  </option>
  <visual>
    <global offwidth="{max(width, 64)}" offheight="{max(height, 64)}"/>
    <headlight ambient="0.82 0.82 0.82" diffuse="0.2 0.2 0.2" specular="0 0 0"/>
    <map znear="0.01" zfar="50"/>
    <quality offsamples="4"/>
  </visual>
  <asset>
    <texture name="sky" type="skybox" builtin="flat" rgb1="0.55 0.55 0.57" rgb2="0.55 0.55 0.57" width="16" height="16"/>
    {nl.join(assets)}
  </asset>
  <worldbody>
    {nl.join(geoms)}
    {nl.join(bodies)}
    <camera name="cam" pos="0 0 2" quat="1 0 0 0" fovy="45"/>
  </worldbody>
  <contact>
    {nl.join(pairs)}
  </contact>
</mujoco>
"""


def _hull_view(model, data, renderer, cam_id: int, world_from_cam: np.ndarray, fov_y: float, option=None,
               depth: bool = False) -> np.ndarray:
    """(H,W,3) uint8 (or (H,W) depth in metres) of the MuJoCo world seen by an OpenCV camera."""
    import mujoco

    r = world_from_cam[:3, :3] @ np.diag([1.0, -1.0, -1.0])  # OpenCV -> MuJoCo camera axes
    quat = np.zeros(4)
    mujoco.mju_mat2Quat(quat, r.ravel())
    model.cam_pos[cam_id], model.cam_quat[cam_id] = world_from_cam[:3, 3], quat
    model.cam_fovy[cam_id] = fov_y
    mujoco.mj_forward(model, data)
    if depth:
        renderer.enable_depth_rendering()
    try:
        renderer.update_scene(data, camera=cam_id, scene_option=option)
        return renderer.render().copy()
    finally:
        renderer.disable_depth_rendering()


def _noisy(img: np.ndarray, noise: float, rng) -> np.ndarray:
    """uint8 frame with Gaussian sensor noise of std `noise` levels."""
    img = img.astype(np.float32)
    if noise > 0:
        img += rng.normal(0.0, noise, img.shape)
    return np.clip(img + 0.5, 0, 255).astype(np.uint8)


def record_real_stream(scene, scenario: Scenario, cameras: Cameras, camera_specs=(), fps: float = 30.0,
                       max_physics_dt: float = 0.002, noise: float = 1.5, seed: int = 0, workdir=None,
                       look=None) -> RealStream:
    """Simulate the scenario in MuJoCo and render every frame into every camera: the flat hulls, or
    with `look` (sim_tasks.sample_look.SampleLook) the sample generator's textured scene, its objects
    moved as the physics moves the hulls."""
    import tempfile

    import cv2
    import mujoco

    control_dt = 1.0 / fps
    substeps = max(1, math.ceil(control_dt / max_physics_dt - 1e-9))
    width, height = cameras.width, cameras.height
    with tempfile.TemporaryDirectory(dir=workdir) as tmp:
        tex, _, _ = support_texture(scene)
        tex_path = os.path.join(tmp, "support.png")
        cv2.imwrite(tex_path, tex[::-1, :, ::-1])  # MuJoCo puts file row 0 at v = 0: store bottom-up
        xml = build_real_mjcf(scene, scenario, control_dt / substeps, tex_path, width, height)
        if scenario.robot_push is None:
            model = mujoco.MjModel.from_xml_string(xml)
        else:
            spec = mujoco.MjSpec.from_string(xml)
            attach_panda(spec, scene.robot_base.numpy(), {f"g_{o.name}" for o in scene.objects})
            model = spec.compile()
    data = mujoco.MjData(model)
    mujoco.mj_forward(model, data)
    robot = None if scenario.robot_push is None else RealRobot(model, data, scene, scenario.robot_push)
    renderer = mujoco.Renderer(model, height, width) if look is None or robot is not None else None
    robot_only = None
    if look is not None and robot is not None:  # the hull world draws only the robot: the look draws the rest
        robot_only = mujoco.MjvOption()
        model.geom_group[~np.isin(np.arange(model.ngeom), robot.geoms())] = 5
        robot_only.geomgroup[5] = 0
    cam_id = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_CAMERA, "cam")
    names = tuple(o.name for o in scene.objects)
    body_ids = [mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_BODY, n) for n in names]
    qadr = [model.jnt_qposadr[model.body_jntadr[b]] for b in body_ids]
    vadr = [model.jnt_dofadr[model.body_jntadr[b]] for b in body_ids]
    fov_y = [2 * math.degrees(math.atan(0.5 * height / float(k[1, 1]))) for k in cameras.Ks]
    rng = np.random.default_rng(seed)
    n = int(round(scenario.duration * fps))
    frames = np.zeros((n, len(cameras), height, width, 3), np.uint8)
    true_poses = np.zeros((n, len(names), 7))
    known = np.zeros((n, len(names), 6))
    present = np.ones((n, len(names)), bool)
    joints = None if robot is None else np.zeros((n, JOINT_COLUMNS))
    removed: set[str] = set()
    for push in scenario.known_pushes + scenario.unmodelled_pushes:
        if push.body not in names:
            raise ValueError(f"scenario {scenario.name!r}: push on {push.body!r}, not an object of the scene {names}")
    try:
        for t in range(n):
            now = t * control_dt
            for name, when in scenario.removals:
                if name not in removed and now >= when - 1e-9:  # lifted away between frames
                    j = names.index(name)
                    data.qpos[qadr[j]:qadr[j] + 3] = [100.0 + 10 * j, 100.0, 0.0]
                    data.qvel[vadr[j]:vadr[j] + 6] = 0.0
                    removed.add(name)
                    mujoco.mj_forward(model, data)
            for j, b in enumerate(body_ids):
                true_poses[t, j, :3] = data.xpos[b]
                q = data.xquat[b].copy()
                true_poses[t, j, 3:] = q if q[0] >= 0 else -q
                present[t, j] = names[j] not in removed
            if robot is not None:
                joints[t] = robot.joints()
                robot.command(now + control_dt)
            if look is not None:
                look.pose_objects(names, true_poses[t], present[t])
            for c in range(len(cameras)):
                w2c = cameras.world_from_cam[c].double().numpy()
                if look is None:
                    frames[t, c] = _noisy(_hull_view(model, data, renderer, cam_id, w2c, fov_y[c]), noise, rng)
                elif robot is None:
                    frames[t, c] = _noisy(look.render(w2c, fov_y[c]), noise, rng)
                else:  # the robot drawn by the hull world over the look's scene, the nearer in front
                    img, depth = look.render(w2c, fov_y[c], depth=True)
                    arm = _hull_view(model, data, renderer, cam_id, w2c, fov_y[c], robot_only)
                    arm_depth = _hull_view(model, data, renderer, cam_id, w2c, fov_y[c], robot_only, depth=True)
                    front = (arm_depth < depth) & (arm_depth < 0.5 * model.vis.map.zfar * model.stat.extent)
                    frames[t, c] = _noisy(np.where(front[..., None], arm, img), noise, rng)
            data.xfrc_applied[:] = 0.0
            for push in scenario.known_pushes + scenario.unmodelled_pushes:
                if push.active(now):
                    j = names.index(push.body)
                    data.xfrc_applied[body_ids[j], :3] += push.force
                    if push in scenario.known_pushes:
                        known[t, j, :3] += push.force
            mujoco.mj_step(model, data, nstep=substeps)
    finally:
        if renderer is not None:
            renderer.close()
    return RealStream(scenario, fps, names, cameras, tuple(camera_specs), frames, true_poses, known, present, joints)


__all__ = ["Push", "RealStream", "Scenario", "build_real_mjcf", "observing_cameras", "record_real_stream",
           "robot_scenarios", "slide_push_force", "standard_scenarios", "support_texture"]
