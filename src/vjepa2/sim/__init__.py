"""A toy robot world, numpy only: a gripper on an arm pushing a disc on a table top.

`RobotWorld` has a gymnasium-style API (``reset(seed)``, ``step(action)``) with 7-D states and
actions in the DROID convention (`vjepa2.sim.pose`); `ExplorationPolicy` and `oracle_action`
drive it. `vjepa2.data.robot_data` writes its episodes in the trajectory format
(``vjepa2 make-robot-data``). Numpy only: the package imports nothing above the foundation
modules. See docs/robot-world.md.
"""

from vjepa2.sim.policies import ExplorationPolicy, oracle_action
from vjepa2.sim.world import TASKS, GoalDistance, RobotWorld, WorldConfig

__all__ = [
    "TASKS",
    "ExplorationPolicy",
    "GoalDistance",
    "RobotWorld",
    "WorldConfig",
    "oracle_action",
]
