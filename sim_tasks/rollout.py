"""Scripted rollouts: run episodes (task + demonstrator + simulator + cameras) and record them.

    runner = TaskRunner(scene_usd, "pick_place")          # builds the Newton model once
    result = runner.run_episode(seed=3)                   # frames (T, ...) per dataset feature
    summary = run_rollouts(scene_usd, "pick_place", seeds=range(50), out_root="out/pick", workers=2)
    summary = run_rollouts(..., workers=1, batch=8)       # 8 episodes stepped together in one Newton model

Each frame holds the observation before the action and the action taken then (LeRobot's
convention); `next.reward` is 1 when the task is solved after that action; `next.done` marks
the last frame. Episodes have a fixed length per task (Task.max_steps) and are kept whether
they succeed or not (`success` is stored per episode). A preview video (scene camera and
wrist camera side by side) is written per episode to <out_root>/episode_videos/.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from gwm.atomic_io import jsonable
from sim_tasks.backend import ACTION_NAMES, JOINT_NAMES
from sim_tasks.demonstrator import DemoConfig
from sim_tasks.newton_backend import NewtonSimConfig
from sim_tasks.rendering import CAMERA_NAMES, CameraConfig
from sim_tasks.tasks import TaskConfig, TaskInstance

ROLLOUT_FORMAT_VERSION = 1
VIDEO_DIR = "episode_videos"


@dataclass(frozen=True)
class RolloutConfig:
    sim: NewtonSimConfig = field(default_factory=NewtonSimConfig)
    task: TaskConfig = field(default_factory=TaskConfig)
    demo: DemoConfig = field(default_factory=DemoConfig)
    cameras: CameraConfig | None = field(default_factory=CameraConfig)  # None: physics only, no images
    dataset_format: str = "lerobot"  # or "hdf5"
    image_format: str = "video"  # LeRobot image storage: "video" | "png"
    save_videos: bool = True  # preview mp4 per episode


@dataclass
class EpisodeResult:
    seed: int
    success: bool
    instance: TaskInstance
    frames: dict[str, np.ndarray]  # feature -> (T, ...)
    phase_log: list[tuple[int, str]]
    timeouts: list[str]
    regrasps: int
    first_success_step: int | None
    physics_steps: int
    timings: dict[str, float]  # seconds: physics (incl. IK), render, total
    video_path: Path | None = None

    @property
    def num_frames(self) -> int:
        return len(self.frames["action"])


class TaskRunner:
    """One simulator + task + demonstrator + renderer, reused across episodes."""

    def __init__(self, scene_usd: str | os.PathLike, task: str, config: RolloutConfig = RolloutConfig()):
        from gwm.scene.usd_scene import read_usd_scene
        from sim_tasks.tasks import make_task

        self.config = config
        self.scene_usd = Path(scene_usd)
        self.scene = read_usd_scene(self.scene_usd)
        self.task = make_task(task, self.scene, config.task)  # before the simulator: TaskNotApplicable is cheap
        self.backend = self._make_backend()
        self._tasks = {task: self.task}
        self.renderer = None
        self._canonical = None
        if config.cameras is not None:
            self.renderer = self._make_renderer(config.cameras)

    def _make_backend(self):
        from sim_tasks.newton_backend import NewtonBackend

        return NewtonBackend(self.scene_usd, self.config.sim, scene=self.scene)

    def _make_renderer(self, cameras: CameraConfig):
        from sim_tasks.panda_model import LINK_RECORD_RGB
        from sim_tasks.rendering import CameraRig, GaussianSceneRenderer, robot_link_gaussians, scene_canonical_gaussians

        links = robot_link_gaussians(self.backend.link_visual_meshes(), LINK_RECORD_RGB, cameras.robot_gaussians)
        self._canonical = scene_canonical_gaussians(self.scene, links)
        rig = CameraRig(self.scene.robot_base.numpy(), cameras)
        # The cameras render where the worlds are simulated: one batched gsplat call per step on CUDA.
        return GaussianSceneRenderer(self._canonical, self.backend.body_names, rig, device=self.config.sim.device)

    # dataset description --------------------------------------------------------------------
    def canonical_gaussians(self):
        if self._canonical is None:
            raise ValueError("canonical Gaussians come with the cameras; this runner has cameras=None")
        return self._canonical

    def dataset_spec(self):
        from gwm.data import DatasetSpec, FeatureSpec
        from sim_tasks.backend import body_roles

        body_names = self.backend.body_names
        state_names = JOINT_NAMES[:7] + ["gripper_width"]
        features = {
            "observation.state": FeatureSpec("float32", (8,), state_names),
            "observation.velocity": FeatureSpec("float32", (8,), state_names),
            "observation.ee_pose": FeatureSpec("float32", (7,), ["x", "y", "z", "qw", "qx", "qy", "qz"]),
            "observation.body_poses": FeatureSpec("float32", (len(body_names), 7)),
            "observation.goal_position": FeatureSpec("float32", (3,), ["x", "y", "z"]),
            "action": FeatureSpec("float32", (8,), ACTION_NAMES),
            "next.reward": FeatureSpec("float32", (1,)),
            "next.done": FeatureSpec("bool", (1,)),
        }
        cams = self.config.cameras
        if cams is not None:
            for name in CAMERA_NAMES:
                features[f"observation.images.{name}"] = FeatureSpec("image", (cams.height, cams.width, 3))
                if cams.depth:
                    features[f"observation.depth.{name}"] = FeatureSpec("float32", (cams.height, cams.width, 1))
        fps = round(1.0 / self.backend.control_dt)
        return DatasetSpec(fps=fps, features=features, robot_type="franka_panda", body_names=body_names,
                           body_roles=body_roles(body_names, self.scene),
                           cameras=self.renderer.rig.camera_specs() if self.renderer is not None else ())

    def metadata(self, task_name: str) -> dict:
        return {
            "format_version": ROLLOUT_FORMAT_VERSION,
            "source": "sim_tasks.rollout",
            "simulator": "newton+mujoco",
            "task": task_name,
            "scene_usd": str(self.scene_usd),
            "config": jsonable(asdict(self.config)),
            "normalisation": self.scene.metadata.get("normalisation"),
            "scene_metadata": jsonable(self.scene.metadata),
            "control_dt": self.backend.control_dt,
            "action": "tool-site target: xyz + quat wxyz (world frame), gripper opening width (m)",
        }

    # episodes -------------------------------------------------------------------------------
    def get_task(self, name: str | None = None):
        """The runner's task, or another registered task on the same scene and simulator."""
        from sim_tasks.tasks import make_task

        if name is None:
            return self.task
        if name not in self._tasks:
            self._tasks[name] = make_task(name, self.scene, self.config.task)
        return self._tasks[name]

    def run_episode(self, seed: int, video_dir: str | os.PathLike | None = None, task: str | None = None,
                    max_steps: int | None = None, render: bool = True) -> EpisodeResult:
        """One scripted episode (the task's max_steps long unless max_steps is given).

        render=False skips the cameras (physics and the demonstrator only; no image features).
        Runs single-threaded: an episode is thousands of tiny tensor ops, where torch's and
        numba's thread pools only add synchronisation (and stall badly on a busy machine);
        parallelism comes from run_rollouts' worker processes.
        """
        with _single_threaded():
            return self._run_episode(seed, video_dir, task, max_steps, render)

    def _run_episode(self, seed, video_dir, task, max_steps, render) -> EpisodeResult:
        t_start = time.perf_counter()
        be = self.backend
        task = self.get_task(task)
        instance = task.sample(seed)
        obs = be.reset(seed, instance.object_poses)
        episode = _EpisodeInProgress(self, task, instance, int(seed), render)
        steps = task.max_steps if max_steps is None else int(max_steps)
        t_physics = 0.0
        for t in range(steps):
            frame = self._observe([episode], [obs])[0]
            action = episode.demo.act(obs)
            t0 = time.perf_counter()
            obs = be.step(action)
            t_physics += time.perf_counter() - t0
            episode.record(frame, action, obs, t, steps)
        result = episode.result(t_physics, video_dir)
        result.timings["total"] = time.perf_counter() - t_start
        return result

    def _observe(self, episodes, obs) -> list[dict[str, np.ndarray]]:
        """Each episode's frame before its action; all its worlds' cameras rendered in one call."""
        images = [None] * len(episodes)
        if episodes[0].render:
            t0 = time.perf_counter()
            images = self.renderer.render_worlds([o["body_poses"] for o in obs], [o["ee_pose"] for o in obs])
            share = (time.perf_counter() - t0) / len(episodes)
            for e in episodes:
                e.t_render += share
        return [e.observe(o, im) for e, o, im in zip(episodes, obs, images)]

    def _observation_features(self, obs, goal) -> dict[str, np.ndarray]:
        q, qd = obs["joint_pos"], obs["joint_vel"]
        return {
            "observation.state": np.concatenate([q[:7], obs["gripper"]]).astype(np.float32),
            "observation.velocity": np.concatenate([qd[:7], [qd[7] + qd[8]]]).astype(np.float32),
            "observation.ee_pose": obs["ee_pose"].astype(np.float32),
            "observation.body_poses": obs["body_poses"].astype(np.float32),
            "observation.goal_position": goal,
        }


class BatchTaskRunner(TaskRunner):
    """TaskRunner over a NewtonBatchBackend: up to `batch` episodes advance together, one world each,
    each with its own demonstrator (its own phase machine). Episodes have the task's fixed length, so a
    batch's worlds start and end together; a batch with fewer seeds than worlds leaves the spare
    worlds holding still. Frames, success and timings per episode are those TaskRunner records."""

    def __init__(self, scene_usd: str | os.PathLike, task: str, config: RolloutConfig = RolloutConfig(),
                 batch: int = 2):
        from sim_tasks.newton_batch import check_batch_size

        self.batch = check_batch_size(batch)
        super().__init__(scene_usd, task, config)

    def _make_backend(self):
        from sim_tasks.newton_batch import NewtonBatchBackend

        return NewtonBatchBackend(self.scene_usd, self.batch, self.config.sim, scene=self.scene)

    def run_episode(self, seed: int, video_dir=None, task: str | None = None, max_steps: int | None = None,
                    render: bool = True) -> EpisodeResult:
        return self.run_batch([seed], video_dir, task, max_steps, render)[0]

    def run_batch(self, seeds, video_dir: str | os.PathLike | None = None, task: str | None = None,
                  max_steps: int | None = None, render: bool = True) -> list[EpisodeResult]:
        """One episode per seed (at most `batch` seeds), stepped together; results in seed order."""
        seeds = [int(s) for s in seeds]
        if not 1 <= len(seeds) <= self.batch:
            raise ValueError(f"run_batch takes 1..{self.batch} seeds (the batch size), got {len(seeds)}")
        if len(set(seeds)) != len(seeds):
            raise ValueError(f"run_batch: seeds repeat: {seeds}")
        with _single_threaded():
            return self._run_batch(seeds, video_dir, task, max_steps, render)

    def _run_batch(self, seeds, video_dir, task, max_steps, render) -> list[EpisodeResult]:
        t_start = time.perf_counter()
        be = self.backend
        task = self.get_task(task)
        n = len(seeds)
        active = [i < n for i in range(be.num_worlds)]
        instances = [task.sample(s) for s in seeds]
        obs = [be.reset(i, s, inst.object_poses) for i, (s, inst) in enumerate(zip(seeds, instances))]
        episodes = [_EpisodeInProgress(self, task, inst, s, render) for s, inst in zip(seeds, instances)]
        idle = [be.hold_action(i) for i in range(n, be.num_worlds)]
        steps = task.max_steps if max_steps is None else int(max_steps)
        t_physics = 0.0
        for t in range(steps):
            frames = self._observe(episodes, obs[:n])
            actions = [e.demo.act(o) for e, o in zip(episodes, obs)]
            t0 = time.perf_counter()
            obs = be.step(actions + idle, active=active)
            t_physics += time.perf_counter() - t0
            for e, frame, action, o in zip(episodes, frames, actions, obs):
                e.record(frame, action, o, t, steps)
        # The batch's physics time is shared by its episodes; total is the batch's wall time per episode.
        results = [e.result(t_physics / n, video_dir) for e in episodes]
        total = (time.perf_counter() - t_start) / n
        for r in results:
            r.timings["total"] = total
        return results


class _EpisodeInProgress:
    """One episode's demonstrator and recorded frames while it runs (one world of a batch, or the only one):
    the observation features (and camera images) before each action, then the action, reward and done."""

    def __init__(self, runner: TaskRunner, task, instance: TaskInstance, seed: int, render: bool):
        be = runner.backend
        self.runner, self.task, self.instance, self.seed = runner, task, instance, seed
        self.render = render and runner.renderer is not None
        self.demo = task.demonstrator(instance, be.body_names, be.control_dt, runner.config.demo)
        self.goal = instance.goal_position.astype(np.float32)
        self.frames: dict[str, list[np.ndarray]] = {}
        self.success, self.first_success, self.t_render = False, None, 0.0

    def observe(self, obs, images: dict[str, np.ndarray] | None) -> dict[str, np.ndarray]:
        """The frame's features; images: this world's camera images (TaskRunner._observe renders them)."""
        frame = self.runner._observation_features(obs, self.goal)
        if self.render:
            for name in CAMERA_NAMES:
                frame[f"observation.images.{name}"] = images[name]
                if self.runner.config.cameras.depth:
                    frame[f"observation.depth.{name}"] = images[f"depth.{name}"]
        return frame

    def record(self, frame, action, next_obs, t: int, steps: int) -> None:
        names = self.runner.backend.body_names
        poses = {n: next_obs["body_poses"][i].astype(np.float64) for i, n in enumerate(names)}
        self.success = self.task.success(self.instance, poses, float(next_obs["gripper"][0]))
        if self.success and self.first_success is None:
            self.first_success = t
        frame["action"] = action
        frame["next.reward"] = np.array([float(self.success)], np.float32)
        frame["next.done"] = np.array([t == steps - 1])
        for k, v in frame.items():
            self.frames.setdefault(k, []).append(v)

    def result(self, t_physics: float, video_dir) -> EpisodeResult:
        be = self.runner.backend
        steps = len(self.frames.get("action", ()))
        result = EpisodeResult(
            seed=self.seed, success=bool(self.success), instance=self.instance,
            frames={k: np.stack(v) for k, v in self.frames.items()},
            phase_log=list(self.demo.phase_log), timeouts=list(self.demo.timeouts), regrasps=self.demo.regrasps,
            first_success_step=self.first_success, physics_steps=steps * be.config.substeps,
            timings={"physics": t_physics, "render": self.t_render},
        )
        if video_dir is not None and self.render:
            result.video_path = write_episode_video(result, Path(video_dir), be.control_dt, self.task.name)
        return result


@contextlib.contextmanager
def _single_threaded():
    import numba
    import torch

    before = torch.get_num_threads(), numba.get_num_threads()
    torch.set_num_threads(1)
    numba.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before[0])
        numba.set_num_threads(before[1])


def write_episode_video(result: EpisodeResult, video_dir: Path, control_dt: float, task: str) -> Path:
    """Scene camera | wrist camera, side by side, H.264 mp4 (atomic: a killed run leaves only a temp file,
    which the dataset writer removes when the run resumes)."""
    from gwm.data.frames_codec import encode_video

    path = Path(video_dir) / f"{task}_seed{result.seed:06d}.mp4"
    frames = np.concatenate([result.frames[f"observation.images.{n}"] for n in CAMERA_NAMES], axis=2)  # (T,H,2W,3)
    return encode_video(path, frames, round(1.0 / control_dt))


# recording ------------------------------------------------------------------------------------
@dataclass
class RolloutSummary:
    task: str
    dataset_path: Path
    episodes: list[dict]  # per episode recorded by this run: index, seed, success, video, timings
    wall_time: float
    workers: int
    skipped_seeds: list[int] = field(default_factory=list)  # asked for, but already in the dataset

    @property
    def success_rate(self) -> float:
        return sum(e["success"] for e in self.episodes) / max(1, len(self.episodes))


def record_results(results, recorder, out_root: Path, progress=None) -> list[dict]:
    """Save each EpisodeResult as the next episode; returns the episode index entries.

    <out_root>/rollouts.json grows with each saved episode, so a killed run keeps the index of
    what it recorded."""
    entries = []
    for result in results:
        for t in range(result.num_frames):
            recorder.add_frame({k: v[t] for k, v in result.frames.items()}, result.instance.instruction)
        index = recorder.save_episode(success=result.success, seed=result.seed)
        entries.append({
            "episode_index": index, "seed": result.seed, "success": result.success,
            "first_success_step": result.first_success_step, "phases": result.phase_log,
            "timeouts": result.timeouts, "regrasps": result.regrasps,
            "video": str(result.video_path.relative_to(out_root)) if result.video_path else None,
            "timings": result.timings, "instance": result.instance.to_dict(),
        })
        _append_episode_index(out_root, entries[-1])
        if progress is not None:
            progress.update(1)
            progress.set_postfix(success=f"{sum(e['success'] for e in entries)}/{len(entries)}")
    return entries


def recorded_seeds(out_root: str | os.PathLike, task: str, config: RolloutConfig = RolloutConfig()) -> list[int]:
    """Seeds already recorded in out_root, in episode order; [] when it holds no dataset yet (also
    after a run killed before its first episode). Raises DatasetError if out_root holds episodes
    of another task or other settings, which a resumed run must not mix with its own."""
    from gwm.data.api import detect_format
    from gwm.data.spec import DatasetError

    root = Path(out_root)
    try:
        found = detect_format(root)
    except DatasetError:
        return []  # nothing, or a dataset whose creation was killed before its metadata: recorded afresh
    if found != config.dataset_format:
        raise DatasetError(f"{root}: holds a {found} dataset; resume it with format {found!r} "
                           "or record into another folder")
    if found == "lerobot":
        from gwm.data.lerobot import LeRobotReader

        ds = LeRobotReader(root, strict_totals=False)  # totals lag after a kill; the recorder heals them
    else:
        from gwm.data.hdf5 import Hdf5Reader

        ds = Hdf5Reader(root)
    stored = {"task": ds.metadata.get("task"), **_flatten(ds.metadata.get("config"), "config")}
    asked = {"task": task, **_flatten(jsonable(asdict(config)), "config")}
    differ = sorted(k for k in stored.keys() | asked.keys() if stored.get(k) != asked.get(k))
    if differ:
        raise DatasetError(f"{root}: holds episodes recorded with other settings (different: {', '.join(differ[:5])}); "
                           "resume with the same task and settings or record into another folder")
    return [int(ds.episode_info(i)["seed"]) for i in range(ds.num_episodes)]


def _flatten(value, prefix: str) -> dict:
    if not isinstance(value, dict):
        return {prefix: value}
    return {k: v for key, sub in value.items() for k, v in _flatten(sub, f"{prefix}.{key}").items()}


def run_rollouts(scene_usd: str | os.PathLike, task: str, seeds, out_root: str | os.PathLike, workers: int = 2,
                 config: RolloutConfig = RolloutConfig(), progress: bool = True,
                 runner: TaskRunner | None = None, batch: int = 1) -> RolloutSummary:
    """Run scripted episodes for the given seeds in `workers` processes and record them in out_root.

    batch > 1: each process steps `batch` episodes together in one Newton model (BatchTaskRunner);
    the episodes are recorded in the same order and format, and each matches its batch-of-1 episode
    within a tolerance (rounding couples the worlds: sim_tasks/newton_batch.py); a resumed batched run
    may group the remaining seeds differently, so it matches an uninterrupted one within that tolerance.

    Episodes are recorded in seed order whatever the workers' timing, so the dataset is the
    same for any number of workers. workers <= 1 runs in this process (reusing `runner`, a
    TaskRunner already built for scene_usd, if given; its config is then used). A task without a
    valid target in this scene raises sim_tasks.tasks.TaskNotApplicable before anything is recorded.

    Resumable: seeds already recorded in out_root (a run that was killed, or asked again) are
    skipped, not recorded twice, and listed in the summary's skipped_seeds. A killed run loses at
    most the episode it was recording, and its re-run records the episodes an uninterrupted run
    would have (every seed's episode is a function of the seed alone).
    """
    from tqdm import tqdm

    from gwm.data import create_recorder
    from sim_tasks.newton_batch import check_batch_size

    batch = check_batch_size(batch)
    if runner is not None and batch != getattr(runner, "batch", 1):
        raise ValueError(f"run_rollouts: batch={batch} but the runner given steps {getattr(runner, 'batch', 1)} "
                         "world(s); build a BatchTaskRunner with that batch or leave runner out")
    seeds = [int(s) for s in seeds]
    if len(set(seeds)) != len(seeds):
        raise ValueError(f"run_rollouts: seeds repeat ({sorted(s for s in set(seeds) if seeds.count(s) > 1)[:10]})")
    if runner is not None:
        config = runner.config
    if config.cameras is None:
        raise ValueError("run_rollouts records camera images and canonical Gaussians; give RolloutConfig.cameras")
    _check_task_applies(scene_usd, task, config, runner)
    out_root = Path(out_root)
    done = set(recorded_seeds(out_root, task, config))
    skipped = [s for s in seeds if s in done]
    seeds = [s for s in seeds if s not in done]
    if skipped and progress:
        rest = f"recording the other {len(seeds)}" if seeds else "nothing left to record"
        print(f"{out_root}: {len(skipped)} of the {len(skipped) + len(seeds)} seeds asked for are already recorded "
              f"({_seed_ranges(skipped)}); {rest}")
    t0 = time.perf_counter()
    if not seeds:
        return RolloutSummary(task, _dataset_path(out_root, config.dataset_format), [], 0.0, max(1, workers), skipped)
    out_root.mkdir(parents=True, exist_ok=True)
    video_dir = out_root / VIDEO_DIR if config.save_videos else None
    bar = tqdm(total=len(seeds), desc=f"rollouts {task}", unit="episode", disable=not progress)
    pool = None
    finished = False
    try:
        if workers <= 1:
            if runner is None:
                runner = TaskRunner(scene_usd, task, config) if batch == 1 else \
                    BatchTaskRunner(scene_usd, task, config, batch)
            elif Path(runner.scene_usd).resolve() != Path(scene_usd).resolve():
                raise ValueError(f"run_rollouts: runner was built for {runner.scene_usd}, not {scene_usd}")
            spec, canonical, metadata = runner.dataset_spec(), runner.canonical_gaussians(), runner.metadata(task)
        else:
            import multiprocessing as mp

            from gwm.data import DatasetSpec

            pool = mp.get_context("spawn").Pool(workers, initializer=_init_worker,
                                                initargs=(str(scene_usd), task, config, os.getpid(), batch))
            spec_dict, canonical, metadata = pool.apply(_describe_worker, (task,))
            spec = DatasetSpec.from_dict(spec_dict)
        # The recorder first (a resume removes a killed run's temp files), then the episodes.
        recorder = create_recorder(out_root, spec, config.dataset_format, canonical_gaussians=canonical,
                                   image_format=config.image_format, metadata=metadata)
        chunks = [seeds[k:k + batch] for k in range(0, len(seeds), batch)]
        if pool is None:
            if batch == 1:
                results = (runner.run_episode(s, video_dir, task=task) for s in seeds)
            else:
                results = itertools.chain.from_iterable(runner.run_batch(c, video_dir, task=task) for c in chunks)
        else:
            results = itertools.chain.from_iterable(
                pool.imap(_run_worker, [(c, str(video_dir) if video_dir else None) for c in chunks]))
        try:
            entries = record_results(results, recorder, out_root, progress=bar)
        finally:
            dataset_path = recorder.finalize()  # episodes saved so far stay valid
        finished = True
    finally:
        bar.close()
        if pool is not None:
            if finished:
                pool.close()
            else:
                pool.terminate()  # do not wait for the remaining episodes after an error
            pool.join()
    return RolloutSummary(task, Path(dataset_path), entries, time.perf_counter() - t0, max(1, workers), skipped)


def _check_task_applies(scene_usd, task: str, config: RolloutConfig, runner: TaskRunner | None) -> None:
    """Raise TaskNotApplicable before anything is created on disk or a worker starts."""
    from gwm.scene.usd_scene import read_usd_scene
    from sim_tasks.tasks import make_task

    if runner is not None:
        runner.get_task(task)
    else:
        make_task(task, read_usd_scene(scene_usd), config.task)


def _dataset_path(out_root: Path, dataset_format: str) -> Path:
    from gwm.data.hdf5 import MASTER_NAME

    return out_root / MASTER_NAME if dataset_format == "hdf5" else out_root


def _seed_ranges(seeds: list[int]) -> str:
    """[0, 1, 2, 5] -> "seeds 0-2, 5"."""
    parts, start = [], None
    for i, s in enumerate(seeds):
        if start is None:
            start = s
        if i + 1 == len(seeds) or seeds[i + 1] != s + 1:
            parts.append(f"{start}-{s}" if s != start else f"{s}")
            start = None
    return ("seed " if len(seeds) == 1 else "seeds ") + ", ".join(parts)


def _append_episode_index(out_root: Path, entry: dict) -> None:
    """<out_root>/rollouts.json: episode index -> seed, success, preview video, timings (atomic)."""
    from gwm.atomic_io import write_json_atomic

    path = out_root / "rollouts.json"
    data = json.loads(path.read_text()) if path.exists() else {"format_version": ROLLOUT_FORMAT_VERSION, "episodes": []}
    data["episodes"] = [e for e in data["episodes"] if e["episode_index"] != entry["episode_index"]] + [entry]
    write_json_atomic(path, jsonable(data))


# worker processes -----------------------------------------------------------------------------
_WORKER: TaskRunner | None = None
_WORKER_ERROR: str | None = None


def _init_worker(scene_usd: str, task: str, config: RolloutConfig, parent_pid: int, batch: int = 1) -> None:
    # One thread per process: the workers already fill the cores.
    import numba
    import torch

    _exit_with_parent(parent_pid)
    torch.set_num_threads(1)
    numba.set_num_threads(1)
    global _WORKER, _WORKER_ERROR
    try:
        _WORKER = TaskRunner(scene_usd, task, config) if batch == 1 else BatchTaskRunner(scene_usd, task, config, batch)
    except Exception:  # an initializer that raises makes Pool respawn workers forever: report it per task
        import traceback

        _WORKER_ERROR = traceback.format_exc()


def _exit_with_parent(parent_pid: int) -> None:
    """Linux: the kernel kills this worker when its parent dies, so a killed run leaves no orphans
    that go on simulating (and writing preview videos) beside its re-run."""
    if sys.platform != "linux":
        return
    import ctypes
    import signal

    PR_SET_PDEATHSIG = 1
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent_pid:  # the parent died before the call above
        os._exit(1)


def _worker() -> TaskRunner:
    if _WORKER is None:
        raise RuntimeError(f"rollout worker failed to start:\n{_WORKER_ERROR}")
    return _WORKER


def _describe_worker(task: str):
    w = _worker()
    return w.dataset_spec().to_dict(), w.canonical_gaussians(), w.metadata(task)


def _run_worker(args) -> list[EpisodeResult]:
    seeds, video_dir = args
    w = _worker()
    if isinstance(w, BatchTaskRunner):
        return w.run_batch(seeds, video_dir)
    return [w.run_episode(s, video_dir) for s in seeds]


__all__ = ["BatchTaskRunner", "EpisodeResult", "RolloutConfig", "RolloutSummary", "TaskRunner", "record_results", "recorded_seeds",
           "run_rollouts", "write_episode_video"]
