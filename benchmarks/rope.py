"""RoPE on q and k: ways to swap the pairs, timed against the one the encoder uses (``flip``).

    python benchmarks/rope.py [--device cuda] [--dtype bf16] [--batch 8] [--compile]

ViT-L's attention shape (16 heads of 64, 16 × 256 px: 2048 tokens), q and k as the strided
views of one qkv projection output, exactly as `vjepa2.models.blocks.Attention` hands them to
`RopeTables.apply`. Every variant is checked equal to ``flip`` first (within the dtype's
rounding), then alternating timed runs in one process (medians). On the CPU ``flip`` was
fastest (docs/benchmarks.md); an H100 profile put RoPE at 22 % of a ViT-L forward, which is
what this measures there.
"""

from __future__ import annotations

import argparse

import torch

from common import DTYPES, alternate, report
from vjepa2.models.rope import RopeTables


def variants(tables: RopeTables) -> dict:
    """name -> function of the stacked ``[2, B, H, N, hd]`` q/k view, each a new tensor."""

    def flip(x: torch.Tensor) -> torch.Tensor:
        return tables.apply(x)

    def stack(x: torch.Tensor) -> torch.Tensor:
        pairs = x.unflatten(-1, (-1, 2))
        swapped = torch.stack((pairs[..., 1], pairs[..., 0]), -1).flatten(-2)
        return swapped.mul_(tables.sin).addcmul_(x, tables.cos)

    def strided_copies(x: torch.Tensor) -> torch.Tensor:
        swapped = torch.empty(x.shape, dtype=x.dtype, device=x.device)
        swapped[..., 0::2] = x[..., 1::2]
        swapped[..., 1::2] = x[..., 0::2]
        return swapped.mul_(tables.sin).addcmul_(x, tables.cos)

    def out_of_place(x: torch.Tensor) -> torch.Tensor:
        return x * tables.cos + x.unflatten(-1, (-1, 2)).flip(-1).flatten(-2) * tables.sin

    return {"flip (ours)": flip, "stack": stack, "strided copies": strided_copies,
            "out of place": out_of_place}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--dtype", choices=sorted(DTYPES), default="fp32")
    parser.add_argument("--batch", type=int, default=2)
    parser.add_argument("--tokens", type=int, default=2048)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--compile", action="store_true", help="also torch.compile ``flip``")
    args = parser.parse_args()
    dtype, heads, head_dim = DTYPES[args.dtype], 16, 64
    torch.manual_seed(0)
    qkv = torch.randn(args.batch, args.tokens, 3 * heads * head_dim, device=args.device,
                      dtype=dtype)  # fmt: skip
    qk = qkv.view(args.batch, args.tokens, 3, heads, head_dim).permute(2, 0, 3, 1, 4)[:2]
    grid = (args.tokens // 256, 16, 16) if args.tokens % 256 == 0 else (1, 1, args.tokens)
    tables = RopeTables.build(torch.arange(args.tokens, device=args.device), grid[1:], head_dim,
                              dtype)  # fmt: skip
    runs = variants(tables)
    if args.compile:
        runs["flip, compiled"] = torch.compile(runs["flip (ours)"])
    with torch.inference_mode():
        expected = runs["flip (ours)"](qk)
        for fn in runs.values():  # equal up to the rounding of fused multiply-adds
            torch.testing.assert_close(fn(qk), expected)
        timings = alternate({name: (lambda fn=fn: fn(qk)) for name, fn in runs.items()},
                            args.device, warmup=3, repeats=args.repeats)  # fmt: skip
    report(f"RoPE on q and k, {args.batch} x {args.tokens} tokens, 16 heads of 64, "
           f"{args.dtype}, {args.device}", timings, "clip", args.batch, {})  # fmt: skip


if __name__ == "__main__":
    main()
