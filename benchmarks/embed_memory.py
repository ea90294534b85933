"""Peak resident memory of ``vjepa2 embed --stride`` against the video's length.

    python benchmarks/embed_memory.py [--frames 96 384 1536] [--workers 0 1] [--repeats 2]

Sliding windows of a long video are read, embedded and dropped in parts of ``--batch-size``
windows, so the peak should not grow with the video. For each length and worker count this runs
``vjepa2 embed VIDEO -m demo --stride 2`` in a fresh process (``--repeats`` times) and reports
its peak RSS (the largest of the command and its decode workers, from ``getrusage``), and what
holding every window's pixels at once would have added. Linux only (``ru_maxrss`` in KiB).

The test suite checks the mechanism deterministically (the pixels of finished parts are freed);
this script measures what it is for. RSS depends on the allocator and the machine's load, so
compare lengths within one run.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from common import machine
from vjepa2.video.synthetic import signature_frames
from vjepa2.video.writer import encode_video

PEAK_RSS = (
    "import resource, subprocess, sys; subprocess.run(sys.argv[1:], check=True); "
    "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
)
DEMO_WINDOW_MIB = 16 * 3 * 64 * 64 * 4 / 2**20  # one preprocessed 16-frame 64 px window


def peak_mib(video: Path, out: Path, workers: int, batch_size: int) -> float:
    command = [sys.executable, "-m", "vjepa2", "embed", str(video), "-m", "demo", "-o", str(out),
               "--stride", "2", "--workers", str(workers), "--batch-size", str(batch_size),
               "-q"]  # fmt: skip
    result = subprocess.run([sys.executable, "-c", PEAK_RSS, *command], capture_output=True,
                            text=True, check=True)  # fmt: skip
    return int(result.stdout.split()[-1]) / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, nargs="+", default=[96, 384, 1536])
    parser.add_argument("--workers", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    print(machine())
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        print("| frames | windows | all windows' pixels | " +
              " | ".join(f"peak RSS, {w} workers" for w in args.workers) + " |")  # fmt: skip
        print("|---" * (3 + len(args.workers)) + "|")
        for frames in args.frames:
            video = encode_video(root / f"v{frames}.mp4", signature_frames(frames, 64, 64), fps=30)
            windows = (frames - 16) // 2 + 1
            cells = []
            for workers in args.workers:
                runs = [peak_mib(video, root / f"o{frames}_{workers}_{r}", workers,
                                 args.batch_size) for r in range(args.repeats)]  # fmt: skip
                cells.append(f"{statistics.median(runs):.0f} MiB ({min(runs):.0f}–{max(runs):.0f})")
            print(f"| {frames} | {windows} | {windows * DEMO_WINDOW_MIB:.0f} MiB | "
                  + " | ".join(cells) + " |")  # fmt: skip


if __name__ == "__main__":
    main()
