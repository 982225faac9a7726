"""Tasks by name: what to do in a scene, how episodes start (per seed) and when they succeed.

    task = make_task("pick_place", scene)          # scene: SceneAsset
    instance = task.sample(seed)                   # initial object poses, goal, instruction
    task.success(instance, poses, gripper_width)   # poses: name -> (7,) xyz + quat wxyz

Registered: pick_place (pick an object, place it at a goal on the table), pick_place_bowl
(into a container: an object whose role is "container", from the scene file or its shape; the
contract gives objects convex hulls, so the object ends resting on the container), push (push an
object to a goal on the table; the target is the first object that a push slides rather than tips
over, see PushTask.tip_margin), push_explore (push's layouts with randomised pushes around the
demonstrator's: exploration data for planning models), pick_place_explore (pick_place's target and success
test with the planner's primitive at random numbers: held and failed grasps for planning models). An object
tilted more than TaskConfig.max_tilt_deg from upright (it toppled) never counts as placed or pushed.

Targets come from roles and shapes, never from names: graspable = narrow enough for the gripper
(MAX_GRASP_WIDTH), container = role "container". A task with no valid target in a scene raises
TaskNotApplicable (make_task), which the rollout runner, the CLI and the pipeline report as a skip.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import dataclass, field, replace

import numpy as np

from gwm.geometry import pose7_to_matrix
from sim_tasks.demonstrator import DemoConfig, ScriptedDemonstrator
from sim_tasks.pick_place_explore_policy import ExplorePickPlaceDemonstrator
from sim_tasks.pick_place_policy import PickPlaceDemonstrator
from sim_tasks.push_explore_policy import ExplorePushDemonstrator
from sim_tasks.push_policy import PushDemonstrator
from sim_tasks.workspace import Workspace, WorkspaceConfig

MAX_GRASP_WIDTH = 0.075  # m: the Panda opens 0.08 (~0.078 between the finger pads)


@dataclass(frozen=True)
class TaskConfig:
    object_name: str | None = None  # the object to manipulate; None: the first graspable one
    container_name: str | None = None  # pick_place_bowl; None: the widest object whose role is "container"
    max_steps: int | None = None  # control steps per episode; None: the task's own (Task.episode_steps)
    goal_tolerance: float = 0.03  # m, horizontal distance of the object centre to its goal
    min_goal_distance: float = 0.12  # m between start and goal (pick_place)
    push_distance: tuple[float, float] = (0.08, 0.14)  # m, range of push goals
    rest_tolerance: float = 0.01  # m, the object's height above where it should rest
    release_width: float = 0.06  # m, gripper at least this open for "placed" (not still held)
    # push: the target is the first object that a push cannot tip over (see PushTask.tip_margin):
    # margin >= this (1: the quasi-static limit)
    min_push_tip_margin: float = 1.0
    push_contact_height: float = 0.015  # m above the support: the lowest a pusher touches (no drag on the table)
    max_tilt_deg: float = 30.0  # an object tilted more than this from upright (its scene orientation) toppled
    workspace: WorkspaceConfig = field(default_factory=WorkspaceConfig)


@dataclass
class TaskInstance:
    task: str
    seed: int
    object_poses: dict[str, np.ndarray]  # initial (7,) xyz + quat wxyz per object
    target_object: str
    goal_position: np.ndarray  # (3,) where the object's centre should end (pick_place, push)
    container: str | None
    instruction: str

    def to_dict(self) -> dict:
        return {"task": self.task, "seed": self.seed, "target_object": self.target_object,
                "goal_position": self.goal_position.tolist(), "container": self.container,
                "instruction": self.instruction,
                "object_poses": {k: v.tolist() for k, v in self.object_poses.items()}}


class TaskNotApplicable(ValueError):
    """The scene has no valid target for this task (no container, nothing graspable): skip the task."""


class Task(ABC):
    name: str = ""
    needs_container = False
    episode_steps = 150  # control steps (50 ms) an episode gets unless TaskConfig.max_steps says otherwise
    # The scripted policy that demonstrates this task (a sim_tasks.demonstrator.ScriptedDemonstrator).
    policy: type[ScriptedDemonstrator] = PickPlaceDemonstrator

    def __init__(self, scene, config: TaskConfig = TaskConfig()):
        self.scene = scene
        self.config = config
        self.object_names = [o.name for o in scene.objects]
        self.roles = {o.name: o.role for o in scene.objects}
        if not self.object_names:
            raise TaskNotApplicable(f"task {self.name!r} needs movable objects; the scene has none")
        self.workspace = Workspace(scene, config.workspace)
        self.max_steps = int(config.max_steps) if config.max_steps is not None else self.episode_steps
        self.container = self._pick_container() if self.needs_container else None
        self.target_object = self._pick_target()

    # object choice ------------------------------------------------------------------------
    def grasp_width(self, name: str) -> float:
        """Narrowest horizontal width of the object's hull (over directions, at its scene orientation)."""
        v = self.workspace.hulls[name] @ self.workspace.initial_rotations[name].T
        angles = np.linspace(0, np.pi, 36, endpoint=False)
        dirs = np.stack([np.cos(angles), np.sin(angles)], 1)
        proj = v[:, :2] @ dirs.T
        return float((proj.max(0) - proj.min(0)).min())

    def _check_name(self, name: str, what: str) -> str:
        if name not in self.object_names:
            raise ValueError(f"{what} {name!r} is not in the scene; objects are {self.object_names}")
        return name

    needs_grasp = True  # the target must fit between the fingers

    def _pick_target(self) -> str:
        if self.config.object_name is not None:
            return self._check_name(self.config.object_name, "TaskConfig.object_name")
        candidates = [n for n in self.object_names if n != self.container]
        for name in candidates:
            if self.grasp_width(name) <= MAX_GRASP_WIDTH:
                return name
        if not self.needs_grasp and candidates:
            return min(candidates, key=self.workspace.footprint_radius)
        widths = {n: round(self.grasp_width(n), 3) for n in candidates}
        raise TaskNotApplicable(f"task {self.name!r}: no object narrower than {MAX_GRASP_WIDTH} m to grasp "
                                f"(narrowest widths {widths}); set TaskConfig.object_name, or add a smaller object "
                                "to the scene")

    def _pick_container(self) -> str:
        if self.config.container_name is not None:
            return self._check_name(self.config.container_name, "TaskConfig.container_name")
        containers = [n for n in self.object_names if self.roles[n] == "container"]
        if not containers:
            raise TaskNotApplicable(
                f"task {self.name!r} needs a container, and no object of the scene has role 'container' "
                f"(roles: {self.roles}); mark one with role = \"container\" in the scene file's [[objects]], "
                "or pick another task")
        return max(containers, key=self.workspace.footprint_radius)  # the most room to put things

    # episodes -----------------------------------------------------------------------------
    @property
    def acted_on(self) -> set[str]:
        """The objects this task moves or places on: each episode must find room for them in reach."""
        return {self.target_object} | ({self.container} if self.container else set())

    def sample(self, seed: int) -> TaskInstance:
        """Initial object poses and goal for this seed (deterministic)."""
        rng = np.random.default_rng([int(seed), _stable_hash(self.name)])
        return self._sample(int(seed), rng)

    @abstractmethod
    def _sample(self, seed: int, rng: np.random.Generator) -> TaskInstance: ...

    @abstractmethod
    def success(self, instance: TaskInstance, poses: dict[str, np.ndarray], gripper_width: float) -> bool:
        """Judged from object poses (and whether the gripper let go)."""

    def demonstrator(self, instance: TaskInstance, body_names, control_dt: float,
                     config: DemoConfig = DemoConfig()) -> ScriptedDemonstrator:
        """This task's scripted policy for one episode (instance), acting every control_dt seconds."""
        return self.policy(self, instance, body_names, control_dt, config)

    def place_target(self, instance: TaskInstance, poses: dict[str, np.ndarray]) -> tuple[np.ndarray, float]:
        """For a pick-and-place policy: (xy where the held object's centre goes, z its bottom will rest at)."""
        raise NotImplementedError(f"task {self.name!r} has no place target (its policy is {self.policy.__name__})")

    def tilt_deg(self, name: str, pose: np.ndarray) -> float:
        """Angle (deg) between the object's up axis now and upright: its scene orientation's up axis.
        Tasks only turn objects about the vertical, so upright is the same for every sampled pose."""
        up_body = self.workspace.initial_rotations[name][2]  # world z in the body frame, upright
        up_now = pose7_to_matrix(pose)[:3, :3] @ up_body
        return float(np.degrees(np.arccos(np.clip(up_now[2], -1.0, 1.0))))

    def upright(self, name: str, pose: np.ndarray) -> bool:
        """Not toppled: tilted at most max_tilt_deg from upright. (Resting height alone is measured in
        the object's current orientation, so an object lying on its side also "rests".)"""
        return self.tilt_deg(name, pose) <= self.config.max_tilt_deg

    def resting_height(self, name: str, pose: np.ndarray) -> float:
        """z of the object's centre when resting upright on the support under it."""
        m = pose7_to_matrix(pose)
        bottom = self.workspace.world_hull(name, m)[:, 2].min() - m[2, 3]
        return self.workspace.surface_height(m[:2, 3]) - bottom

    def _goal_free(self, xy: np.ndarray, poses: dict[str, np.ndarray], ignore: str, radius: float) -> bool:
        for name, pose in poses.items():
            if name == ignore:
                continue
            if np.linalg.norm(xy - pose[:2]) < radius + self.workspace.footprint_radius(name) + 0.03:
                return False
        return True


_REGISTRY: dict[str, type[Task]] = {}


def register_task(name: str):
    def wrap(cls: type[Task]) -> type[Task]:
        if name in _REGISTRY:
            raise ValueError(f"task {name!r} is already registered")
        cls.name = name
        _REGISTRY[name] = cls
        return cls
    return wrap


def task_names() -> list[str]:
    return sorted(_REGISTRY)


def make_task(name: str, scene, config: TaskConfig | None = None, **overrides) -> Task:
    """The task registered under name, for this scene; overrides replace TaskConfig fields.

    Raises TaskNotApplicable (with the reason) when the scene has no valid target for it."""
    if name not in _REGISTRY:
        raise KeyError(f"unknown task {name!r}; registered tasks are {task_names()}")
    config = replace(config or TaskConfig(), **overrides)
    return _REGISTRY[name](scene, config)


def skipped_tasks(names, scene, config: TaskConfig | None = None) -> dict[str, str]:
    """The tasks among names that do not apply to this scene, each with the reason (TaskNotApplicable)."""
    skipped = {}
    for name in names:
        try:
            make_task(name, scene, config)
        except TaskNotApplicable as e:
            skipped[name] = str(e)
    return skipped


def _stable_hash(text: str) -> int:
    return sum((i + 1) * ord(c) for i, c in enumerate(text))  # not Python's salted hash()


@register_task("pick_place")
class PickPlaceTask(Task):
    def _sample(self, seed, rng):
        ws = self.workspace
        poses = ws.sample_placements(rng, self.object_names, required=self.acted_on)
        start = poses[self.target_object][:2]
        radius = ws.footprint_radius(self.target_object)
        for _ in range(2000):
            goal = ws.sample_reachable_xy(rng)
            if (np.linalg.norm(goal - start) >= self.config.min_goal_distance
                    and ws.footprint_supported(goal, radius)
                    and self._goal_free(goal, poses, self.target_object, radius)):
                break
        else:
            raise RuntimeError("pick_place: no free goal in reach; the workspace is too crowded")
        z = ws.surface_height(goal) + (poses[self.target_object][2] - ws.surface_height(start))
        return TaskInstance(self.name, seed, poses, self.target_object, np.array([goal[0], goal[1], z]), None,
                            f"pick up the {self.target_object.replace('_', ' ')} and place it at the goal")

    def place_target(self, instance, poses) -> tuple[np.ndarray, float]:
        """(xy where the held object's centre goes, z its bottom will rest at): the goal on the table."""
        goal = instance.goal_position
        return goal[:2], self.workspace.surface_height(goal[:2])

    def success(self, instance, poses, gripper_width):
        p = poses[instance.target_object]
        close = np.linalg.norm(p[:2] - instance.goal_position[:2]) <= self.config.goal_tolerance
        resting = abs(p[2] - self.resting_height(instance.target_object, p)) <= self.config.rest_tolerance
        upright = self.upright(instance.target_object, p)
        return bool(close and resting and upright and gripper_width >= self.config.release_width)


@register_task("pick_place_explore")
class PickPlaceExploreTask(PickPlaceTask):
    """The pick_place task's target, goals and success test, with the planner's primitive at random numbers
    instead of the scripted grasp (sim_tasks.pick_place_explore_policy): held and failed grasps for a world
    model that a planner asks about grasps the demonstrator never makes. Its layouts differ from pick_place's at
    the same seed (the task name seeds the layout)."""

    policy = ExplorePickPlaceDemonstrator


@register_task("pick_place_bowl")
class PickPlaceContainerTask(Task):
    needs_container = True

    def _sample(self, seed, rng):
        poses = self.workspace.sample_placements(rng, self.object_names, clearance=0.06, required=self.acted_on)
        c = poses[self.container]
        return TaskInstance(self.name, seed, poses, self.target_object, c[:3].copy(), self.container,
                            f"put the {self.target_object.replace('_', ' ')} in the {self.container.replace('_', ' ')}")

    def place_target(self, instance, poses) -> tuple[np.ndarray, float]:
        """(xy where the held object's centre goes, z its bottom will rest at): on the container."""
        c = poses[self.container]
        return c[:2], self.container_top(c)

    def container_top(self, pose: np.ndarray) -> float:
        return float(self.workspace.world_hull(self.container, pose7_to_matrix(pose))[:, 2].max())

    def inside_footprint(self, xy: np.ndarray, container_pose: np.ndarray, margin: float) -> bool:
        """xy lies over the container's hull, at least margin inside its outline (convex hull in xy)."""
        hull = self.workspace.world_hull(self.container, pose7_to_matrix(container_pose))[:, :2]
        from scipy.spatial import ConvexHull

        eq = ConvexHull(hull).equations  # (F,3): n . p + d <= 0 inside
        return bool((eq[:, :2] @ xy + eq[:, 2] <= -margin).all())

    def success(self, instance, poses, gripper_width):
        p, c = poses[instance.target_object], poses[self.container]
        m = pose7_to_matrix(p)
        bottom = self.workspace.world_hull(instance.target_object, m)[:, 2].min()
        top = self.container_top(c)
        inside = self.inside_footprint(p[:2], c, margin=0.01)
        # Resting on (or in) the container: bottom between 3 cm below its top and just above it.
        on_it = top - 0.03 <= bottom <= top + self.config.rest_tolerance
        upright = self.upright(instance.target_object, p)
        return bool(inside and on_it and upright and gripper_width >= self.config.release_width)


@register_task("push")
class PushTask(Task):
    """Push an object to a goal on the table. Any object can be pushed, but a tall one with a small
    base (or one that is widest high up, where the pusher touches it) tips over instead of sliding:
    the target is chosen by a stability rule from its hull, centre of mass and friction
    (`tip_margin`), not by the grasp rule."""

    needs_grasp = False
    policy = PushDemonstrator
    # A wide object (a bowl, a tray) turns under the finger and often needs a second, corrective pass. Over 50
    # seeds of the auto-authored scenes (benchmarks/rollouts.py), success within 150 / 200 / 250 steps: kitchen
    # bowl 90 / 96 / 98%, workbench tray 38 / 64 / 78%.
    episode_steps = 250

    def _pick_target(self) -> str:
        if self.config.object_name is not None:
            return self._check_name(self.config.object_name, "TaskConfig.object_name")
        margins = {n: self.tip_margin(n) for n in self.object_names}
        for name in self.object_names:  # scene order: the first one that slides rather than tips
            if margins[name] >= self.config.min_push_tip_margin:
                return name
        return max(self.object_names, key=margins.get)  # none is safe: the least tippable

    def tip_margin(self, name: str, directions: int = 72) -> float:
        """How far the object is from tipping over when pushed, worst case over push directions
        (the task turns objects to any yaw): min over d of a(d) / (mu * h(d)).

        Quasi-static: a horizontal push at height h above the support slides the object (base
        friction mu * m * g) without tipping it about the front edge of its base while
        mu * m * g * h < m * g * a, a = horizontal distance from the centre of mass (the body
        origin) to that edge. h is where a vertical pusher moving along d touches the hull: its
        rearmost points (the lowest of them if a face is vertical: tipping forwards moves the contact
        there), at least push_contact_height. mu: the larger of the object's and the support's
        friction (MuJoCo's default contact friction). > 1: slides; < 1: tips."""
        obj = next(o for o in self.scene.objects if o.name == name)
        mu = max(float(obj.friction), float(self.scene.support_friction), 1e-6)
        v = self.workspace.hulls[name] @ self.workspace.initial_rotations[name].T  # upright, CoM at origin
        z = v[:, 2] - v[:, 2].min()
        base = v[z <= 0.002, :2]  # support polygon (its vertices)
        angles = np.linspace(0, 2 * np.pi, directions, endpoint=False)
        dirs = np.stack([np.cos(angles), np.sin(angles)], 1)  # (D,2) push directions
        a = (base @ dirs.T).max(0)  # (D,) CoM to the front edge of the base
        proj = v[:, :2] @ dirs.T  # (V,D)
        rear = proj <= proj.min(0, keepdims=True) + 0.001  # the pusher's contact (vertices)
        h = np.where(rear, z[:, None], np.inf).min(0)
        h = np.maximum(h, self.config.push_contact_height)
        return float((a / (mu * h)).min())

    def _sample(self, seed, rng):
        ws = self.workspace
        lo, hi = self.config.push_distance
        radius = ws.footprint_radius(self.target_object)
        for _ in range(200):
            poses = ws.sample_placements(rng, self.object_names, required=self.acted_on)
            start = poses[self.target_object][:2]
            for _ in range(50):
                ang = rng.uniform(-np.pi, np.pi)
                d = np.array([math.cos(ang), math.sin(ang)])
                goal = start + rng.uniform(lo, hi) * d
                # The pusher starts behind the object: that spot must be in reach too.
                behind = start - d * (radius + 0.05)
                # A corrective pass starts behind the object on its line to the goal, which can be any
                # side of it once a wide object has drifted: every side of the goal must be in reach.
                if (ws.in_reach(goal) and ws.in_reach(behind) and ws.footprint_supported(goal, radius)
                        and ws.ring_in_push_reach(goal, radius + 0.05)
                        and self._goal_free(goal, poses, self.target_object, radius)
                        and self._path_free(start, goal, poses, radius)):
                    z = poses[self.target_object][2] - ws.surface_height(start) + ws.surface_height(goal)
                    return TaskInstance(self.name, seed, poses, self.target_object, np.array([*goal, z]), None,
                                        f"push the {self.target_object.replace('_', ' ')} to the goal")
        raise RuntimeError("push: no reachable push goal found; the workspace is too crowded")

    def _path_free(self, start, goal, poses, radius) -> bool:
        for name, pose in poses.items():
            if name == self.target_object:
                continue
            seg = goal - start
            t = np.clip(np.dot(pose[:2] - start, seg) / np.dot(seg, seg), 0, 1)
            if np.linalg.norm(start + t * seg - pose[:2]) < radius + self.workspace.footprint_radius(name) + 0.05:
                return False
        return True

    def success(self, instance, poses, gripper_width):
        p = poses[instance.target_object]
        return bool(np.linalg.norm(p[:2] - instance.goal_position[:2]) <= self.config.goal_tolerance
                    and abs(p[2] - self.resting_height(instance.target_object, p)) <= self.config.rest_tolerance
                    and self.upright(instance.target_object, p))


@register_task("push_explore")
class PushExploreTask(PushTask):
    """The push task's layouts, target and success test, with exploratory pushes instead of the scripted one
    (sim_tasks.push_explore_policy): data for a world model that a planner asks about pushes the demonstrator
    never makes. Its layouts differ from push's at the same seed (the task name seeds the layout)."""

    policy = ExplorePushDemonstrator


__all__ = ["PickPlaceContainerTask", "PickPlaceExploreTask", "PushExploreTask", "PickPlaceTask", "PushTask", "Task",
           "TaskConfig", "TaskInstance",
           "TaskNotApplicable", "make_task", "register_task", "skipped_tasks", "task_names"]
