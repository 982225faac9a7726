"""The scene file: a small TOML that says how to turn a captured splat into a simulation scene.

Frames (all lengths in metres):
  input   the splat PLY's own coordinates;
  metric  input rotated so `up_axis` points along +Z, then scaled by [scale];
  world   metric, levelled so the support plane is exactly horizontal (rotation about the
          plane point) and shifted so the plane lies at z = `height` (when given).
`[scale] known_distance` points are in input coordinates; `[plane]` explicit point/normal and
`region` are in the metric frame; everything else (crop boxes, bounds, robot) is in world.
For a metric, Z-up reconstruction (what `gwm reconstruct` writes) the three frames coincide
up to the small levelling correction, so boxes can be read off the input splat in a viewer.

Example (every key shown; most are optional):

    format_version = 1
    [input]
    splat = "splat.ply"              # relative to this file
    sfm_points = "sparse_pc.ply"     # optional, only for plane.points = "sfm"
    up_axis = "+z"                   # the input's up direction: +x -x +y -y +z -z
    [scale]                          # at most one of factor / known_distance (default factor 1)
    factor = 1.0
    # known_distance = { a = [0, 0, 0], b = [0.3, 0, 0], metres = 0.30 }
    [plane]
    method = "ransac"                # "ransac" (estimate) | "explicit" (normal + point)
    points = "gaussians"             # ransac input: "gaussians" | "sfm"
    region = { center = [0, 0, 0.75], size = [2, 2, 0.4] }   # ransac: only points in this box
    select = "largest"               # ransac: "largest" | "highest" horizontal plane
    threshold = 0.005                # ransac inlier distance (m)
    max_tilt_deg = 15.0              # ransac: ignore planes tilted more than this
    # normal = [0, 0, 1]             # explicit
    # point = [0, 0, 0.75]           # explicit
    level = true                     # rotate the scene so the plane is horizontal
    height = 0.75                    # optional: move the plane to this world z
    friction = 0.8
    support_center = [0.0, 0.0]      # optional xy of the support box (default: plane inliers)
    support_size = [1.2, 0.8]        # optional xy size of the support box
    support_yaw_deg = 0.0            # optional rotation of the support box about +Z
    thickness = 0.05                 # support box thickness below the plane (m)
    [bounds]                         # optional; Gaussians outside are floaters and removed
    min = [-2, -2, -0.1]
    max = [2, 2, 2.5]
    [robot]
    position = [0, -0.6, 0.75]
    yaw_deg = 90.0
    [assembly]
    com = "hull"                     # "hull" (uniform solid) | "opacity_weighted"
    hull_min_opacity = 0.2           # Gaussians below this opacity do not shape the hull
    hull_outlier_std = 0.0           # >0: drop hull points this many std sparser than their neighbours (noisy splats)
    hull_sigma = 0.0                 # >0: hull also spans each Gaussian's ellipsoid out to this many std (clipped by masks)
    support_clearance = 0.004        # Gaussians this close above the plane stay background
    snap_to_support = 0.01           # hull bottoms this close to the plane are extended onto it
    min_tip_deg = 10.0               # an object seen resting must stand: its base grows until tipping it takes this
    hull_filter = "images"           # "none" | "images": hull Gaussians must agree with the capture's images
    cameras = "transforms.json"      # the capture (transforms.json, poses in the splat's input frame) for "images"
    link_distance = 0.02             # >0: the hull is the crop's largest piece (Gaussians linked closer than this)
    link_min_opacity = 0.1           # Gaussians this opaque link a piece (the hull still takes hull_min_opacity)
    [masks]                          # optional: per-frame instance masks carve the hulls (space carving)
    cameras = "transforms.json"      # nerfstudio transforms.json whose poses are in the splat's input frame
    dir = "masks"                    # id masks named like the images (default: each frame's mask_path)
    dilate_px = 0                    # grow each object's mask by this many pixels (pose / mask-edge error)
    min_inside = 0.9                 # keep hull points inside the object's mask in this fraction of the views
    max_outside = 2                  # optional: ... and outside it in at most this many views
    [[objects]]
    name = "mug"
    center = [0.1, 0.2, 0.80]        # crop box centre, world frame
    size = [0.12, 0.12, 0.14]        # full edge lengths (m)
    yaw_deg = 0.0                    # box rotation about +Z; also the body frame's yaw
    mass = 0.3                       # kg
    friction = 0.6
    mask_id = 2                      # this object's id in the masks (needed when [masks] is given)
    role = "object"                  # optional: "object" | "container" (something other objects go in);
                                     # absent: decided from the object's shape (gwm/scene/shape.py: an
                                     # open top whose opening is wider than another object's footprint)
"""

from __future__ import annotations

import difflib
import math
import tomllib
import warnings
from dataclasses import MISSING, asdict, dataclass, field, fields
from pathlib import Path

from gwm.roles import OBJECT_ROLES

SCENE_FILE_VERSION = 1
UP_AXES = ("+x", "-x", "+y", "-y", "+z", "-z")
# Sanity limits that catch wrong units (millimetres, or a scale off by 1000x).
MAX_OBJECT_SIZE_M = 3.0
MAX_SCENE_DISTANCE_M = 50.0
# Mass over hull volume of household objects: foam or a hollow box (~50) to solid metal (~5,000). Outside: warn.
PLAUSIBLE_DENSITY_KG_M3 = (50, 5000)


class SceneConfigError(ValueError):
    """A scene file problem; the message names the key, the problem and the fix."""


class SceneWarning(UserWarning):
    """Something in a scene that is allowed but probably not meant (no objects, an implausible mass)."""


@dataclass(frozen=True)
class CropBox:
    center: tuple[float, float, float]
    size: tuple[float, float, float]
    yaw_deg: float = 0.0


@dataclass(frozen=True)
class ObjectSpec:
    name: str
    box: CropBox
    mass: float
    friction: float = 0.6
    mask_id: int | None = None
    role: str | None = None  # None: assembly decides from the object's shape


@dataclass(frozen=True)
class MaskSpec:
    cameras: Path
    dir: Path | None = None
    dilate_px: int = 0
    min_inside: float = 0.9
    max_outside: int | None = None


@dataclass(frozen=True)
class KnownDistance:
    a: tuple[float, float, float]
    b: tuple[float, float, float]
    metres: float


@dataclass(frozen=True)
class ScaleSpec:
    factor: float | None = None
    known_distance: KnownDistance | None = None

    def resolve(self) -> float:
        if self.known_distance is None:
            return 1.0 if self.factor is None else self.factor
        kd = self.known_distance
        d = math.dist(kd.a, kd.b)
        return kd.metres / d


@dataclass(frozen=True)
class Region:
    center: tuple[float, float, float]
    size: tuple[float, float, float]


@dataclass(frozen=True)
class PlaneSpec:
    method: str = "ransac"
    points: str = "gaussians"
    region: Region | None = None
    select: str = "largest"
    threshold: float = 0.005
    max_tilt_deg: float = 15.0
    normal: tuple[float, float, float] | None = None
    point: tuple[float, float, float] | None = None
    level: bool = True
    height: float | None = None
    friction: float = 0.8
    support_center: tuple[float, float] | None = None
    support_size: tuple[float, float] | None = None
    support_yaw_deg: float = 0.0
    thickness: float = 0.05


@dataclass(frozen=True)
class BoundsSpec:
    min: tuple[float, float, float] | None = None
    max: tuple[float, float, float] | None = None


@dataclass(frozen=True)
class RobotSpec:
    position: tuple[float, float, float] = (0.0, 0.0, 0.0)
    yaw_deg: float = 0.0


@dataclass(frozen=True)
class AssemblySpec:
    com: str = "hull"
    hull_min_opacity: float = 0.2
    hull_outlier_std: float = 0.0
    hull_sigma: float = 0.0
    support_clearance: float = 0.004
    snap_to_support: float = 0.01
    min_tip_deg: float = 10.0
    seed: int = 0
    hull_filter: str = "none"
    cameras: Path | None = None
    link_distance: float = 0.0
    link_min_opacity: float = 0.1


@dataclass(frozen=True)
class SceneConfig:
    splat: Path
    sfm_points: Path | None = None
    up_axis: str = "+z"
    scale: ScaleSpec = field(default_factory=ScaleSpec)
    plane: PlaneSpec = field(default_factory=PlaneSpec)
    bounds: BoundsSpec = field(default_factory=BoundsSpec)
    robot: RobotSpec = field(default_factory=RobotSpec)
    assembly: AssemblySpec = field(default_factory=AssemblySpec)
    objects: tuple[ObjectSpec, ...] = ()
    masks: MaskSpec | None = None
    source_file: Path | None = None

    def to_dict(self) -> dict:
        """Resolved config as plain JSON-able data (stored in every artifact)."""
        def clean(v):
            if isinstance(v, Path):
                return str(v)
            if isinstance(v, dict):
                return {k: clean(x) for k, x in v.items()}
            if isinstance(v, (list, tuple)):
                return [clean(x) for x in v]
            return v
        return clean(asdict(self))


# parsing -------------------------------------------------------------------------------------
def load_scene_config(path: str | Path, splat: str | Path | None = None) -> SceneConfig:
    """Parse and validate a scene TOML file. Raises SceneConfigError naming the fix.

    splat overrides input.splat (e.g. a pipeline's own reconstruction output)."""
    path = Path(path)
    if not path.is_file():
        raise SceneConfigError(f"{path}: scene file not found; write one (see `gwm scene assemble --help`)")
    try:
        data = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as e:
        raise SceneConfigError(f"{path}: not valid TOML ({e}); fix the syntax at that line") from e
    return parse_scene_config(data, base_dir=path.parent, source_file=path, splat=splat)


def parse_scene_config(data: dict, base_dir: str | Path = ".", source_file: Path | None = None,
                       splat: str | Path | None = None) -> SceneConfig:
    where = str(source_file) if source_file else "scene file"
    r = _Reader(where)
    r.keys(data, "", ["format_version", "input", "scale", "plane", "bounds", "robot", "assembly", "masks", "objects"])
    version = data.get("format_version", SCENE_FILE_VERSION)
    if version != SCENE_FILE_VERSION:
        raise SceneConfigError(f"{where}: format_version {version!r} is not supported; this code reads {SCENE_FILE_VERSION}")

    inp = _Table(r, r.table(data, "input", required=True), "input", SceneConfig, keys=("splat", "sfm_points", "up_axis"))
    base = Path(base_dir)
    if splat is not None:
        splat = Path(splat)
        if not splat.is_file():
            raise SceneConfigError(f"{splat}: splat PLY not found; reconstruct one first (gwm reconstruct ...)")
    else:
        splat = base / inp.string("splat", required=True)
    if not splat.is_file():
        raise SceneConfigError(
            f"{where}: input.splat = {inp.data['splat']!r} does not exist (looked for {splat}); "
            "give the splat PLY's path relative to the scene file"
        )
    sfm = inp.data.get("sfm_points")
    sfm_path = base / inp.string("sfm_points") if sfm is not None else None
    if sfm_path is not None and not sfm_path.is_file():
        raise SceneConfigError(f"{where}: input.sfm_points = {sfm!r} does not exist (looked for {sfm_path}); "
                               "fix the path or remove the key")
    up_axis = inp.choice("up_axis", UP_AXES)

    sc = _Table(r, r.table(data, "scale"), "scale", ScaleSpec)
    if "factor" in sc.data and "known_distance" in sc.data:
        raise SceneConfigError(f"{where}: [scale] has both factor and known_distance; keep one")
    factor = sc.number("factor", positive=True)
    kd = None
    if "known_distance" in sc.data:
        t = _Table(r, r.table(sc.data, "known_distance", prefix="scale."), "scale.known_distance", KnownDistance)
        kd = KnownDistance(t.vec("a", 3, required=True), t.vec("b", 3, required=True),
                           t.number("metres", positive=True, required=True))
        if math.dist(kd.a, kd.b) < 1e-9:
            raise SceneConfigError(f"{where}: scale.known_distance points a and b are the same point; "
                                   "give two distinct points a known distance apart")
    scale = ScaleSpec(factor, kd)

    pl = _Table(r, r.table(data, "plane"), "plane", PlaneSpec)
    method = pl.choice("method", ("ransac", "explicit"))
    region = None
    if "region" in pl.data:
        t = _Table(r, r.table(pl.data, "region", prefix="plane."), "plane.region", Region)
        region = Region(t.vec("center", 3, required=True), t.vec("size", 3, required=True, positive=True))
    plane = PlaneSpec(
        method=method,
        points=pl.choice("points", ("gaussians", "sfm")),
        region=region,
        select=pl.choice("select", ("largest", "highest")),
        threshold=pl.number("threshold", positive=True),
        max_tilt_deg=pl.number("max_tilt_deg", positive=True),
        normal=pl.vec("normal", 3, required=method == "explicit"),
        point=pl.vec("point", 3, required=method == "explicit"),
        level=pl.boolean("level"),
        height=pl.number("height"),
        friction=pl.number("friction", minimum=0.0),
        support_center=pl.vec("support_center", 2),
        support_size=pl.vec("support_size", 2, positive=True),
        support_yaw_deg=pl.number("support_yaw_deg"),
        thickness=pl.number("thickness", positive=True),
    )
    if method == "ransac" and ("normal" in pl.data or "point" in pl.data):
        raise SceneConfigError(f"{where}: plane.normal/point are only used with plane.method = \"explicit\"; "
                               "set method = \"explicit\" or remove them")
    if method == "explicit" and math.hypot(*plane.normal) < 1e-9:
        raise SceneConfigError(f"{where}: plane.normal is the zero vector; give the plane's up direction, e.g. [0, 0, 1]")
    if plane.points == "sfm" and method == "ransac" and sfm_path is None:
        raise SceneConfigError(f"{where}: plane.points = \"sfm\" needs input.sfm_points; add it or use \"gaussians\"")
    if plane.height is not None and abs(plane.height) > MAX_SCENE_DISTANCE_M:
        raise SceneConfigError(f"{where}: plane.height = {plane.height} m puts the table {abs(plane.height):.0f} m away; "
                               "heights are metres (a table top is ~0.75)")

    bd = _Table(r, r.table(data, "bounds"), "bounds", BoundsSpec)
    bounds = BoundsSpec(bd.vec("min", 3), bd.vec("max", 3))
    if (bounds.min is None) != (bounds.max is None):
        raise SceneConfigError(f"{where}: [bounds] needs both min and max (or neither for automatic bounds)")
    if bounds.min is not None and any(lo >= hi for lo, hi in zip(bounds.min, bounds.max)):
        raise SceneConfigError(f"{where}: bounds.min {bounds.min} must be below bounds.max {bounds.max} on every axis")

    rb = _Table(r, r.table(data, "robot"), "robot", RobotSpec)
    robot = RobotSpec(rb.vec("position", 3), rb.number("yaw_deg"))
    _check_distance(where, "robot.position", robot.position)

    asm = _Table(r, r.table(data, "assembly"), "assembly", AssemblySpec)
    hull_filter = asm.choice("hull_filter", ("none", "images"))
    cameras = None
    if "cameras" in asm.data:
        cameras = base / asm.string("cameras")
        if not cameras.exists():
            raise SceneConfigError(f"{where}: assembly.cameras = {asm.data['cameras']!r} does not exist (looked for "
                                   f"{cameras}); give the capture's transforms.json relative to the scene file")
    if hull_filter == "images" and cameras is None:
        raise SceneConfigError(f"{where}: assembly.hull_filter = \"images\" needs assembly.cameras (the capture's "
                               "transforms.json); add it or set hull_filter = \"none\"")
    assembly = AssemblySpec(
        com=asm.choice("com", ("hull", "opacity_weighted")),
        hull_min_opacity=asm.number("hull_min_opacity", minimum=0.0, maximum=1.0),
        hull_outlier_std=asm.number("hull_outlier_std", minimum=0.0),
        hull_sigma=asm.number("hull_sigma", minimum=0.0, maximum=3.0),
        support_clearance=asm.number("support_clearance", minimum=0.0),
        snap_to_support=asm.number("snap_to_support", minimum=0.0),
        min_tip_deg=asm.number("min_tip_deg", minimum=0.0, maximum=45.0),
        seed=int(asm.number("seed")),
        hull_filter=hull_filter,
        cameras=cameras,
        link_distance=asm.number("link_distance", minimum=0.0, maximum=0.2),
        link_min_opacity=asm.number("link_min_opacity", minimum=0.0, maximum=1.0),
    )

    masks = None
    if "masks" in data:
        mk = _Table(r, r.table(data, "masks"), "masks", MaskSpec)
        cams = base / mk.string("cameras", required=True)
        if not cams.exists():
            raise SceneConfigError(f"{where}: masks.cameras = {mk.data['cameras']!r} does not exist (looked for {cams}); "
                                   "give the capture's transforms.json relative to the scene file")
        mdir = base / mk.string("dir") if "dir" in mk.data else None
        if mdir is not None and not mdir.is_dir():
            raise SceneConfigError(f"{where}: masks.dir = {mk.data['dir']!r} is not a folder (looked for {mdir}); "
                                   "give the folder of id masks relative to the scene file")
        dilate = mk.number("dilate_px", minimum=0.0, maximum=20.0)
        if dilate != int(dilate):
            raise SceneConfigError(f"{where}: masks.dilate_px = {dilate} must be a whole number of pixels")
        max_out = mk.number("max_outside", minimum=0.0)
        if max_out is not None and max_out != int(max_out):
            raise SceneConfigError(f"{where}: masks.max_outside = {max_out} must be a whole number of views")
        masks = MaskSpec(cams, mdir, int(dilate), mk.number("min_inside", minimum=0.0, maximum=1.0),
                         None if max_out is None else int(max_out))

    raw_objects = data.get("objects", [])
    if not isinstance(raw_objects, list) or not all(isinstance(o, dict) for o in raw_objects):
        raise SceneConfigError(f"{where}: objects must be an array of tables: write each as [[objects]]")
    objects = []
    for i, o in enumerate(raw_objects):
        name = o.get("name")
        label = f"objects[{i}]" + (f" ({name!r})" if name else "")
        ob = _Table(r, o, label, ObjectSpec, keys=_OBJECT_KEYS)
        box_table = _Table(r, o, label, CropBox, keys=_OBJECT_KEYS)
        name = ob.string("name", required=True)
        if not (name[0].isalpha() and all(c.isalnum() or c == "_" for c in name)):
            raise SceneConfigError(f"{where}: {label}.name {name!r} is not a valid name; use letters, digits and '_' "
                                   "starting with a letter (e.g. 'red_mug')")
        box = CropBox(box_table.vec("center", 3, required=True), box_table.vec("size", 3, required=True, positive=True),
                      box_table.number("yaw_deg"))
        mass = ob.number("mass", required=True)
        if not mass > 0:
            raise SceneConfigError(f"{where}: {label}.mass = {mass} kg; mass must be a positive number of kilograms "
                                   "(e.g. 0.3 for a mug)")
        if mass > 500:
            raise SceneConfigError(f"{where}: {label}.mass = {mass} kg is not a movable object; mass is in kg, not grams")
        friction = ob.number("friction", minimum=0.0)
        if friction > 5:
            raise SceneConfigError(f"{where}: {label}.friction = {friction} is not a friction coefficient (0..~1.5)")
        if max(box.size) > MAX_OBJECT_SIZE_M:
            raise SceneConfigError(
                f"{where}: {label}.size {list(box.size)} is {max(box.size):.1f} m; sizes are full edge lengths in "
                "metres (a mug is ~[0.1, 0.1, 0.12]). If the splat is not metric, set [scale]"
            )
        _check_distance(where, f"{label}.center", box.center)
        mask_id = None
        if "mask_id" in o:
            mask_id = o["mask_id"]
            if isinstance(mask_id, bool) or not isinstance(mask_id, int) or mask_id < 0:
                raise SceneConfigError(f"{where}: {label}.mask_id = {mask_id!r} must be a non-negative integer "
                                       "(the object's pixel value in the masks)")
            if masks is None:
                raise SceneConfigError(f"{where}: {label}.mask_id is given but there is no [masks] table; add [masks] "
                                       "(cameras, dir) or remove mask_id")
        elif masks is not None:
            raise SceneConfigError(f"{where}: {label} has no mask_id but [masks] is given; add the object's pixel "
                                   "value in the masks (mask_id = N)")
        role = ob.choice("role", OBJECT_ROLES)
        objects.append(ObjectSpec(name, box, float(mass), float(friction), mask_id, role))
    names = [o.name for o in objects]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise SceneConfigError(f"{where}: object names must be unique; {dup} repeat. Rename one of them")
    ids = [o.mask_id for o in objects if o.mask_id is not None]
    dup = sorted({i for i in ids if ids.count(i) > 1})
    if dup:
        raise SceneConfigError(f"{where}: objects' mask_id values must be unique; {dup} repeat. Each object needs "
                               "its own id in the masks")

    if not objects:
        warnings.warn(f"{where}: no [[objects]]: the scene is background only, with nothing for the robot to move; "
                      "add [[objects]] (or write the file with `gwm scene init`)", SceneWarning, stacklevel=2)
    return SceneConfig(splat=splat, sfm_points=sfm_path, up_axis=up_axis, scale=scale, plane=plane, bounds=bounds,
                       robot=robot, assembly=assembly, objects=tuple(objects), masks=masks, source_file=source_file)


def _check_distance(where: str, key: str, xyz) -> None:
    d = math.hypot(*xyz)
    if d > MAX_SCENE_DISTANCE_M:
        raise SceneConfigError(f"{where}: {key} = {list(xyz)} is {d:.0f} m from the origin; coordinates are metres "
                               "in the world frame (check for millimetres, or set [scale])")


# A [[objects]] entry: the ObjectSpec fields with the crop box's fields in place of `box`.
_OBJECT_KEYS = ("name", "center", "size", "yaw_deg", "mass", "friction", "mask_id", "role")


def _field_default(cls, name: str):
    """The default a dataclass gives field name (None when it has none): the one place each default is written."""
    f = cls.__dataclass_fields__[name]
    if f.default is not MISSING:
        return f.default
    if f.default_factory is not MISSING:
        return f.default_factory()
    return None


class _Table:
    """One TOML table read into one dataclass: its allowed keys are the dataclass's fields (or `keys`), and a
    missing key takes that field's default, so keys and defaults are written once, in the dataclass."""

    def __init__(self, reader: "_Reader", data: dict, name: str, cls, keys: tuple[str, ...] | None = None):
        self.r, self.data, self.name, self.cls = reader, data, name, cls
        reader.keys(data, name, list(keys) if keys is not None else [f.name for f in fields(cls)])

    def _key(self, key: str) -> str:
        return f"{self.name}.{key}"

    def string(self, key: str, required: bool = False) -> str | None:
        return self.r.string(self.data, self._key(key), required)

    def choice(self, key: str, options):
        return self.r.choice(self.data, self._key(key), options, _field_default(self.cls, key))

    def boolean(self, key: str) -> bool:
        return self.r.boolean(self.data, self._key(key), _field_default(self.cls, key))

    def number(self, key: str, required: bool = False, **limits) -> float | None:
        return self.r.number(self.data, self._key(key), required, default=_field_default(self.cls, key), **limits)

    def vec(self, key: str, n: int, required: bool = False, positive: bool = False):
        v = self.r.vec(self.data, self._key(key), n, required, positive)
        return _field_default(self.cls, key) if v is None else v


class _Reader:
    """Typed access to TOML values with error messages that name the key and the fix."""

    def __init__(self, where: str):
        self.where = where

    def fail(self, msg: str):
        raise SceneConfigError(f"{self.where}: {msg}")

    def keys(self, table: dict, name: str, allowed: list[str]) -> None:
        for key in table:
            if key not in allowed:
                hint = difflib.get_close_matches(key, allowed, n=1)
                fix = f"did you mean {hint[0]!r}?" if hint else f"allowed keys: {', '.join(allowed)}"
                self.fail(f"unknown key {key!r} in {'[' + name + ']' if name else 'the top level'}; {fix}")

    def table(self, data: dict, key: str, required: bool = False, prefix: str = "") -> dict:
        if key not in data:
            if required:
                self.fail(f"missing [{prefix}{key}] table; add it (see the example in gwm/scene/config.py)")
            return {}
        if not isinstance(data[key], dict):
            self.fail(f"{prefix}{key} must be a table ([{prefix}{key}] or {{ ... }}), got {data[key]!r}")
        return data[key]

    def _get(self, data: dict, dotted: str, required: bool):
        key = dotted.rsplit(".", 1)[-1]
        if key not in data:
            if required:
                self.fail(f"missing required key {dotted}")
            return None
        return data[key]

    def string(self, data, dotted, required=False) -> str | None:
        v = self._get(data, dotted, required)
        if v is not None and (not isinstance(v, str) or not v):
            self.fail(f"{dotted} must be a non-empty string, got {v!r}")
        return v

    def choice(self, data, dotted, options, default) -> str:
        v = self._get(data, dotted, False)
        if v is None:
            return default
        if v not in options:
            self.fail(f"{dotted} = {v!r} is not one of {', '.join(repr(o) for o in options)}")
        return v

    def boolean(self, data, dotted, default) -> bool:
        v = self._get(data, dotted, False)
        if v is None:
            return default
        if not isinstance(v, bool):
            self.fail(f"{dotted} must be true or false, got {v!r}")
        return v

    def number(self, data, dotted, required=False, positive=False, minimum=None, maximum=None, default=None) -> float:
        v = self._get(data, dotted, required)
        if v is None:
            return default
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            self.fail(f"{dotted} must be a finite number, got {v!r}")
        if positive and v <= 0:
            self.fail(f"{dotted} = {v} must be positive")
        if minimum is not None and v < minimum:
            self.fail(f"{dotted} = {v} must be >= {minimum}")
        if maximum is not None and v > maximum:
            self.fail(f"{dotted} = {v} must be <= {maximum}")
        return float(v)

    def vec(self, data, dotted, n, required=False, positive=False):
        v = self._get(data, dotted, required)
        if v is None:
            return None
        if (not isinstance(v, list) or len(v) != n
                or not all(isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x) for x in v)):
            self.fail(f"{dotted} must be a list of {n} numbers, got {v!r}")
        if positive and any(x <= 0 for x in v):
            self.fail(f"{dotted} = {v} must be positive on every axis")
        return tuple(float(x) for x in v)


__all__ = ["SceneConfig", "SceneConfigError", "SceneWarning", "ObjectSpec", "CropBox", "PlaneSpec", "ScaleSpec", "KnownDistance",
           "BoundsSpec", "RobotSpec", "AssemblySpec", "MaskSpec", "Region", "load_scene_config", "parse_scene_config"]
