"""Closed-loop planning with a *perfect* model: how far does an encoder's energy alone get?

Each step renders the frame after each of 125 moves (Δxyz in {-5, -2.5, 0, 2.5, 5} cm each, the
true next frame: no predictor), encodes them and takes the one whose tokens are nearest the goal
image's (mean L1 of layer-normed tokens, `WorldModel.energy`'s). The success rate bounds what a
learned predictor can reach with the same encoder and picture (docs/plan-eval.md).

    python experiments/perfect_model_planning.py demo --task reach --episodes 30
    python experiments/perfect_model_planning.py pixels --world '{"lamp_radius": 0}'
"""

from __future__ import annotations

import argparse
import itertools
import json

import numpy as np
import torch
from energy_probe import encoder_for

from vjepa2.sim import RobotWorld, WorldConfig


def plan(encoder: str, world: dict, task: str, episodes: int, steps: int, size: int = 64) -> dict:
    env = RobotWorld(task, size=size, config=WorldConfig(**world))
    encode = encoder_for(encoder, size)
    grid = (-0.05, -0.025, 0.0, 0.025, 0.05)
    moves = [np.array([*d, 0, 0, 0, 0]) for d in itertools.product(grid, repeat=3)]
    successes, final = 0, []
    for i in range(episodes):
        env.reset(seed=1000 + i)
        goal = encode(torch.from_numpy(env.goal_image()[None]))
        for _ in range(steps):
            if env.is_success():
                break
            options = {
                "state": env.state,
                "object_position": env.object_position,
                "goal_state": env.goal_state,
                "goal_object": env.goal_object,
            }
            frames = []
            for move in moves:
                trial = RobotWorld(task, size=size, config=env.config)
                trial.reset(options=options)
                frames.append(trial.step(move)[0])
            energy = (encode(torch.from_numpy(np.stack(frames))) - goal).abs().flatten(1).mean(1)
            env.step(moves[int(energy.argmin())])
        successes += env.is_success()
        distance = env.goal_distance()
        final.append(distance.gripper if task == "reach" else distance.object)
    return {
        "encoder": encoder,
        "world": world,
        "task": task,
        "episodes": episodes,
        "success_rate": successes / episodes,
        "mean_final_distance": float(np.mean(final)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("encoder", help="pixels, demo, random:P or a model (energy_probe.py)")
    parser.add_argument("--world", default="{}", help="WorldConfig fields as JSON")
    parser.add_argument("--task", default="reach", choices=("reach", "push"))
    parser.add_argument("--episodes", type=int, default=30)
    parser.add_argument("--steps", type=int, default=20)
    args = parser.parse_args()
    print(
        json.dumps(plan(args.encoder, json.loads(args.world), args.task, args.episodes, args.steps))
    )


if __name__ == "__main__":
    main()
