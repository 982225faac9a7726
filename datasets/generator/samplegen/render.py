"""MuJoCo offscreen rendering of a scene definition: MJCF assembly, OpenCV-posed renderer.

MuJoCo is an OpenGL mesh renderer independent of the project's Gaussian renderer. Materials
are matte (objects may have a little specular) and the headlight adds ambient only, so
appearance hardly changes with the viewpoint. Headless: EGL, or osmesa when EGL is missing.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np

from .meshes import box_mesh
from .scene import SceneDef
from .textures import printed_marker

MARKER_RNG_STREAM = 900
_GL_PROBE = "import mujoco; c = mujoco.GLContext(8, 8); c.make_current(); c.free()"


def select_gl() -> str:
    """Set MUJOCO_GL before mujoco is imported: the user's choice, else EGL, else osmesa."""
    if os.environ.get("MUJOCO_GL"):
        return os.environ["MUJOCO_GL"]
    for backend in ("egl", "osmesa"):
        probe = subprocess.run([sys.executable, "-c", _GL_PROBE], env={**os.environ, "MUJOCO_GL": backend},
                               capture_output=True)
        if probe.returncode == 0:
            os.environ["MUJOCO_GL"] = backend
            return backend
    raise SystemExit("error: no headless OpenGL for MuJoCo: install EGL drivers or `apt-get install libosmesa6`, "
                     "or set MUJOCO_GL")


def _fmt(a) -> str:
    return " ".join(f"{x:.6g}" for x in np.asarray(a).ravel())


def _mesh_xml(name, v, uv, f) -> str:
    return (f'<mesh name="{name}" inertia="shell" vertex="{_fmt(v)}" texcoord="{_fmt(uv)}" '
            f'face="{_fmt(f)}"/>')


def build_mjcf(scene: SceneDef, objects: list[dict], tex_dir: Path, seed: int) -> tuple[str, dict[str, int]]:
    """The scene as MJCF (textures written to tex_dir) and the mask id of every geom by name."""
    import cv2

    def rng_for(k: int) -> np.random.Generator:  # one stream per texture
        return np.random.default_rng([seed, k])

    tex = scene.textures(rng_for)
    assets, geoms, mask_of = [], [], {}
    saved = set()

    def add(mesh: str, v, uv, f, key: str, material: str, mask_id: int) -> None:
        assets.append(_mesh_xml(mesh, v, uv, f))
        if key not in saved:  # one texture and material per key, shared by the parts that use it
            path = tex_dir / f"{key}.png"
            cv2.imwrite(str(path), tex[key][::-1, :, ::-1])  # MuJoCo puts file row 0 at v = 0: store bottom-up
            saved.add(key)
            assets.append(f'<texture name="t_{key}" type="2d" file="{path}"/>')
            assets.append(f'<material name="m_{key}" texture="t_{key}" {material}/>')
        geoms.append(f'<geom name="{mesh}" type="mesh" mesh="{mesh}" material="m_{key}" contype="0" conaffinity="0"/>')
        mask_of[mesh] = mask_id

    for s in scene.statics:
        v, uv, f = box_mesh(s.size, s.uv_rects)
        add(s.name, v + np.array(s.centre), uv, f, s.texture, 'specular="0" shininess="0" reflectance="0"', s.mask_id)

    for obj, o in zip(objects, scene.objects):
        for part, (v, uv, f) in obj["_parts"].items():
            mesh = f"{o.name}_{part}"
            key = mesh if mesh in tex else o.name
            add(mesh, v @ obj["_rot"].T + obj["_base"], uv, f, key,
                f'specular="{o.specular:g}" shininess="0.3" reflectance="0"', obj["mask_id"])

    if scene.marker is not None:  # paper on the support: a box 0.3 mm thick, the print on its top face
        m = scene.marker
        px_per_m = 6000  # 0.17 mm per texel: sharp at any distance the cameras take
        tex["marker"] = printed_marker(m.dictionary, m.marker_id, round(m.side * px_per_m), round(m.border * px_per_m),
                                       rng_for(MARKER_RNG_STREAM))
        paper = m.side + 2 * m.border
        rects = [(0.0, 0.0, 0.01, 0.01)] * 6
        rects[4] = (0.0, 0.0, 1.0, 1.0)
        v, uv, f = box_mesh((paper, paper, m.thickness), rects)
        c, s_ = np.cos(np.radians(m.yaw_deg)), np.sin(np.radians(m.yaw_deg))
        rot = np.array([[c, -s_, 0.0], [s_, c, 0.0], [0.0, 0.0, 1.0]])
        support_id = next(s.mask_id for s in scene.statics if s.name == scene.support)
        add("marker", v @ rot.T + np.array([*m.xy, scene.top_z + m.thickness / 2]), uv, f, "marker",
            'specular="0" shininess="0" reflectance="0"', support_id)

    a = scene.ambient
    nl = "\n"
    xml = f"""<mujoco model="{scene.name}_capture">
  <compiler autolimits="true"/>
  <statistic extent="3" center="0 -0.5 {scene.top_z:g}"/>
  <visual>
    <global offwidth="{scene.width}" offheight="{scene.height}" fovy="{scene.fovy_deg}"/>
    <headlight ambient="{a[0]} {a[1]} {a[2]}" diffuse="0 0 0" specular="0 0 0"/>
    <quality shadowsize="8192" offsamples="8"/>
    <map znear="0.005" zfar="{scene.zfar:g}" shadowclip="{scene.shadowclip:g}"/>
  </visual>
  <asset>
    <texture name="sky" type="skybox" builtin="gradient" rgb1="{scene.sky[0]}" rgb2="{scene.sky[1]}" width="64" height="64"/>
    {nl.join('    ' + x for x in assets)}
  </asset>
  <worldbody>
{nl.join('    ' + x for x in scene.lights)}
    {nl.join('    ' + g for g in geoms)}
    <camera name="cam" pos="0 -1 0.5" quat="1 0 0 0" fovy="{scene.fovy_deg}"/>
  </worldbody>
</mujoco>
"""
    return xml, mask_of


class SceneRenderer:
    """MuJoCo offscreen renderer posed with OpenCV world_from_cam matrices."""

    def __init__(self, xml: str, width: int, height: int, K: np.ndarray):
        import mujoco

        self.mj = mujoco
        self.K = K
        self.model = mujoco.MjModel.from_xml_string(xml)
        self.data = mujoco.MjData(self.model)
        self.renderer = mujoco.Renderer(self.model, height, width)
        self.cam_id = mujoco.mj_name2id(self.model, mujoco.mjtObj.mjOBJ_CAMERA, "cam")

    def geom_names(self) -> list[str]:
        return [self.mj.mj_id2name(self.model, self.mj.mjtObj.mjOBJ_GEOM, g) or "" for g in range(self.model.ngeom)]

    def _pose(self, world_from_cam: np.ndarray) -> None:
        # MuJoCo cameras look along -z with +y up: flip OpenCV's y and z axes.
        r = world_from_cam[:3, :3] @ np.diag([1.0, -1.0, -1.0])
        quat = np.zeros(4)
        self.mj.mju_mat2Quat(quat, r.ravel())
        self.model.cam_pos[self.cam_id] = world_from_cam[:3, 3]
        self.model.cam_quat[self.cam_id] = quat
        self.mj.mj_forward(self.model, self.data)

    def rgb(self, world_from_cam) -> np.ndarray:
        self._pose(world_from_cam)
        self.renderer.update_scene(self.data, camera=self.cam_id)
        return self.renderer.render().copy()

    def exposure(self, poses: list[np.ndarray]) -> np.ndarray:
        """One exposure over sub-exposure poses (a shaken camera): the mean of their renders."""
        if len(poses) == 1:
            return self.rgb(poses[0])
        subs = [self.rgb(p) for p in poses]
        return np.mean(np.stack(subs).astype(np.float32), axis=0).round().astype(np.uint8)

    def depth_and_segmentation(self, world_from_cam) -> tuple[np.ndarray, np.ndarray]:
        self._pose(world_from_cam)
        self.renderer.enable_depth_rendering()
        self.renderer.update_scene(self.data, camera=self.cam_id)
        depth = self.renderer.render().copy()
        self.renderer.disable_depth_rendering()
        self.renderer.enable_segmentation_rendering()
        self.renderer.update_scene(self.data, camera=self.cam_id)
        seg = self.renderer.render()[..., 0].copy()  # geom id, -1 for nothing
        self.renderer.disable_segmentation_rendering()
        return depth, seg

    def ray_depth(self, world_from_cam, u: float, v: float) -> float:
        """z-depth of the first surface through pixel coordinate (u, v) by MuJoCo's ray caster."""
        K = self.K
        d_cam = np.array([(u - K[0, 2]) / K[0, 0], (v - K[1, 2]) / K[1, 1], 1.0])
        d_world = world_from_cam[:3, :3] @ d_cam
        geomid = np.zeros(1, np.int32)
        dist = self.mj.mj_ray(self.model, self.data, world_from_cam[:3, 3], d_world / np.linalg.norm(d_world),
                              None, 1, -1, geomid)
        return float(dist / np.linalg.norm(d_world)) if dist >= 0 else float("nan")

    def close(self) -> None:
        self.renderer.close()


def check_camera_convention(r: SceneRenderer, world_from_cam: np.ndarray) -> float:
    """Max relative gap between rendered depth and ray-cast depth at a few pixels: proves
    that K, the pixel-centre convention and the OpenCV pose map onto what MuJoCo draws."""
    depth, _ = r.depth_and_segmentation(world_from_cam)
    h, w = depth.shape
    worst = 0.0
    for fr, fc in [(0.1, 0.1), (0.5, 0.5), (0.9, 0.9), (0.27, 0.8), (0.73, 0.15)]:
        row, col = int(fr * h), int(fc * w)
        ray = r.ray_depth(world_from_cam, col + 0.5, row + 0.5)  # pixel (row, col) centre
        worst = max(worst, abs(ray - depth[row, col]) / ray)
    return worst
