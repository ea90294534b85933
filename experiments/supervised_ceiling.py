"""Can the benchmark's encoder learn direction at all? Supervised, end to end, from random init.

    python experiments/supervised_ceiling.py [--steps 3000] [--heads 4] [--layers 6] [--json OUT]

The encoder of `experiments/motion_pretraining.sh` (128 wide, 6 layers, 4 heads, 64 px, 16
frames, tubelet 2) at its training init, with the attentive head of `pretrain-eval`'s probe on
top (``--head-blocks`` self-attention blocks, ``--head-heads`` heads, truncated-normal init),
trained with labels on `paired1` clips drawn fresh for every step (so it cannot memorise a fixed
set), AdamW at constant learning rates (``--lr`` for the encoder, ``--head-lr`` for the head). It
prints, every ``--eval-every`` steps, top-1 and within-pair direction accuracy on ``--test-clips``
held-out clips. Clips are drawn in memory (`render_paired_clip`) and normalised at 64 px, no
resize or crop. Controls: ``--positions input|output`` adds fixed sin-cos token positions to
the patch embeddings or to the encoder's output tokens (the head itself has none), and
``--frozen-encoder`` trains only the head (the probe on a random encoder). If labels cannot
teach this architecture the direction within a few thousand steps, a self-supervised run of the
same length should not be expected to either.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import time
from collections.abc import Iterator
from contextlib import nullcontext
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from vjepa2.data.motion import DEMO_CLASSES, clip_rng, render_paired_clip, within_pair_accuracy
from vjepa2.models.encoder import sincos_positions
from vjepa2.models.model import VJEPA2ForVideoClassification
from vjepa2.presets import architecture
from vjepa2.video.transforms import normalize, to_channels_first

CLASSES = list(DEMO_CLASSES)  # paired1: translations, grow, shrink


def render(split: str, seed: int, first: int, labels: list[int]) -> np.ndarray:
    """uint8 clips ``[len(labels), 16, 64, 64, 3]``, clip ``i`` drawn from index ``first + i``."""
    return np.stack([render_paired_clip(CLASSES[label], clip_rng(seed, split, first + i))
                     for i, label in enumerate(labels)])  # fmt: skip


def to_input(frames: np.ndarray, device: torch.device) -> torch.Tensor:
    """uint8 ``[B, T, H, W, 3]`` -> normalised float ``[B, T, 3, H, W]`` on ``device``."""
    return normalize(to_channels_first(torch.from_numpy(frames).to(device)))


def training_batches(
    steps: int, batch: int, workers: int
) -> Iterator[tuple[int, np.ndarray, torch.Tensor]]:
    """``(step, uint8 clips, labels)`` for steps 1.. ``steps``: labels from one seeded generator,
    clips drawn fresh (index ``step * batch + i``), in ``workers`` processes (0: inline)."""
    generator = torch.Generator().manual_seed(0)
    window = 8 * max(workers, 1)
    with multiprocessing.get_context("spawn").Pool(workers) if workers else nullcontext() as pool:
        for first in range(1, steps + 1, window):
            window_steps = range(first, min(first + window, steps + 1))
            labels = [torch.randint(len(CLASSES), (batch,), generator=generator)
                      for _ in window_steps]  # fmt: skip
            jobs = [("unlabelled", 2, step * batch, y.tolist())
                    for step, y in zip(window_steps, labels, strict=True)]  # fmt: skip
            clips = pool.starmap(render, jobs) if pool else [render(*job) for job in jobs]
            yield from zip(window_steps, clips, labels, strict=True)


def evaluate(
    model: torch.nn.Module, clips: torch.Tensor, labels: torch.Tensor
) -> tuple[float, float]:
    """Top-1 and within-pair accuracy of ``model`` on ``clips``."""
    model.eval()
    with torch.no_grad():
        logits = torch.cat([model(chunk).logits for chunk in clips.split(100)])
    model.train()
    top1 = (logits.argmax(1) == labels).float().mean().item()
    return top1, within_pair_accuracy(logits.cpu().numpy(), labels.cpu().numpy(), CLASSES)


def build(
    args: argparse.Namespace, device: torch.device
) -> tuple[VJEPA2ForVideoClassification, torch.optim.Optimizer]:
    """The classifier at the training init, its ``--positions`` hook and its optimizer."""
    config = architecture("vit-tiny", hidden_size=args.width, num_attention_heads=args.heads,
                          num_hidden_layers=args.layers, crop_size=64, frames_per_clip=16,
                          id2label=dict(enumerate(CLASSES)), num_pooler_layers=args.head_blocks,
                          classifier_num_heads=args.head_heads)  # fmt: skip
    torch.manual_seed(0)
    model = VJEPA2ForVideoClassification(config, with_predictor=False)
    model.backbone.reset_parameters()  # the training init, as `pretrain` and `pretrain-eval` use
    model.head.reset_parameters()
    model.to(device)
    if args.positions != "none":  # [1, T'·Hp·Wp, D], the encoder's token order
        grid = model.encoder.token_grid((1, config.frames_per_clip, 3, 64, 64))
        table = sincos_positions(grid, args.width).to(device, torch.float32)[None]
        where = model.encoder.patch_embed if args.positions == "input" else model.encoder.norm
        where.register_forward_hook(lambda module, inputs, tokens: tokens + table)
    groups = [{"params": model.head.parameters(), "lr": args.head_lr}]
    if args.frozen_encoder:
        model.backbone.requires_grad_(False)
    else:
        groups.append({"params": model.backbone.parameters(), "lr": args.lr})
    return model, torch.optim.AdamW(groups, weight_decay=0.05)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=3000)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--lr", type=float, default=3e-4)
    parser.add_argument("--width", type=int, default=128)
    parser.add_argument("--heads", type=int, default=4)
    parser.add_argument("--layers", type=int, default=6)
    parser.add_argument("--head-lr", type=float, default=1e-3, help="the probe's lr by default")
    parser.add_argument("--head-blocks", type=int, default=1, help="self-attention blocks")
    parser.add_argument("--head-heads", type=int, default=16)
    parser.add_argument(
        "--positions",
        choices=("none", "input", "output"),
        default="none",
        help="add fixed sin-cos token positions to the encoder's input or output",
    )
    parser.add_argument("--frozen-encoder", action="store_true", help="train the head only")
    parser.add_argument("--test-clips", type=int, default=600)
    parser.add_argument("--eval-every", type=int, default=100)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--device", default="cpu", help="cpu or cuda (clips are drawn on the CPU)")
    parser.add_argument("--workers", type=int, default=0, help="processes drawing the clips")
    parser.add_argument("--json", type=Path, help="write the curve here (at every evaluation)")
    parser.add_argument("--budget-s", type=float, help="stop after this many seconds of training")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    test_labels = [i % len(CLASSES) for i in range(args.test_clips)]
    device = torch.device(args.device)
    test_clips = to_input(render("test", 1, 0, test_labels), device)
    test_y = torch.tensor(test_labels, device=device)
    model, optimizer = build(args, device)
    curve, start = [], time.perf_counter()
    for step, frames, labels in training_batches(args.steps, args.batch, args.workers):
        loss = F.cross_entropy(model(to_input(frames, device)).logits, labels.to(device))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        out_of_time = args.budget_s is not None and time.perf_counter() - start > args.budget_s
        if step % args.eval_every == 0 or step == args.steps or out_of_time:
            top1, within = evaluate(model, test_clips, test_y)
            curve.append({"step": step, "loss": loss.item(), "top1": top1, "within_pair": within})
            print(f"step {step} loss {loss.item():.3f} top-1 {top1:.3f} within-pair {within:.3f} "
                  f"({time.perf_counter() - start:.0f} s)", flush=True)  # fmt: skip
            if args.json:
                settings = {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()}
                args.json.write_text(json.dumps({"settings": settings, "curve": curve}, indent=1))
        if out_of_time:
            break


if __name__ == "__main__":
    main()
