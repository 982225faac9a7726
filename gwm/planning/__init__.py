"""Planning with a predictive model: sampling-based planners (CEM, MPPI, random shooting) over action
chunks, and the world model behind the predictor interface the model-predictive controller uses.

The controller itself, the simulator oracle and `gwm plan` live in sim_tasks (they run the simulator):
sim_tasks.planning_mpc (push), sim_tasks.planning_pick_place (pick-and-place), sim_tasks.sim_predictor,
sim_tasks.plan_cli.
"""

from gwm.planning.planners import PLANNERS, PlannerConfig, PlanResult, plan
from gwm.planning.predictors import Predictor, WorldModelPredictor

__all__ = ["PLANNERS", "PlanResult", "PlannerConfig", "Predictor", "WorldModelPredictor", "plan"]
