"""Draw docs/images/robot-world.png: the oracle in reach (one frame per step) and push (every
second step), 128 px frames, the last of each row the goal image.

    python experiments/robot_world_picture.py docs/images/robot-world.png
"""

from __future__ import annotations

import sys

import numpy as np
from PIL import Image

from vjepa2.sim import RobotWorld, oracle_action


def row(task: str, seed: int, every: int, count: int = 6) -> np.ndarray:
    env = RobotWorld(task, size=128)
    frames = [env.reset(seed=seed)[0]]
    while len(frames) < count:
        for _ in range(every):
            frame = env.step(oracle_action(env))[0]
        frames.append(frame)
    frames.append(env.goal_image())
    white = np.full((128, 8, 3), 255, np.uint8)
    return np.concatenate([part for f in frames for part in (f, white)][:-1], axis=1)


if __name__ == "__main__":
    rows = [row("reach", 1000, 1), row("push", 1001, 2)]
    gap = np.full((8, rows[0].shape[1], 3), 255, np.uint8)
    Image.fromarray(np.concatenate([rows[0], gap, rows[1]])).save(sys.argv[1])
