"""`gwm scene init`: a scene file written from a splat and its capture, with nothing authored by hand.

Input: a metric, Z-up splat (what `gwm reconstruct` writes) and its capture folder
(transforms.json: cameras and images; the capture must be metric, see require_metric_capture).
Output: a commented scene.toml a user can read and edit, and a preview PNG next to it.

1. Support plane: RANSAC over opaque Gaussian centres below the point the capture's cameras
   look at (the highest horizontal plane with a fair share of the inliers: a counter, not the
   floor under it; layers of one noisy surface count once), refitted on the band around it. The
   scene is levelled about it (as assembly does).
2. Its noise band: how far the plane's own Gaussians scatter above it (median + 3 robust std
   of their heights); anything lower is table, not object (assembly.support_clearance).
3. Support region: the plane's inliers as an occupancy grid, holes under objects filled, the
   piece under the cameras' gaze, its minimum-area rectangle (oriented by the data).
4. Objects: Gaussians above the noise band over the support (opacity >= link_min_opacity to
   link pieces, >= hull_min_opacity to shape hulls), kept only where the capture's images show an
   object (render-and-compare silhouettes,
   gwm/scene/observed.py: floaters and blobs the images contradict are dropped), split into
   connected pieces (gwm/scene/clusters.py). Pieces too small are specks; pieces larger than an
   object (a wall, a shelf) are reported and skipped. An oriented box per piece (min-area
   rectangle of its footprint) with a margin is the crop box.
5. Robot: a Franka Panda base at the support's edge, facing across it, where no wall stands: the
   side the capture was taken from is preferred (people stand there), then the placement that puts
   the most objects in the tasks' workspace and the nearest farthest object. Objects out of the Panda's reach
   are an error (or a warning with allow_unreachable).
6. Assembly runs on the result (same code as `gwm scene assemble`, [assembly] hull_filter =
   "images"): masses = hull volume (less a container's cavity) x DENSITY_PRIOR_KG_M3; frictions = the scene file defaults.
7. The file is written atomically and never over an existing one unless overwrite=True.

Roles: objects are written without a role; a container decided by geometry can be added later
(`role = "container"` in [[objects]]).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from warnings import catch_warnings, simplefilter  # (`warnings` names the robot placement's list here)

import numpy as np

from gwm.atomic_io import atomic_write_path
from gwm.scene.clusters import LINK_DISTANCE_M, Rect, connected_components, fit_support_rect, min_area_rect, skirt
from gwm.scene.config import ObjectSpec, PlaneSpec, SceneConfigError, SceneWarning
from gwm.scene.observed import ViewCheckConfig

# Mass prior: mass = convex-hull volume x this density. Half of water's 1000 kg/m^3 (what simulators assume
# for a solid: Isaac Sim and ManiSkill default to 1000): things on a counter are mostly hollow (cups, bowls,
# boxes, cans), so their hulls enclose air. A prior, not a measurement: edit `mass` per object.
DENSITY_PRIOR_KG_M3 = 500.0
MIN_SHELL_FRACTION = 0.1  # a container's walls and floor: at least this fraction of its hull volume
MASS_RANGE_KG = (0.02, 3.0)  # clamp: a few grams is noise; the Panda's payload is 3 kg
# Franka Emika Panda datasheet: maximum reach 855 mm (from the base axis).
PANDA_REACH_M = 0.855
# The tasks' workspace (sim_tasks/workspace.py WorkspaceConfig; a test keeps them equal): objects are placed
# 0.36-0.62 m from the base axis within 50 deg of its facing direction.
TASK_REACH_M = (0.36, 0.62)
TASK_BEARING_DEG = 50.0
ROBOT_STANDOFF_M = 0.10  # base axis behind the support's edge (the Panda's base is ~0.2 m across)
ROBOT_CLEARANCE_M = 0.25  # no wall or furniture this close to the base axis (the base and the arm's first links)
# A piece taller than 0.2 m and more than 4 times taller than its footprint is wide is a strip of a wall or a
# pole seen through the image check, not a graspable thing (a 0.7 l bottle: 0.25 m tall, 0.07 m wide).
SLENDER_MIN_HEIGHT_M = 0.2
SLENDER_RATIO = 4.0
PLANE_MIN_OPACITY = 0.5  # as in assembly: Gaussians that vote for the plane
PLANE_SAME_SURFACE_M = 0.05  # horizontal planes closer than this are one surface's noise layers
PLANE_REFIT_BAND_M = 0.01  # the plane is refitted on all opaque Gaussians this close to it
# What a hand-held capture of a tabletop looks like in metres: cameras a median 0.1-5 m from what they look at,
# a support surface no longer than 6 m. Outside these the capture's scale is wrong (a marker side in cm or mm
# given as metres, a table size in the wrong unit): the check catches such unit slips (factors of ~5 and more),
# not a marker printed 20% off (a second cue catches that: the capture warns when its cues disagree).
CAPTURE_DISTANCE_RANGE_M = (0.1, 5.0)
SUPPORT_MAX_SIZE_M = 6.0


@dataclass(frozen=True)
class InitConfig:
    scale: float | None = None  # metres per capture unit; None: the capture must be metric
    plane_threshold: float = 0.005  # RANSAC inlier distance (m)
    hull_min_opacity: float = 0.2  # fainter Gaussians never shape an object's hull (haze)
    link_min_opacity: float = 0.1  # ... but from this opacity they link its pieces (the walls of a low tray)
    link_distance: float = LINK_DISTANCE_M  # Gaussians closer than this belong to one object (closer objects merge)
    min_object_gaussians: int = 20  # smaller pieces are specks
    min_object_size: float = 0.02  # m, largest side of an object's box
    max_object_size: float = 0.6  # m, horizontal; larger pieces are structures (walls, shelves)
    max_object_height: float = 0.5  # m above the support
    rim_margin: float = 0.02  # m: a piece centred this close to the support's edge is the rim or a wall
    box_margin: float = 0.02  # m added around each object's box for its crop box (less where objects are near)
    clearance_range: tuple[float, float] = (0.004, 0.02)  # m, bounds of the measured noise band
    density: float = DENSITY_PRIOR_KG_M3
    allow_unreachable: bool = False  # write the file even when the robot cannot reach every object
    check: ViewCheckConfig = field(default_factory=ViewCheckConfig)


@dataclass
class FoundObject:
    name: str
    box: Rect  # footprint, world xy
    bottom: float  # z
    top: float  # z
    crop_center: tuple[float, float, float]
    crop_size: tuple[float, float, float]
    gaussians: int
    mass: float = 0.0
    volume: float = 0.0
    cavity_volume: float = 0.0  # a container's cavity (air inside its hull), left out of its mass
    distance_to_robot: float = 0.0
    bearing_deg: float = 0.0


@dataclass
class InitResult:
    scene_file: Path
    preview: Path
    plane_point: np.ndarray  # world
    support: Rect
    support_clearance: float
    robot_position: np.ndarray
    robot_yaw_deg: float
    objects: list[FoundObject]
    warnings: list[str]
    skipped: list[str]  # pieces above the support that are not objects, with the reason
    scene: object = None  # the assembled SceneAsset

    def summary(self) -> str:
        lines = [f"support: plane z = {self.plane_point[2]:.3f} m, {self.support.size[0]:.2f} x "
                 f"{self.support.size[1]:.2f} m (yaw {self.support.yaw_deg:.1f} deg), noise band "
                 f"{self.support_clearance * 1000:.1f} mm",
                 f"robot: base at [{self.robot_position[0]:.3f}, {self.robot_position[1]:.3f}, "
                 f"{self.robot_position[2]:.3f}], yaw {self.robot_yaw_deg:.1f} deg"]
        for o in self.objects:
            lines.append(f"  {o.name:<10} centre [{o.box.center[0]:.3f}, {o.box.center[1]:.3f}, "
                         f"{(o.bottom + o.top) / 2:.3f}] size [{o.box.size[0]:.3f}, {o.box.size[1]:.3f}, "
                         f"{o.top - o.bottom:.3f}] yaw {o.box.yaw_deg:.0f} deg, {o.mass:.2f} kg, "
                         f"{o.distance_to_robot:.2f} m from the robot")
        lines += [f"skipped: {s}" for s in self.skipped]
        lines += [f"warning: {w}" for w in self.warnings]
        return "\n".join(lines)


def init_scene(splat: str | Path, capture: str | Path, out: str | Path, config: InitConfig = InitConfig(),
               overwrite: bool = False, progress: bool = True) -> InitResult:
    """Find the support, the objects and a robot pose; write OUT (scene TOML) and OUT's preview PNG.
    Raises SceneConfigError naming the problem and the fix; writes nothing then."""
    from gwm.ply import read_ply
    from gwm.scene.views import CaptureViewsError, capture_metadata, load_capture_cameras, require_metric_capture

    splat, capture, out = Path(splat), Path(capture), Path(out)
    if out.exists() and not overwrite:
        raise SceneConfigError(f"{out}: a scene file is already there; pass --overwrite to replace it (the old file "
                               "stays until the new one is complete) or choose another path")
    if out.suffix != ".toml":
        raise SceneConfigError(f"{out}: the scene file must end in .toml")
    if not splat.is_file():
        raise SceneConfigError(f"{splat}: splat PLY not found; reconstruct the capture first (gwm reconstruct run)")
    transforms = capture / "transforms.json" if capture.is_dir() else capture
    if not transforms.is_file():
        raise SceneConfigError(f"{capture}: no transforms.json; give the capture folder `gwm capture run` wrote")
    if config.scale is not None and not (config.scale > 0 and math.isfinite(config.scale)):
        raise SceneConfigError(f"--scale {config.scale}: the scale must be a positive number of metres per unit")
    require_metric_capture(transforms, config.scale)
    meta = capture_metadata(transforms)
    if meta.get("up_axis") == "sfm":
        raise SceneConfigError(f"{transforms}: the capture has no gravity direction (up = none); re-run `gwm capture "
                               "run` with --up plane (the table) or --up orbit (the cameras)")
    scale = 1.0 if config.scale is None else float(config.scale)

    splats = read_ply(splat)
    if len(splats) < 100:
        raise SceneConfigError(f"{splat}: only {len(splats)} Gaussians; reconstruct the capture first")
    metric_from_input = np.diag([scale, scale, scale, 1.0])
    try:
        cams = load_capture_cameras(transforms, metric_from_input)
    except CaptureViewsError as e:
        raise SceneConfigError(str(e)) from e
    import torch

    metric = splats.transform(torch.eye(4, dtype=torch.float64), scale=scale)
    means_m = metric.means.double().numpy()
    opac = metric.opacities.double().numpy()

    # 1. support plane, below where the cameras look (at a distance a hand-held capture has)
    gaze = gaze_point(cams.world_from_cam)
    distance = float(np.median(np.linalg.norm(cams.world_from_cam[:, :3, 3] - gaze, axis=1)))
    if not CAPTURE_DISTANCE_RANGE_M[0] <= distance <= CAPTURE_DISTANCE_RANGE_M[1]:
        raise SceneConfigError(_implausible_scale(f"the cameras a median {distance:.3g} m from what they look at "
                                                  f"(a hand-held capture: {CAPTURE_DISTANCE_RANGE_M[0]:g}-"
                                                  f"{CAPTURE_DISTANCE_RANGE_M[1]:g} m)", meta, config.scale))
    plane = _find_plane(means_m, opac, cams.world_from_cam, gaze, config, splat)
    from gwm.scene.plane import level_transform

    world_from_metric = level_transform(plane)
    world_from_input = world_from_metric @ metric_from_input
    rigid = torch.from_numpy(world_from_metric)
    world = metric.transform(rigid)
    means = world.means.double().numpy()
    plane_z = float(plane.point[2])  # levelling rotates about the plane point
    height = means[:, 2] - plane_z
    cam_centres = cams.world_from_cam[:, :3, 3] @ world_from_metric[:3, :3].T + world_from_metric[:3, 3]
    gaze_w = world_from_metric[:3, :3] @ gaze + world_from_metric[:3, 3]

    # 2. the plane's noise band
    clearance = _noise_band(height, opac, means[:, :2], gaze_w[:2], config)

    # 3. support region
    on_plane = (np.abs(height) <= max(clearance, config.plane_threshold)) & (opac >= config.hull_min_opacity)
    if on_plane.sum() < 50:
        raise SceneConfigError(f"{splat}: the support plane at z = {plane_z:.3f} m holds only {int(on_plane.sum())} "
                               "Gaussians; capture the counter top with more of it in view")
    try:
        region = fit_support_rect(means[on_plane, :2], gaze_w[:2])
    except ValueError as e:
        raise SceneConfigError(f"{splat}: no support region: {e}; capture the counter top with more of it in "
                               "view") from e
    support = region.rect
    if max(support.size) > SUPPORT_MAX_SIZE_M:
        raise SceneConfigError(_implausible_scale(f"the support surface {support.size[0]:.3g} x {support.size[1]:.3g} m "
                                                  f"(a table or counter: at most {SUPPORT_MAX_SIZE_M:g} m)", meta,
                                                  config.scale))
    if min(support.size) < 0.15:
        raise SceneConfigError(f"{splat}: the support surface found is only {support.size[0]:.2f} x "
                               f"{support.size[1]:.2f} m; capture the whole counter top (and check the capture's "
                               "scale)")

    # 4. objects
    above = (height > clearance) & (height < config.max_object_height) & support.contains(means[:, :2])
    candidates = above & (opac >= config.link_min_opacity)
    if candidates.sum() < config.min_object_gaussians:
        raise SceneConfigError(_empty_message(splat, int(candidates.sum()), support, config))
    # structures first, whole (a wall the image check would cut into object-sized pieces): they stay background
    structure = np.zeros(len(means), dtype=bool)
    skipped = []
    for members, rect, top in _pieces(np.flatnonzero(candidates), means, height, config):
        why = _structure(rect, top, support, config)
        if why:
            structure[members] = True
            skipped.append(f"a {rect.size[0]:.2f} x {rect.size[1]:.2f} x {top:.2f} m piece at "
                           f"[{rect.center[0]:.2f}, {rect.center[1]:.2f}] {why}: not an object, left in the background")
    from gwm.scene.observed import contested_by_images, supported_by_images, thin_top, view_evidence
    from gwm.scene.views import load_capture_images

    cams_w = load_capture_cameras(transforms, world_from_input)
    views = load_capture_images(cams_w, config.check.max_views, config.check.max_side)
    evidence = view_evidence(world, above & ~structure, views, config.check, progress=progress)
    idx = np.flatnonzero(candidates & ~structure)
    agreed = idx[supported_by_images(evidence, means[idx], config.check)]
    contested = idx[contested_by_images(evidence, means[idx], config.check)]
    contested = contested[opac[contested] >= config.hull_min_opacity]
    found, pieces = [], []
    from scipy.spatial import cKDTree

    walls = cKDTree(means[structure]) if structure.any() else None
    for members, _, _ in _pieces(agreed, means, height, config):
        near_wall = walls is not None and np.isfinite(
            walls.query(means[members], distance_upper_bound=config.link_distance)[0]).any()
        if near_wall:
            continue  # what the image check cut off a structure is still that structure
        members = members[opac[members] >= config.hull_min_opacity]  # what shapes the hull
        members = members[~skirt(means[members], height[members], clearance)]
        if len(members) < 4:
            continue
        rect = min_area_rect(means[members, :2])
        top = float(height[members].max())
        if _structure(rect, top, support, config):
            continue
        pts = np.concatenate([means[members], means[contested]])
        flags = np.r_[np.ones(len(members), bool), np.zeros(len(contested), bool)]
        top_part = contested[thin_top(pts, flags, ~flags, config.link_distance)[len(members):]]
        top = max(top, float(height[top_part].max())) if len(top_part) else top  # a thin top (gwm.scene.observed)
        pieces.append(members)
        found.append(FoundObject(name="", box=rect, bottom=plane_z, top=plane_z + top, crop_center=(0, 0, 0),
                                 crop_size=(0, 0, 0), gaussians=len(members)))
    if not found:
        raise SceneConfigError(_empty_message(splat, int(candidates.sum()), support, config, len(agreed)))
    _crop_boxes(found, pieces, means, plane_z, config.box_margin)

    # 5. robot
    robot_xy, robot_yaw, warnings = place_robot(support, found, cam_centres[:, :2], means, height, opac,
                                                allow_unreachable=config.allow_unreachable)
    robot = np.array([robot_xy[0], robot_xy[1], plane_z])
    order = sorted(range(len(found)), key=lambda i: (-found[i].bearing_deg, found[i].distance_to_robot))
    found = [found[i] for i in order]
    for k, o in enumerate(found):
        o.name = f"object_{k}"

    # 6. assemble what the file says; masses from the hulls
    def text_for(objs):
        return scene_toml(out, splat, transforms, plane, support, clearance, robot, robot_yaw, objs, config, scale)

    from gwm.scene import assemble_scene
    from gwm.scene.config import parse_scene_config

    out.parent.mkdir(parents=True, exist_ok=True)  # relative paths in the file resolve from there

    for o in found:  # provisional masses (assembly needs one); replaced by the hull's below
        o.mass = 1.0
    cfg = parse_scene_config(_toml_loads(text_for(found)), base_dir=out.parent, source_file=out)
    with catch_warnings():  # the provisional masses are not what the file will say
        simplefilter("ignore", SceneWarning)
        scene = assemble_scene(cfg)
    for o, body in zip(found, scene.objects):
        stats = scene.metadata["stats"]["objects"][o.name]
        o.volume = float(stats["volume"])
        if stats["role"] == "container":  # its hull encloses the cavity's air: only the rest weighs
            o.cavity_volume = min(float(stats["container_test"]["volume"]), (1 - MIN_SHELL_FRACTION) * o.volume)
        o.mass = float(np.clip((o.volume - o.cavity_volume) * config.density, *MASS_RANGE_KG))
        body.mass = round(o.mass, 3)
    text = text_for(found)
    parse_scene_config(_toml_loads(text), base_dir=out.parent, source_file=out)  # what we write parses

    # 7. write (atomically), then the preview
    from gwm.scene.preview import write_preview

    preview = out.with_name(out.stem + "_preview.png")
    result = InitResult(scene_file=out, preview=preview, plane_point=np.array([*support.center, plane_z]),
                        support=support, support_clearance=clearance, robot_position=robot, robot_yaw_deg=robot_yaw,
                        objects=found, warnings=warnings, skipped=skipped, scene=scene)
    write_preview(result, world, cams_w, preview)
    _write_atomic(out, text, overwrite)
    return result


# steps -----------------------------------------------------------------------------------------
def _implausible_scale(what: str, meta: dict, scale: float | None) -> str:
    """One line: the capture's scale makes `what`; where that scale came from and what to check."""
    if scale is not None:
        source, fix = f"--scale {scale:g}", "check --scale (metres per capture unit)"
    else:
        cue = meta.get("metric_from") or "its metric cue"
        given = (meta.get("config") or {})
        source = {"marker": f"the marker (side given as {given.get('marker_size_m')} m)",
                  "table_size": f"the table size (given as {given.get('table_width_m')} x {given.get('table_depth_m')} m)",
                  }.get(cue, f"its {cue.replace('_', ' ')} cue")
        fix = ("check the metric cue's value and unit (a marker's side is its black square's edge in metres, "
               "e.g. 0.10 for 10 cm) and re-run `gwm capture run`, or give a second cue (--table-width) to cross-check")
    return f"the capture's scale looks wrong: it makes {what}; the scale came from {source}: {fix}"


def gaze_point(world_from_cam: np.ndarray) -> np.ndarray:
    """The point closest (least squares) to every camera's optical axis: what the capture looks at."""
    c = world_from_cam[:, :3, 3]
    d = world_from_cam[:, :3, 2]
    d = d / np.linalg.norm(d, axis=1, keepdims=True)
    proj = np.eye(3)[None] - d[:, :, None] * d[:, None, :]
    a = proj.sum(0)
    b = np.einsum("nij,nj->i", proj, c)
    if np.linalg.cond(a) > 1e6:  # (nearly) parallel axes: a point in front of the cameras
        return c.mean(0) + d.mean(0) * np.median(np.linalg.norm(c - c.mean(0), axis=1) + 0.5)
    return np.linalg.solve(a, b)


def _find_plane(means, opac, world_from_cam, gaze, config: InitConfig, splat: Path):
    from gwm.scene.plane import find_support_plane, refine_plane

    dist = np.median(np.linalg.norm(world_from_cam[:, :3, 3] - gaze, axis=1))
    radius = max(1.0, 1.5 * dist)  # the plane's votes: opaque Gaussians around the gaze point, below it
    near = (np.linalg.norm(means[:, :2] - gaze[:2], axis=1) < radius) & (means[:, 2] < gaze[2] + 0.1)
    pts = means[near & (opac > PLANE_MIN_OPACITY)]
    if len(pts) < 100:
        raise SceneConfigError(f"{splat}: only {len(pts)} opaque Gaussians below and around where the cameras look; "
                               "no support plane to find. Check the capture is Z-up and shows the counter top")
    try:
        plane = find_support_plane(pts, config.plane_threshold, 15.0, select="highest", seed=0,
                                   min_separation=PLANE_SAME_SURFACE_M)
        plane = refine_plane(pts, plane, PLANE_REFIT_BAND_M)
    except ValueError as e:
        raise SceneConfigError(f"{splat}: no horizontal support plane ({e}); capture the counter top from above, or "
                               "check that the capture is Z-up") from e
    if len(plane.inliers) < max(100, 0.02 * len(pts)):
        raise SceneConfigError(f"{splat}: no support plane: the best horizontal plane holds only {len(plane.inliers)} "
                               "Gaussians; capture the counter top with more of it in view")
    if np.median(world_from_cam[:, 2, 3]) < plane.point[2]:
        raise SceneConfigError(f"{splat}: the only horizontal plane found (z = {plane.point[2]:.2f} m) is above the "
                               "cameras; the capture may be upside down: re-run `gwm capture run` (--up plane)")
    return plane


def _noise_band(height, opac, xy, gaze_xy, config: InitConfig) -> float:
    """How far the plane's own Gaussians reach above it: median + 3 robust std of their heights."""
    near = (np.abs(height) < 0.03) & (opac >= config.hull_min_opacity) & (np.linalg.norm(xy - gaze_xy, axis=1) < 1.0)
    h = height[near]
    if len(h) < 50:
        return config.clearance_range[0]
    q25, q50, q75 = np.percentile(h, [25, 50, 75])
    return float(np.clip(q50 + 3.0 * (q75 - q25) / 1.349, *config.clearance_range))


def _pieces(idx: np.ndarray, means: np.ndarray, height: np.ndarray, config: InitConfig):
    """Connected pieces of the given Gaussians that are big enough to be something: (members, footprint, top)."""
    labels = connected_components(means[idx], config.link_distance)
    for lab in range(int(labels.max()) + 1 if len(labels) else 0):
        members = idx[labels == lab]
        if len(members) < config.min_object_gaussians:
            break  # labels are ordered by size
        rect = min_area_rect(means[members, :2])
        top = float(height[members].max())
        if max(*rect.size, top) >= config.min_object_size:
            yield members, rect, top


def _structure(rect: Rect, top: float, support: Rect, config: InitConfig) -> str:
    """Why a piece is not an object standing on the support ('' when it is one)."""
    if max(rect.size) > config.max_object_size:
        return f"is wider than an object ({config.max_object_size} m)"
    if top > config.max_object_height - 0.02:
        return f"rises past the height objects reach ({config.max_object_height} m)"
    edge = np.asarray(support.size) / 2 - np.abs(support.local(np.asarray(rect.center)[None])[0])
    if edge.min() < config.rim_margin:
        return "stands on the support's edge (a wall or the rim)"
    if top > SLENDER_MIN_HEIGHT_M and top > SLENDER_RATIO * max(rect.size):
        return f"is over {SLENDER_RATIO:g} times taller than wide (a strip of wall, a pole)"
    return ""


def _empty_message(splat, n_candidates, support: Rect, config: InitConfig, n_agreed: int | None = None) -> str:
    extra = "" if n_agreed is None else f" ({n_agreed} of them consistent with the capture's images)"
    return (f"{splat}: no objects on the support surface ({support.size[0]:.2f} x {support.size[1]:.2f} m): "
            f"{n_candidates} Gaussians above it{extra}, none forming an object of at least "
            f"{config.min_object_gaussians} Gaussians and {config.min_object_size * 100:.0f} cm. The counter looks "
            "empty: put the objects on it and capture again (or write [[objects]] by hand)")


def _crop_boxes(found: list[FoundObject], pieces: list[np.ndarray], means: np.ndarray, plane_z: float,
                margin: float) -> None:
    """Crop box = object box + margin, shrunk where it would reach another object's Gaussians."""
    for i, o in enumerate(found):
        others = np.concatenate([means[p] for j, p in enumerate(pieces) if j != i]) if len(pieces) > 1 else \
            np.zeros((0, 3))
        for m in (margin, 0.75 * margin, 0.5 * margin, 0.25 * margin, 0.0):
            half = np.asarray(o.box.size) / 2 + m
            if len(others) == 0:
                break
            local = o.box.local(others[:, :2])
            hit = np.all(np.abs(local) <= half, axis=1) & (others[:, 2] <= o.top + m)
            if not hit.any():
                break
        top = o.top + m
        bottom = plane_z - 0.005  # reach into the table: assembly drops its Gaussians by support_clearance
        o.crop_center = (o.box.center[0], o.box.center[1], (top + bottom) / 2)
        o.crop_size = (o.box.size[0] + 2 * m, o.box.size[1] + 2 * m, top - bottom)


def place_robot(support: Rect, objects: list[FoundObject], camera_xy: np.ndarray, means: np.ndarray,
                height: np.ndarray, opac: np.ndarray, allow_unreachable: bool = False, step: float = 0.02
                ) -> tuple[np.ndarray, float, list[str]]:
    """Base xy and yaw (deg) of the Panda: on a side of the support, ROBOT_STANDOFF_M behind its edge,
    facing across it. Preference, in order: a free spot (no wall or furniture within ROBOT_CLEARANCE_M),
    every object in reach, the side the capture was taken from (people stand there), the most objects
    in the tasks' workspace, the nearest farthest object. Fills each object's distance_to_robot and
    bearing_deg."""
    centres = np.array([o.box.center for o in objects])
    cam_dir = camera_xy.mean(0) - np.asarray(support.center)
    cam_dir = cam_dir / max(np.linalg.norm(cam_dir), 1e-9)
    tall = (height > 0.05) & (height < 0.8) & (opac >= PLANE_MIN_OPACITY)  # walls, furniture: no room for a robot
    from scipy.spatial import cKDTree

    tree = cKDTree(means[tall, :2]) if tall.any() else None
    best, best_key = None, None
    for mid, normal, length in support.edges():
        tangent = np.array([-normal[1], normal[0]])
        side = float(normal @ cam_dir)
        for t in np.arange(-length / 2, length / 2 + 1e-9, step):
            base = mid + tangent * t + normal * ROBOT_STANDOFF_M
            blocked = tree is not None and len(tree.query_ball_point(base, ROBOT_CLEARANCE_M)) > 20
            rel = centres - base
            r = np.linalg.norm(rel, axis=1)
            facing = -normal
            bearing = np.degrees(np.arctan2(facing[0] * rel[:, 1] - facing[1] * rel[:, 0], rel @ facing))
            in_task = (r >= TASK_REACH_M[0]) & (r <= TASK_REACH_M[1]) & (np.abs(bearing) <= TASK_BEARING_DEG)
            in_reach = r <= PANDA_REACH_M
            key = (not blocked, int(in_reach.sum()), round(side, 3), int(in_task.sum()), -float(r.max()))
            if best_key is None or key > best_key:
                best_key = key
                best = (base, math.degrees(math.atan2(facing[1], facing[0])), r, bearing, in_task, in_reach)
    base, yaw, r, bearing, in_task, in_reach = best
    for o, ri, bi in zip(objects, r, bearing):
        o.distance_to_robot, o.bearing_deg = float(ri), float(bi)
    warnings = []
    if not best_key[0]:
        warnings.append("every side of the support is crowded (a wall or furniture where the robot base would "
                        "stand); check [robot] position in the preview")
    far = [i for i in range(len(objects)) if not in_reach[i]]
    if far:
        what = ", ".join(f"the object at [{centres[i][0]:.2f}, {centres[i][1]:.2f}] ({r[i]:.2f} m)" for i in far)
        msg = (f"no robot placement at the support's edge reaches every object: {what} "
               f"beyond the Panda's {PANDA_REACH_M} m reach. Move it closer to the others and capture again, or remove "
               "it from the scene file")
        if not allow_unreachable:
            raise SceneConfigError(msg + " (--allow-unreachable writes the file anyway)")
        warnings.append(msg)
    outside = [i for i in range(len(objects)) if in_reach[i] and not in_task[i]]
    if outside:
        warnings.append(f"{len(outside)} object(s) within reach but outside the tasks' workspace "
                        f"({TASK_REACH_M[0]}-{TASK_REACH_M[1]} m, +-{TASK_BEARING_DEG:.0f} deg): tasks re-place "
                        "objects in it each episode, so this only matters for the initial scene")
    return base, yaw, warnings


def _toml_loads(text: str) -> dict:
    import tomllib

    return tomllib.loads(text)


def _write_atomic(path: Path, text: str, overwrite: bool) -> None:
    """Write the whole file beside the target, then rename it into place (never a half-written file)."""
    with atomic_write_path(path) as tmp:
        tmp.write_text(text)
        if path.exists() and not overwrite:  # appeared while we worked
            raise SceneConfigError(f"{path}: a scene file appeared there meanwhile; pass --overwrite to replace it")


# the file ----------------------------------------------------------------------------------------
def _default(cls, name: str):
    from dataclasses import fields

    return next(f.default for f in fields(cls) if f.name == name)


def _num(x: float, digits: int = 4) -> str:
    v = round(float(x), digits)
    return repr(0.0 if v == 0 else v)


def _vec(v, digits: int = 4) -> str:
    return "[" + ", ".join(_num(x, digits) for x in v) + "]"


def _rel(path: Path, start: Path) -> str:
    return Path(os.path.relpath(path.resolve(), start.resolve())).as_posix()


def scene_toml(out: Path, splat: Path, transforms: Path, plane, support: Rect, clearance: float, robot: np.ndarray,
               robot_yaw: float, objects: list[FoundObject], config: InitConfig, scale: float) -> str:
    base = out.parent
    object_friction = _default(ObjectSpec, "friction")  # the scene file's documented defaults
    support_friction, thickness = _default(PlaneSpec, "friction"), _default(PlaneSpec, "thickness")
    lines = [
        "# Scene file written by `gwm scene init` from the splat and its capture; edit anything below.",
        "# Frames and every key: gwm/scene/config.py. Lengths in metres, world frame = the capture's frame",
        "# levelled on the support plane (Z up). Rebuild the USD with `gwm scene assemble THIS_FILE OUT.usdz`.",
        f"# Preview: {out.stem}_preview.png (top view and a capture view with the boxes and the robot).",
        "format_version = 1",
        "",
        "[input]",
        f'splat = "{_rel(splat, base)}"',
        'up_axis = "+z"                          # `gwm reconstruct` writes Z-up splats',
        "",
    ]
    if config.scale is not None:
        lines += ["[scale]                                 # the capture is not metric: --scale given by the user",
                  f"factor = {_num(scale, 9)}", ""]
    else:
        lines += ["# [scale]: none, the capture is metric (transforms.json: gwm.scale_is_metric = true)", ""]
    n = plane.normal
    lines += [
        "[plane]                                 # the support plane, found by RANSAC over opaque Gaussians",
        'method = "explicit"',
        f"normal = {_vec(n, 6)}",
        f"point = {_vec(plane.point, 4)}",
        "level = true                            # rotate the scene so the plane is exactly horizontal",
        f"friction = {_num(support_friction, 3)}                          # the scene file's default; "
        "edit for your surface",
        "# the support region: a rectangle fitted to the plane's Gaussians around the objects",
        f"support_center = {_vec(support.center, 4)}",
        f"support_size = {_vec(support.size, 4)}",
        f"support_yaw_deg = {_num(support.yaw_deg, 2)}",
        f"thickness = {_num(thickness, 3)}",
        "",
        "[robot]                                 # Franka Panda base: the support's edge on the capture's side,",
        f"position = {_vec(robot, 4)}   # facing across it, every object within its {PANDA_REACH_M} m reach",
        f"yaw_deg = {_num(robot_yaw, 2)}",
        "",
        "[assembly]",
        'com = "hull"',
        f"hull_min_opacity = {_num(config.hull_min_opacity, 3)}                 # fainter Gaussians are haze",
        f"support_clearance = {_num(clearance, 4)}              # the plane's own Gaussians scatter up to "
        "this high (measured)",
        "snap_to_support = 0.01",
        "min_tip_deg = 10                        # an object seen standing must stand: a base the capture barely saw "
        "grows until tipping it takes this",
        'hull_filter = "images"                  # hull Gaussians must agree with the capture\'s images',
        f'cameras = "{_rel(transforms, base)}"',
        f"link_distance = {_num(config.link_distance, 4)}                  # an object is the crop's largest "
        "connected piece",
        f"link_min_opacity = {_num(config.link_min_opacity, 3)}",
        "",
        f"# Objects: named object_0.. left to right as the robot sees them; rename freely. mass = hull volume "
        f"(less a container's cavity) x {config.density:g} kg/m^3",
        "# (a prior for mostly hollow household things; water is 1000); friction: the scene-file default.",
        "# A role (object | container) can be added per object.",
    ]
    for o in objects:
        lines += [
            "",
            "[[objects]]",
            f'name = "{o.name}"',
            f"center = {_vec(o.crop_center, 4)}   # crop box: the object's box plus a margin",
            f"size = {_vec(o.crop_size, 4)}",
            f"yaw_deg = {_num(o.box.yaw_deg, 2)}",
            f"mass = {_num(o.mass, 3)}                            # {o.volume * 1e6:.0f} cm^3 hull"
            + (f", {o.cavity_volume * 1e6:.0f} cm^3 of it the container's cavity" if o.cavity_volume else ""),
            f"friction = {_num(object_friction, 3)}",
        ]
    return "\n".join(lines) + "\n"


__all__ = ["InitConfig", "InitResult", "FoundObject", "init_scene", "place_robot", "gaze_point", "scene_toml",
           "DENSITY_PRIOR_KG_M3", "PANDA_REACH_M", "TASK_REACH_M", "TASK_BEARING_DEG", "LINK_DISTANCE_M"]
