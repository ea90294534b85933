"""Extraction past one process: ``vjepa2 embed`` with 1 vs N torchrun ranks, and ``--engine ray``
against the plain path.

    python benchmarks/extraction.py --videos 32 --frames 16 --size 96
    python benchmarks/extraction.py --device cuda --ranks 2 --videos 256      # one GPU per rank

Generates the videos and a random-init model once (in --workdir), then runs the real command
lines as subprocesses, each into a fresh folder:
- plain: ``vjepa2 embed`` in one process (all the CPU threads, and as many as one rank has);
- torchrun: ``torchrun --nproc_per_node R -m vjepa2 embed`` (the threads split between ranks);
- ray: ``vjepa2 embed --engine ray`` on a local instance.
Reports the wall time of each command (start-up included), the videos/s the command prints
(its embedding loop, start-up excluded) and the ratios to the plain run with as many threads as
one rank (or one Ray worker) has.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

import vjepa2
from common import machine
from vjepa2.presets import architecture
from vjepa2.video.synthetic import signature_frames
from vjepa2.video.writer import encode_video

RATE = re.compile(r"(\d+) embedded, (\d+) failed.*\(([\d.]+) videos/s")


def make_videos(folder: Path, count: int, frames: int, size: int) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        path = folder / f"v{i:03d}.mp4"
        if not path.exists():
            encode_video(path, signature_frames(frames, size, size * 4 // 3, start=i), fps=30,
                         options={"preset": "veryfast"})  # fmt: skip
    return folder


def make_model(folder: Path, arch: str, frames: int, size: int) -> Path:
    if not (folder / "config.json").exists():
        torch.manual_seed(0)
        config = architecture(arch, crop_size=size, frames_per_clip=frames)
        model = vjepa2.VJEPA2Model(config, with_predictor=False)
        model.reset_parameters()
        vjepa2.save(model, folder)
    return folder


def run(command: list[str], threads: int, expected: int) -> dict:
    """Wall seconds and the printed videos/s of one command."""
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "PYTHONUNBUFFERED": "1"}
    start = time.perf_counter()
    result = subprocess.run(command, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - start
    match = RATE.search(result.stdout)
    if result.returncode or not match or int(match[1]) + int(match[2]) != expected:
        raise SystemExit(f"{' '.join(command)} failed:\n{result.stdout}\n{result.stderr[-3000:]}")
    return {"wall": wall, "rate": float(match[3])}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arch", default="vit-tiny", help="from-scratch architecture")
    parser.add_argument("--videos", type=int, default=32)
    parser.add_argument("--frames", type=int, default=16)
    parser.add_argument("--size", type=int, default=96, help="crop size")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--ranks", type=int, default=2)
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1,
                        help="CPU threads in all (split between the ranks)")  # fmt: skip
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--no-ray", action="store_true", help="skip the Ray run")
    parser.add_argument(
        "--workdir", type=Path, default=Path(tempfile.gettempdir()) / "vjepa2-bench"
    )
    args = parser.parse_args()

    tag = f"{args.arch}-{args.frames}x{args.size}"
    videos = make_videos(args.workdir / f"extraction-{args.frames}x{args.size}", args.videos,
                         args.frames, args.size * 5 // 4)  # fmt: skip
    model = make_model(args.workdir / f"model-{tag}", args.arch, args.frames, args.size)
    embed = ["embed", str(videos), "-m", str(model), "--workers", "0", "-q",
             "--batch-size", str(args.batch_size), "--device", args.device]  # fmt: skip
    with tempfile.TemporaryDirectory() as out:
        results = {"plain, 1 process": run(
            [sys.executable, "-m", "vjepa2", *embed, "-o", f"{out}/plain"],
            args.threads, args.videos)}  # fmt: skip
        per_rank = max(1, args.threads // args.ranks)
        if per_rank != args.threads:  # the same threads per process as each rank has
            results[f"plain, {per_rank} thread(s)"] = run(
                [sys.executable, "-m", "vjepa2", *embed, "-o", f"{out}/plain-narrow"],
                per_rank, args.videos)  # fmt: skip
        torchrun = [sys.executable, "-m", "torch.distributed.run", "--standalone",
                    "--nproc_per_node", str(args.ranks), "-m", "vjepa2"]  # fmt: skip
        results[f"torchrun, {args.ranks} ranks"] = run(
            [*torchrun, *embed, "-o", f"{out}/ranks"], per_rank, args.videos)  # fmt: skip
        if not args.no_ray:
            results["ray, local instance"] = run(
                [sys.executable, "-m", "vjepa2", *embed, "-o", f"{out}/ray", "--engine", "ray"],
                args.threads, args.videos)  # fmt: skip
    # The ratios compare processes with the same threads each (Ray gives its CPU workers one
    # thread per CPU they hold, 1 here): the plain run with one rank's threads.
    base = results.get(f"plain, {per_rank} thread(s)", results["plain, 1 process"])
    print(f"\n{args.videos} videos, {args.frames}x{args.size}px, {args.arch}, batch "
          f"{args.batch_size}, {args.device}, {args.threads} threads in all")  # fmt: skip
    print(f"{'':24}{'wall s':>8}{'videos/s':>10}{'wall ratio':>12}{'rate ratio':>12}")
    for name, r in results.items():
        print(f"{name:24}{r['wall']:8.1f}{r['rate']:10.2f}{base['wall'] / r['wall']:12.2f}"
              f"{r['rate'] / base['rate']:12.2f}")  # fmt: skip
    print(f"ratios to the plain run with {per_rank} thread(s): > 1 is faster")
    print(machine())


if __name__ == "__main__":
    main()
