"""Settings of the visual-force correction loop (gwm.track)."""

from __future__ import annotations

from dataclasses import dataclass

from gwm.roles import OBJECT_ROLES


@dataclass(frozen=True)
class TrackerConfig:
    # Render-and-compare: gradient steps on a rigid pose offset per movable body, restarted at the
    # twin's pose every control step (the anchor, Embodied Gaussians: 3-7 iterations per step).
    # One iteration = one render + backward; step: the first step's length, metres of Gaussian motion.
    iterations: int = 5
    step: float = 0.004
    # The line search's step is multiplied by this after each accepted step (1: kept; halved after each
    # rejected one): a growing step reaches a body that is centimetres off within the iterations.
    # Measured on the demo (2 s, 160x120): 1.5 cut the 1-camera slippery and push maxima from 19.5 and
    # 18.9 mm to 12.1 and 15.2 mm, but raised the 2-camera heavy one from 21.4 to 25.1 mm: kept at 1.
    step_growth: float = 1.0
    # Up to this many more iterations for a body the twin holds at rest while the frames show it moving, none
    # of whose steps was undone
    # (still short of where the frames put it), until a step is undone or its offset reaches its radius
    # (see estimate_pose_errors, Tracker._resting); 0: the search stops after `iterations` (4 mm steps then
    # reach 16 mm). Measured on the demo (160x120, 2 cameras, stream seed 1, upright_at_rest off): unmodelled
    # push 13.9 mm against 24.1 with 0 (the tray 22-24 mm off at the onset). For every body, it drove the
    # workbench sample's moving bodies off (model right 50.9 -> 72.2 mm on one).
    reach_iterations: int = 4
    # A body the twin holds at rest and the frames show at rest is searched turning about the vertical only,
    # without reach (Tracker._resting): free, the search read most of a resting flat tray's shift as a tilt
    # its support rules out, and the twin's friction held the rest. Measured on the demo (160x120, 2 s, stream
    # seeds 0-4, 1 and 2 cameras, with the reach): the unmodelled push back within 1 cm 0.00-0.27 s after it
    # in all 10 runs (both off: 9 of 10; reach alone: 2 cameras, seed 0 stuck 11.9 mm off); see the README.
    upright_at_rest: bool = True
    # Each body's search also starts where the last two frames' trusted estimates put it (constant velocity,
    # horizontal; not for bodies known forces move, nor for bodies the twin holds tipped, fallen or lifted) and
    # goes on from whichever start, that or the twin's pose, has the lower loss (Tracker._predicted_starts; one
    # more render per step). Off: measured at stop 37 (160x120, 2 s, 1 and 2 cameras; the README has the
    # tables), the unmodelled push on the stream seeds it was studied on improved (samples' seeds 0-3: 199.2 ->
    # 186.7 mm summed over 16 runs, within 1 cm throughout in 6, was 2), but not on fresh ones (seeds 4-7:
    # 206.4 -> 283.2, one run never back within 1 cm; the demo's seeds 10-14 within 1 cm in 6 of 10, was 8).
    predicted_start: bool = False
    # Bodies the twin holds standing where they stood when tracking started (Tracker._grounded) are searched
    # without sinking into their support (estimate_pose_errors `grounded`): one camera reads a shift away from
    # it partly as a sink, and the demo's pushed tray, 13.4 mm off, was read 8.6 mm across and 6.6 mm down.
    # Measured (160x120, 2 s, stream seeds 0-4 on the demo, 0-2 on the samples; the README has the tables):
    # the unmodelled push's maximum fell in 7 of 10 demo runs (sum 170.7 -> 148.3 mm) and 9 of 12 sample
    # runs (273.0 -> 213.9; back within 1 s in 10 of 12, was 8); the rest within chaos of a tumbling object.
    grounded_search: bool = True
    # Renders hide each object's stump (its lowest support_clearance, left in the background by assembly) and
    # show the support under it where the object moved away (gwm.scene.underside; scene_gaussians); a
    # container's stump (its floor and contents) moves with it instead. Samples
    # (160x120, 2 s, stream seed 0): the workbench's unmodelled push 33.4 / 32.0 -> 13.3 / 14.9 mm with 1 / 2
    # cameras, back within 1 cm 0.00 s after it (was never); the other scenarios move both ways by what a
    # tipping object's chaos gives (the README has them, and other stream seeds).
    reveal_support: bool = True
    # Background plate (gwm.track.loop.BackgroundPlate): the cameras are static, so after fitting their colour
    # the fixed layer (background, robot, bodies not corrected) shows exactly what the first frames show where
    # no movable body covers it at rest and it still renders as then (under the bodies: its surroundings'
    # correction, averaged), and the bodies' appearance is fitted against it. Without it the fit grew each
    # object a skirt in the colours of the background's reconstruction error (blur, haze) that a tipping
    # object swung into view: the kitchen sample's mug, within 1 deg of the truth, read 12 deg off and pushed
    # over. Samples (160x120, 2 s, stream seeds 0-2, 1 and 2 cameras; the README has the table): model right
    # met in 11 of 12 runs (was 8), the kitchen's slipperier at its open loop in 6 of 6 (was 3); the push back
    # within 1 s in 7 of 12 (was 8); demo (seeds 0-4): pushes and slipperier 1-2 mm higher on average.
    background_plate: bool = True
    # Adam steps fitting each camera's colour gain and bias, and the movable bodies' Gaussian colours,
    # opacities and sizes, to the first frames before tracking (0: off); see gwm.track.appearance.
    calibration_iterations: int = 100
    # The loss is MSE on the frames plus MSE on copies box-filtered and downsampled by these factors:
    # coarse copies still have a gradient when render and frame overlap only a little.
    pyramid: tuple[int, ...] = (4, 8)
    # Render and compare the movable bodies only in a window around them, grown on each side by this
    # fraction of its size (how far off a body may be and still be found); None: whole images.
    crop_margin: float | None = 0.5
    # Control law on the estimated error e (per axis, position and orientation alike), with the
    # control period T: acceleration = (2 kp e + kd (e - e_prev) + 2 ki sum(e)) / T^2, times the
    # body's mass (force) or inertia (torque); gains per period keep one setting right for any frame
    # rate or body. For a free body (a double integrator, force held over one period) kp = 0.5 and
    # kd = 1.5 place both closed-loop poles at zero (deadbeat: error and relative velocity gone in two
    # steps) when e - e_prev is the relative velocity now; it is the mean over the last frame, and read
    # as such the poles sit at |z| = 1.18 (Tracker.visual_wrenches corrects it for the bodies the law
    # slides free of friction). The former kd = 0.2 left the poles at |z| = 1.14, an oscillation that
    # grew while a body slid (the model-right push: +8 mm) and that only friction had hidden.
    position_gain: float = 0.5
    velocity_gain: float = 1.5
    integral_gain: float = 0.02
    # Friction compensation (Tracker._friction_compensation): for a body the law moved from rest, the twin's own
    # horizontal friction (mu g, times the trust in the estimate) is added back, up to this many g: at rest
    # while the frames show it moving the law's way by more than moving_px pixels over two frames, or it is
    # held over rest_offset_px beyond the dead band; sliding on its support while the law keeps it moving.
    # 0: off (the law's velocity term then is not corrected either, nor its position term taken before the dead
    # band: both are for a body whose friction the law compensated, Tracker.visual_wrenches). With the slide freed
    # of friction and the velocity term corrected (this form; demo, 160x120, 2 s, stream seeds 0-4) the unmodelled
    # push's maximum was 6.2-8.6 mm with 1 camera against 9.7-10.7 before it, 9.7-12.2 with 2 against 11.7-13.9;
    # the README has the samples and the earlier forms' figures.
    friction_compensation: float = 1.5
    rest_speed: float = 0.01  # m/s: a twin body slower than this is at rest
    # Half a pixel: at 160x120 a pixel spans 5.7 mm at the demo's tray, and with a whole pixel the twin was
    # held until the real tray was 9 mm away (estimate noise, about a fifth of a pixel, stays under half).
    moving_px: float = 0.5
    # A body the twin holds at rest whose error is this many pixels beyond the dead band (1 px off in all
    # with dead_band_px 0.5) gets its static friction compensated even while the frames show it at rest:
    # the law alone cannot slide a twin back by less than mu g T^2 (1.1 cm at mu 1, 30 fps).
    rest_offset_px: float = 0.5
    # A body the twin holds still, moved off where it started, that this many frames in a row show still where
    # they agree (within the dead band), on average further off than the band, is moved the whole of that mean
    # offset, its static friction compensated for the step (Tracker._held_off); 0: off. Measured (160x120, 2 s,
    # 1 and 2 cameras; the README has the tables): the push's final error, the samples' seeds 0-7, 3.96 -> 3.01 mm
    # (kitchen) and 4.88 -> 4.12 (workbench) on average, the demo's seeds 0-14 2.96 -> 1.8; every push's maximum
    # the same; the demo's heavier cube's maxima 5.3-6.9 -> 5.8-7.9 mm (its own take-up), 3.1 -> 4.2 deg at most.
    rest_reads: int = 3
    # The integral is capped at this many control periods of a 1 cm / 0.1 rad error: it only has
    # to beat friction on a resting body, not run away while a body is out of view.
    integral_limit: float = 20.0
    # Downward error estimates are slid along the cameras' viewing ray to no height change (see
    # Tracker._lift_out_of_support): a visual force pressing a body into its support pins it by friction.
    no_downward_push: bool = True
    # Dead band: each body's estimated error is shrunk by this many pixels' worth at its distance from
    # the nearest camera (rotation: that over the body's radius) before the control law; errors the
    # cameras cannot resolve then push nothing (model right: the twin is left to its own physics).
    dead_band_px: float = 0.5
    # Confidence: each body's errors are scaled by the share of its window's excess loss (over the loss it
    # had when the appearance was fitted: the residual of a body that is where it should be) that its
    # estimate removes: 0 below explained_min, 1 from explained_full (see Tracker.confidence). An offset
    # that removes only a small share explains little of what differs (measured: a bottle tipping over
    # exactly as in the stream, whose sides now catch the light differently and show what the capture
    # never saw, read as 8-14 mm and 9-12 deg off, removing 6-15% of its excess loss). explained_min 0: off.
    explained_min: float = 0.3
    explained_full: float = 0.6
    # A body whose Gaussians are less than this share in sight of every camera, the robot's links in front of the
    # rest, is left to its physics (no visual force): the frames say nothing of where it is, and what differs
    # around the arm (its edges, its shading) moved a bowl hidden behind it 154 mm off (kitchen sample, stop 46;
    # Tracker._robot_visibility). 0: off.
    robot_visible_min: float = 0.5
    # The floor the excess is measured from follows each body standing on its support (Tracker._follow_floor):
    # its loss where it matches rises once it moved (the support it uncovered, its shadow), and right estimates
    # of a pushed body were no longer trusted. Measured (160x120, 2 s, 1 and 2 cameras; the README has the
    # tables): the samples' unmodelled push (stream seeds 0-3, 16 runs) 361.0 -> 229.4 mm summed, back within
    # 1 cm within 1 s in 14 runs (was 11); the demo's (seeds 0-9) 6.2-7.8 mm with 1 camera (was 6.2-10.3), the
    # same sum with 2; the samples' other scenarios within 1 mm; the demo's slipperier cube (it tips: not met
    # either way) higher with 1 camera at 3 of 5 seeds (up to 19.5 against 14.1 mm). A body the twin moved that the
    # search finds where the twin holds it (within the dead band) sets the floor, trusted or not (stop 36): the
    # samples' push (seeds 0-3, 16 runs) 222.8 -> 199.2 mm summed, lower in 5, higher in 1 (13.3 against 10.2),
    # back within 1 cm within 1 s in 16 (was 15); the demo's 80 runs the same to the last digit but one (lower).
    # False: the rest floor.
    floor_follows: bool = True
    # Which bodies may be corrected: these roles (robot_link and tool are never allowed), and, when
    # set, only these names.
    correct_roles: tuple[str, ...] = OBJECT_ROLES
    correct_bodies: tuple[str, ...] | None = None
    background_rgb: tuple[float, float, float] = (0.5, 0.5, 0.5)  # what no Gaussian covers
    # torch intra-op threads while the tracker works (None: leave torch's setting). Its tensors are
    # small (a few thousand Gaussians, one small image per camera): with 2 threads on a 2-core machine
    # shared with other work, a step took 15x the CPU time of 1 thread (threads waiting on each other).
    threads: int | None = 1
    render_backend: str = "auto"  # gwm.render backends: "cpu", "gsplat" (CUDA), "auto"
    device: str = "cpu"

    def __post_init__(self) -> None:
        if self.reach_iterations < 0:
            raise ValueError(f"TrackerConfig.reach_iterations must be >= 0, got {self.reach_iterations}")
        if self.iterations < 0:
            raise ValueError(f"TrackerConfig.iterations must be >= 0, got {self.iterations}")
        if self.threads is not None and self.threads < 1:
            raise ValueError(f"TrackerConfig.threads must be >= 1 or None, got {self.threads}")
        if any(int(f) < 2 for f in self.pyramid):
            raise ValueError(f"TrackerConfig.pyramid factors must be >= 2, got {self.pyramid}")
        if self.crop_margin is not None and not self.crop_margin >= 0:
            raise ValueError(f"TrackerConfig.crop_margin must be >= 0 or None, got {self.crop_margin}")
        if self.explained_min > 0 and not self.explained_full > self.explained_min:
            raise ValueError(f"TrackerConfig.explained_full ({self.explained_full}) must exceed explained_min "
                             f"({self.explained_min})")
        if not self.step_growth >= 1.0:
            raise ValueError(f"TrackerConfig.step_growth must be >= 1, got {self.step_growth}")
        for name in ("explained_min", "explained_full", "dead_band_px", "step", "position_gain", "velocity_gain", "integral_gain",
                     "integral_limit", "friction_compensation", "moving_px", "rest_offset_px", "rest_reads",
                     "robot_visible_min"):
            if not getattr(self, name) >= 0:
                raise ValueError(f"TrackerConfig.{name} must be >= 0, got {getattr(self, name)}")
        bad = [r for r in self.correct_roles if r not in OBJECT_ROLES]
        if bad:
            raise ValueError(f"TrackerConfig.correct_roles {bad}: only movable bodies {OBJECT_ROLES} may receive "
                             "visual forces (robot links follow their joint state)")


__all__ = ["TrackerConfig"]
