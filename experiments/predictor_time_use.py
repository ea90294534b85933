"""Does a pretrained predictor use time? Its loss with and without its RoPE time axis.

    python experiments/predictor_time_use.py RUN_DIR/pretrain/latest.pt CLIPS.csv [--clips 256] \
        [--context all|last|cell]

Takes the run's context encoder, predictor and EMA target encoder, hides the second half of each
clip (``1:1:0.5:end``: the predictor extrapolates the future) and prints the L1 loss of the
predictor as trained, with its RoPE time axis switched off (every token at time 0), and with the
context time steps played backwards (which reverses every motion), and with the context frozen at
its last visible time step (every visible frame replaced by the last one: the pixels then say
nothing about where things are going, while what the predictor sees last is unchanged, so this
condition also tests runs trained with ``--pred-context last`` or ``cell``). The predictor sees
the context as in training (all of it; the last step's for ``--pred-context last``; each cell's
last-step token alone for ``cell``) unless ``--context`` says otherwise. A predictor that
extrapolates motion loses much when time is taken away, reversed or frozen; one that ignores time
loses nothing. The split into actor and background tokens: the 10 % of target tokens with the
highest loss as trained (mostly the actor's), and the rest.
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

import torch

from vjepa2.models.encoder import gather_tokens, target_features
from vjepa2.train.frozen_fits import read_eval_clip
from vjepa2.train.pretrain import ContextPredictor
from vjepa2.weights import load


def future_masks(batch: int, grid: tuple[int, int, int]) -> tuple[torch.Tensor, torch.Tensor]:
    """(context_idx, target_idx) ``[B, N/2]`` each: the first and second half of the time steps."""
    t, h, w = grid
    tokens = torch.arange(t * h * w)
    half = (t // 2) * h * w
    return tokens[:half].expand(batch, -1), tokens[half:].expand(batch, -1)


def freeze_time(clips: torch.Tensor, visible: int) -> torch.Tensor:
    """Every one of the first ``visible`` frames replaced by the last of them (no motion left in
    the visible part), the rest unchanged."""
    out = clips.clone()
    out[:, :visible] = clips[:, visible - 1 : visible]
    return out


def reverse_time(clips: torch.Tensor, visible: int) -> torch.Tensor:
    """The first ``visible`` frames played backwards (tubelet-aligned clips), the rest unchanged."""
    out = clips.clone()
    out[:, :visible] = clips[:, :visible].flip(1)
    return out


def read_clips(clips_csv: str, count: int) -> torch.Tensor:
    """The first ``count`` clips of a ``path,label`` CSV (paths relative to it), as evaluated:
    ``[B, 16, C, 64, 64]``."""
    root = Path(clips_csv).parent
    with open(clips_csv) as f:
        paths = [root / row[0] for row in csv.reader(f) if row and row[0] != "path"]
    return torch.stack([read_eval_clip(p, 16, 4.0, 64) for p in paths[:count]])


def hardest(per_token: torch.Tensor) -> torch.Tensor:
    """The tokens hardest to predict (top 10 % of ``per_token`` loss, mostly the actor's):
    a boolean mask of its shape."""
    return per_token >= per_token.quantile(0.9)


@torch.no_grad()
def losses(
    checkpoint: str, clips: torch.Tensor, context: str | None = None
) -> dict[str, torch.Tensor]:
    """Per-token L1 ``[B, Nt]`` for each condition; ``context`` "all", "last" or "cell" (None:
    as the run was trained)."""
    online = load(checkpoint, checkpoint_key="encoder").eval()
    target = load(checkpoint, checkpoint_key="target_encoder").eval()
    grid = online.encoder.token_grid(clips.shape)
    context_idx, target_idx = future_masks(clips.size(0), grid)
    wanted = gather_tokens(target_features(target.encoder, clips), target_idx)

    if context is None:
        options = torch.load(checkpoint, map_location="cpu", weights_only=True).get("options", {})
        context = options.get("pred_context", "all")
        context = context if context in ("last", "cell") else "all"  # "both": its full view
    trained = ContextPredictor(online.encoder, online.predictor, context)

    def predict(frames: torch.Tensor) -> torch.Tensor:
        tokens = online.encoder(frames, masks=context_idx)
        (predicted,) = trained.predictions(tokens, context_idx, target_idx, grid[1:])
        return predicted

    out = {"as trained": predict(clips)}
    online.predictor.config = online.predictor.config.replace(pred_time_positions=False)
    out["no time in the predictor"] = predict(clips)
    online.predictor.config = online.predictor.config.replace(pred_time_positions=True)
    out["visible half played backwards"] = predict(reverse_time(clips, clips.size(1) // 2))
    out["visible half frozen at its last"] = predict(freeze_time(clips, clips.size(1) // 2))
    return {name: (pred - wanted).abs().mean(-1) for name, pred in out.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoint")
    parser.add_argument("clips_csv")
    parser.add_argument("--clips", type=int, default=256)
    parser.add_argument(
        "--context",
        choices=("all", "last", "cell"),
        default=None,
        help="the context the predictor sees (default: as in training)",
    )
    args = parser.parse_args()
    clips = read_clips(args.clips_csv, args.clips)
    per_token = losses(args.checkpoint, clips, args.context)
    base = per_token["as trained"]
    actor = hardest(base)
    print(f"{clips.size(0)} clips, {base.size(1)} target tokens each")
    print(f"{'condition':32s} {'all tokens':>10s} {'hardest 10%':>12s} {'the rest':>9s}")
    for name, loss in per_token.items():
        rest = loss[~actor].mean()
        print(f"{name:32s} {loss.mean():10.4f} {loss[actor].mean():12.4f} {rest:9.4f}")


if __name__ == "__main__":
    main()
