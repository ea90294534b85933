"""Probe training from cached features against the uncached path (decode + encode every epoch).

    python benchmarks/probe.py --epochs 5 --probe-blocks 3
    python benchmarks/probe.py --epochs 5 --probe-blocks 0      # V-JEPA 1's cross-attention probe

The data is the toy motion set (shapes translating fast in 4 directions), rendered at 64 px and
stored at --source-size pixels, as real footage is larger than the model's crop, so decoding
costs what it would. Both runs use the same random-init encoder, probe settings and no
augmentation. Reported:
- cache build: encoding the training videos once;
- training: the epochs themselves, from the cache or decoding + encoding every epoch;
- speed-up including the build (a first run; for E epochs it is below E by construction:
  E·(D + P) / (D + E·P) for encode cost D and probe cost P per epoch) and excluding it (every
  later run on the same cache: a new lr, more epochs, another probe: (D + P) / P).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F

import vjepa2
from common import machine
from vjepa2.data import read_labelled
from vjepa2.data.motion import TRANSLATION_CLASSES, MotionSettings, make_motion_dataset
from vjepa2.presets import architecture
from vjepa2.train.probe import ProbeSettings, train_probe
from vjepa2.video import read_video
from vjepa2.video.writer import encode_video

# Flat backgrounds, fast motion: random-init features can tell the directions apart (a textured
# background hides them from an untrained encoder; see docs/probe.md).
TOY = MotionSettings(distractors=(0, 0), noise=(0, 0), background_contrast=(0, 0), grain=(0, 0),
                     speed=(3.0, 4.0))  # fmt: skip


def toy_data(workdir: Path, train: int, size: int) -> Path:
    """The toy set, re-encoded at ``size`` x ``size`` (cached in ``workdir``)."""
    small = workdir / "probe_toy64"
    make_motion_dataset(small, seed=0, classes=TRANSLATION_CLASSES,
                        counts={"train": train, "val": 40, "test": 80}, settings=TOY)  # fmt: skip
    big = workdir / f"probe_toy{size}_{train}"
    for manifest in ("train.csv", "val.csv", "test.csv"):
        rows = (small / manifest).read_text().splitlines()
        for row in rows[1:]:
            relative = row.split(",")[0]
            target = big / relative
            if not target.exists():
                target.parent.mkdir(parents=True, exist_ok=True)
                frames, _ = read_video(small / relative)
                frames = F.interpolate(frames.permute(0, 3, 1, 2).float(), size=(size, size),
                                       mode="bilinear").round().clamp(0, 255).byte()  # fmt: skip
                encode_video(target, frames.permute(0, 2, 3, 1), fps=4,
                             options={"preset": "veryfast"})  # fmt: skip
        (big / manifest).write_text("\n".join(rows) + "\n")
    return big


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--train", type=int, default=320, help="training videos")
    parser.add_argument("--source-size", type=int, default=360, help="stored video size (px)")
    parser.add_argument("--width", type=int, default=96)
    parser.add_argument("--layers", type=int, default=2)
    parser.add_argument("--probe-blocks", type=int, default=3)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument(
        "--workdir", type=Path, default=Path(tempfile.gettempdir()) / "vjepa2-bench"
    )
    args = parser.parse_args()

    data = toy_data(args.workdir, args.train, args.source_size)
    train = read_labelled(data / "train.csv")
    val = read_labelled(data / "val.csv", train.id2label)
    test = read_labelled(data / "test.csv", train.id2label)
    torch.manual_seed(0)
    config = architecture("vit-tiny", hidden_size=args.width, num_hidden_layers=args.layers,
                          crop_size=64, frames_per_clip=16)  # fmt: skip
    model = vjepa2.VJEPA2Model(config, with_predictor=False).eval()
    model.reset_parameters()

    results = {}
    for name, cache in (("cached", True), ("uncached", False)):
        settings = ProbeSettings.from_recipe(
            "card", epochs=args.epochs, lrs=(args.lr,), batch_size=args.batch_size, accumulation=1,
            cache=cache, augment=False, cache_storage="fp32", workers=args.workers,
            probe_blocks=args.probe_blocks,
        )  # fmt: skip
        with tempfile.TemporaryDirectory() as out:
            start = time.perf_counter()
            metrics = train_probe(model, train, val, test, out, settings, progress=False)
            total = time.perf_counter() - start
        timing = metrics["timing"]
        results[name] = {
            "build": timing.get("cache_train_seconds", 0.0),
            "train": timing["train_seconds"],
            "total": total - timing["cache_val_seconds"] - timing["cache_test_seconds"],
            "test_top1": metrics["test"]["top1"],
            "val_top1": [round(h["best_val_top1"], 3) for h in metrics["history"]],
        }
    cached, uncached = results["cached"], results["uncached"]
    print(f"\n{args.epochs} epochs, {args.train} training videos stored at {args.source_size} px, "
          f"random-init {args.width}-wide x {args.layers}-layer encoder at 64 px x 16 frames, "
          f"probe with {args.probe_blocks} self-attention blocks")  # fmt: skip
    print(
        f"{'':10}{'cache build':>12}{'training':>10}{'total':>8}   test top-1   val top-1 per epoch"
    )
    for name, r in results.items():
        print(f"{name:10}{r['build']:11.1f}s{r['train']:9.1f}s{r['total']:7.1f}s   "
              f"{r['test_top1']:10.3f}   {r['val_top1']}")  # fmt: skip
    with_build = uncached["total"] / cached["total"]
    from_cache = uncached["train"] / cached["train"]
    print(f"speed-up including the cache build: {with_build:.1f}x; "
          f"training from an existing cache: {from_cache:.1f}x")  # fmt: skip
    print(json.dumps(machine()))


if __name__ == "__main__":
    main()
