"""Policies for `RobotWorld`: random exploration (to make training data) and a scripted oracle.

Both return raw 7-D actions; the world clips them to its limits.
"""

from __future__ import annotations

import numpy as np

from vjepa2.sim.world import RobotWorld


class ExplorationPolicy:
    """Smoothed random actions, now and then steered at the object (push task).

    Translation is an AR(1) process (``smoothing`` = the correlation between steps) scaled to
    ``0.7 * max_translation`` per coordinate (z at half that); yaw wanders by small smoothed
    steps (roll and pitch stay fixed); the gripper's target flips between open and closed with
    probability ``gripper_flip`` per step. In the push task each step starts, with probability
    ``touch_probability``, a run of 3-8 steps aimed through the object towards a random point
    behind it, so episodes show pushes. Deterministic given ``rng``.
    """

    def __init__(
        self,
        env: RobotWorld,
        rng: np.random.Generator,
        smoothing: float = 0.8,
        gripper_flip: float = 0.1,
        touch_probability: float = 0.15,
    ):
        self.env = env
        self.rng = rng
        self.smoothing = smoothing
        self.gripper_flip = gripper_flip
        self.touch_probability = touch_probability if env.task == "push" else 0.0
        self._motion = rng.normal(size=4)
        self._gripper_target = float(rng.integers(0, 2))
        self._touch_steps = 0
        self._touch_target = np.zeros(2)

    def __call__(self) -> np.ndarray:
        """The next action: float64 [7]."""
        c, rng = self.env.config, self.rng
        noise = rng.normal(size=4)
        self._motion = self.smoothing * self._motion + np.sqrt(1 - self.smoothing**2) * noise
        action = np.zeros(7)
        action[:3] = 0.7 * c.max_translation * self._motion[:3] * [1.0, 1.0, 0.5]
        action[5] = 0.3 * c.max_rotation * self._motion[3]
        if rng.random() < self.gripper_flip:
            self._gripper_target = 1.0 - self._gripper_target
        action[6] = self._gripper_target - self.env.state[6]
        if self._touch_steps == 0 and rng.random() < self.touch_probability:
            self._start_touch()
        if self._touch_steps > 0:
            self._touch_steps -= 1
            heading = self._touch_target - self.env.state[:2]
            action[:2] = heading + rng.normal(0, 0.2 * c.max_translation, 2)
        return action

    def _start_touch(self) -> None:
        obj = self.env.object_position
        beyond = obj - self.env.state[:2]
        beyond /= max(float(np.hypot(*beyond)), 1e-9)
        angle = self.rng.uniform(-0.6, 0.6)
        turn = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
        self._touch_target = obj + turn @ beyond * self.rng.uniform(0.03, 0.12)
        self._touch_steps = int(self.rng.integers(3, 9))


def oracle_action(env: RobotWorld, goal_state=None, goal_object=None) -> np.ndarray:
    """A scripted expert's next action towards the goal (the episode's own by default).

    Reach: straight at the goal pose. Push: around the object (never through it) to the point
    behind it on the line to its goal, push it along that line, then settle on the goal pose.
    Translations are scaled (not clipped per coordinate) to the world's limit, so the gripper
    moves in straight lines; rotation deltas are 0; the gripper moves to the goal's opening.
    Returns float64 [7].
    """
    goal_state = env.goal_state if goal_state is None else np.asarray(goal_state, np.float64)
    goal_object = env.goal_object if goal_object is None else np.asarray(goal_object, np.float64)
    state, obj = env.state, env.object_position
    action = np.zeros(7)
    action[:3] = goal_state[:3] - state[:3]
    action[6] = goal_state[6] - state[6]
    to_goal = goal_object - obj
    if env.task == "push" and np.hypot(*to_goal) > 0.5 * env.object_tolerance:
        action[:2] = _push_waypoint(env, to_goal / np.hypot(*to_goal), goal_object) - state[:2]
    largest = np.abs(action[:3]).max()
    if largest > env.config.max_translation:
        action[:3] *= env.config.max_translation / largest
    return action


def _push_waypoint(env: RobotWorld, direction: np.ndarray, goal_object: np.ndarray) -> np.ndarray:
    """Where the gripper heads next [2], in a frame of (along ``direction``, across it) centred
    on the object: push when lined up behind it, else go round it by clear straight lines."""
    d = env.config.contact_distance
    obj, xy = env.object_position, env.state[:2]
    normal = np.array([-direction[1], direction[0]])
    along, across = float((xy - obj) @ direction), float((xy - obj) @ normal)
    side = 1.0 if across >= 0 else -1.0
    if along <= -0.5 * d and abs(across) < 0.3 * d:  # lined up: push to the goal
        return goal_object - direction * d
    if along <= -(d + 0.005):  # behind the object: line up
        return obj - direction * (d + 0.01)
    if abs(across) >= d + 0.01:  # beside it: to the corner behind it
        return obj - direction * (d + 0.01) + side * normal * (d + 0.02)
    return obj + along * direction + side * normal * (d + 0.02)  # in front: step aside
