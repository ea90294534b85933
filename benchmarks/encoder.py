"""Encoder (or classifier) forward: ours vs transformers on the same weights, in one process.

    python benchmarks/encoder.py --preset vitl --frames 16 --size 256 --dtype fp32
    python benchmarks/encoder.py --preset vitl-ssv2 --classifier --frames 16
    python benchmarks/encoder.py --preset vitl --device cuda --dtype bf16 --compile

Prints median seconds per forward, clips/s, peak memory and the speed-up of ours over
transformers (their median / ours), after checking both give the same output.
"""

from __future__ import annotations

import argparse

import torch

from common import DTYPES, alternate, model_pair, report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="vitl")
    parser.add_argument("--classifier", action="store_true", help="time the full classifier")
    parser.add_argument("--frames", type=int, default=16)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--dtype", choices=list(DTYPES), default="fp32")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--layers", type=int, help="truncate depth (quick runs)")
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--compile", action="store_true", help="torch.compile ours as well")
    args = parser.parse_args()

    ours, theirs, config = model_pair(args.preset, args.classifier, args.device, args.layers)
    if args.compile:
        ours = torch.compile(ours)
    x = torch.randn(args.batch, args.frames, 3, args.size, args.size, device=args.device)
    dtype = DTYPES[args.dtype]
    autocast = torch.autocast(
        args.device.split(":")[0], dtype=dtype, enabled=dtype != torch.float32
    )

    if args.classifier:
        run_ours = lambda: ours(x).logits  # noqa: E731
        run_theirs = lambda: theirs(pixel_values_videos=x).logits  # noqa: E731
    else:
        run_ours = lambda: ours(x).last_hidden_state  # noqa: E731
        run_theirs = lambda: theirs.get_vision_features(x)  # noqa: E731

    with torch.inference_mode(), autocast:
        err = (run_ours().float() - run_theirs().float()).abs().max().item()
        timings = alternate(
            {"transformers": run_theirs, "vjepa2": run_ours},
            args.device, args.warmup, args.repeats,
        )  # fmt: skip
    tokens = (args.frames // 2) * (args.size // 16) ** 2
    title = (
        f"{'classifier' if args.classifier else 'encoder'} {args.preset} "
        f"{config.num_hidden_layers} layers, {args.frames}x{args.size}px ({tokens} tokens), "
        f"batch {args.batch}, {args.dtype}, {args.device}{', compiled' if args.compile else ''}"
    )
    report(title, timings, "clips", args.batch, {"args": vars(args), "max_abs_err": err})
    print(f"max abs difference ours vs transformers: {err:.2e}")


if __name__ == "__main__":
    main()
