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
    # Adam steps fitting each camera's colour gain and bias, and the movable bodies' Gaussian colours,
    # opacities and sizes, to the first frames before tracking (0: off); see gwm.track.appearance.
    calibration_iterations: int = 100
    # The loss is MSE on the frames plus MSE on copies box-filtered and downsampled by these factors:
    # coarse copies still have a gradient when render and frame overlap only a little.
    pyramid: tuple[int, ...] = (4, 8)
    # Control law on the estimated error e (per axis, position and orientation alike), with the
    # control period T: acceleration = (2 kp e + kd (e - e_prev) + 2 ki sum(e)) / T^2, times the
    # body's mass (force) or inertia (torque). kp = 0.5 closes half the error in one step under
    # constant acceleration; gains per period keep one setting right for any frame rate or body.
    position_gain: float = 0.5
    velocity_gain: float = 0.2
    integral_gain: float = 0.02
    # The integral is capped at this many control periods of a 1 cm / 0.1 rad error: it only has
    # to beat friction on a resting body, not run away while a body is out of view.
    integral_limit: float = 20.0
    # Which bodies may be corrected: these roles (robot_link and tool are never allowed), and, when
    # set, only these names.
    correct_roles: tuple[str, ...] = OBJECT_ROLES
    correct_bodies: tuple[str, ...] | None = None
    background_rgb: tuple[float, float, float] = (0.5, 0.5, 0.5)  # what no Gaussian covers
    render_backend: str = "auto"  # gwm.render backends: "cpu", "gsplat" (CUDA), "auto"
    device: str = "cpu"

    def __post_init__(self) -> None:
        if self.iterations < 0:
            raise ValueError(f"TrackerConfig.iterations must be >= 0, got {self.iterations}")
        if any(int(f) < 2 for f in self.pyramid):
            raise ValueError(f"TrackerConfig.pyramid factors must be >= 2, got {self.pyramid}")
        for name in ("step", "position_gain", "velocity_gain", "integral_gain",
                     "integral_limit"):
            if not getattr(self, name) >= 0:
                raise ValueError(f"TrackerConfig.{name} must be >= 0, got {getattr(self, name)}")
        bad = [r for r in self.correct_roles if r not in OBJECT_ROLES]
        if bad:
            raise ValueError(f"TrackerConfig.correct_roles {bad}: only movable bodies {OBJECT_ROLES} may receive "
                             "visual forces (robot links follow their joint state)")


__all__ = ["TrackerConfig"]
