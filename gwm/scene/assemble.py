"""Scene file + splat PLY -> SceneAsset: normalise the frame, find the table, cut out the bodies.

Steps (see gwm/scene/config.py for the frames):
1. input -> metric: rotate `up_axis` to +Z, scale by [scale].
2. support plane: RANSAC on Gaussian centres (opacity > 0.5) or SfM points, or explicit.
3. metric -> world: level the plane (rotation about the plane point), move it to `height`.
4. floaters: Gaussians outside [bounds] (or automatic bounds) are removed.
5. objects: Gaussians whose centre is inside an oriented crop box and more than
   `support_clearance` above the plane. Collision = convex hull of their centres
   (opacity >= hull_min_opacity), with the lowest `snap_to_support` metres projected onto the
   plane when the object sits on it, so it rests flush instead of on a few points; where that
   base would not hold the centre of mass `min_tip_deg` from tipping (a bottom the cameras
   barely saw), a taller slab, at most the whole object, is projected: it stood in the capture.
   Centre of mass: "hull" = volume centroid of the hull as a uniform solid (default; what a
   simulator assumes for a solid object), or "opacity_weighted" = opacity-weighted mean of
   the Gaussian centres (a surface centroid: biased towards the better-captured side).
   Body frame: origin at the centre of mass, axes = the crop box's (yaw about +Z).
   With [masks] (per-frame instance masks + the capture's cameras), hull points are carved:
   only those inside the object's mask in `min_inside` of the views that see them shape the
   hull (gwm/scene/carve.py), which drops floaters and background Gaussians in the crop box.
   With hull_sigma > 0 the hull also spans each hull Gaussian's ellipsoid out to that many std
   along its axes (centre-only hulls of a coarse splat are too small by about a Gaussian's
   size), and those points are carved too. All Gaussians stay in the rendered object.
   Without masks (what `gwm scene init` writes): hull_filter = "images" keeps only hull
   Gaussians the capture's own images support (render-and-compare against the capture's
   cameras, gwm/scene/observed.py), and link_distance > 0 keeps the crop's largest connected
   piece (gwm/scene/clusters.py: the same notion of "one object" init uses).
6. support collider: a box `thickness` thick whose top face is the plane, spanning the
   plane's inliers (1st-99th percentile) unless support_center/size are given, turned by
   support_yaw_deg.
7. roles: each object's `role` from the scene file, else from its shape (gwm/scene/shape.py: a
   container is open-top with an opening wider than another object's footprint); the
   measurements go into metadata stats.objects.<name>.
The lowest `support_clearance` of each object stays in the background; renders that move objects
hide it, and show the support under it, where the object moved away (gwm/scene/underside.py).
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
import warnings
from pathlib import Path

import numpy as np
import torch

from gwm.geometry import make_transform, yaw_rotation
from gwm.ply import read_ply, read_ply_metadata
from gwm.scene.clusters import LINK_DISTANCE_M
from gwm.scene.asset import SCENE_FORMAT_VERSION, SceneAsset, SceneObject
from gwm.scene.config import (
    MAX_OBJECT_SIZE_M,
    MAX_SCENE_DISTANCE_M,
    PLAUSIBLE_DENSITY_KG_M3,
    SceneConfig,
    SceneConfigError,
    SceneWarning,
    load_scene_config,
)
from gwm.scene.plane import (
    Plane,
    convex_outline,
    find_support_plane,
    inside_distance,
    level_transform,
    rotation_between,
    support_box,
    up_axis_rotation,
)
from gwm.splats import GaussianSplats

PLANE_MIN_OPACITY = 0.5  # Gaussians that vote for the support plane
MAX_SCENE_EXTENT_M = 100.0  # a captured tabletop or room is far smaller; larger means wrong units


def assemble_scene(config: SceneConfig | str | Path, splat: str | Path | None = None) -> SceneAsset:
    """Build the SceneAsset a scene file describes. Raises SceneConfigError naming the fix.

    splat overrides the scene file's input.splat (only when config is a path)."""
    if not isinstance(config, SceneConfig):
        config = load_scene_config(config, splat=splat)
    elif splat is not None:
        raise ValueError("assemble_scene: pass splat only with a scene file path, not a parsed SceneConfig")
    where = str(config.source_file or "scene")
    if config.assembly.cameras is not None:  # a capture without a metric cue never flows silently into physics
        from gwm.scene.views import require_metric_capture

        explicit = config.scale.factor is not None or config.scale.known_distance is not None
        require_metric_capture(config.assembly.cameras, config.scale.resolve() if explicit else None)
    splats = read_ply(config.splat)
    if len(splats) == 0:
        raise SceneConfigError(f"{where}: {config.splat} holds no Gaussians; re-export the splat")

    # 1. input -> metric
    scale = config.scale.resolve()
    rot_up = up_axis_rotation(config.up_axis)
    means_in = splats.means.double().numpy()
    means_metric = scale * means_in @ rot_up.T
    _check_extent(where, means_metric, scale)

    # 2. support plane (metric frame)
    plane = _estimate_plane(config, splats, means_metric, rot_up, scale, where)

    # 3. metric -> world
    world_from_metric = level_transform(plane, config.plane.level, config.plane.height)
    rot_level = world_from_metric[:3, :3]
    shift = np.array([0.0, 0.0, 0.0 if config.plane.height is None else config.plane.height - plane.point[2]])
    metric_from_input = np.eye(4)
    metric_from_input[:3, :3] = scale * rot_up
    world_from_input = world_from_metric @ metric_from_input
    plane_w = Plane(normal=rot_level @ plane.normal, point=plane.point + shift,
                    inliers=None if plane.inliers is None else plane.inliers @ rot_level.T + world_from_metric[:3, 3])
    if np.linalg.norm(plane_w.point) > MAX_SCENE_DISTANCE_M:
        raise SceneConfigError(
            f"{where}: the support plane ends up {np.linalg.norm(plane_w.point):.0f} m from the origin "
            f"(at {np.round(plane_w.point, 2).tolist()}); coordinates look like the wrong units: set [scale] "
            "(factor = 0.001 for millimetres) or plane.height"
        )

    rigid = torch.eye(4, dtype=torch.float64)
    rigid[:3, :3] = torch.from_numpy(rot_level @ rot_up)
    rigid[:3, 3] = torch.from_numpy(world_from_input[:3, 3])
    world = splats.transform(rigid, scale=scale)  # rotates orientations and SH too
    means = world.means.double().numpy()
    opac = world.opacities.double().numpy()

    # 4. floaters
    lo, hi = _bounds(config, means, opac)
    keep = np.all((means >= lo) & (means <= hi), axis=1)

    # 5. objects
    views = _mask_views(config, world_from_input, where)
    taken = np.zeros(len(world), dtype=bool)
    height_above = plane_w.signed_distance(means)
    crops = []
    for i, spec in enumerate(config.objects):
        label = f"objects[{i}] ({spec.name!r})"
        box = spec.box
        rz = yaw_rotation(math.radians(box.yaw_deg))
        center, half = np.asarray(box.center), np.asarray(box.size) / 2
        local = (means - center) @ rz  # rows: rz^T (x - c)
        inside = np.all(np.abs(local) <= half, axis=1)
        if not np.all((center - half >= lo - 1e-9) & (center + half <= hi + 1e-9)):
            raise SceneConfigError(f"{where}: {label} crop box is not inside the scene bounds "
                                   f"{np.round(lo, 3).tolist()}..{np.round(hi, 3).tolist()}; move it or widen [bounds]")
        sel = inside & keep & ~taken & (height_above > config.assembly.support_clearance)
        if not sel.any():
            raise SceneConfigError(_empty_box_message(where, label, box, means[keep], inside, taken, keep))
        taken |= sel
        crops.append((label, spec, sel, rz))
    supported = _image_support(config, world, taken, world_from_input, where)
    objects, object_stats = [], {}
    for label, spec, sel, rz in crops:
        obj, stats = _build_object(where, label, spec, world[torch.from_numpy(sel)], rz, plane_w, config, views,
                                   None if supported is None else supported[sel])
        objects.append(obj)
        object_stats[spec.name] = stats

    background = world[torch.from_numpy(keep & ~taken)]

    # 7. roles
    from gwm.scene.shape import object_roles

    roles, role_stats = object_roles(objects, [o.role for o in config.objects], plane_w, config.assembly.hull_min_opacity,
                                     background=background)
    objects = [dataclasses.replace(o, role=r) for o, r in zip(objects, roles)]
    for name, st in role_stats.items():
        object_stats[name].update(st)

    _warn_implausible_masses(where, objects, object_stats)

    # 6. support collider
    support_v, support_f = _support_mesh(config, plane_w, means[keep])

    robot = torch.from_numpy(make_transform(yaw_rotation(math.radians(config.robot.yaw_deg)), config.robot.position))

    metadata = {
        "format_version": SCENE_FORMAT_VERSION,
        "config": config.to_dict(),
        "normalisation": world_from_input.tolist(),  # world_from_input (similarity: includes scale)
        "source": {"splat": str(config.splat), "sha256": _sha256(config.splat),
                   "splat_metadata": read_ply_metadata(config.splat)},
        "plane": {"normal": plane_w.normal.tolist(), "point": plane_w.point.tolist(),
                  "inliers": None if plane.inliers is None else int(len(plane.inliers)),
                  "method": config.plane.method},
        "stats": {"input_gaussians": len(splats), "floaters_removed": int((~keep).sum()),
                  "background_gaussians": len(background), "scale": scale,
                  "bounds": [lo.tolist(), hi.tolist()], "objects": object_stats},
    }
    return SceneAsset(background=background, objects=objects, support_vertices=support_v, support_faces=support_f,
                      robot_base=robot, metadata=metadata, support_friction=config.plane.friction)


# steps ---------------------------------------------------------------------------------------
def _warn_implausible_masses(where: str, objects: list[SceneObject], stats: dict) -> None:
    """Mass over hull volume outside what solid or hollow household objects have: likely grams or a bad box."""
    lo, hi = PLAUSIBLE_DENSITY_KG_M3
    for o in objects:
        volume = stats[o.name].get("volume", 0.0)
        if volume <= 0:
            continue
        density = o.mass / volume
        if not lo <= density <= hi:
            warnings.warn(
                f"{where}: object {o.name!r}: {o.mass:g} kg in a {volume * 1e6:.0f} cm3 hull is {density:,.0f} kg/m3, "
                f"outside the plausible {lo:,}-{hi:,} kg/m3 (water 1,000); check its mass (kilograms) and crop box",
                SceneWarning, stacklevel=3)


def _check_extent(where: str, means_metric: np.ndarray, scale: float) -> None:
    lo, hi = np.percentile(means_metric, [5, 95], axis=0)
    extent = float(np.linalg.norm(hi - lo))
    if extent > MAX_SCENE_EXTENT_M:
        raise SceneConfigError(
            f"{where}: after scaling by {scale:g} the scene is {extent:.0f} m across (5-95th percentile of "
            "Gaussian centres), which would make objects kilometres big; check [scale] (known_distance metres "
            "and points, or factor) and that the splat is not in millimetres"
        )
    if extent < 0.05:
        raise SceneConfigError(
            f"{where}: after scaling by {scale:g} the scene is only {extent * 1000:.1f} mm across; "
            "check [scale]: the factor should make the scene metric"
        )


def _estimate_plane(config, splats, means_metric, rot_up, scale, where) -> Plane:
    spec = config.plane
    if spec.method == "explicit":
        n = np.asarray(spec.normal, dtype=np.float64)
        n = n / np.linalg.norm(n)
        if n[2] < 0:
            n = -n
        return Plane(normal=n, point=np.asarray(spec.point, dtype=np.float64))
    if spec.points == "sfm":
        pts = _read_points(config.sfm_points) * scale @ rot_up.T
        what = f"SfM points from {config.sfm_points}"
    else:
        pts = means_metric[splats.opacities.numpy() > PLANE_MIN_OPACITY]
        what = f"Gaussian centres with opacity > {PLANE_MIN_OPACITY}"
    if spec.region is not None:
        c, h = np.asarray(spec.region.center), np.asarray(spec.region.size) / 2
        pts = pts[np.all(np.abs(pts - c) <= h, axis=1)]
    if len(pts) < 10:
        raise SceneConfigError(f"{where}: only {len(pts)} {what} for plane estimation"
                               + (" inside plane.region; move or enlarge the region" if spec.region else
                                  "; use plane.method = \"explicit\""))
    try:
        plane = find_support_plane(pts, spec.threshold, spec.max_tilt_deg, spec.select, seed=config.assembly.seed)
    except ValueError as e:
        raise SceneConfigError(f"{where}: plane estimation failed on {what}: {e}") from e
    if len(plane.inliers) < 10:
        raise SceneConfigError(f"{where}: the best plane has only {len(plane.inliers)} inliers; raise plane.threshold "
                               "or give the plane explicitly (plane.method = \"explicit\")")
    return plane


def _read_points(path: Path) -> np.ndarray:
    from plyfile import PlyData

    v = PlyData.read(str(path))["vertex"].data
    return np.stack([np.asarray(v[k], dtype=np.float64) for k in ("x", "y", "z")], 1)


def _bounds(config: SceneConfig, means: np.ndarray, opac: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Explicit [bounds], or the 1st-99th percentile box of visible centres grown by 25% (>= 0.1 m) a side."""
    if config.bounds.min is not None:
        return np.asarray(config.bounds.min), np.asarray(config.bounds.max)
    pts = means[opac > 0.1] if (opac > 0.1).sum() >= 10 else means
    lo, hi = np.percentile(pts, [1, 99], axis=0)
    margin = np.maximum(0.25 * (hi - lo), 0.1)
    return lo - margin, hi + margin


def _empty_box_message(where, label, box, means_kept, inside, taken, keep) -> str:
    c = np.asarray(box.center)
    base = (f"{where}: {label} crop box (center {list(box.center)}, size {list(box.size)}, yaw {box.yaw_deg} deg) "
            "selects no Gaussians")
    if (inside & taken).any():
        return base + "; the Gaussians in it were already taken by an earlier object's box: make the boxes not overlap"
    if (inside & keep).any():
        return base + " above the support plane (it only holds table Gaussians); raise the box centre"
    if len(means_kept) == 0:
        return base + "; the scene is empty after removing floaters: check [bounds]"
    d = np.linalg.norm(means_kept - c, axis=1)
    j = int(d.argmin())
    return (base + f"; the nearest Gaussian is {d[j]:.3f} m away at {np.round(means_kept[j], 3).tolist()} "
            f"(scene spans {np.round(means_kept.min(0), 2).tolist()}..{np.round(means_kept.max(0), 2).tolist()}); "
            "move the box (world frame, metres) or enlarge its size")


def _mask_views(config: SceneConfig, world_from_input: np.ndarray, where: str):
    if config.masks is None:
        return None
    from gwm.scene.carve import MaskError, load_mask_views, mask_ids_present

    try:
        views = load_mask_views(config.masks.cameras, config.masks.dir, world_from_input)
    except MaskError as e:
        raise SceneConfigError(f"{where}: [masks]: {e}") from e
    present = mask_ids_present(views)
    absent = [f"{o.name} (mask_id {o.mask_id})" for o in config.objects if o.mask_id not in present]
    if absent:
        raise SceneConfigError(f"{where}: [masks]: no pixel in any of the {len(views)} masks has the id of "
                               f"{', '.join(absent)}; ids present: {sorted(present)}. Fix the objects' mask_id")
    return views


SUPPORTED, CONTESTED, CUT = 1, 0, -1  # what the capture's images say of a Gaussian (gwm/scene/observed.py)


def _image_support(config: SceneConfig, world: GaussianSplats, objects: np.ndarray, world_from_input: np.ndarray,
                   where: str) -> np.ndarray | None:
    """hull_filter = "images": per Gaussian, SUPPORTED where the capture's images show an object where it
    projects, CONTESTED where the check cuts it though the images back it as often as not, else CUT
    (gwm/scene/observed.py); None when the filter is off."""
    if config.assembly.hull_filter != "images":
        return None
    if not objects.any():
        return np.full(len(world), SUPPORTED, dtype=np.int8)
    from gwm.scene.observed import ViewCheckConfig, contested_by_images, supported_by_images, view_evidence
    from gwm.scene.views import CaptureViewsError, load_capture_cameras, load_capture_images

    check = ViewCheckConfig()
    try:
        cams = load_capture_cameras(config.assembly.cameras, world_from_input)
        views = load_capture_images(cams, check.max_views, check.max_side)
    except CaptureViewsError as e:
        raise SceneConfigError(f"{where}: assembly.cameras: {e}") from e
    evidence = view_evidence(world, objects, views, check, progress=True)
    means = world.means.double().numpy()[objects]
    out = np.full(len(world), SUPPORTED, dtype=np.int8)
    out[objects] = np.where(supported_by_images(evidence, means, check), SUPPORTED,
                            np.where(contested_by_images(evidence, means, check), CONTESTED, CUT))
    return out


def _hull_points(part: GaussianSplats, keep: np.ndarray, sigma: float) -> np.ndarray:
    """Centres of the kept Gaussians, plus (sigma > 0) the ends of their principal axes at sigma std."""
    from gwm.geometry import quat_to_rotmat

    means = part.means.double().numpy()[keep]
    if sigma <= 0 or len(means) == 0:
        return means
    axes = quat_to_rotmat(part.quats_wxyz[torch.from_numpy(keep)]).double().numpy() \
        * part.scales.double().numpy()[keep][:, None, :]  # columns: principal axes * std
    ends = [means + s * sigma * axes[:, :, j] for j in range(3) for s in (1.0, -1.0)]
    return np.concatenate([means, *ends])


def _build_object(where, label, spec, part: GaussianSplats, rz: np.ndarray, plane: Plane, config, views=None,
                  supported: np.ndarray | None = None):
    import trimesh

    asm = config.assembly
    means = part.means.double().numpy()
    opac = part.opacities.double().numpy()
    use = opac >= asm.hull_min_opacity
    if use.sum() < 4:
        use = np.ones(len(means), dtype=bool)
    filter_stats = {}
    if supported is not None:  # the capture's images contradict these Gaussians (gwm/scene/observed.py)
        from gwm.scene.observed import thin_top

        agreed = use & (supported == SUPPORTED)
        top = thin_top(means, agreed, use & (supported == CONTESTED), asm.link_distance or LINK_DISTANCE_M)
        filter_stats["contradicted_by_images"] = int((use & ~agreed & ~top).sum())
        filter_stats["thin_top"] = int(top.sum())
        supported = (supported == SUPPORTED) | top
        if agreed.sum() >= 4:
            use = agreed | top
    carve_stats = None
    if views is not None and spec.mask_id is not None:
        from gwm.scene.carve import carve

        occluders = [o.mask_id for o in config.objects if o.mask_id is not None]
        mk = config.masks

        def carved(p):
            return carve(views, p, spec.mask_id, occluders, mk.dilate_px, mk.min_inside, max_outside=mk.max_outside)

        idx = np.flatnonzero(use)
        inside = carved(means[idx])
        if inside.sum() >= 4:
            use = np.zeros(len(means), dtype=bool)
            use[idx[inside]] = True
        carve_stats = {"hull_gaussians": int(len(idx)), "outside_masks": int((~inside).sum())}
    centres = _drop_sparse_outliers(means[use], asm.hull_outlier_std)
    use &= _rows_in(means, centres)
    if asm.link_distance > 0:  # the crop's largest connected piece is the object; the rest is nearby clutter
        from gwm.scene.clusters import main_component

        linkable = opac >= asm.link_min_opacity  # fainter Gaussians may link an object's sides, not shape its hull
        if supported is not None:
            linkable &= supported
        idx = np.flatnonzero(linkable)
        in_main = np.zeros(len(means), dtype=bool)
        in_main[idx[main_component(means[idx], asm.link_distance)]] = True
        filter_stats["unlinked"] = int((use & ~in_main).sum())
        if (use & in_main).sum() >= 4:
            use &= in_main
        from gwm.scene.clusters import skirt

        idx = np.flatnonzero(use)
        base = skirt(means[idx], plane.signed_distance(means[idx]), asm.support_clearance)
        filter_stats["skirt"] = int(base.sum())
        if (~base).sum() >= 4:
            use[idx[base]] = False
    pts = _hull_points(part, use, asm.hull_sigma)
    if views is not None and spec.mask_id is not None and asm.hull_sigma > 0:
        ends = pts[int(use.sum()):]
        ends = ends[carved(ends)]
        pts = np.concatenate([pts[:int(use.sum())], ends])
    if asm.hull_sigma > 0:  # ellipsoid ends below the support are not the object
        pts = pts[plane.signed_distance(pts) >= 0.0]
    if len(pts) < 4 or np.linalg.matrix_rank(pts - pts.mean(0), tol=1e-6) < 3:
        raise SceneConfigError(f"{where}: {label} has {len(means)} Gaussians, too few (or all flat) for a collision "
                               "hull; enlarge the crop box or lower assembly.hull_min_opacity")
    extent = pts.max(0) - pts.min(0)
    if extent.max() > MAX_OBJECT_SIZE_M:
        raise SceneConfigError(f"{where}: {label} spans {extent.max():.1f} m; an object this big means wrong units "
                               "or a crop box that includes the room; check [scale] and the box size")
    height = plane.signed_distance(pts)
    base = None
    if height.min() <= asm.snap_to_support + asm.support_clearance:
        pts, base = _stand_on_support(pts, plane, asm.snap_to_support, asm.min_tip_deg)
    hull = trimesh.Trimesh(vertices=pts, process=True).convex_hull
    if asm.com == "hull" and hull.is_volume and hull.volume > 1e-12:
        com = np.asarray(hull.center_mass)
    else:
        com = (opac[:, None] * means).sum(0) / max(opac.sum(), 1e-12)

    world_from_body = torch.eye(4, dtype=torch.float64)
    world_from_body[:3, :3] = torch.from_numpy(rz)
    world_from_body[:3, 3] = torch.from_numpy(com)
    body_splats = part.transform(torch.linalg.inv(world_from_body))
    verts_body = (np.asarray(hull.vertices) - com) @ rz  # rz^T (v - com)
    obj = SceneObject(name=spec.name, splats=body_splats, world_from_body=world_from_body, mass=spec.mass,
                      friction=spec.friction, collision_vertices=verts_body.astype(np.float32),
                      collision_faces=np.asarray(hull.faces, dtype=np.int32))
    aabb_lo, aabb_hi = verts_body.min(0), verts_body.max(0)
    stats = {"gaussians": len(part), "hull_vertices": len(hull.vertices), "snapped_to_support": base is not None,
             "com": com.tolist(), "size_body_axes": (aabb_hi - aabb_lo).tolist(),
             "box_center_world": (com + rz @ ((aabb_lo + aabb_hi) / 2)).tolist(),
             "volume": float(hull.volume) if hull.is_volume else 0.0}
    if base is not None:
        stats["base"] = base
        if base["tip_deg"] < asm.min_tip_deg:
            warnings.warn(f"{where}: {label} would tip over in simulation (its hull's base, grown to its whole "
                          f"outline seen from above, holds it only {base['tip_deg']:.1f} deg from tipping); check its "
                          "crop box, or the capture's views of its base", SceneWarning, stacklevel=3)
    if carve_stats is not None:
        stats["carving"] = carve_stats
    if filter_stats:
        stats["hull_filter"] = filter_stats
    return obj, stats


def _stand_on_support(pts: np.ndarray, plane: Plane, slab: float, min_tip_deg: float, step: float = 0.005):
    """Extends the hull's lowest `slab` onto the plane so the body rests flush instead of on a few points.

    The capture shows the object resting, so its hull must stand too: a sparse or one-sided bottom (a base
    the cameras barely see) gives a sliver of a footprint that tips the body over at once. While the
    centre of mass is closer than min_tip_deg of tilt to the footprint's edge, a taller slab (at most the
    whole object: its outline seen from above) is projected. Returns the points and the base's measurements."""
    import trimesh

    height = plane.signed_distance(pts)
    low, full = height.min(), height.max() - height.min()
    while True:
        band = pts[height <= low + slab]
        out = np.concatenate([pts, band - plane.signed_distance(band)[:, None] * plane.normal])
        hull = trimesh.Trimesh(vertices=out, process=True).convex_hull
        tip = _tip_angle_deg(np.asarray(hull.vertices), np.asarray(hull.center_mass), plane)
        if min_tip_deg <= 0 or tip >= min_tip_deg or slab >= full:  # 0: the lowest slab only
            return out, {"slab_m": float(slab), "tip_deg": float(tip)}
        slab = min(slab + step, full)


def _tip_angle_deg(vertices: np.ndarray, com: np.ndarray, plane: Plane) -> float:
    """How far the body can tilt before its centre of mass passes the edge of its footprint on the plane
    (negative: it is already past)."""
    ring = convex_outline(plane.plan(vertices[np.abs(plane.signed_distance(vertices)) < 1e-6]))
    if ring is None:  # no area to stand on
        return -90.0
    margin = float(inside_distance(ring, plane.plan(com[None]))[0])
    return math.degrees(math.atan2(margin, max(float(plane.signed_distance(com[None])[0]), 1e-9)))


def _rows_in(a: np.ndarray, subset: np.ndarray) -> np.ndarray:
    """Which rows of a appear in subset (exact copies)."""
    if len(subset) == len(a):
        return np.ones(len(a), dtype=bool)
    from scipy.spatial import cKDTree

    return cKDTree(subset).query(a)[0] == 0.0


def _drop_sparse_outliers(pts: np.ndarray, n_std: float, k: int = 8) -> np.ndarray:
    """Statistical outlier removal: stray Gaussians a crop box catches (reconstruction noise at
    its margins) would otherwise stretch the convex hull by centimetres."""
    if n_std <= 0 or len(pts) <= 4 * k:
        return pts
    from scipy.spatial import cKDTree

    dist, _ = cKDTree(pts).query(pts, k=k + 1)
    mean_dist = dist[:, 1:].mean(1)
    keep = mean_dist <= mean_dist.mean() + n_std * mean_dist.std()
    return pts[keep] if keep.sum() >= 4 else pts


def _support_mesh(config: SceneConfig, plane: Plane, means_kept: np.ndarray):
    spec = config.plane
    if spec.support_center is not None and spec.support_size is not None:
        center, size = np.asarray(spec.support_center), np.asarray(spec.support_size)
    else:
        pts = plane.inliers if plane.inliers is not None and len(plane.inliers) >= 10 else None
        if pts is None:  # explicit plane: the visible Gaussians lying on it
            on = np.abs(plane.signed_distance(means_kept)) < max(spec.threshold, 0.01)
            pts = means_kept[on] if on.sum() >= 10 else means_kept
        rot_yaw = yaw_rotation(math.radians(spec.support_yaw_deg))[:2, :2]
        lo, hi = np.percentile(pts[:, :2] @ rot_yaw, [1, 99], axis=0)  # in the support box's axes
        center = np.asarray(spec.support_center) if spec.support_center is not None else rot_yaw @ ((lo + hi) / 2)
        size = np.asarray(spec.support_size) if spec.support_size is not None else np.maximum(hi - lo, 0.05)
    verts, faces = support_box(center, size, 0.0, spec.thickness, spec.support_yaw_deg)
    # Place the box's top face on the (possibly tilted) plane: rotate +Z to its normal about the plane point.
    rot = rotation_between(np.array([0.0, 0.0, 1.0]), plane.normal)
    top_center = np.array([center[0], center[1], 0.0])
    top_center[2] = plane.point[2] - (plane.normal[:2] @ (top_center[:2] - plane.point[:2])) / plane.normal[2]
    verts = (verts.astype(np.float64) - [center[0], center[1], 0.0]) @ rot.T + top_center
    return verts.astype(np.float32), faces


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


__all__ = ["assemble_scene"]
