"""How well does a world model's planning energy see the toy world's gripper? (docs/plan-eval.md)

For random reach states it measures, for a frame encoder (the energy: mean L1 between the
layer-normed token maps of two frames, as `WorldModel.energy` compares a prediction with the goal):

* spearman: the rank correlation of the energy between two random frames with the true xyz
  distance of their grippers (``PAIRS`` pairs: is the energy monotonic over the range?);
* greedy: in how many of ``PAIRS`` start-goal pairs the frame after a 5 cm step straight at the
  goal has a lower energy to the goal than after the same step straight away from it, and
  ``best-of-7``: how often it is the lowest of the seven frames after no move and the six
  5 cm steps along ±x, ±y, ±z closest to the goal's direction (what a greedy planner needs).

    python experiments/energy_probe.py pixels demo random:8 MODEL_DIR ... [--size 64] [--pairs 200]

An encoder is ``pixels`` (raw normalised pixels as tokens), ``demo`` (the bundled demo encoder),
``random:P`` (a random-init 2-layer, 128-wide encoder with patch P), or any folder / name
`vjepa2.load` reads (its ``.encoder``).
"""

from __future__ import annotations

import argparse

import numpy as np
import torch
import torch.nn.functional as F

import vjepa2
from vjepa2.config import VJEPA2Config
from vjepa2.models.encoder import VJEPA2Encoder
from vjepa2.sim import RobotWorld, WorldConfig
from vjepa2.world_model import FrameTransform


def encoder_for(name: str, size: int):
    """frames uint8 [B, H, W, 3] -> tokens [B, N, D] (layer-normed)."""
    transform = FrameTransform(size)
    if name == "pixels":
        return lambda frames: transform(frames).flatten(1)[:, None]
    if name.startswith("random:"):
        torch.manual_seed(0)
        config = VJEPA2Config(
            crop_size=size,
            patch_size=int(name.split(":")[1]),
            hidden_size=128,
            num_hidden_layers=2,
            num_attention_heads=4,
            tubelet_size=2,
        )
        encoder = VJEPA2Encoder(config).eval()
    else:
        model = vjepa2.load(name)
        encoder = model.encoder.eval()

    def encode(frames: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            h = encoder(transform(frames)[:, None])
        return F.layer_norm(h, (h.size(-1),))

    return encode


def random_state(rng: np.random.Generator, env: RobotWorld) -> np.ndarray:
    c = env.config
    return np.array(
        [
            *rng.uniform(-0.2, 0.2, 2),
            rng.uniform(*c.z_range),
            0,
            0,
            rng.uniform(-0.5, 0.5),
            rng.uniform(0, 1),
        ]
    )


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    ra, rb = np.argsort(np.argsort(a)), np.argsort(np.argsort(b))
    return float(np.corrcoef(ra, rb)[0, 1])


def probe(name: str, size: int, pairs: int, world: dict | None = None) -> dict:
    env = RobotWorld("reach", size=size, config=WorldConfig(**(world or {})))
    encode = encoder_for(name, size)
    rng = np.random.default_rng(0)
    obj = np.array([0.12, 0.1])
    energy = lambda a, b: (a - b).abs().flatten(1).mean(1).numpy()  # noqa: E731
    render = lambda states: torch.from_numpy(  # noqa: E731
        np.stack([env.render_state(s, obj) for s in states])
    )
    starts = [random_state(rng, env) for _ in range(pairs)]
    goals = [random_state(rng, env) for _ in range(pairs)]
    h_start, h_goal = encode(render(starts)), encode(render(goals))
    distance = np.array([np.linalg.norm(s[:3] - g[:3]) for s, g in zip(starts, goals, strict=True)])
    rho = spearman(energy(h_start, h_goal), distance)
    wins = best = best_z = 0
    for start, goal, hg in zip(starts, goals, h_goal, strict=True):
        toward = (goal[:3] - start[:3]) / max(np.linalg.norm(goal[:3] - start[:3]), 1e-9)
        moves = [np.zeros(3), 0.05 * toward, -0.05 * toward]
        moves += [0.05 * np.eye(3)[i] * s for i in range(3) for s in (1, -1)]
        moved = []
        for m in moves:
            s = start.copy()
            s[:3] = np.clip(s[:3] + m, [-0.25, -0.25, 0], [0.25, 0.25, 0.2])
            moved.append(s)
        e = energy(encode(render(moved)), hg[None])
        d = [np.linalg.norm(s[:3] - goal[:3]) for s in moved]
        wins += e[1] < e[2]
        axis = [0, 3, 4, 5, 6, 7, 8]
        best += int(np.argmin(e[axis]) == np.argmin(np.array(d)[axis]))
        zs = [0, 7, 8]
        best_z += int(np.argmin(e[zs]) == np.argmin(np.array(d)[zs]))
    return {
        "encoder": name,
        "spearman": rho,
        "greedy": wins / pairs,
        "best-of-7": best / pairs,
        "best-z": best_z / pairs,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("encoders", nargs="+")
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--pairs", type=int, default=200)
    parser.add_argument(
        "--world",
        action="append",
        default=[],
        metavar="FIELD=VALUE",
        help="a WorldConfig field (a number), e.g. lift=1.0",
    )
    args = parser.parse_args()
    world = {k: float(v) for k, v in (item.split("=") for item in args.world)}
    torch.set_num_threads(1)
    print(
        "| encoder | size | spearman(energy, distance) | toward < away | best of 7 "
        "| best of 3 in z |"
    )
    print("|---|---|---|---|---|---|")
    for name in args.encoders:
        r = probe(name, args.size, args.pairs, world)
        print(
            f"| {name} | {args.size} | {r['spearman']:.2f} | {100 * r['greedy']:.0f} % | "
            f"{100 * r['best-of-7']:.0f} % | {100 * r['best-z']:.0f} % |",
            flush=True,
        )


if __name__ == "__main__":
    main()
