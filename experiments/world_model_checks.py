"""Two checks of a trained toy-world model before planning with it (docs/plan-eval.md).

1. Prediction: the run's last validation teacher-forcing L1 against copying the last frame
   (the L1 between consecutive cached validation encodings): the predictor must beat it.
2. The energy sees the action: over ``STARTS`` reset states (seeds 100...), the energy of the
   oracle's next two actions, of their opposite (Δxyz negated) and of no move; the oracle's
   move should have the lowest energy in most starts.

    python experiments/world_model_checks.py RUN_DIR [--task reach] [--starts 40]
"""

from __future__ import annotations

import argparse
import copy
import json
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file

from vjepa2.sim import RobotWorld, oracle_action
from vjepa2.world_model import load_world_model


def prediction_check(run: Path) -> None:
    cached = sorted((run / "cache").glob("*/val/*.safetensors"))
    copy_l1 = torch.stack([(h[1:] - h[:-1]).abs().mean()
                           for h in (load_file(f)["h"] for f in cached)]).mean()  # fmt: skip
    lines = (run / "metrics.jsonl").read_text().splitlines()
    val = [json.loads(line) for line in lines if "val_tf" in line][-1]
    print(f"validation teacher forcing {val['val_tf']:.4f} (epoch {val['epoch']}), rollout "
          f"{val['val_rollout']:.4f}; copying the last frame: {copy_l1:.4f}")  # fmt: skip


def energy_check(run: Path, task: str, starts: int) -> None:
    wm = load_world_model(run / "model").eval()
    env = RobotWorld(task, size=64)
    wins = best = 0
    for seed in range(100, 100 + starts):
        env.reset(seed=seed)
        encode = lambda frame: wm.encode_frames(wm.transform(torch.from_numpy(frame))[None, None])  # noqa: E731
        start_h, goal_h = encode(env.render()), encode(env.goal_image())
        ahead, actions = copy.deepcopy(env), []
        for _ in range(2):
            actions.append(ahead.clip_action(oracle_action(ahead)))
            ahead.step(actions[-1])
        oracle = torch.tensor(np.stack(actions), dtype=torch.float32)
        opposite = oracle.clone()
        opposite[:, :3] *= -1
        candidates = torch.stack([oracle, opposite, torch.zeros_like(oracle)])
        pose = torch.tensor(env.state, dtype=torch.float32)
        with torch.no_grad():
            e = wm.energy(start_h, goal_h, candidates, pose)
        wins += bool(e[0] < e[1])
        best += bool(e[0] < e[1:].min())
    print(
        f"{task}: the oracle's move has a lower energy than its opposite in {wins}/{starts} "
        f"starts, the lowest of (oracle, opposite, no move) in {best}/{starts}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("run", type=Path)
    parser.add_argument("--task", default="reach")
    parser.add_argument("--starts", type=int, default=40)
    args = parser.parse_args()
    torch.set_num_threads(1)
    prediction_check(args.run)
    energy_check(args.run, args.task, args.starts)


if __name__ == "__main__":
    main()
