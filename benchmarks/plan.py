"""Planning time per action: CEM with all samples in one predictor call per step (what
``WorldModel.plan`` does) against scoring the samples one at a time.

    python benchmarks/plan.py                               # tiny and medium, the original CEM
    python benchmarks/plan.py --configs medium --iterations 3 --threads 2

Model-predictive control plans once per executed action, so the time of one plan is the time per
action. Both runs use the same random world model, start/goal encodings, seed and CEM settings
(defaults: the original's horizon 2, 400 samples, top 10, 10 iterations); only the energy
function differs. The encoder is not timed (the two frames are encoded once, before planning).

Configs (random weights, encoder and AC predictor):
- tiny: tiny_ac's shapes, 64 px (16 tokens per frame), encoder 96 wide / 2 deep, predictor
  64 wide / 2 deep / 4 heads;
- medium: 128 px (64 tokens per frame), encoder 384 wide / 2 deep / 6 heads, predictor
  384 wide / 6 deep / 6 heads.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import torch

from common import machine
from vjepa2.config import VJEPA2Config
from vjepa2.world_model import ACPredictorConfig, VJEPA2ACConfig, WorldModel, cem

CONFIGS = {
    "tiny": VJEPA2ACConfig(
        encoder=VJEPA2Config(hidden_size=96, num_hidden_layers=2, num_attention_heads=3,
                             crop_size=64, frames_per_clip=4),
        predictor=ACPredictorConfig(hidden_size=64, num_hidden_layers=2, num_attention_heads=4,
                                    action_dim=7),
    ),
    "medium": VJEPA2ACConfig(
        encoder=VJEPA2Config(hidden_size=384, num_hidden_layers=2, num_attention_heads=6,
                             crop_size=128, frames_per_clip=4),
        predictor=ACPredictorConfig(hidden_size=384, num_hidden_layers=6, num_attention_heads=6,
                                    action_dim=7),
    ),
}  # fmt: skip
POSE = torch.tensor([0.45, 0.0, 0.3, 3.1, 0.0, -0.5, 0.5])
MODES = ("batched", "one at a time")


def world_model(config: VJEPA2ACConfig) -> WorldModel:
    torch.manual_seed(0)
    wm = WorldModel(config)
    wm.reset_parameters()
    return wm.eval()


def planner(wm: WorldModel, start_h, goal_h, batched: bool, args):
    """A function running one CEM plan with batched or sample-at-a-time energies."""

    def energy(candidates: torch.Tensor) -> torch.Tensor:
        if batched:
            return wm.energy(start_h, goal_h, candidates, POSE)
        return torch.cat([wm.energy(start_h, goal_h, c[None], POSE) for c in candidates])

    @torch.no_grad()
    def run() -> torch.Tensor:
        return cem(
            energy, args.horizon, 7, samples=args.samples, topk=args.topk,
            iterations=args.iterations, planned_dims=(0, 1, 2, 6), gripper_dim=6,
            generator=torch.Generator().manual_seed(0),
        )  # fmt: skip

    return run


def bench(name: str, args) -> dict:
    config = CONFIGS[name]
    wm = world_model(config)
    crop = config.encoder.crop_size
    frames = torch.randn(2, 1, 3, crop, crop, generator=torch.Generator().manual_seed(1))
    start_h, goal_h = wm.encode_frames(frames).chunk(2)
    runs = {mode: planner(wm, start_h, goal_h, mode == "batched", args) for mode in MODES}
    plans = {mode: run() for mode, run in runs.items()}  # warm-up, and the plans to compare
    seconds = {mode: [] for mode in MODES}
    for _ in range(args.repeats):
        for mode, run in runs.items():
            start = time.perf_counter()
            run()
            seconds[mode].append(time.perf_counter() - start)
    median = {mode: statistics.median(s) for mode, s in seconds.items()}
    params = sum(p.numel() for p in wm.predictor.parameters())
    result = {
        "config": name,
        "tokens_per_frame": wm.tokens_per_frame,
        "predictor_params_m": round(params / 1e6, 2),
        "seconds_per_action": {mode: round(m, 4) for mode, m in median.items()},
        "speed_up": round(median["one at a time"] / median["batched"], 1),
        "plan_max_abs_diff": (plans["batched"] - plans["one at a time"]).abs().max().item(),
    }
    print(
        f"{name:8}{wm.tokens_per_frame:>8}{result['predictor_params_m']:>10.2f}"
        f"{median['batched']:>12.3f}{median['one at a time']:>14.3f}"
        f"{result['speed_up']:>9.1f}x{result['plan_max_abs_diff']:>12.1e}"
    )
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--configs", default="tiny,medium", help="Comma-separated: tiny, medium.")
    parser.add_argument("--horizon", type=int, default=2)
    parser.add_argument("--samples", type=int, default=400)
    parser.add_argument("--topk", type=int, default=10)
    parser.add_argument("--iterations", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=1, help="Timed plans per mode (median).")
    parser.add_argument("--threads", type=int, default=None, help="torch.set_num_threads.")
    parser.add_argument("--json", action="store_true", help="Also print the results as JSON.")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    print(
        f"CEM: horizon {args.horizon}, {args.samples} samples, top {args.topk}, "
        f"{args.iterations} iterations; {torch.get_num_threads()} CPU threads"
    )
    print(f"{'config':8}{'tokens':>8}{'params M':>10}{'batched s':>12}{'one-by-one s':>14}"
          f"{'ratio':>10}{'plan diff':>12}")  # fmt: skip
    results = [bench(name, args) for name in args.configs.split(",")]
    if args.json:
        print(json.dumps({"machine": machine(), "args": vars(args), "results": results}))


if __name__ == "__main__":
    main()
