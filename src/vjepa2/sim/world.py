"""`RobotWorld`: a gripper on an arm over a table top pushing a disc, seen from above at an angle.

Units are metres and radians. The table spans x, y in [-half_width, half_width] (x right, y up
in the picture); the gripper's height z lies in ``z_range`` and only changes how it looks (shown
``lift * z`` above its shadow, larger and lighter when higher): the physics is planar. An arm,
drawn from a fixed base below the table's near edge to the gripper, sweeps a wide part of the
picture as the gripper moves (`render_state`). The state is 7-D in the
DROID convention ``[x, y, z, roll, pitch, yaw, gripper]`` (extrinsic xyz Euler angles, gripper 0 =
open, 1 = closed) and an action is ``[Δx, Δy, Δz, Δroll, Δpitch, Δyaw, Δgripper]``, integrated
as the original planner does (`vjepa2.sim.pose.propagate_pose`): xyz added, ``R_Δ @ R``,
gripper added and clipped to [0, 1]. Each step clips Δxyz and the Euler deltas per coordinate
(``max_translation``, ``max_rotation``, as the planner's maxnorm) and Δgripper.

The gripper pushes the object kinematically: when its footprint (a disc of ``gripper_radius``)
overlaps the object (a disc of ``object_radius``), the object slides out along the line of their
centres until they touch. The object stays on the table with room for the gripper between it and
every edge; an object against an edge stops the gripper instead. Rotation only turns the fingers
in the picture.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

from vjepa2.errors import UsageError
from vjepa2.sim import render
from vjepa2.sim.pose import POSE_DIM, propagate_pose

TASKS: tuple[str, ...] = ("reach", "push")
PUSH_STARTS: tuple[str, ...] = ("behind", "anywhere")
OBJECT_COLOURS = {"reach": (40, 90, 200), "push": (205, 55, 40)}


@dataclass(frozen=True)
class WorldConfig:
    """Geometry, limits, success thresholds and how the picture is drawn (metres, radians):
    the view, the camera's lift of a height, the shadow, the growth with height, the arm."""

    half_width: float = 0.25
    z_range: tuple[float, float] = (0.0, 0.2)
    gripper_radius: float = 0.04
    object_radius: float = 0.045
    max_translation: float = 0.05
    max_rotation: float = 0.25
    max_gripper_step: float = 1.0
    gripper_tolerance: float = 0.05
    object_tolerance: float = 0.05
    max_episode_steps: int = 50
    substeps: int = 4
    view_half_width: float = 0.3
    view_centre: tuple[float, float] = (0.0, 0.04)
    lift: float = 0.5
    shadow_dx: float = 0.0
    shadow_dy: float = 0.0
    shadow_opacity: float = 0.5
    grow: float = 1.0
    arm_base: tuple[float, float] = (0.0, -0.34)
    arm_radius: float = 0.018
    lamp_radius: float = 0.15
    lamp_strength: float = 0.9
    lamp_grow: float = 1.0
    push_start: str = "behind"

    def __post_init__(self) -> None:
        if self.push_start not in PUSH_STARTS:
            raise UsageError(
                f"push_start {self.push_start!r}: choose one of {', '.join(PUSH_STARTS)}"
            )

    @property
    def contact_distance(self) -> float:
        """Distance between the gripper's and the object's centres when they touch."""
        return self.gripper_radius + self.object_radius

    @property
    def object_limit(self) -> float:
        """The object's centre stays within ±object_limit in x and y."""
        return self.half_width - self.contact_distance


class GoalDistance(NamedTuple):
    """Euclidean distances to a goal: the gripper's in xyz, the object's in xy."""

    gripper: float
    object: float


def _unit(vector: np.ndarray, fallback: np.ndarray) -> np.ndarray:
    norm = float(np.hypot(*vector))
    return vector / norm if norm > 1e-12 else fallback


class RobotWorld:
    """The toy robot world with a gymnasium-style API (no gymnasium needed).

    >>> env = RobotWorld(task="push", size=64)
    >>> obs, info = env.reset(seed=0)          # obs: uint8 [64, 64, 3]
    >>> obs, reward, terminated, truncated, info = env.step([0.05, 0, 0, 0, 0, 0, 0])

    ``reset`` draws a start (gripper pose, object position) and a reachable goal
    (``goal_state``, ``goal_object``; ``goal_image()`` renders it). Reach: the gripper must get
    within ``gripper_tolerance`` of the goal's xyz. Push: the object within ``object_tolerance``
    of its goal and the gripper within ``gripper_tolerance`` of its goal (behind the object,
    where a straight push leaves it). ``reward`` is minus the distance that matters (the
    gripper's for reach, the object's for push); ``terminated`` is success; ``truncated`` comes
    after ``max_episode_steps``. Stepping on after either is allowed.
    """

    def __init__(self, task: str = "reach", size: int = 64, config: WorldConfig | None = None):
        if task not in TASKS:
            raise UsageError(f"unknown task {task!r}; choose one of {', '.join(TASKS)}")
        if size < 8:
            raise UsageError(f"frame size must be at least 8 pixels, got {size}")
        self.task = task
        self.size = size
        self.config = config or WorldConfig()
        self.gripper_tolerance = self.config.gripper_tolerance
        self.object_tolerance = self.config.object_tolerance
        self.max_episode_steps = self.config.max_episode_steps
        self.object_colour = OBJECT_COLOURS[task]
        c = self.config
        self._canvas = render.Canvas(size, c.view_half_width, c.view_centre)
        self._table = render.table(self._canvas, c.half_width)
        self._rng = np.random.default_rng()
        self._state = np.zeros(POSE_DIM)
        self._object = np.zeros(2)
        self.goal_state = np.zeros(POSE_DIM)
        self.goal_object = np.zeros(2)
        self.steps = 0

    # ------------------------------------------------------------------------- gym API

    def reset(
        self, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict]:
        """Start an episode: draw start and goal from ``seed`` (or go on with the last generator).

        ``options`` may set any of "state" [7], "object_position" [2], "goal_state" [7] and
        "goal_object" [2] instead of drawing them. Returns (frame uint8 [H, W, 3], info).
        """
        if seed is not None:
            self._rng = np.random.default_rng(seed)
        options = options or {}
        state, obj = self._draw_start()
        self._state = np.asarray(options.get("state", state), np.float64).copy()
        self._object = np.asarray(options.get("object_position", obj), np.float64).copy()
        goal_state, goal_object = self._draw_goal()
        if self.task == "push" and self.config.push_start == "behind" and "state" not in options:
            self._state[:2] = self._behind(goal_object)
        self.goal_state = np.asarray(options.get("goal_state", goal_state), np.float64).copy()
        self.goal_object = np.asarray(options.get("goal_object", goal_object), np.float64).copy()
        self.steps = 0
        return self.render(), self._info()

    def step(self, action) -> tuple[np.ndarray, float, bool, bool, dict]:
        """Apply one 7-D action (clipped, see `clip_action`): (frame, reward, terminated,
        truncated, info); info["action"] is the action as applied after clipping."""
        applied = self.clip_action(action)
        self._move(applied[:3])
        turned = propagate_pose(self._state, np.concatenate([np.zeros(3), applied[3:]]))
        self._state[3:] = turned[3:]
        self.steps += 1
        info = self._info()
        info["action"] = applied
        distance = info["distance"]
        reward = -(distance.gripper if self.task == "reach" else distance.object)
        truncated = self.steps >= self.max_episode_steps
        return self.render(), float(reward), info["success"], truncated, info

    def clip_action(self, action) -> np.ndarray:
        """The action as the world applies it: float64 [7], each part clipped to its limit."""
        action = np.asarray(action, np.float64)
        if action.shape != (POSE_DIM,):
            raise UsageError(f"an action has {POSE_DIM} values, got shape {list(action.shape)}")
        if not np.isfinite(action).all():
            raise UsageError(f"action holds NaN or infinite values: {action}")
        c = self.config
        limits = [c.max_translation] * 3 + [c.max_rotation] * 3 + [c.max_gripper_step]
        return np.clip(action, -np.asarray(limits), limits)

    @property
    def state(self) -> np.ndarray:
        """The gripper's pose: float64 [7] (xyz, xyz Euler angles, gripper), a copy."""
        return self._state.copy()

    @property
    def object_position(self) -> np.ndarray:
        """The object's centre: float64 [2] (x, y), a copy."""
        return self._object.copy()

    def render(self) -> np.ndarray:
        """The current frame: uint8 [H, W, 3]."""
        return self.render_state(self._state, self._object)

    def goal_image(self) -> np.ndarray:
        """The goal frame: uint8 [H, W, 3]."""
        return self.render_state(self.goal_state, self.goal_object)

    def goal_distance(self, goal_state=None, goal_object=None) -> GoalDistance:
        """Distances from now to a goal (the episode's own by default)."""
        goal_state = self.goal_state if goal_state is None else np.asarray(goal_state)
        goal_object = self.goal_object if goal_object is None else np.asarray(goal_object)
        gripper = float(np.linalg.norm(self._state[:3] - goal_state[:3]))
        return GoalDistance(gripper, float(np.linalg.norm(self._object - goal_object)))

    def is_success(self, goal_state=None, goal_object=None) -> bool:
        """Whether the task's success thresholds hold (see the class docstring)."""
        distance = self.goal_distance(goal_state, goal_object)
        reached = distance.gripper <= self.gripper_tolerance
        if self.task == "reach":
            return reached
        return reached and distance.object <= self.object_tolerance

    def _info(self) -> dict:
        return {
            "state": self.state,
            "object_position": self.object_position,
            "goal_state": self.goal_state.copy(),
            "goal_object": self.goal_object.copy(),
            "distance": self.goal_distance(),
            "success": self.is_success(),
        }

    # ------------------------------------------------------------------------- physics

    def _move(self, delta: np.ndarray) -> None:
        """Move the gripper by ``delta`` [3] in substeps, pushing the object out of its way."""
        c = self.config
        heading = _unit(delta[:2], np.array([1.0, 0.0]))
        for _ in range(c.substeps):
            target = self._state[:3] + delta / c.substeps
            xy = np.clip(target[:2], -c.half_width, c.half_width)
            offset = self._object - xy
            if np.hypot(*offset) < c.contact_distance:
                direction = _unit(offset, heading)
                pushed = xy + direction * c.contact_distance
                self._object = np.clip(pushed, -c.object_limit, c.object_limit)
                back = xy - self._object
                if np.hypot(*back) < c.contact_distance:  # the object is stuck at an edge
                    xy = self._object + _unit(back, -direction) * c.contact_distance
            self._state[:2] = xy
            self._state[2] = np.clip(target[2], *c.z_range)

    # ------------------------------------------------------------------------- drawing

    def render_state(self, state, object_position) -> np.ndarray:
        """The frame showing the gripper at ``state`` [7] and the object at ``object_position``
        [2] (e.g. a goal image from a goal state): uint8 [H, W, 3].

        The camera looks down at an angle: a point at height z shows ``lift * z`` further up the
        picture than its shadow, which falls straight down on the table. The arm is a thick
        link from a fixed base below the table's near edge to the gripper, so every move of the
        gripper sweeps a wide part of the picture.
        """
        c, canvas = self.config, self._canvas
        state = np.asarray(state, np.float64)
        image = self._table.copy()
        z_low, z_high = c.z_range
        z = np.clip(state[2], z_low, z_high)
        height = (z - z_low) / (z_high - z_low)
        if c.lamp_radius > 0:
            spread = 1.0 + c.lamp_grow * height
            render.paint_glow(
                image, canvas, state[:2], c.lamp_radius * spread, c.lamp_strength / spread
            )
        render.paint_disc(image, canvas, object_position, c.object_radius, self.object_colour)
        shadow = state[:2] + np.array([c.shadow_dx, c.shadow_dy]) * z
        seen = state[:2] + np.array([0.0, c.lift * z])
        dark, opacity = (0, 0, 0), c.shadow_opacity
        render.paint_capsule(image, canvas, c.arm_base, shadow, c.arm_radius, dark, opacity)
        render.paint_disc(image, canvas, shadow, c.gripper_radius, dark, opacity)
        render.paint_capsule(image, canvas, c.arm_base, seen, c.arm_radius, render.ARM_COLOUR)
        scale = 1.0 + c.grow * height
        body = render.shade(render.BODY_COLOUR, 1.0 + 0.5 * height)
        render.paint_disc(image, canvas, seen, 0.7 * c.gripper_radius * scale, body)
        axis = np.array([math.cos(state[5]), math.sin(state[5])])
        spread = c.gripper_radius * scale * (0.95 - 0.55 * np.clip(state[6], 0.0, 1.0))
        for side in (1.0, -1.0):
            centre = seen + side * spread * axis
            finger = 0.35 * c.gripper_radius * scale
            render.paint_disc(image, canvas, centre, finger, render.FINGER_COLOUR)
        return render.to_uint8(image)

    # ------------------------------------------------------------------------- episodes

    def _draw_start(self) -> tuple[np.ndarray, np.ndarray]:
        """A start pose [7] and object position [2], apart from each other."""
        c, rng = self.config, self._rng
        for _ in range(1000):
            xy = rng.uniform(-0.8, 0.8, 2) * c.half_width
            obj = rng.uniform(-0.7, 0.7, 2) * c.object_limit
            if np.hypot(*(xy - obj)) >= c.contact_distance + 0.05:
                break
        z = rng.uniform(*c.z_range)
        yaw = rng.uniform(-0.5, 0.5)
        state = np.array([*xy, z, 0.0, 0.0, yaw, rng.uniform(0.0, 1.0)])
        return state, obj

    def _behind(self, goal_object: np.ndarray) -> np.ndarray:
        """A gripper xy [2] behind the object on the far side from ``goal_object``: 1-8 cm
        back from contact, up to 25 degrees off the line of the push, on the table."""
        c, rng = self.config, self._rng
        back = -_unit(goal_object - self._object, np.array([1.0, 0.0]))
        angle = rng.uniform(-1, 1) * math.radians(25)
        turn = np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
        xy = self._object + turn @ back * (c.contact_distance + rng.uniform(0.01, 0.08))
        return np.clip(xy, -c.half_width, c.half_width)

    def _draw_goal(self) -> tuple[np.ndarray, np.ndarray]:
        """A goal reachable from the current start: see the class docstring."""
        c, rng = self.config, self._rng
        goal = self._state.copy()
        if self.task == "reach":
            for _ in range(1000):
                xy = rng.uniform(-0.8, 0.8, 2) * c.half_width
                far_enough = np.hypot(*(xy - self._state[:2])) >= 0.1
                if far_enough and np.hypot(*(xy - self._object)) >= c.contact_distance + 0.01:
                    break
            goal[:3] = [*xy, rng.uniform(*c.z_range)]
            return goal, self._object.copy()
        for _ in range(1000):
            angle = rng.uniform(-math.pi, math.pi)
            length = rng.uniform(0.08, 0.15)
            target = self._object + length * np.array([math.cos(angle), math.sin(angle)])
            target = np.clip(target, -c.object_limit, c.object_limit)
            if np.hypot(*(target - self._object)) >= 0.05:
                break
        direction = _unit(target - self._object, np.array([1.0, 0.0]))
        goal[:2] = target - direction * c.contact_distance
        return goal, target
