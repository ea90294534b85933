"""Draw the toy robot world's pictures for the docs, 128 px frames, the last of each row the goal
image:

- docs/images/robot-world.png: the scripted oracle in reach and push, one frame per step;
- with ``--plan``: docs/images/plan-episodes.png, the bundled world model planning (closed-loop
  CEM on 64 px frames, as `vjepa2 demo --plan`), each executed step drawn at 128 px.

    python experiments/robot_world_picture.py docs/images/robot-world.png
    python experiments/robot_world_picture.py docs/images/plan-episodes.png --plan
"""

from __future__ import annotations

import json
import sys

import numpy as np
from PIL import Image

from vjepa2.inference.plan_eval import ModelPolicy, PlannerSettings
from vjepa2.presets import DEMO_DIR
from vjepa2.sim import RobotWorld, oracle_action
from vjepa2.world_model import load_world_model

WHITE = 255
WORLD_MODEL_DIR = DEMO_DIR.parent / "world-model"


def strip(frames: list[np.ndarray]) -> np.ndarray:
    white = np.full((frames[0].shape[0], 8, 3), WHITE, np.uint8)
    return np.concatenate([part for f in frames for part in (f, white)][:-1], axis=1)


def oracle_row(task: str, seed: int, count: int = 6) -> np.ndarray:
    env = RobotWorld(task, size=128)
    frames = [env.reset(seed=seed)[0]]
    while len(frames) < count:
        frames.append(env.step(oracle_action(env))[0])
    return strip([*frames, env.goal_image()])


def plan_row(task: str, seed: int, count: int = 7) -> np.ndarray:
    """One episode of the bundled world model: planned on 64 px frames, drawn at 128 px."""
    recipe = json.loads((WORLD_MODEL_DIR / "plan.json").read_text())
    policy = ModelPolicy(
        load_world_model(WORLD_MODEL_DIR).eval(), PlannerSettings(**recipe["planner"])
    )
    small, big = RobotWorld(task, size=recipe["size"]), RobotWorld(task, size=128)
    small.reset(seed=recipe["seed"] + seed)
    big.reset(seed=recipe["seed"] + seed)
    policy.start(small, recipe["seed"] + seed)
    frames, frame = [big.render()], small.render()
    while len(frames) < count and not small.is_success():
        action = policy(small, frame)
        frame = small.step(action)[0]
        frames.append(big.step(action)[0])
    return strip([*frames, big.goal_image()])


if __name__ == "__main__":
    if "--plan" in sys.argv:
        rows = [plan_row("reach", 3), plan_row("push", 2)]
    else:
        rows = [oracle_row("reach", 1000), oracle_row("push", 1001)]
    width = max(r.shape[1] for r in rows)
    rows = [
        np.pad(r, ((0, 0), (0, width - r.shape[1]), (0, 0)), constant_values=WHITE) for r in rows
    ]
    gap = np.full((8, width, 3), WHITE, np.uint8)
    Image.fromarray(np.concatenate([rows[0], gap, rows[1]])).save(sys.argv[1])
