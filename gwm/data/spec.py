"""What a demonstration dataset holds: per-frame features, frame rate, robot, bodies and their roles, cameras.

Feature keys follow LeRobot's style ("observation.state", "action", "observation.images.<camera>").
Quaternions are w, x, y, z in every feature; the HDF5 writer converts at its boundary.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from gwm.cameras import EE_MOUNT, WORLD_MOUNT, CameraSpec
from gwm.roles import check_role

# Bumped when the on-disk layout of either format changes in a way a reader must know about.
DATASET_FORMAT_VERSION = 1

FEATURE_DTYPES = ("float32", "float64", "int64", "bool", "image")

# Standard keys (other stages use these names).
STATE = "observation.state"
VELOCITY = "observation.velocity"
EE_POSE = "observation.ee_pose"  # (7,): xyz + quat wxyz
BODY_POSES = "observation.body_poses"  # (num_bodies, 7): xyz + quat wxyz per body in body_names
ACTION = "action"
REWARD = "next.reward"  # (1,) float32
DONE = "next.done"  # (1,) bool
IMAGE_PREFIX = "observation.images."
DEPTH_PREFIX = "observation.depth."

# Features whose last axis is a pose (xyz + quaternion); formats that store xyzw convert these.
POSE_KEYS = (EE_POSE, BODY_POSES)


class DatasetError(ValueError):
    """A dataset on disk (or a frame given to a writer) is malformed; the message says how to fix it."""


@dataclass(frozen=True)
class FeatureSpec:
    """One per-frame feature. dtype in FEATURE_DTYPES; "image" means uint8 (H, W, 3) RGB."""

    dtype: str
    shape: tuple[int, ...]
    names: list[str] | None = None

    def __post_init__(self) -> None:
        if self.dtype not in FEATURE_DTYPES:
            raise ValueError(f"FeatureSpec dtype {self.dtype!r} is not one of {FEATURE_DTYPES}")
        shape = tuple(int(s) for s in self.shape)
        object.__setattr__(self, "shape", shape)
        if not shape or any(s <= 0 for s in shape):
            raise ValueError(f"FeatureSpec shape {shape} must be non-empty with positive sizes; use (1,) for scalars")
        if self.dtype == "image" and (len(shape) != 3 or shape[2] != 3):
            raise ValueError(f"image features are (H, W, 3) uint8 RGB, got shape {shape}")
        if self.names is not None:
            object.__setattr__(self, "names", list(self.names))

    @property
    def is_image(self) -> bool:
        return self.dtype == "image"

    @property
    def numpy_dtype(self) -> np.dtype:
        return np.dtype(np.uint8) if self.is_image else np.dtype(self.dtype)

    def to_dict(self) -> dict:
        return {"dtype": self.dtype, "shape": list(self.shape), "names": self.names}

    @classmethod
    def from_dict(cls, d: dict) -> "FeatureSpec":
        return cls(dtype=d["dtype"], shape=tuple(d["shape"]), names=d.get("names"))


@dataclass(frozen=True)
class DatasetSpec:
    """Frame rate, features, the bodies whose poses drive the Gaussian world state, and the cameras.

    body_roles: one gwm.roles role per body_names entry (background, object, container, robot_link,
    tool); empty when unknown (datasets recorded before roles existed). cameras: the CameraSpec of each
    camera (fixed, or mounted on the tool or a body); an image feature observation.images.<name> of a
    listed camera must have that camera's size.
    """

    fps: int
    features: dict[str, FeatureSpec]
    robot_type: str = "franka_panda"
    body_names: tuple[str, ...] = field(default=())
    body_roles: tuple[str, ...] = field(default=())
    cameras: tuple[CameraSpec, ...] = field(default=())

    def __post_init__(self) -> None:
        if int(self.fps) <= 0:
            raise ValueError(f"DatasetSpec.fps must be a positive integer, got {self.fps}")
        object.__setattr__(self, "fps", int(self.fps))
        object.__setattr__(self, "body_names", tuple(self.body_names))
        if not self.features:
            raise ValueError("DatasetSpec.features is empty; give at least 'action'")
        for key, ft in self.features.items():
            if not isinstance(ft, FeatureSpec):
                raise TypeError(f"DatasetSpec.features[{key!r}] must be a FeatureSpec, got {type(ft).__name__}")
            if "/" in key:
                raise ValueError(f"feature name {key!r} contains '/', which LeRobot and HDF5 paths forbid")
            if key in RESERVED_KEYS:
                raise ValueError(f"feature name {key!r} is reserved: the writers fill it in")
            if ft.is_image and not key.startswith(IMAGE_PREFIX):
                raise ValueError(f"image feature {key!r} must be named '{IMAGE_PREFIX}<camera>'")
        if len(set(self.body_names)) != len(self.body_names):
            raise ValueError(f"DatasetSpec.body_names has duplicates: {self.body_names}")
        if self.body_names:
            want = (len(self.body_names), 7)
            got = self.features.get(BODY_POSES)
            if got is None or got.shape != want or got.dtype not in ("float32", "float64"):
                raise ValueError(
                    f"body_names {self.body_names} need feature {BODY_POSES!r} as float32 {want} "
                    f"(xyz + quat wxyz per body); got {got}"
                )
        elif BODY_POSES in self.features:
            raise ValueError(f"feature {BODY_POSES!r} needs DatasetSpec.body_names (one name per row)")
        object.__setattr__(self, "body_roles", tuple(self.body_roles))
        if self.body_roles:
            if len(self.body_roles) != len(self.body_names):
                raise ValueError(f"DatasetSpec.body_roles has {len(self.body_roles)} entries for "
                                 f"{len(self.body_names)} body_names; give one role per body (or none)")
            for name, role in zip(self.body_names, self.body_roles):
                check_role(role, f"DatasetSpec.body_roles for body {name!r}")
        object.__setattr__(self, "cameras", tuple(self.cameras))
        self._check_cameras()

    def _check_cameras(self) -> None:
        names = [c.name for c in self.cameras]
        if len(set(names)) != len(names):
            raise ValueError(f"DatasetSpec.cameras has duplicate names: {names}")
        for cam in self.cameras:
            if not isinstance(cam, CameraSpec):
                raise TypeError(f"DatasetSpec.cameras entries must be CameraSpec, got {type(cam).__name__}")
            if cam.mount == EE_MOUNT and EE_POSE not in self.features:
                raise ValueError(f"camera {cam.name!r} is mounted on the tool ('{EE_MOUNT}') but the spec has no "
                                 f"{EE_POSE!r} feature to pose it")
            if cam.mount not in (WORLD_MOUNT, EE_MOUNT) and cam.mount not in self.body_names:
                raise ValueError(f"camera {cam.name!r} is mounted on {cam.mount!r}, which is not 'world', "
                                 f"'{EE_MOUNT}' or one of body_names {list(self.body_names)}")
            image = self.features.get(IMAGE_PREFIX + cam.name)
            if image is not None and image.shape[:2] != (cam.height, cam.width):
                raise ValueError(f"camera {cam.name!r} is {cam.width}x{cam.height} but its feature "
                                 f"{IMAGE_PREFIX + cam.name!r} has images of shape {image.shape}")

    @property
    def roles(self) -> dict[str, str]:
        """body name -> role; empty when the dataset does not record roles."""
        return dict(zip(self.body_names, self.body_roles))

    @cached_property
    def frame_checks(self) -> list[tuple[str, FeatureSpec, np.dtype | None, bool]]:
        """(key, spec, numpy dtype (None: int64, checked first), needs a finite check) per feature."""
        return [(k, ft, None if ft.dtype == "int64" else ft.numpy_dtype, ft.dtype in ("float32", "float64"))
                for k, ft in self.features.items()]

    @property
    def camera_keys(self) -> list[str]:
        return [k for k, ft in self.features.items() if ft.is_image]

    def to_dict(self) -> dict:
        return {
            "fps": self.fps,
            "robot_type": self.robot_type,
            "body_names": list(self.body_names),
            "body_roles": list(self.body_roles),
            "cameras": [c.to_dict() for c in self.cameras],
            "features": {k: ft.to_dict() for k, ft in self.features.items()},
        }

    @classmethod
    def from_dict(cls, d: dict) -> "DatasetSpec":
        return cls(
            fps=d["fps"],
            features={k: FeatureSpec.from_dict(v) for k, v in d["features"].items()},
            robot_type=d.get("robot_type", "franka_panda"),
            body_names=tuple(d.get("body_names", ())),
            body_roles=tuple(d.get("body_roles", ())),  # absent in datasets recorded before roles
            cameras=tuple(CameraSpec.from_dict(c) for c in d.get("cameras", ())),
        )

    def same_as(self, other: "DatasetSpec") -> bool:
        return json.dumps(self.to_dict(), sort_keys=True) == json.dumps(other.to_dict(), sort_keys=True)


# Columns LeRobot adds to every frame; a spec must not define them.
RESERVED_KEYS = ("timestamp", "frame_index", "episode_index", "index", "task_index")


def check_frame(spec: DatasetSpec, frame: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Validate one frame against the spec; returns arrays cast to the feature dtypes.

    Raises DatasetError naming the feature, what was wrong and what is expected.
    """
    missing = [k for k in spec.features if k not in frame]
    extra = [k for k in frame if k not in spec.features]
    if missing or extra:
        raise DatasetError(
            f"frame keys do not match the DatasetSpec: missing {missing}, unexpected {extra}; "
            "add_frame needs exactly the spec's features"
        )
    out = {}
    for key, ft, dtype, finite_check in spec.frame_checks:
        value = frame[key]
        if hasattr(value, "detach"):  # torch tensors
            value = value.detach().cpu().numpy()
        if ft.is_image and getattr(value, "dtype", None) != np.uint8:
            raise DatasetError(f"image {key!r} has dtype {getattr(value, 'dtype', type(value))}; give uint8 RGB (H, W, 3)")
        if dtype is None:  # int64: refuse floats rather than truncate them
            kind = np.asarray(value).dtype.kind
            if kind not in "iub":
                raise DatasetError(f"feature {key!r} has dtype {np.asarray(value).dtype}, the spec says int64")
            dtype = np.int64
        arr = np.array(value, dtype=dtype, copy=True)  # always a copy: producers often reuse one buffer
        if arr.shape != ft.shape:
            if arr.size == int(np.prod(ft.shape)) and not ft.is_image:
                arr = arr.reshape(ft.shape)  # allow scalars for (1,) features
            else:
                raise DatasetError(f"feature {key!r} has shape {arr.shape}, the spec says {ft.shape}")
        if finite_check and not np.isfinite(arr).all():
            raise DatasetError(f"feature {key!r} has NaN or inf values; fix the producer before recording")
        out[key] = arr
    return out
