"""Draw how much runs' predictors use the motion they see, over training, into one PNG.

    python experiments/frozen_cost_curves.py OUT.png CLIPS.csv NAME=RUN_DIR[:all|:last|:cell] ... \
        [--clips 128] [--every 4] [--json OUT.json]

For each ``epoch-*.pt`` of each run (``--keep-epochs``; every ``--every``-th and the last), the
frozen-context cost of `predictor_time_use.py`: the loss with the visible half frozen at its last
time step minus the loss as trained, on all target tokens (left) and on the hardest 10 % (right,
mostly the actor's), against the run's step. A predictor that extrapolates the motion loses when
it is frozen; one that copies the last step does not. ``:all``, ``:last`` or ``:cell`` picks the
context the predictor sees (default: as the run was trained). Needs matplotlib (``train`` extra).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import matplotlib
import torch

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from predictor_time_use import hardest, losses, read_clips

FROZEN = "visible half frozen at its last"


def frozen_cost(checkpoint: Path, clips: torch.Tensor, context: str | None) -> tuple[float, float]:
    """(cost on all target tokens, cost on the hardest 10 % of them)."""
    per_token = losses(str(checkpoint), clips, context)
    base, frozen = per_token["as trained"], per_token[FROZEN]
    actor = hardest(base)
    return float((frozen - base).mean()), float((frozen[actor] - base[actor]).mean())


def curve(run: Path, clips: torch.Tensor, context: str | None, every: int) -> list[dict]:
    """One point per chosen epoch checkpoint: its step and both costs."""
    epochs = sorted(run.glob("epoch-*.pt"))
    chosen = [ck for i, ck in enumerate(epochs, 1) if i % every == 0 or ck == epochs[-1]]
    points = []
    for checkpoint in chosen:
        step = torch.load(checkpoint, map_location="cpu", weights_only=True)["step"]
        every_token, hardest = frozen_cost(checkpoint, clips, context)
        points.append({"step": int(step), "all": every_token, "hardest": hardest})
        print(f"{run.name} step {step}: {every_token:+.4f} / {hardest:+.4f}", flush=True)
    return points


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out")
    parser.add_argument("clips_csv")
    parser.add_argument("runs", nargs="+", metavar="NAME=RUN_DIR[:all|:last|:cell]")
    parser.add_argument("--clips", type=int, default=128)
    parser.add_argument("--every", type=int, default=4)
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    clips = read_clips(args.clips_csv, args.clips)
    curves = {}
    for spec in args.runs:
        name, _, where = spec.partition("=")
        run, _, context = where.partition(":")
        curves[name] = curve(Path(run), clips, context or None, args.every)
    fig, axes = plt.subplots(1, 2, figsize=(11, 4), constrained_layout=True)
    for name, points in curves.items():
        for ax, key in zip(axes, ("all", "hardest"), strict=True):
            ax.plot([p["step"] for p in points], [p[key] for p in points], marker=".", label=name)
    for ax, title in zip(axes, ("all target tokens", "hardest 10 % (the actor's)"), strict=True):
        ax.axhline(0, color="grey", linestyle=":")
        ax.set(
            title=f"frozen-context cost: {title}", xlabel="step", ylabel="loss frozen − as trained"
        )
    axes[1].legend(fontsize=8)
    fig.savefig(args.out, dpi=110)
    if args.json:
        Path(args.json).write_text(json.dumps(curves, indent=1))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
