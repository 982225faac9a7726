"""The static views: a splat PLY, a capture folder, a scene USD(Z). Each loader reads everything first
(errors before any server starts) and returns an object whose build(viewer) fills the viser scene and GUI.
The dynamic views (dataset episode, validation run) are in gwm.viewer.episode."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from gwm.geometry import rotmat_to_quat
from gwm.splats import GaussianSplats
from gwm.viewer.splat_layer import SplatArrays, SplatNode, add_style_controls, subsample

PROXY_COLOR = (255, 120, 40)
SUPPORT_COLOR = (120, 160, 200)
# toon shading: a browser without a GPU (SwiftShader) draws it at once, the standard material's shaders
# took 14-18 s to compile there before the first proxy appeared
PROXY_MATERIAL = "toon3"
VIEW_DIRECTION = (1.0, -1.2, 0.9)  # from the look-at point towards the initial camera
FRUSTUM_IMAGE_WIDTH = 160  # camera images on frustums are downsized: many frames, small thumbnails


def pose_of(world_from_local) -> tuple[np.ndarray, np.ndarray]:
    """(wxyz, position) of a 4x4 transform, as viser scene nodes take them."""
    m = np.asarray(world_from_local, dtype=np.float64)
    return np.asarray(rotmat_to_quat(m[:3, :3]), np.float64), m[:3, 3].copy()


def aim_camera(server, points: np.ndarray, spread: float = 10.0) -> None:
    """The initial (and Reset View) camera: looking at the bulk of the points (between the spread and
    100 - spread percentiles, so a reconstruction's far background and floaters do not push it away)
    from above one side."""
    if len(points) == 0:
        return
    lo, hi = np.percentile(points, spread, axis=0), np.percentile(points, 100 - spread, axis=0)
    center = 0.5 * (lo + hi)
    radius = max(float(np.linalg.norm(hi - lo)) * 0.5, 0.05)
    direction = np.array(VIEW_DIRECTION) / np.linalg.norm(VIEW_DIRECTION)
    # move the view so the points sit left of centre, clear of the control panel docked on the right
    right = np.cross(-direction, (0.0, 0.0, 1.0))
    look = center + 0.45 * radius * right / max(np.linalg.norm(right), 1e-9)
    server.initial_camera.look_at = tuple(look)
    server.initial_camera.position = tuple(look + 2.2 * radius * direction)
    server.initial_camera.up = (0.0, 0.0, 1.0)


def fitted_to_budget(parts: dict[str, GaussianSplats], budget: int) -> tuple[dict[str, GaussianSplats], int]:
    """Each part subsampled by the same fraction so that the total fits budget; returns (parts, total before)."""
    total = sum(len(s) for s in parts.values())
    if total <= budget:
        return parts, total
    frac = budget / total
    return {k: subsample(s, max(1, int(len(s) * frac))) for k, s in parts.items()}, total


def budget_line(shown: int, total: int) -> str:
    return (f"{shown:,} Gaussians" if shown == total else
            f"{shown:,} of {total:,} Gaussians (subsampled to --max-gaussians)")


# splat PLY --------------------------------------------------------------------------------------------
@dataclass
class SplatView:
    arrays: SplatArrays
    total: int
    title: str

    def build(self, viewer) -> None:
        server = viewer.server
        node = SplatNode(server, "/splat", self.arrays)
        server.gui.add_markdown(f"**{self.title}**  \n{budget_line(len(self.arrays), self.total)}")
        viewer.controls.update(add_style_controls(server, [node]))
        aim_camera(server, self.arrays.centers)
        viewer.info.update(gaussians_shown=len(self.arrays), gaussians_total=self.total)


def load_splat(path: Path, max_gaussians: int, **_) -> SplatView:
    from gwm.ply import read_ply

    splats = read_ply(path)
    if len(splats) == 0:
        raise ValueError(f"{path}: the PLY holds no Gaussians")
    shown = subsample(splats, max_gaussians)
    return SplatView(SplatArrays.from_splats(shown), len(splats), f"splat {path.name}")


# capture folder ---------------------------------------------------------------------------------------
def capture_splat(folder: Path, splat: str | Path | None) -> Path | None:
    """The splat to show with a capture: the one given, one in the folder, or the pipeline's reconstruct/ output
    next to it (reconstruct's splat is in the capture's transforms.json frame)."""
    if splat is not None:
        return Path(splat)
    for candidate in (folder / "splat.ply", folder.parent / "reconstruct" / "splat.ply"):
        if candidate.is_file():
            return candidate
    return None


@dataclass
class CaptureView:
    splat: SplatView | None
    points: tuple[np.ndarray, np.ndarray] | None  # sparse_pc.ply (xyz, rgb uint8) when there is no splat
    world_from_cam: np.ndarray  # (F, 4, 4) OpenCV
    fov_y: np.ndarray  # (F,) radians
    aspect: float
    thumbnails: list[np.ndarray]
    names: list[str]

    def build(self, viewer) -> None:
        server = viewer.server
        if self.splat is not None:
            self.splat.build(viewer)
        if self.points is not None:
            xyz, rgb = self.points
            server.scene.add_point_cloud("/sparse_points", xyz, rgb, point_size=0.005)
            aim_camera(server, xyz)
        centers = self.world_from_cam[:, :3, 3]
        scale = 0.025 * max(float(np.ptp(centers, axis=0).max()), 0.1)
        frustums = []
        for i, (m, name) in enumerate(zip(self.world_from_cam, self.names)):
            wxyz, pos = pose_of(m)
            frustums.append(server.scene.add_camera_frustum(
                f"/cameras/{i:04d}", fov=float(self.fov_y[i]), aspect=self.aspect, scale=scale,
                image=self.thumbnails[i], format="jpeg", wxyz=wxyz, position=pos, color=(40, 90, 200)))
        with server.gui.add_folder("Capture"):
            server.gui.add_markdown(f"{len(self.names)} registered cameras")
            show = server.gui.add_checkbox("Camera frustums", initial_value=True)

        @show.on_update
        def _(_):
            for f in frustums:
                f.visible = bool(show.value)

        viewer.controls["camera_frustums"] = show
        aim_camera(server, centers, spread=0.0)  # the whole ring of cameras
        viewer.info.update(cameras=len(self.names))


def load_capture(folder: Path, max_gaussians: int, splat: str | Path | None = None, **_) -> CaptureView:
    import cv2

    from gwm.capture.nerfstudio import read_transforms_cameras

    cams, image_paths, _meta = read_transforms_cameras(folder)
    m = cams.world_from_cam.detach().cpu().numpy().astype(np.float64)
    K = cams.Ks.detach().cpu().numpy()
    fov_y = 2 * np.arctan(0.5 * cams.height / K[:, 1, 1])
    thumbs = []
    for p in image_paths:
        img = cv2.imread(str(p), cv2.IMREAD_COLOR)
        if img is None:
            raise ValueError(f"{p}: not a readable image; re-run 'gwm capture' on this folder")
        h = max(1, round(img.shape[0] * FRUSTUM_IMAGE_WIDTH / img.shape[1]))
        thumbs.append(cv2.cvtColor(cv2.resize(img, (FRUSTUM_IMAGE_WIDTH, h), interpolation=cv2.INTER_AREA),
                                   cv2.COLOR_BGR2RGB))
    splat_path = capture_splat(folder, splat)
    splat_view, points = None, None
    if splat_path is not None:
        splat_view = load_splat(splat_path, max_gaussians)
    elif (folder / "sparse_pc.ply").is_file():
        points = _read_points(folder / "sparse_pc.ply")
    return CaptureView(splat_view, points, m, fov_y, cams.width / cams.height, thumbs, [p.name for p in image_paths])


def _read_points(path: Path) -> tuple[np.ndarray, np.ndarray]:
    from plyfile import PlyData

    try:
        v = PlyData.read(str(path))["vertex"].data
        xyz = np.stack([v["x"], v["y"], v["z"]], 1).astype(np.float32)
        names = v.dtype.names
        rgb = (np.stack([v["red"], v["green"], v["blue"]], 1).astype(np.uint8) if "red" in names
               else np.full((len(xyz), 3), 200, np.uint8))
    except Exception as e:  # plyfile raises several types on damaged files
        raise ValueError(f"{path}: not a readable point cloud PLY ({e}); re-run 'gwm capture'") from e
    return xyz, rgb


# scene USD(Z) -----------------------------------------------------------------------------------------
@dataclass
class SceneView:
    scene: object  # gwm.scene.asset.SceneAsset
    parts: dict[str, GaussianSplats]  # "background" and object names, in their own frames (subsampled)
    total: int
    title: str

    def build(self, viewer) -> None:
        server = viewer.server
        sc = self.scene
        nodes = [SplatNode(server, "/scene/background/gaussians", SplatArrays.from_splats(self.parts["background"]))]
        proxies = []
        for obj in sc.objects:
            wxyz, pos = pose_of(obj.world_from_body)
            server.scene.add_frame(f"/scene/objects/{obj.name}", show_axes=False, wxyz=wxyz, position=pos)
            nodes.append(SplatNode(server, f"/scene/objects/{obj.name}/gaussians",
                                   SplatArrays.from_splats(self.parts[obj.name])))
            proxies.append(server.scene.add_mesh_simple(
                f"/scene/objects/{obj.name}/collision", np.asarray(obj.collision_vertices, np.float32),
                np.asarray(obj.collision_faces, np.uint32), color=PROXY_COLOR, opacity=0.6, material=PROXY_MATERIAL,
                side="double", visible=False, cast_shadow=False, receive_shadow=False))
            server.scene.add_label(f"/scene/objects/{obj.name}/label", f"{obj.name} {obj.mass:.3g} kg",
                                   visible=False)
        if len(sc.support_faces):
            support = server.scene.add_mesh_simple(
                "/scene/support", np.asarray(sc.support_vertices, np.float32), np.asarray(sc.support_faces, np.uint32),
                color=SUPPORT_COLOR, opacity=0.35, material=PROXY_MATERIAL, side="double", visible=False,
                cast_shadow=False, receive_shadow=False)
            proxies.append(support)
        wxyz, pos = pose_of(sc.robot_base)
        server.scene.add_frame("/scene/robot_base", axes_length=0.15, axes_radius=0.006, wxyz=wxyz, position=pos)
        server.scene.add_label("/scene/robot_base/label", "robot base")

        server.gui.add_markdown(f"**{self.title}**  \n{budget_line(sum(len(p) for p in self.parts.values()), self.total)}")
        with server.gui.add_folder("Objects"):
            rows = ["| object | role | mass kg | friction |", "|---|---|---|---|"]
            rows += [f"| {o.name} | {o.role} | {o.mass:.3g} | {o.friction:.2f} |" for o in sc.objects]
            server.gui.add_markdown("\n".join(rows) if sc.objects else "no objects")
            toggle = server.gui.add_checkbox("Collision proxies", initial_value=False)
            labels = server.gui.add_checkbox("Name labels", initial_value=False)
            background = server.gui.add_checkbox("Background Gaussians", initial_value=True)

        @toggle.on_update
        def _(_):
            for p in proxies:
                p.visible = bool(toggle.value)

        @labels.on_update
        def _(_):
            for obj in sc.objects:
                server.scene.add_label(f"/scene/objects/{obj.name}/label", f"{obj.name} {obj.mass:.3g} kg",
                                       visible=bool(labels.value))

        @background.on_update
        def _(_):
            nodes[0].set_visible(bool(background.value))

        viewer.controls.update(collision_proxies=toggle, name_labels=labels, background=background)
        viewer.controls.update(add_style_controls(server, nodes))
        focus = [_world_means(sc, self.parts, background=False), np.asarray(sc.support_vertices, np.float64).reshape(-1, 3)]
        focus = np.concatenate(focus)
        aim_camera(server, focus if len(focus) else _world_means(sc, self.parts), spread=0.0)
        viewer.info.update(objects=[o.name for o in sc.objects],
                           gaussians_shown=sum(len(p) for p in self.parts.values()), gaussians_total=self.total)


def _world_means(scene, parts: dict[str, GaussianSplats], background: bool = True) -> np.ndarray:
    pts = [parts["background"].means.numpy()] if background else [np.zeros((0, 3))]
    for o in scene.objects:
        m = np.asarray(o.world_from_body, np.float64)
        pts.append(parts[o.name].means.numpy() @ m[:3, :3].T + m[:3, 3])
    return np.concatenate(pts)


def load_scene(path: Path, max_gaussians: int, **_) -> SceneView:
    from gwm.scene.usd_scene import read_usd_scene

    scene = read_usd_scene(path)
    parts = {"background": scene.background, **{o.name: o.splats for o in scene.objects}}
    if "background" in {o.name for o in scene.objects}:
        raise ValueError(f"{path}: an object is named 'background'; rename it in the scene file")
    parts, total = fitted_to_budget(parts, max_gaussians)
    return SceneView(scene, {k: v.detach().to("cpu", torch.float32) for k, v in parts.items()}, total,
                     f"scene {path.name}")


__all__ = ["aim_camera", "budget_line", "fitted_to_budget", "load_capture", "load_scene", "load_splat", "pose_of"]
