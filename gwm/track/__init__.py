"""Approach B: a physics twin kept in sync with camera frames by visual forces (Embodied Gaussians).

Each control step (gwm.track.loop.Tracker.step):
  1. render the body-bound Gaussians at the twin's current poses into the observing cameras;
  2. a few line-search gradient steps on a rigid pose offset of each *movable* body (role object /
     container) against the observed frames (photometric MSE, plus blurred copies that widen the
     basin); what does not move is rendered once as a fixed layer (gwm.track.layers);
  3. the optimised offset moves each Gaussian by d_i; opacity-weighted forces o_i d_i and their
     moments about the body's centre of mass give the body's position and orientation error;
  4. errors under half a pixel are dropped (dead band), downward ones slid along the cameras' rays
     (a push into the support only adds friction), and a deadbeat PD (+ integral) law turns the rest
     into a wrench (force at the COM, torque), scaled by the body's mass and inertia so the gains are
     per control period, not per scene;
  5. the twin simulator steps once with the wrenches applied (visual forces act in the next step).

Robot links and tools follow their joint state and never receive visual forces; the background
is static. The loop only needs a simulator with the `Twin` interface (gwm.track.loop); the
Newton-backed one is sim_tasks.newton_twin.NewtonTwin.
"""

from gwm.track.bodies import BodyGaussians
from gwm.track.config import TrackerConfig
from gwm.track.loop import Tracker, TrackStep
from gwm.track.visual_forces import PoseErrorEstimate, estimate_pose_errors

__all__ = ["BodyGaussians", "PoseErrorEstimate", "Tracker", "TrackStep", "TrackerConfig", "estimate_pose_errors"]
