"""Can a predictor learn to extrapolate motion from frozen encoder tokens? The predictor alone.

    python experiments/predictor_extrapolation.py --steps 3000 --json runs/extrap.json
    python experiments/predictor_extrapolation.py --abs-positions     # the encoder's tokens
                                                                       # carry where and when
    python experiments/predictor_extrapolation.py --encoder RUN/pretrain/latest.pt

The pretraining runs of docs/pretraining.md leave their predictors ignoring time. This splits the
question in two: keep the encoder fixed (random at the training init, or the context and target
encoders of a checkpoint) and train only a fresh predictor, on the V-JEPA loss of the
``1:1:0.5:end`` mask (the second half of the time steps hidden), on ``paired1`` clips drawn
fresh for every step. Every ``--eval-every`` steps it prints the held-out loss as trained, with
the visible half played backwards (every motion reversed) and on the hardest 10 % of target
tokens (mostly the actor's). A predictor that extrapolates the motion gains from the order of
the visible half (reversed > as trained); one that copies what it saw does not. If no predictor
learns to extrapolate from these tokens, the encoder's tokens lack what it needs; if one does,
the joint training is what fails to find it.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch
from predictor_time_use import future_masks, reverse_time
from supervised_ceiling import render, to_input, training_batches

from vjepa2.models.encoder import gather_tokens, target_features
from vjepa2.models.model import VJEPA2Model
from vjepa2.presets import architecture
from vjepa2.weights import load


def encoders(args: argparse.Namespace) -> tuple[torch.nn.Module, torch.nn.Module, VJEPA2Model]:
    """(context encoder, target encoder, model holding a fresh predictor), all but the
    predictor frozen."""
    if args.encoder is not None:
        context = load(args.encoder, checkpoint_key="encoder").encoder
        target = load(args.encoder, checkpoint_key="target_encoder").encoder
        config = context.config
    else:
        config = architecture("vit-tiny", hidden_size=128, num_attention_heads=4,
                              num_hidden_layers=6, crop_size=64, frames_per_clip=16,
                              abs_positions=args.abs_positions)  # fmt: skip
    config = config.replace(
        pred_hidden_size=args.pred_width,
        pred_num_hidden_layers=args.pred_layers,
        pred_num_attention_heads=args.pred_heads,
    )
    torch.manual_seed(args.seed)
    model = VJEPA2Model(config)
    model.reset_parameters()
    if args.encoder is None:
        context = target = model.encoder
    for encoder in (context, target):
        encoder.requires_grad_(False).eval()
    return context, target, model


def per_token_loss(
    context: torch.nn.Module, target: torch.nn.Module, model: VJEPA2Model, clips: torch.Tensor
) -> torch.Tensor:
    """L1 of the predictor's future tokens against the layer-normed targets, ``[B, Nt]``."""
    grid = context.token_grid(clips.shape)
    context_idx, target_idx = future_masks(clips.size(0), grid)
    context_idx, target_idx = context_idx.to(clips.device), target_idx.to(clips.device)
    with torch.no_grad():
        wanted = gather_tokens(target_features(target, clips), target_idx)
        seen = context(clips, masks=context_idx)
    predicted = model.predictor(seen, context_idx, target_idx, mask_index=0, grid_hw=grid[1:])
    return (predicted - wanted).abs().mean(-1)


def evaluate(parts: tuple, clips: torch.Tensor) -> dict[str, float]:
    """Held-out losses: as trained, visible half backwards, and each on the hardest 10 %."""
    with torch.no_grad():
        base = torch.cat([per_token_loss(*parts, c) for c in clips.split(50)])
        backwards = torch.cat(
            [per_token_loss(*parts, reverse_time(c, c.size(1) // 2)) for c in clips.split(50)]
        )
    hard = base >= base.quantile(0.9)
    return {
        "loss": base.mean().item(),
        "backwards": backwards.mean().item(),
        "hard": base[hard].mean().item(),
        "hard_backwards": backwards[hard].mean().item(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=3000)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--pred-width", type=int, default=64)
    parser.add_argument("--pred-layers", type=int, default=1)
    parser.add_argument("--pred-heads", type=int, default=4)
    parser.add_argument("--abs-positions", action="store_true", help="random encoder with them")
    parser.add_argument("--encoder", help="a pretraining checkpoint (else a random encoder)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--test-clips", type=int, default=300)
    parser.add_argument("--eval-every", type=int, default=250)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--workers", type=int, default=0, help="processes drawing the clips")
    parser.add_argument("--json", type=Path, help="write the curve here (at every evaluation)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    labels = [i % 6 for i in range(args.test_clips)]
    test_clips = to_input(render("test", 1, 0, labels), device)
    context, target, model = encoders(args)
    context.to(device), target.to(device), model.to(device)
    parts = (context, target, model)
    optimizer = torch.optim.AdamW(model.predictor.parameters(), lr=args.lr, weight_decay=0.04)
    curve, start = [], time.perf_counter()
    for step, frames, _ in training_batches(args.steps, args.batch, args.workers):
        loss = per_token_loss(*parts, to_input(frames, device)).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if step % args.eval_every == 0 or step == args.steps:
            row = {"step": step, "train_loss": loss.item(), **evaluate(parts, test_clips)}
            curve.append(row)
            print(" ".join(f"{k} {v:.4f}" if isinstance(v, float) else f"{k} {v}"
                           for k, v in row.items()),
                  f"({time.perf_counter() - start:.0f} s)", flush=True)  # fmt: skip
            if args.json:
                settings = {k: v for k, v in vars(args).items() if k != "json"}
                args.json.write_text(json.dumps({"settings": settings, "curve": curve}, indent=1))


if __name__ == "__main__":
    main()
