"""The dynamic views: a dataset episode replayed from its recorded body poses, and a validation run
(the simulator's states vs the world model's open-loop prediction over a window).

Each body's canonical Gaussians (gwm.data: canonical_gaussians) are one splat node in the body's frame;
a frame of the timeline sets every body node's pose from that frame's body poses, which is
Gaussians(t) = pose_b(t) * canonical_b done by the browser's scene graph (rigid, DC colour).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from gwm.geometry import normalize_quats, positive_w
from gwm.splats import GaussianSplats
from gwm.viewer.splat_layer import SplatArrays, SplatNode, add_style_controls
from gwm.viewer.views import aim_camera, budget_line, fitted_to_budget, pose_of

IMAGE_PANEL_WIDTH = 320  # camera images beside the 3D view are shown at most this wide


def _panel_image(img: np.ndarray) -> np.ndarray:
    import cv2

    if img.shape[1] <= IMAGE_PANEL_WIDTH:
        return img
    h = max(1, round(img.shape[0] * IMAGE_PANEL_WIDTH / img.shape[1]))
    return cv2.resize(img, (IMAGE_PANEL_WIDTH, h), interpolation=cv2.INTER_AREA)


class Player:
    """Advances a slider at fps while the play checkbox is on (a daemon thread; stop() ends it)."""

    def __init__(self, slider, playing, fps: float):
        self.slider, self.playing, self.period = slider, playing, 1.0 / max(float(fps), 1.0)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="gwm-viewer-player")
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.period):
            if self.playing.value:
                self.slider.value = (int(self.slider.value) + 1) % (int(self.slider.max) + 1)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)


# dataset episode --------------------------------------------------------------------------------------
@dataclass
class EpisodeView:
    ds: object  # gwm.data.DatasetReader
    episode: int
    canonical: dict[str, GaussianSplats]  # subsampled, body frames
    total: int
    poses: np.ndarray  # (T, B, 7) xyz + quat wxyz
    images: dict[str, np.ndarray]  # camera key -> (T, H, W, 3) uint8
    body_nodes: dict = field(default_factory=dict)  # body row -> its frame node
    image_handles: dict = field(default_factory=dict)  # camera key -> its GUI image

    def load_episode(self, episode: int) -> None:
        from gwm.data.spec import BODY_POSES

        keys = [BODY_POSES, *self.ds.spec.camera_keys]
        arrays = self.ds.episode(episode, keys)
        self.episode, self.poses = episode, arrays[BODY_POSES].astype(np.float64)
        self.images = {k: arrays[k] for k in self.ds.spec.camera_keys}

    def show_frame(self, viewer, t: int) -> None:
        t = min(max(int(t), 0), len(self.poses) - 1)
        pose = self.poses[t]
        q = positive_w(normalize_quats(pose[:, 3:7]))
        with viewer.server.atomic():
            for b, node in self.body_nodes.items():
                node.wxyz, node.position = q[b], pose[b, :3]
            for key, handle in self.image_handles.items():
                handle.image = _panel_image(self.images[key][t])
        viewer.info["frame"] = t

    def build(self, viewer) -> None:
        server, ds = viewer.server, self.ds
        names = ds.body_names
        nodes = []
        for b, name in enumerate(names):
            self.body_nodes[b] = server.scene.add_frame(f"/bodies/{name}", show_axes=name not in self.canonical,
                                                        axes_length=0.05, axes_radius=0.004)
            if name in self.canonical:
                nodes.append(SplatNode(server, f"/bodies/{name}/gaussians", SplatArrays.from_splats(self.canonical[name])))
        for cam in ds.cameras:
            if cam.is_fixed:
                K = np.asarray(cam.K, np.float64)
                wxyz, pos = pose_of(cam.world_from_cam())
                server.scene.add_camera_frustum(f"/cameras/{cam.name}", fov=float(2 * np.arctan(0.5 * cam.height / K[1, 1])),
                                                aspect=cam.width / cam.height, scale=0.05, wxyz=wxyz, position=pos,
                                                color=(40, 90, 200))
        server.gui.add_markdown(f"**{ds.format} dataset** {Path(ds.path).name}  \n"
                                f"{ds.num_episodes} episodes, {ds.fps} fps; "
                                f"{budget_line(sum(len(s) for s in self.canonical.values()), self.total)}")
        with server.gui.add_folder("Episode"):
            status = server.gui.add_markdown("")
            episode = server.gui.add_slider("Episode", min=0, max=max(ds.num_episodes - 1, 1), step=1,
                                            initial_value=self.episode, disabled=ds.num_episodes < 2)
            timeline = server.gui.add_slider("Frame", min=0, max=max(len(self.poses) - 1, 1), step=1, initial_value=0)
            playing = server.gui.add_checkbox("Play", initial_value=False)
        if self.images:
            with server.gui.add_folder("Cameras"):
                self.image_handles = {k: server.gui.add_image(_panel_image(v[0]), label=k.split(".")[-1])
                                      for k, v in self.images.items()}

        def describe() -> None:
            info = ds.episode_info(self.episode)
            status.content = (f"episode {self.episode}: {info['task']!r}, {info['length']} frames, "
                              f"{'success' if info['success'] else 'failure'}, seed {info['seed']}")

        @timeline.on_update
        def _(_):
            self.show_frame(viewer, timeline.value)

        @episode.on_update
        def _(_):
            self.load_episode(int(episode.value))
            describe()
            timeline.max = max(len(self.poses) - 1, 1)
            timeline.value = 0
            self.show_frame(viewer, 0)

        describe()
        self.show_frame(viewer, 0)
        viewer._stoppers.append(Player(timeline, playing, ds.fps).stop)
        viewer.controls.update(episode=episode, timeline=timeline, play=playing)
        viewer.controls.update(add_style_controls(server, nodes))
        # aim at what moves (objects, robot): a recorded background would push the camera away
        roles = ds.body_roles
        moving = {k: v for k, v in self.canonical.items() if roles.get(k, "object") != "background"}
        aim_camera(server, _posed_means(names, moving or self.canonical, self.poses[0]), spread=2.0)
        viewer.info.update(episode=self.episode, frames=len(self.poses), bodies=list(names), cameras=list(self.images),
                           gaussians_shown=sum(len(s) for s in self.canonical.values()), gaussians_total=self.total)


def _posed_means(names, canonical: dict[str, GaussianSplats], pose: np.ndarray) -> np.ndarray:
    from gwm.body_gaussians import BodyGaussians, pose_means_quats

    bodies = BodyGaussians.stack(names, canonical)
    means, _ = pose_means_quats(torch.as_tensor(pose, dtype=torch.float32), bodies.body_index,
                                bodies.splats.means, bodies.splats.quats_wxyz)
    return means.numpy()


def load_dataset(path: Path, max_gaussians: int, episode: int | None = None, **_) -> EpisodeView:
    from gwm.data import open_dataset

    ds = open_dataset(path)
    if ds.num_episodes == 0:
        raise ValueError(f"{path}: the dataset has no episodes")
    canonical = ds.canonical_gaussians()
    if not ds.body_names or not canonical:
        raise ValueError(f"{path}: no Gaussian world state recorded (body poses and canonical Gaussians); "
                         "record it with create_recorder(canonical_gaussians=...) to replay it in 3D")
    episode = 0 if episode is None else int(episode)
    if not 0 <= episode < ds.num_episodes:
        raise ValueError(f"--episode {episode} is out of range: {path} has episodes 0..{ds.num_episodes - 1}")
    parts, total = fitted_to_budget(dict(canonical), max_gaussians)
    view = EpisodeView(ds, episode, {k: v.detach().to("cpu", torch.float32) for k, v in parts.items()}, total,
                       np.zeros((0,)), {})
    view.load_episode(episode)
    return view


def load_validation(path: Path, max_gaussians: int, **kw):
    from gwm.viewer.validation_view import load_validation_view

    return load_validation_view(path, max_gaussians=max_gaussians, **kw)


__all__ = ["EpisodeView", "Player", "load_dataset", "load_validation"]
