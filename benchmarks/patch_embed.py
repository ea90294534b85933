"""Patch embedding: the strided Conv3d against the same map as one matrix product.

    python benchmarks/patch_embed.py [--device cuda] [--dtype bf16] [--batch 8] [--frames 16]

ViT-L's embedding (3 → 1024, tubelet 2 × 16 × 16) on ``[B, T, 3, 256, 256]`` clips, the same
weights in both, outputs compared first, then alternating timed runs in one process (medians).
"""

from __future__ import annotations

import argparse

import torch

from common import DTYPES, alternate, report
from vjepa2.models.encoder import PatchEmbed3D


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--dtype", choices=sorted(DTYPES), default="fp32")
    parser.add_argument("--batch", type=int, default=2)
    parser.add_argument("--frames", type=int, default=16)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=10)
    args = parser.parse_args()
    dtype = DTYPES[args.dtype]
    torch.manual_seed(0)
    embed = PatchEmbed3D(3, 1024, 2, 16).to(args.device, dtype).eval()
    video = torch.randn(args.batch, args.frames, 3, args.size, args.size,
                        device=args.device, dtype=dtype)  # fmt: skip

    def conv3d() -> torch.Tensor:  # float32 runs this (as the reference does)
        return embed.proj(video.transpose(1, 2)).flatten(2).transpose(1, 2).contiguous()

    with torch.inference_mode():
        diff = (conv3d().float() - embed.tubelet_product(video).float()).abs().max().item()
        print(f"max abs difference, Conv3d vs matrix product: {diff:.2e}")
        product = {"matrix product": lambda: embed.tubelet_product(video)}
        timings = alternate({"Conv3d": conv3d, **product},
                            args.device, warmup=2, repeats=args.repeats)  # fmt: skip
    report(f"patch embedding, ViT-L, {args.batch} x {args.frames} x {args.size} px, "
           f"{args.dtype}, {args.device}", timings, "clip", args.batch,
           {"max_abs_diff": diff})  # fmt: skip


if __name__ == "__main__":
    main()
