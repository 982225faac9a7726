"""A "real" stream that looks like the sample's own capture: the generator's textured MuJoCo scene.

sim_tasks.real_streams simulates a scenario on the authored scene's collision hulls and, by default,
draws those hulls flat in their mean Gaussian colour. A reconstructed scene's Gaussians look like the
capture they came from (textures, baked shading and shadows, haze at the edges), not like flat hulls,
so a flat stream puts the best image match off the true pose. SampleLook renders the frames instead
with the sample generator's own scene (datasets/generator/samplegen: the textured meshes, lights and
shadows the capture's images were rendered with), each object moved by the rigid motion the physics
gave its authored body.

Frames: the authored scene lives in the capture's metric frame, the generator in its own world;
`truth_from_scene` is the similarity between them (benchmarks/scene.py's align_capture fits it from
the capture's cameras and the sample's reference poses). It is used only to make and score the test
stream, never by the tracker.
"""

from __future__ import annotations

import re
import sys
import tempfile
from pathlib import Path

import numpy as np

MATCH_RADIUS_M = 0.06  # an authored object matches the true object whose centre is this close


def _pose_matrix(p7: np.ndarray) -> np.ndarray:
    from scipy.spatial.transform import Rotation

    m = np.eye(4)
    m[:3, :3] = Rotation.from_quat(np.asarray(p7[[4, 5, 6, 3]], np.float64)).as_matrix()
    m[:3, 3] = p7[:3]
    return m


def _quat_wxyz(r: np.ndarray) -> np.ndarray:
    from scipy.spatial.transform import Rotation

    q = Rotation.from_matrix(r).as_quat()
    return np.array([q[3], q[0], q[1], q[2]])


def _samplegen(sample: Path):
    gen = sample.resolve().parent / "generator"
    if not (gen / "samplegen").is_dir():
        raise ValueError(f"{sample}: no sample generator at {gen}/samplegen (give a bundled sample folder)")
    if str(gen) not in sys.path:
        sys.path.insert(0, str(gen))
    import samplegen
    from samplegen.render import build_mjcf
    from samplegen.scene import object_records

    if sample.name not in samplegen.SCENES:
        raise ValueError(f"{sample}: not a generated sample (known: {', '.join(samplegen.SCENES)})")
    return samplegen.SCENES[sample.name], object_records, build_mjcf


def match_objects(scene, truth_centres: dict[str, np.ndarray], truth_from_scene: np.ndarray) -> dict[str, str]:
    """Authored object name -> true object name: nearest centres (hull centroid mapped into the truth
    frame vs the true centre of mass), one-to-one, within MATCH_RADIUS_M."""
    from scipy.optimize import linear_sum_assignment

    names = list(truth_centres)
    found = []
    for o in scene.objects:
        m = o.world_from_body.numpy().astype(np.float64)
        c = (o.collision_vertices.astype(np.float64) @ m[:3, :3].T + m[:3, 3]).mean(0)
        found.append(truth_from_scene[:3, :3] @ c + truth_from_scene[:3, 3])
    cost = np.array([[np.linalg.norm(f - truth_centres[n]) for n in names] for f in found])
    rows, cols = linear_sum_assignment(cost)
    return {scene.objects[r].name: names[c] for r, c in zip(rows, cols) if cost[r, c] <= MATCH_RADIUS_M}


class SampleLook:
    """Renders frames of a scene state with the sample generator's textured MuJoCo scene.

    scene: the authored gwm scene (capture frame); sample: the bundled sample folder it was authored
    from (datasets/kitchen); truth_from_scene (4,4): similarity [sR | t] capture frame -> generator world.
    """

    def __init__(self, scene, sample, truth_from_scene: np.ndarray, width: int, height: int, seed: int = 0):
        import mujoco

        sample = Path(sample)
        make_scene, object_records, build_mjcf = _samplegen(sample)
        gen_scene = make_scene(seed)
        records = object_records(gen_scene)
        self.sim = np.asarray(truth_from_scene, np.float64)
        self.sim_inv = np.linalg.inv(self.sim)
        self.rot = self.sim[:3, :3] / np.cbrt(np.linalg.det(self.sim[:3, :3]))
        self.match = match_objects(scene, {r["name"]: np.asarray(r["position"]) for r in records}, self.sim)
        self.unmatched = [o.name for o in scene.objects if o.name not in self.match]
        with tempfile.TemporaryDirectory() as tmp:
            xml, _ = build_mjcf(gen_scene, records, Path(tmp), seed)
            xml = re.sub(r'offwidth="\d+" offheight="\d+"',
                         f'offwidth="{max(width, gen_scene.width)}" offheight="{max(height, gen_scene.height)}"', xml)
            self.model = mujoco.MjModel.from_xml_string(xml)
        self.mj = mujoco
        self.data = mujoco.MjData(self.model)
        self.renderer = mujoco.Renderer(self.model, height, width)
        self.cam_id = mujoco.mj_name2id(self.model, mujoco.mjtObj.mjOBJ_CAMERA, "cam")
        geom_names = [mujoco.mj_id2name(self.model, mujoco.mjtObj.mjOBJ_GEOM, g) or "" for g in range(self.model.ngeom)]
        # Each true object's part geoms (world-body geoms named "<object>_<part>") and their rest poses.
        self.parts: dict[str, list[tuple[int, np.ndarray]]] = {}
        for r in records:
            ids = [g for g, n in enumerate(geom_names) if n.startswith(r["name"] + "_")]
            rest = []
            for g in ids:
                m, buf = np.eye(4), np.zeros(9)
                mujoco.mju_quat2Mat(buf, self.model.geom_quat[g])
                m[:3, :3] = buf.reshape(3, 3)
                m[:3, 3] = self.model.geom_pos[g]
                rest.append((g, m))
                self.model.geom_sameframe[g] = 0  # posed from geom_pos / geom_quat, which we set per frame
            self.parts[r["name"]] = rest
        self.first: dict[str, np.ndarray] | None = None

    def close(self) -> None:
        """Free the renderer in its own GL context: MuJoCo frees a renderer's GL objects in whichever context
        is current, so a look dropped while another one rendered last (garbage-collected without close)
        deleted the other's framebuffer, and its frames came out black."""
        renderer, self.renderer = getattr(self, "renderer", None), None
        if renderer is None:
            return
        context = getattr(renderer, "_gl_context", None)
        if context is not None:
            context.make_current()
        renderer.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # at interpreter exit EGL may already be gone; nothing is left to free then
            pass

    def pose_objects(self, names, poses: np.ndarray, present) -> None:
        """Move every matched true object by its authored body's rigid motion since the first call."""
        mats = {n: _pose_matrix(p) for n, p in zip(names, poses)}
        if self.first is None:
            self.first = mats
        for n, here in mats.items():
            if n not in self.match:
                continue
            motion = self.sim @ here @ np.linalg.inv(self.first[n]) @ self.sim_inv  # rigid, generator world
            away = not present[list(names).index(n)]
            for g, rest in self.parts[self.match[n]]:
                m = motion @ rest
                self.model.geom_pos[g] = m[:3, 3] + (np.array([100.0, 100.0, 0.0]) if away else 0.0)
                self.model.geom_quat[g] = _quat_wxyz(m[:3, :3])

    def render(self, world_from_cam: np.ndarray, fov_y_deg: float, depth: bool = False):
        """(H,W,3) uint8 seen by an OpenCV camera posed in the scene's (capture) frame; with `depth` also (H,W)
        each pixel's depth in the scene's units (metres)."""
        cam = np.asarray(world_from_cam, np.float64)
        r = self.rot @ cam[:3, :3] @ np.diag([1.0, -1.0, -1.0])  # OpenCV -> MuJoCo camera axes
        quat = np.zeros(4)
        self.mj.mju_mat2Quat(quat, r.ravel())
        self.model.cam_pos[self.cam_id] = self.sim[:3, :3] @ cam[:3, 3] + self.sim[:3, 3]
        self.model.cam_quat[self.cam_id] = quat
        self.model.cam_fovy[self.cam_id] = fov_y_deg
        self.mj.mj_forward(self.model, self.data)
        self.renderer.update_scene(self.data, camera=self.cam_id)
        rgb = self.renderer.render().copy()
        if not depth:
            return rgb
        self.renderer.enable_depth_rendering()
        try:
            self.renderer.update_scene(self.data, camera=self.cam_id)
            return rgb, self.renderer.render().copy() / np.cbrt(np.linalg.det(self.sim[:3, :3]))
        finally:
            self.renderer.disable_depth_rendering()


__all__ = ["MATCH_RADIUS_M", "SampleLook", "match_objects"]
