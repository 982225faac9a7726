"""The correction loop: twin simulator + body-bound Gaussians + visual forces, one camera frame per step."""

from __future__ import annotations

import time
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

import numpy as np
import torch

from gwm.cameras import Cameras
from gwm.geometry import quat_to_rotmat
from gwm.render import RenderOutput
from gwm.roles import ROBOT_ROLES
from gwm.splats import GaussianSplats
from gwm.track.bodies import BodyGaussians
from gwm.track.config import TrackerConfig
from gwm.track.visual_forces import PoseErrorEstimate, body_radii, estimate_pose_errors, render_fixed_layer

if TYPE_CHECKING:
    from gwm.scene.underside import SupportReveal

BACKGROUND = "background"
PLATE_COVERAGE = 0.02  # a pixel the movable bodies cover less than this at rest shows the background
PLATE_SPREAD = 0.1  # the box the correction is averaged over under the bodies, a fraction of the image's smaller side
PLATE_SAME = 0.02  # colour / alpha change of the fixed layer after which its plate no longer holds
GRAVITY = 9.81
# A body within this of its starting height and tilt stands where it stood (Tracker._grounded): a sliding tray
# stays within a millimetre of its height, a tipping one leaves the tilt within a frame or two.
GROUNDED_HEIGHT = 0.003  # m
GROUNDED_TILT_DEG = 3.0


@contextmanager
def torch_threads(count: int | None):
    """torch's intra-op thread count set to `count` inside the block (None: unchanged)."""
    before = torch.get_num_threads()
    if count is not None and count != before:
        torch.set_num_threads(count)
    try:
        yield
    finally:
        if torch.get_num_threads() != before:
            torch.set_num_threads(before)


def spread(values: torch.Tensor, known: torch.Tensor, size: int) -> torch.Tensor:
    """(C,H,W,K) values known at pixels `known` (C,H,W,1), averaged over the known ones in a size x size box
    around every pixel (normalised convolution), the box doubled where it holds none: a smooth field that
    reaches under the bodies (0 where nothing is known at all)."""
    w = known.float().permute(0, 3, 1, 2)
    v = (values * known).permute(0, 3, 1, 2)
    out, filled = torch.zeros_like(v), torch.zeros_like(w, dtype=torch.bool)
    size |= 1
    while True:
        num = torch.nn.functional.avg_pool2d(v, size, stride=1, padding=size // 2, count_include_pad=False)
        den = torch.nn.functional.avg_pool2d(w, size, stride=1, padding=size // 2, count_include_pad=False)
        new = (den > 1e-6) & ~filled
        out = torch.where(new, num / den.clamp_min(1e-6), out)
        filled |= new
        if bool(filled.all()) or size >= 2 * max(v.shape[-2:]):
            return out.permute(0, 2, 3, 1)
        size = 2 * size + 1


@dataclass(frozen=True)
class BackgroundPlate:
    """What the first frames show where no movable body covers them (TrackerConfig.background_plate): with
    static cameras the fixed layer (background, robot, bodies not corrected) is corrected to it, so the
    background's reconstruction error (blur, haze, colour) no longer weighs in the comparison. It holds where
    no body covered the fixed layer and it still renders as at rest; elsewhere (under the bodies at rest, robot
    links that moved, the support revealed under a moved object) the correction averaged over its surroundings
    is added instead."""

    correction: torch.Tensor  # (C,H,W,3) the frames' colour (before the cameras' gain and bias) less the render
    free: torch.Tensor  # (C,H,W,1) bool: pixels the movable bodies cover less than PLATE_COVERAGE at rest
    rest: RenderOutput  # the fixed layer at rest
    smooth: torch.Tensor  # (C,H,W,3) the correction averaged over the free pixels around each pixel (spread)

    def applied(self, fixed: RenderOutput) -> RenderOutput:
        """The fixed layer `fixed` with the correction added where it renders as at rest, and elsewhere its
        local average: the support an object uncovers, which no frame showed, gets its surroundings' colour
        error (uncorrected, a moved cube's trail stood out and pulled its estimate back)."""
        same = (((fixed.rgb - self.rest.rgb).abs().amax(-1, keepdim=True) < PLATE_SAME)
                & ((fixed.alpha - self.rest.alpha).abs() < PLATE_SAME) & self.free)
        return RenderOutput(fixed.rgb + torch.where(same, self.correction, self.smooth), fixed.alpha, fixed.depth)


class TrackInputError(ValueError):
    """Frames, cameras or poses given to the tracker do not fit together; the message says how."""


class Twin(Protocol):
    """A rigid-body simulator the tracker can drive (sim_tasks.newton_twin.NewtonTwin is one)."""

    body_names: tuple[str, ...]  # simulated bodies (the static background is not one of them)
    body_roles: tuple[str, ...]  # gwm.roles role of each
    control_dt: float  # seconds per step()

    def body_poses(self) -> np.ndarray:
        """(B,7) xyz + quat wxyz, world frame."""

    def body_velocities(self) -> np.ndarray:
        """(B,6) COM linear velocity (m/s) and angular velocity (rad/s), world frame."""

    def mass_properties(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """masses (B,) kg, inertia (B,3,3) about the COM in the body frame, COM (B,3) in the body frame."""

    def support_friction(self) -> np.ndarray:
        """(B,) the friction coefficient each body slides at on its support."""

    def step(self, wrenches: np.ndarray) -> None:
        """Advance control_dt with wrenches (B,6) [force (N), torque (N m)], world frame, at each COM. A twin with
        a robot also takes `joints`, the robot's joint states at the step's end, and has robot_contacts() (B,):
        the bodies its links touch (NewtonTwin(robot=True))."""


@dataclass
class TrackStep:
    """What one step saw and did. Poses are the twin's at the frame (before the step's forces act)."""

    poses: np.ndarray  # (B,7) twin body poses at this frame (twin.body_names order)
    wrenches: np.ndarray  # (B,6) visual wrenches applied during the next physics step
    estimate: PoseErrorEstimate | None
    rendered: torch.Tensor | None  # (C,H,W,3) render at the twin's poses
    seconds: float  # wall time of the whole step (render-and-compare + physics)
    cpu_seconds: float  # CPU time of this process (all threads) during the step: less swayed by other load


def correctable_bodies(names, roles, config: TrackerConfig) -> np.ndarray:
    """Indices of the bodies that may receive visual forces: roles in config.correct_roles (never a
    robot link or tool, whatever the config says) and, when given, named in config.correct_bodies."""
    if config.correct_bodies is not None:
        unknown = [n for n in config.correct_bodies if n not in names]
        if unknown:
            raise TrackInputError(f"correct_bodies {unknown} are not bodies of the scene {list(names)}")
        fixed = [n for n in config.correct_bodies if roles[list(names).index(n)] not in config.correct_roles]
        if fixed:
            raise TrackInputError(f"bodies {fixed} may not receive visual forces: their roles are not in "
                                  f"{config.correct_roles} (robot links follow their joint state)")
    return np.array([i for i, (n, r) in enumerate(zip(names, roles))
                     if r in config.correct_roles and r not in ROBOT_ROLES
                     and (config.correct_bodies is None or n in config.correct_bodies)], np.int64)


def scene_gaussians(scene, config: TrackerConfig) -> tuple[dict[str, GaussianSplats], "SupportReveal | None"]:
    """The tracker's canonical Gaussians per body of a scene (gwm.scene.asset.SceneAsset), and, with
    config.reveal_support, the rule (gwm.scene.underside.SupportReveal, None where the scene has no stumps)
    that hides the objects' stumps and shows the support where they moved away (a container takes its stump,
    its floor and contents)."""
    background, objects, reveal = scene.background, scene.objects, None
    if config.reveal_support:
        from gwm.scene.underside import reveal_support

        background, objects, reveal = reveal_support(scene)
    return {BACKGROUND: background, **{o.name: o.splats for o in objects}}, reveal


class Tracker:
    """Keeps a twin in sync with camera frames by visual forces (see gwm.track)."""

    def __init__(self, twin: Twin, canonical: dict[str, GaussianSplats], cameras: Cameras,
                 config: TrackerConfig = TrackerConfig(), reveal: "SupportReveal | None" = None):
        self.twin, self.cameras, self.config = twin, cameras, config
        names = (BACKGROUND, *twin.body_names)
        roles = ("background", *twin.body_roles)
        self.masses, self.inertia_body, com = (np.asarray(a, np.float64) for a in twin.mass_properties())
        self.friction = np.asarray(twin.support_friction(), np.float64)  # (B,)
        self.bodies = BodyGaussians(canonical, names, roles, np.concatenate([np.zeros((1, 3)), com]),
                                    device=config.device)
        self.movable = correctable_bodies(names, roles, config)  # indices into names (0 = background)
        self._robot_bodies = [b for b, role in enumerate(roles) if role in ROBOT_ROLES]  # their links follow joints
        self.background = torch.tensor(config.background_rgb, dtype=torch.float32, device=config.device)
        self.colour = None  # per-camera (gain, bias) from calibrate()
        self.rest_floor = None  # (M,) each movable body's window loss where it matched at calibration (calibrate)
        self.floor = None  # (M,) and where it matches now: the rest floor, or followed (_follow_floor)
        self._radii = body_radii(self.bodies, self.movable).numpy()  # (M,) for the rotation dead band
        self._fixed_key, self._fixed = None, None  # cached fixed layer (see fixed_layer)
        self.plate: BackgroundPlate | None = None  # the background plate (calibrate takes it)
        self.reveal = reveal  # gwm.scene.underside.SupportReveal of the background's last Gaussians (scene_gaussians)
        if reveal is not None:
            missing = [n for n in reveal.names if n not in names]
            if missing:
                raise TrackInputError(f"the support fill is under objects {missing} that are not bodies of the twin")
            if reveal.count > len(canonical[BACKGROUND]):
                raise TrackInputError(f"the support fill has {reveal.count} Gaussians but the background only "
                                      f"{len(canonical[BACKGROUND])}: give the background reveal_support returned")
            self._reveal_bodies = [names.index(n) for n in reveal.names]
            self._show_fill(self.all_poses())
        self.reset_controller()

    def reset_controller(self) -> None:
        """Track afresh from the twin's current state: the law's memory cleared, and the bodies taken as standing
        where they are now (_grounded)."""
        m = len(self.movable)
        self._start = self.all_poses()[self.movable]  # (M,7)
        self._prev = np.zeros((m, 6))
        self._prev_raw = np.zeros((m, 6))  # the last estimated errors as they came (no dead band, no trust)
        self._placed = np.zeros(m)  # (M,) what the law took of each body's estimate at the last frame (visual_wrenches)
        self._still = np.zeros(m, bool)  # (M,) held at rest by the twin and seen at rest in the frames (_step)
        self._rest_reads: list[np.ndarray] = []  # the last frames' estimated COM positions of still bodies (M,3)
        self._law = np.zeros((m, 6))  # (M,6) the law's acceleration at the last step, before compensation
        self._integral = np.zeros((m, 6))
        self._first = True
        self._velocity = None  # (M,3) twin COM velocities at the last frame
        self._freed = np.zeros(m, bool)  # (M,) its friction compensated over the last step (_friction_compensation)
        self._seen: list[np.ndarray] = []  # the last three frames' estimated body positions (M,3), NaN: not trusted
        self._seen_or_held: list[np.ndarray] = []  # the same, but the twin's where not trusted at rest in it
        self._prev_com = None  # (M,3) the twin's COM positions at the last frame
        self._braking = np.zeros(m, bool)  # (M,) the law's last step was against the twin's velocity
        self._driven = np.zeros(m, bool)  # (M,) moving only because the law moved it from rest
        self.floor = None if self.rest_floor is None else self.rest_floor.copy()

    def check_frames(self, frames) -> torch.Tensor:
        """(C,H,W,3) uint8 or float in [0,1] -> float tensor; one clear error when it does not fit."""
        arr = frames if isinstance(frames, torch.Tensor) else torch.as_tensor(np.asarray(frames))
        c, w, h = len(self.cameras), self.cameras.width, self.cameras.height
        if arr.ndim != 4 or arr.shape[-1] != 3:
            raise TrackInputError(f"frames must be (cameras, H, W, 3) RGB, got shape {tuple(arr.shape)}")
        if arr.shape[0] != c:
            raise TrackInputError(f"{arr.shape[0]} frames for {c} cameras: give one frame per camera per step")
        if tuple(arr.shape[1:3]) != (h, w):
            raise TrackInputError(f"frames are {arr.shape[2]}x{arr.shape[1]} but the cameras are {w}x{h}: "
                                  "resize the frames or give the intrinsics of their size")
        if arr.dtype == torch.uint8:
            return arr.float() / 255.0
        return arr.float()

    def calibrate(self, frames) -> tuple[float, float]:
        """Fit the Gaussians' appearance to frames seen at the twin's current state (see
        gwm.track.appearance), and with config.background_plate take the plate of these frames (the cameras'
        colour fitted first, then the plate, then the bodies against it); call once before the first step.
        Returns the loss before and after."""
        from gwm.track.appearance import calibrate_appearance

        cfg = self.config
        observed, poses = self.check_frames(frames), self.all_poses()
        fit = dict(iterations=cfg.calibration_iterations, pyramid=tuple(cfg.pyramid), background=self.background,
                   render_backend=cfg.render_backend)
        with torch_threads(cfg.threads):
            fixed = None
            if cfg.background_plate:
                self.colour, _ = calibrate_appearance(self.bodies, poses, self.movable, self.cameras, observed,
                                                      fit_bodies=False, **fit)
                self.plate = self._background_plate(observed, poses)
                self._fixed_key = None
                fixed = self.fixed_layer(poses)
            self.colour, losses = calibrate_appearance(self.bodies, poses, self.movable, self.cameras, observed,
                                                       fixed_layer=fixed, colour=self.colour,
                                                       fit_colour=not cfg.background_plate, **fit)
            self.rest_floor = self._window_losses(observed, poses)
            self.floor = self.rest_floor.copy()
        return losses

    def _background_plate(self, observed: torch.Tensor, poses: np.ndarray) -> BackgroundPlate:
        """The plate of frames `observed` seen at `poses` (the twin's rest), with the cameras' colour fitted."""
        from gwm.track.layers import moving_coverage, render_layer
        from gwm.track.visual_forces import composite_nothing

        device = self.config.device
        rest = render_fixed_layer(self.bodies, poses, self.movable, self.cameras, self.config.render_backend)
        zero = torch.zeros(len(self.movable), 3, device=device)
        with torch.no_grad():
            movable = torch.as_tensor(self.movable, device=device)
            moving = render_layer(self.bodies.offset_bodies(poses, zero, zero, movable),
                                  self.cameras.to(device=device, dtype=torch.float32), self.config.render_backend)
            gain, bias = self.colour if self.colour is not None else (torch.ones(1, 3, device=device),
                                                                      torch.zeros(1, 3, device=device))
            seen = (observed.to(device) - bias[:, None, None, :]) / gain[:, None, None, :].clamp_min(1e-3)
            correction = seen - composite_nothing(rest, self.background)
            free = moving_coverage(moving, rest) < PLATE_COVERAGE
            arm = self._robot_layer(poses)
            if arm is not None:  # the robot is not the background: it moves, so its pixels' correction would stay
                free &= arm.alpha < PLATE_COVERAGE  # behind
            box = max(3, int(PLATE_SPREAD * min(observed.shape[1:3])))
            return BackgroundPlate(correction, free, rest, spread(correction, free, box))

    def _window_losses(self, observed: torch.Tensor, poses: np.ndarray) -> np.ndarray:
        """(M,) each movable body's window loss at `poses` (no search): after calibration, the residual
        of bodies that are where their Gaussians say (what the Gaussians cannot reproduce, and the noise on
        the bodies' own pixels). The plate takes this frame's noise with it, so on a later frame a body
        that matches sits about twice the noise variance higher (the demo's tray: 0.26-0.27e-3 against
        0.19e-3 at 1.5 levels of noise); a floor that counts it was measured and not kept (README, stop 33)."""
        cfg = self.config
        est = estimate_pose_errors(
            self.bodies, poses, self.movable, self.cameras, observed, iterations=1, step=cfg.step,
            pyramid=tuple(cfg.pyramid), background=self.background, colour=self.colour,
            render_backend=cfg.render_backend, fixed_layer=self.fixed_layer(poses), crop_margin=cfg.crop_margin)
        return np.asarray(est.body_loss_before, np.float64)

    def fixed_layer(self, poses: np.ndarray):
        """The render of everything but the movable bodies, kept while those Gaussians stay where they
        are (the background always does; robot links or uncorrected bodies that move invalidate it)."""
        fixed = np.setdiff1d(np.arange(len(poses)), self.movable)
        key = poses[fixed].tobytes() + (b"" if self.reveal is None else self._show_fill(poses))
        if self._fixed_key != key:
            self._fixed = render_fixed_layer(self.bodies, poses, self.movable, self.cameras, self.config.render_backend)
            if self.plate is not None:
                self._fixed = self.plate.applied(self._fixed)
            self._fixed_key = key
        return self._fixed

    def _show_fill(self, poses: np.ndarray) -> bytes:
        """Shows the support fill and hides the stumps where the objects at `poses` moved away (in eighths of
        full opacity, so the fixed layer is rendered again only when some of it changes); returns the
        visibility as a cache key."""
        from gwm.geometry import pose7_to_matrix

        mats = [np.asarray(pose7_to_matrix(poses[b]), np.float64) for b in self._reveal_bodies]
        vis = (np.round(self.reveal.visibility(mats) * 8) / 8).astype(np.float32)
        full = torch.ones(len(self.bodies.splats))
        n_bg = int((self.bodies.body_index == 0).sum())  # the background's Gaussians come first
        full[n_bg - self.reveal.count:n_bg] = torch.from_numpy(vis)
        self.bodies.set_visibility(full)
        return vis.tobytes()

    def all_poses(self) -> np.ndarray:
        """(1 + B, 7): the background's identity pose, then the twin's bodies."""
        poses = np.asarray(self.twin.body_poses(), np.float64)
        return np.concatenate([[[0, 0, 0, 1, 0, 0, 0]], poses])

    def step(self, frames, known_wrenches: np.ndarray | None = None, joints: np.ndarray | None = None) -> TrackStep:
        """Correct the twin with one frame per camera, then advance it one control step.

        known_wrenches (B,6): forces the twin should apply anyway (e.g. a modelled push), added to
        the visual ones. joints: the robot's joint states at the step's end (the next frame's), for a twin
        with a robot: its links follow them.
        """
        with torch_threads(self.config.threads):
            return self._step(frames, known_wrenches, joints)

    def _step(self, frames, known_wrenches, joints) -> TrackStep:
        t0, c0 = time.perf_counter(), time.process_time()
        observed = self.check_frames(frames)
        poses = self.all_poses()
        cfg = self.config
        self._note_motion(known_wrenches)
        resting = self._resting()
        still = resting & self._seen_resting(poses)  # the frames show it at rest too
        self._still = still
        estimate = self._estimate(observed, poses, resting, still)
        # No search (iterations 0) is the open loop the benchmark compares against: no visual forces at all.
        wrenches = (self.visual_wrenches(estimate, poses) if cfg.iterations > 0
                    else np.zeros((len(self.twin.body_names), 6)))
        total = wrenches.copy()
        if known_wrenches is not None:
            total = total + np.asarray(known_wrenches, np.float64).reshape(total.shape)
        if joints is None:
            self.twin.step(total)
        else:
            self.twin.step(total, joints)
        return TrackStep(poses=poses[1:], wrenches=wrenches, estimate=estimate, rendered=estimate.rendered,
                         seconds=time.perf_counter() - t0, cpu_seconds=time.process_time() - c0)

    def _estimate(self, observed: torch.Tensor, poses: np.ndarray, resting: np.ndarray,
                  still: np.ndarray) -> PoseErrorEstimate:
        """This frame's pose error of each movable body: the search (estimate_pose_errors), from the twin's poses.
        (benchmarks/tracking.py replaces it with the true errors, to measure the law on its own.)"""
        cfg = self.config
        return estimate_pose_errors(
            self.bodies, poses, self.movable, self.cameras, observed, iterations=cfg.iterations, step=cfg.step,
            pyramid=tuple(cfg.pyramid), background=self.background, colour=self.colour,
            render_backend=cfg.render_backend, fixed_layer=self.fixed_layer(poses), crop_margin=cfg.crop_margin,
            step_growth=cfg.step_growth, reach_iterations=cfg.reach_iterations, reach=resting & ~still,
            upright=still if cfg.upright_at_rest else None,
            starts=self._predicted_starts(poses) if cfg.predicted_start else None,
            grounded=self._grounded(poses) if cfg.grounded_search else None)

    def _resting(self) -> np.ndarray:
        """(M,) bool: movable bodies the twin holds at rest (COM and rim slower than config.rest_speed).
        While the frames show such a body moving (pushed away by what the model does not know while the
        twin's friction holds it) it may reach (config.reach_iterations); for a body the twin moves, the
        reach found offsets of 20-23 mm and 27-29 deg on the workbench sample for bodies a few mm off,
        trusted, that drove them off (50.9 -> 72.2 mm, model right). Once the frames show it at rest too
        (_seen_resting) it is searched turning about the vertical only (config.upright_at_rest), without
        reach: it sits on its support, which a tilt of it could not get through; free, the search traded
        most of a flat tray's shift for a tilt (the demo's pushed tray, 11.8 mm off: read as 5.6 mm and 3.7
        deg, its loss above that of the plain shift), and the twin's friction held the rest. (Upright while
        seen moving, the pushed tray's 2-camera maximum was 18.6 mm against 13.9 free, stream seed 1; with
        the reach while upright, the model-right cube was read 7.8 mm off once at rest, tests/track/test_loop.)"""
        vel = np.asarray(self.twin.body_velocities(), np.float64)[self.movable - 1]
        return ((np.linalg.norm(vel[:, :3], axis=1) < self.config.rest_speed)
                & (np.linalg.norm(vel[:, 3:], axis=1) * self._radii < self.config.rest_speed))

    def _sliding(self, poses: np.ndarray) -> np.ndarray:
        """(M,) bool: movable bodies the twin slides across their support (standing on it as they started,
        _grounded, their COM at config.rest_speed or more): not tipping, rocking or falling."""
        if self._velocity is None:
            return np.zeros(len(self.movable), bool)
        return (np.linalg.norm(self._velocity[:, :2], axis=1) >= self.config.rest_speed) & self._grounded(poses)

    def _grounded(self, poses: np.ndarray) -> np.ndarray:
        """(M,) bool: bodies the twin holds where they stood when tracking started, within GROUNDED_HEIGHT of
        that height and GROUNDED_TILT_DEG of that tilt: standing on what held them then (sliding or turning on
        it), so the search does not sink them into it (estimate_pose_errors `grounded`). A body that tips, falls
        or is lifted in the twin is searched freely."""
        now = quat_to_rotmat(torch.as_tensor(poses[self.movable, 3:])).numpy()[:, :, 2]
        then = quat_to_rotmat(torch.as_tensor(self._start[:, 3:])).numpy()[:, :, 2]
        tilt = np.degrees(np.arccos(np.clip((now * then).sum(1), -1.0, 1.0)))
        return (np.abs(poses[self.movable, 2] - self._start[:, 2]) < GROUNDED_HEIGHT) & (tilt < GROUNDED_TILT_DEG)

    def _predicted_starts(self, poses: np.ndarray) -> np.ndarray | None:
        """(M,3) horizontal shifts off the twin's poses to where the last two frames' trusted estimated
        positions put each body at this frame (constant velocity), the search's second start
        (estimate_pose_errors `starts`: the loss at each start decides, so a prediction that carries on a
        body that stopped loses to the twin's pose). NaN (no second start) where either estimate was not
        trusted; for a body known forces move (not _driven): there the twin's own physics is the prediction;
        and for a body the twin holds tipped, fallen or lifted (not _grounded): its estimates are of sides
        the capture never saw, and carried on they flung the workbench sample's heavier object, lying still
        in the twin, 294.6 mm off (111.9 without; 1 camera, stream seed 2). Horizontal: one camera hardly
        sees a shift along its ray, and the prediction carried the estimate's drift along it on frame after
        frame (the slipperier scenario's cube walked down 1.2 mm a frame until the law flung it: 129.3 mm,
        demo, 1 camera, seed 0; started from the prediction instead of choosing, 288.9 mm)."""
        if len(self._seen) < 2:
            return None
        out = 2.0 * self._seen[0] - self._seen[1] - poses[self.movable, :3]
        out[:, 2] *= 0.0  # NaN stays NaN
        out[~(self._driven & self._grounded(poses))] = np.nan
        return out

    def _seen_resting(self, poses: np.ndarray) -> np.ndarray:
        """(M,) bool: bodies whose trusted estimated positions over the last three frames moved less than
        config.moving_px pixels (the frames show them at rest; see _observed_moving)."""
        if len(self._seen) < 3:
            return np.ones(len(self.movable), bool)
        moved = np.linalg.norm((self._seen[0] - self._seen[2])[:, :2], axis=1)
        with np.errstate(invalid="ignore"):
            return moved <= self.config.moving_px * self._pixel_metres(poses)

    def _lift_out_of_support(self, position: np.ndarray, poses: np.ndarray) -> np.ndarray:
        """Estimated position errors that point down (along gravity, -z) slid along the cameras' mean
        viewing ray to zero height change. Cameras see a shift along their ray worst, and for cameras
        looking down a horizontal shift away from them is read partly as a shift down; pushed into its
        support a body only gains friction and sticks where it is wrong (measured: the demo's cube
        stuck 13 mm off). Gravity alone moves the twin's bodies down where nothing holds them up."""
        out = position.copy()
        centres = self.cameras.world_from_cam[:, :3, 3].double().numpy()  # (C,3)
        for j, b in enumerate(self.movable):
            if out[j, 2] >= 0:
                continue
            rays = poses[b, :3] - centres
            ray = (rays / np.linalg.norm(rays, axis=1, keepdims=True)).mean(0)
            out[j] = out[j] - (out[j, 2] / ray[2]) * ray if ray[2] < -0.2 else out[j] * [1.0, 1.0, 0.0]
        return out

    def confidence(self, estimate: PoseErrorEstimate) -> np.ndarray:
        """(M,) 0..1 per body: the share of its window's excess loss (at the twin's pose, over the floor:
        its loss where it matches, see calibrate and _follow_floor) that its estimate removes, mapped from
        config.explained_min (0) to config.explained_full (1). An estimate that removes a small share
        explains little of what differs between render and frames: the body looks unlike its Gaussians
        (a side the capture never saw, light on a face that turned up), and the offset found is whatever
        trades that mismatch off best, not where the body is. 1 everywhere when explained_min is 0."""
        m = len(self.movable)
        lo, hi = self.config.explained_min, self.config.explained_full
        if estimate.body_loss_before is None:
            return np.ones(m)
        before = np.asarray(estimate.body_loss_before, np.float64)
        after = np.asarray(estimate.body_loss_after, np.float64)
        if self.floor is None:  # not calibrated: the first frame is taken as matched, as calibrate does
            self.rest_floor, self.floor = before.copy(), before.copy()
        drop = np.maximum(before - after, 0.0)
        excess = np.maximum(before - self.floor, drop)
        share = np.where(excess > 0, drop / np.where(excess > 0, excess, 1.0), 0.0)
        if lo <= 0:
            return np.ones(m)
        return np.clip((share - lo) / (hi - lo), 0.0, 1.0)

    def _robot_layer(self, poses: np.ndarray) -> RenderOutput | None:
        """The robot's links alone rendered at `poses` (None without a robot)."""
        from gwm.track.layers import render_layer

        if not self._robot_bodies:
            return None
        device = self.config.device
        links = torch.as_tensor(self._robot_bodies, device=device)
        none = torch.zeros(len(links), 3, device=device)
        with torch.no_grad():
            return render_layer(self.bodies.offset_bodies(poses, none, none, links),
                                self.cameras.to(device=device, dtype=torch.float32), self.config.render_backend)

    def _robot_visibility(self, poses: np.ndarray) -> np.ndarray:
        """(M,) the share of each movable body's Gaussians (their centres, opacity-weighted) that the robot's links
        do not hide from the camera that sees most of it: 1 everywhere without a robot."""
        out = np.ones(len(self.movable))
        arm = self._robot_layer(poses)
        if arm is None:
            return out
        device = self.config.device
        cams = self.cameras.to(device=device, dtype=torch.float32)
        share = np.zeros(len(cams))
        zero = torch.zeros(1, 3, device=device)
        with torch.no_grad():
            for j, b in enumerate(self.movable):
                splats = self.bodies.offset_bodies(poses, zero, zero, torch.as_tensor([int(b)], device=device))
                for c in range(len(cams)):
                    world_to_cam = torch.linalg.inv(cams.world_from_cam[c])
                    p = splats.means @ world_to_cam[:3, :3].T + world_to_cam[:3, 3]
                    uv = p @ cams.Ks[c].T
                    u = (uv[:, 0] / uv[:, 2]).long()
                    v = (uv[:, 1] / uv[:, 2]).long()
                    inside = (p[:, 2] > 0) & (u >= 0) & (u < cams.width) & (v >= 0) & (v < cams.height)
                    weight = splats.opacities[inside]
                    u, v, z = u[inside], v[inside], p[inside, 2]
                    behind = (arm.alpha[c, v, u, 0] > 0.5) & (arm.depth[c, v, u, 0] < z)
                    seen = float(weight.sum())
                    share[c] = 1.0 - float(weight[behind].sum()) / seen if seen > 0 else 0.0
                out[j] = share.max()
        return out

    def _follow_floor(self, estimate: PoseErrorEstimate, trust: np.ndarray, poses: np.ndarray) -> None:
        """With config.floor_follows, the floor (confidence) of each body the twin holds standing on its support
        as it started (_grounded) follows its window loss at its estimate, as far as that is trusted, for the
        next frame; a body that tips, falls or is lifted goes back to its rest floor, and none goes below it.

        Moved, a body shows what no frame at calibration did: the support it uncovered (filled in its
        surroundings' colours), its shadow elsewhere, its sides under other light. Its loss where it matches
        then sits above the rest floor, that excess no estimate can remove, and the share of it a right
        estimate removed fell under explained_min: the kitchen sample's pushed bowl, read within 1 mm of the
        truth 4 mm off, was not trusted (a window loss of 1.8e-3 before, 1.4e-3 after, against its rest floor
        of 0.21e-3), the twin was left behind and never found it again (38.9 mm, 1 camera, stream seed 0).
        Its matched loss one frame earlier was 1.4e-3. A body that tips is not followed: its lost estimates,
        trusted a little, raised its floor, which trusted them more (the workbench's tumbling object, model
        right: 42.1 -> 69.8 mm, 1 camera, seed 0).

        A body the twin moved whose estimate stays within the dead band (_found_where_moved) sets the floor to its
        loss at the estimate, trusted or not: the search finds it where the twin holds it, so that loss is where it
        matches. (Followed only as far as trusted, the kitchen's pushed bowl, found 0.4-1.9 mm off the twin on three
        frames of its slide, removed 17-27% of its excess over a floor a frame behind its rising matched loss and was
        trusted on none: the twin's friction stopped it 13 mm behind, and the law that caught up flung it 28 mm past
        where the real bowl stopped; 1 camera, stream seed 1.) Not for a body still where it started: there the
        calibration's floor holds (taken there too, the demo's onset was trusted a frame earlier, read differently,
        and its 2-camera push went 10.0 -> 15.5 mm at seed 3)."""
        if not self.config.floor_follows or estimate.body_loss_after is None or self.rest_floor is None:
            return
        after = np.asarray(estimate.body_loss_after, np.float64)
        weight = np.where(self._found_where_moved(estimate, poses), 1.0, trust)
        followed = np.maximum(self.rest_floor, weight * after + (1.0 - weight) * self.floor)
        self.floor = np.where(self._grounded(poses), followed, self.rest_floor)

    def _found_where_moved(self, estimate: PoseErrorEstimate, poses: np.ndarray) -> np.ndarray:
        """(M,) bool: bodies the twin moved off where they stood when tracking started by more than the dead band
        (config.dead_band_px at their distance) whose estimate stays within it (rotations times their radius): the
        search finds them where the twin holds them, as far as the cameras resolve."""
        band = self.config.dead_band_px * self._pixel_metres(poses)
        moved = np.linalg.norm(poses[self.movable, :2] - self._start[:, :2], axis=1) > band
        return (moved & (np.linalg.norm(estimate.position, axis=1) <= band)
                & (np.linalg.norm(estimate.rotation, axis=1) * self._radii <= band))

    def _held_off(self, position: np.ndarray, trust: np.ndarray, com: np.ndarray, poses: np.ndarray):
        """(M,) bool and (M,3): bodies the twin holds still where the frames show them still (_still), moved off
        where they stood when tracking started by more than the dead band, whose trusted estimates over the last
        config.rest_reads frames agree within the dead band and put them, on average, further off than it, and
        that mean offset. Records this frame's reads (self._rest_reads) and clears them for the bodies it
        holds, so the next take-up waits for new reads where the twin then rests. The band is there for one
        frame's estimate noise; frames that agree while nothing moves are past it, and the law, fed the error
        less the band, left a twin that came to rest past a stopped body up to a pixel off, held there by its
        static friction (the workbench sample's pushed object 9.6 mm, 1 camera, stream seed 6). (Without the
        agreement, a push's first frame, the real body 10 mm on after two frames at rest, was averaged in and the
        twin kicked off at 0.6 m/s. For every still body, the kitchen sample's tall object, never moved and read
        3.9 mm off where its appearance was fitted, was kicked and rocked 10.6 deg: 1 camera, stream seed 1.)"""
        count = self.config.rest_reads
        band = self.config.dead_band_px * self._pixel_metres(poses)
        moved = np.linalg.norm(poses[self.movable, :2] - self._start[:, :2], axis=1) > band
        read = com + position
        read[~(self._still & moved & (trust > 0))] = np.nan
        self._rest_reads = [read, *self._rest_reads[:count - 1]] if count > 0 else []
        if count <= 0 or len(self._rest_reads) < count:
            return np.zeros(len(read), bool), np.zeros_like(read)
        reads = np.stack(self._rest_reads)  # (rest_reads,M,3)
        mean = reads.mean(0)
        off = mean - com
        with np.errstate(invalid="ignore"):  # NaN (a frame not still or not trusted): not held
            spread = np.linalg.norm((reads - mean)[..., :2], axis=2).max(0)
            held = (np.linalg.norm(off[:, :2], axis=1) > band) & (spread <= band)
        if held.any():
            for r in self._rest_reads:
                r[held] = np.nan
        return held, np.nan_to_num(off)

    def _com_positions(self, poses: np.ndarray) -> np.ndarray:
        """(M,3) the movable bodies' COMs in the world at `poses`."""
        rot = quat_to_rotmat(torch.as_tensor(poses[self.movable, 3:])).numpy()
        com = self.bodies.com_body[torch.as_tensor(self.movable)].double().cpu().numpy()
        return np.einsum("mij,mj->mi", rot, com) + poses[self.movable, :3]

    def _pixel_metres(self, poses: np.ndarray) -> np.ndarray:
        """(M,) metres one pixel spans at each movable body's distance from its nearest camera."""
        centres = self.cameras.world_from_cam[:, :3, 3].double().numpy()
        focal = self.cameras.Ks[:, 1, 1].double().numpy()
        return np.array([np.min(np.linalg.norm(poses[b, :3] - centres, axis=1) / focal) for b in self.movable])

    def _dead_band(self, err: np.ndarray, poses: np.ndarray) -> np.ndarray:
        """Errors shrunk by what the cameras cannot resolve: config.dead_band_px pixels at the body's
        distance in its nearest camera (rotations: that length over the body's radius). An error inside
        the band gives no force, so a twin that already matches its frames is left to its physics."""
        px = self.config.dead_band_px
        if px <= 0 or not len(err):
            return err
        out = err.copy()
        for j, pixel in enumerate(self._pixel_metres(poses)):
            metres = px * float(pixel)
            for part, band in ((slice(0, 3), metres), (slice(3, 6), metres / float(self._radii[j]))):
                size = np.linalg.norm(err[j, part])
                out[j, part] = err[j, part] * (max(0.0, 1.0 - band / size) if size > 0 else 0.0)
        return out

    def _note_motion(self, known_wrenches: np.ndarray | None = None) -> None:
        """The twin's COM velocities now, and which bodies move only because the law moved them from rest."""
        vel = np.asarray(self.twin.body_velocities(), np.float64)[self.movable - 1, :3]
        self._velocity = vel
        # At rest, what holds a body back is static friction against the law; from rest on it stays the
        # law's motion (see _friction_compensation) until known forces act on it.
        self._driven |= np.linalg.norm(vel[:, :2], axis=1) < self.config.rest_speed
        if known_wrenches is not None:  # motion that known forces drive is the twin's own, friction included
            known = np.asarray(known_wrenches, np.float64).reshape(-1, 6)[self.movable - 1]
            self._driven &= ~np.any(known[:, :2] != 0, axis=1)
        touched = getattr(self.twin, "robot_contacts", None)
        if touched is not None:  # and so is what the robot pushes: its friction compensated, the law flung the
            self._driven &= ~np.asarray(touched(), bool)[self.movable - 1]  # demo's pushed cube (README, stop 46)

    def _observed_moving(self, estimate: PoseErrorEstimate, poses: np.ndarray, trust: np.ndarray,
                         law: np.ndarray) -> np.ndarray:
        """(M,) bool: bodies the frames show moving the way the law pushes: its estimated position (twin +
        estimate, where trusted) moved horizontally more than config.moving_px pixels at its distance over the
        last two frames, in the law's direction (estimate noise is a pixel or so at 160x120 and does not add up
        over frames the way motion does).

        Two frames back, a body the twin held at rest whose estimate was not trusted counts as where the twin held
        it, as the law took it (no error). A push's first frames are often not trusted (the body has moved a
        fraction of a pixel, and its estimate removes little of what differs, its shadow and the support it
        uncovers included), and waiting for two trusted frames left the twin to its static friction for a frame
        more: the kitchen sample's pushed bowl broke away a frame later, and its push's maximum was that onset's
        9.8 mm in 11 of 16 runs (stream seeds 0-7, 1 and 2 cameras; README, stop 41)."""
        seen = poses[self.movable, :3] + estimate.position
        seen[trust <= 0] = np.nan
        self._seen = [seen, *self._seen[:2]]
        held = np.isnan(seen[:, 0]) & self._resting()
        seen_or_held = seen.copy()
        seen_or_held[held] = poses[self.movable[held], :3]
        self._seen_or_held = [seen_or_held, *self._seen_or_held[:2]]
        if len(self._seen) < 3:
            return np.zeros(len(self.movable), bool)
        moved = (self._seen[0] - self._seen_or_held[2])[:, :2]
        least = self.config.moving_px * self._pixel_metres(poses)
        with np.errstate(invalid="ignore"):
            return (np.linalg.norm(moved, axis=1) > least) & ((moved * law[:, :2]).sum(1) > 0)

    def _friction_compensation(self, law: np.ndarray, drive: np.ndarray, seen_moving: np.ndarray, far: np.ndarray,
                               trust: np.ndarray, sliding: np.ndarray) -> np.ndarray:
        """(M,3) horizontal acceleration added to the law's so that the twin's own friction does not eat it.

        Only for a body the law moved from rest (`_driven`): for it the law is deadbeat on a free body (see
        visual_wrenches), and the twin's friction (mu g, its contact's coefficient Twin.support_friction: all of
        0.3 m/s in one 30 fps frame at mu 1) made the demo's pushed tray stick and slip behind the real one.
        Both are scaled, as the law is, by how far the estimate is taken (`trust`: see confidence, and for a
        body the law slides, visual_wrenches).

        At rest, its static friction in the law's direction, so the twin breaks away with the law's own
        acceleration, from the first frame that shows the body moving the law's way (_observed_moving), or while
        it is held over config.rest_offset_px pixels beyond the dead band from where the frames show it, or its
        offset agreed over frames at rest is taken up (`far`: the law alone cannot slide a twin back by less
        than mu g T^2; _held_off). A body the cameras see at rest near the twin's keeps its friction, which
        holds it against estimate noise (compensated on every resting body, the demo's heavier cube was driven
        around by that noise, 5.4 -> 8.5 mm).

        Sliding on its support (`sliding`, see _sliding), its kinetic friction against its velocity, as long as
        the law's step keeps it moving the same way; where the law stops or turns it, friction is left to help. While
        the frames put the twin past the body (`drive`, the error the law drives it by, against the velocity: for a
        body the law slides, its estimate before the dead band), as much of its friction is left to act as takes
        the twin back by that lead over the frame: all of it from mu g T^2 / 2 on (5.5 mm at mu 1, 30 fps). (All of
        it compensated until the twin was past by the dead band, a twin up to a band's width past a body that had
        stopped kept its friction compensated a frame more and ran on: the workbench sample's push, fed the true
        errors, 9.4 mm past the stopped object. None as soon as the twin led at all, the twin of a steady push fed
        the true errors went in spurts, down to 0.09 m/s against 0.3. README, stop 42.) (Compensated while the twin
        had passed it, the demo's pushed tray, which stops within a frame, was overrun: 2 cameras, stream seed 2,
        the law braked at 11.4 m/s^2 while the compensation took 7.9 of it back, and the twin ran on to 12.1 mm
        past the tray.) A body that moves tipping or rocking gets none (freed of friction there, the law would
        fling it).
        (Before, it was added only while the frames showed the body moving faster than the twin, so the twin,
        braked to a stop by its friction whenever it caught up, went on in spurts: 0.06-0.49 m/s against the
        real tray's steady 0.13-0.23.)

        A body slid by known forces (a modelled push) is not the law's: it slides with the twin's own friction,
        which the law only corrects (cancelling it carried the demo's slipperier cube 21 mm past the real one).
        Nothing while the law asks for nothing (errors in the dead band), horizontal only, and at most
        config.friction_compensation g: a body jammed against another is not flung by contact forces."""
        cfg = self.config
        out = np.zeros_like(law)
        self._freed = np.zeros(len(law), bool)
        if cfg.friction_compensation <= 0 or self._velocity is None:
            return out
        flat = law.copy()
        flat[:, 2] = 0.0
        size = np.linalg.norm(flat, axis=1)
        vel = self._velocity.copy()
        vel[:, 2] = 0.0
        speed = np.linalg.norm(vel, axis=1)
        for j in range(len(law)):
            mu_g = float(self.friction[self.movable[j] - 1]) * GRAVITY
            if not self._driven[j] or size[j] <= 0 or (speed[j] >= cfg.rest_speed and not sliding[j]):
                continue
            if sliding[j]:
                u = vel[j] / np.linalg.norm(vel[j])
                if float((vel[j] + flat[j] * self.twin.control_dt) @ u) <= 0:
                    continue  # the law stops or turns it: friction helps
                past = max(0.0, -float(drive[j] @ u))  # m the twin leads the body
                share = 1.0 - past / (0.5 * mu_g * self.twin.control_dt ** 2) if mu_g > 0 else 1.0
                if share <= 0:
                    continue  # friction alone takes it back by more than its lead: all of it helps
            elif seen_moving[j] or far[j]:
                u, share = flat[j] / size[j], 1.0
            else:
                continue
            held = mu_g * float(trust[j])
            out[j] = min(held, cfg.friction_compensation * GRAVITY) * share * u
            self._freed[j] = True
        return out

    def visual_wrenches(self, estimate: PoseErrorEstimate, poses: np.ndarray) -> np.ndarray:
        """PD + integral law on the estimated errors -> (B,6) wrenches; zero rows for bodies not corrected."""
        cfg = self.config
        out = np.zeros((len(self.twin.body_names), 6))
        if not len(self.movable):
            return out
        position = estimate.position.copy()
        if cfg.no_downward_push:
            position = self._lift_out_of_support(position, poses)
        trust = self.confidence(estimate)
        if cfg.robot_visible_min > 0:
            trust = trust * (self._robot_visibility(poses) >= cfg.robot_visible_min)
        self._follow_floor(estimate, trust, poses)
        raw = np.concatenate([position, estimate.rotation], 1)  # (M,6)
        err = self._dead_band(raw, poses) * trust[:, None]
        com = self._com_positions(poses)
        held, off = self._held_off(position, trust, com, poses)
        err[held, :2] = off[held, :2] * trust[held, None]  # the whole offset, no dead band (_held_off)
        # A body the law slides (its friction compensated over the last step, _freed, and sliding on its support,
        # _sliding) is driven by its estimate as it came, before the dead band: the band is there for estimate
        # noise, and on a body the law moves it only held the twin a band's width behind (4.3 mm at the samples'
        # 8.6 mm pixels). Not every body moving from rest (_driven): one a contact set sliding is not the law's,
        # and its estimates taken before the band drove the bowl that the kitchen sample's pushed tall object,
        # tipping, nudged 6.7-11.6 mm off (model right, stream seeds 0-1; 4.3-5.1 with the band), and the tall object
        # to 36.4 mm (25.0).
        # Its estimate is taken where trusted (confidence) and also where the search finds it where the twin
        # holds it (_found_where_moved): trust falls to 0 on frames whose loss the estimate hardly lowers, and a
        # body that is where the twin holds it lowers it least. (Taken at its trust alone, a frame of trust 0
        # mid-slide zeroed the error and the law braked the twin behind the real body; on the next trusted frame
        # it raced after it: the twin's speed swung 0.0-0.55 m/s about the real bowl's 0.17-0.27; kitchen sample,
        # 2 cameras, stream seed 7. The README's stop 39 has the measures.)
        sliding = self._sliding(poses)
        slid = self._freed & sliding
        placed = np.maximum(trust, self._found_where_moved(estimate, poses))
        drive = err.copy()  # the position term
        drive[slid, :2] = raw[slid, :2] * placed[slid, None]
        if self._first:
            self._prev, self._prev_raw = err.copy(), raw.copy()
            self._first = False
        limit = cfg.integral_limit * np.array([0.01] * 3 + [0.1] * 3)
        # The integral restarts on an axis whose error changed sign: it is there to beat static
        # friction on the side the body must go, and wound up on the other side it overshoots.
        self._integral = np.where(self._integral * err < 0, 0.0, self._integral)
        self._integral = np.clip(self._integral + err, -limit, limit)
        t2 = self.twin.control_dt ** 2
        # The velocity term. The change of error over the last frame is the mean relative velocity over it, but the
        # law's force was held over that frame: the twin moves faster now than its mean by half the law's step (it
        # integrates a force held over a frame exactly, its Newton substeps). Taken as it is, the loop's poles sit at
        # |z| = 1.18 (a growing oscillation that only the twin's friction damped). For a body the law slides, the
        # change along the slide is corrected by that half and read before the dead band, which hid a stop (7 mm of
        # relative motion in a frame read as 1.2): both poles then sit at zero. (Corrected also after a step that
        # let friction help the law turn a body, it read the demo's slipperier cube as closing in 16 mm a frame
        # instead of 3, and the law pushed it away: 16.6 -> 29.2 mm.) It is weighted by the lesser of the two frames'
        # `placed` (estimates the law does not take tell nothing of the body's motion: the correction alone then
        # rang, the kitchen sample's pushed bowl flung back and forth at 0.3-0.7 m/s). (Read instead as the body's
        # motion seen over the frame less the twin's velocity now, for every body moving from rest, a body the twin's
        # friction slowed looked to be running away from it: on the kitchen sample, model right, stream seed 0, the
        # open-loop twin, with no estimates at all, flung a body nudged into a slide 250 mm.) Across the slide, at
        # rest, or moved by known forces, a body keeps the dead-banded change: read before the band there, estimate
        # noise set the model-right cubes of tests/track/test_loop.py (96x72) oscillating 7.5 mm off, and
        # the demo's pushed tray from side to side.
        change = err - self._prev
        change[held] = 0.0  # still in the twin and in the frames
        # After a step in which the law braked or turned a body it slides and friction was left to help (not _freed:
        # the real body has stopped or the twin is past it), the change is corrected by what the twin itself did over
        # that step: its COM moved (com - _prev_com) less its velocity now times the frame (-a T^2 / 2 for the
        # acceleration a it had, the law's and its friction's alike). Uncorrected there, a twin passing a stopped body
        # read as running away from it at the mean speed of the frame before it braked, and the law turned it twice
        # as hard as it should: the twin rang about the stop, its friction compensated on alternate steps (the
        # workbench sample's push, 1 camera, stream seed 5: 25.8 mm, 10.5 with this correction; at 320x240, seed 6:
        # 33.9, 12.1 with it). Not for a body whose last step the law did not brake: the twin's own physics that moved
        # it (a contact setting it sliding) moves the real body too (tests/track/test_friction_compensation.py).
        if self._prev_com is not None and self._velocity is not None:
            turned = sliding & self._driven & ~slid & self._braking
            lag = com - self._prev_com - self._velocity * self.twin.control_dt
            change[turned, :2] += lag[turned, :2]
        for j in np.flatnonzero(slid):
            u = self._velocity[j, :2] / np.linalg.norm(self._velocity[j, :2])
            moved = raw[j, :2] - self._prev_raw[j, :2] - 0.5 * self._law[j, :2] * t2
            moved = moved * min(placed[j], self._placed[j])
            change[j, :2] += float((moved - change[j, :2]) @ u) * u
        self._prev, self._prev_raw, self._placed, self._prev_com = err, raw, placed, com
        # The integral is not scaled by this frame's trust: scaling it (so a body whose frames stop saying
        # where it is gets no push from earlier errors) raised the demo's 1-camera slippery run from 16.7
        # to 28.8 mm (the real cube tips mid-slide and is no longer trusted while the twin lags behind).
        accel = (2 * cfg.position_gain * drive + cfg.velocity_gain * change
                 + 2 * cfg.integral_gain * self._integral) / t2  # (M,6): linear, angular
        self._law = accel.copy()
        if self._velocity is not None:
            self._braking = (accel[:, :2] * self._velocity[:, :2]).sum(1) < 0
        far = held | (np.linalg.norm(err[:, :2], axis=1) > cfg.rest_offset_px * self._pixel_metres(poses))
        seen_moving = self._observed_moving(estimate, poses, trust, accel[:, :3])
        taken = np.where(slid, placed, trust)
        accel[:, :3] += self._friction_compensation(accel[:, :3], drive[:, :3], seen_moving, far, taken, sliding)
        for j, b in enumerate(self.movable):
            k = b - 1  # twin body index (names[0] is the background)
            rot = quat_to_rotmat(torch.as_tensor(poses[b, 3:])).numpy()
            inertia_world = rot @ self.inertia_body[k] @ rot.T
            out[k, :3] = self.masses[k] * accel[j, :3]
            out[k, 3:] = inertia_world @ accel[j, 3:]
        return out


@dataclass
class TrackResult:
    poses: np.ndarray  # (T,B,7) twin body poses at each frame
    wrenches: np.ndarray  # (T,B,6) visual wrenches computed at each frame
    seconds: np.ndarray  # (T,) wall time per step
    renders: np.ndarray | None  # (T,C,H,W,3) uint8 renders at the twin's poses, when asked for
    estimates: np.ndarray  # (T,M,3) the search's position error of each movable body (Tracker.movable) at each frame


def run_tracker(tracker: Tracker, frames, known_wrenches: np.ndarray | None = None, keep_renders: bool = False,
                progress: bool = False, joints: np.ndarray | None = None) -> TrackResult:
    """Step the tracker through frames (T,C,H,W,3); known_wrenches (T,B,6) optional; joints (T,9): the
    robot's joint states at each frame, for a twin with a robot (set at the first frame's before calling)."""
    n = len(frames)
    if known_wrenches is not None and len(known_wrenches) != n:
        raise TrackInputError(f"{len(known_wrenches)} rows of known wrenches for {n} frames")
    if joints is not None and len(joints) != n:
        raise TrackInputError(f"{len(joints)} rows of joint states for {n} frames: give one per frame")
    steps = range(n)
    if progress:
        from tqdm import tqdm

        steps = tqdm(steps, desc="track", unit="frame")
    poses, wrenches, seconds, renders, estimates = [], [], [], [], []
    for t in steps:
        s = tracker.step(frames[t], None if known_wrenches is None else known_wrenches[t],
                         None if joints is None else joints[min(t + 1, n - 1)])
        poses.append(s.poses)
        wrenches.append(s.wrenches)
        seconds.append(s.seconds)
        estimates.append(s.estimate.position)
        if keep_renders:
            renders.append((s.rendered.clamp(0, 1) * 255 + 0.5).to(torch.uint8).cpu().numpy())
    return TrackResult(np.stack(poses), np.stack(wrenches), np.array(seconds),
                       np.stack(renders) if keep_renders else None, np.stack(estimates))


__all__ = ["BACKGROUND", "BackgroundPlate", "TrackInputError", "TrackResult", "TrackStep", "Tracker", "Twin",
           "run_tracker", "scene_gaussians"]
