"""A toy robot world, numpy only: a gripper pushing a disc on a table top, seen from above.

`RobotWorld` has a gymnasium-style API (``reset(seed)``, ``step(action)``) with 7-D states and
actions in the DROID convention; `ExplorationPolicy` and `oracle_action` drive it;
`make_robot_dataset` writes episodes in the trajectory format of `vjepa2.data.trajectories`
(``vjepa2 make-robot-data``). See docs/robot-world.md.
"""

from vjepa2.sim.dataset import RobotDataset, make_robot_dataset
from vjepa2.sim.policies import ExplorationPolicy, oracle_action
from vjepa2.sim.world import TASKS, GoalDistance, RobotWorld, WorldConfig

__all__ = [
    "TASKS",
    "ExplorationPolicy",
    "GoalDistance",
    "RobotDataset",
    "RobotWorld",
    "WorldConfig",
    "make_robot_dataset",
    "oracle_action",
]
