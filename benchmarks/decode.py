"""Decode benchmark: 16 frames at the start vs near the end of a long 720p H.264 file.

Generates (once, cached in --workdir) a 10-minute 1280×720 H.264 mp4 with libx264 ultrafast and a
keyframe every --gop-seconds, whose frames carry their index (vjepa2.video.synthetic), then times:

1. the frame-table scan (the first read of a file; cached per process after that);
2. 16 consecutive frames at the start and near the end (seek to the keyframe before them);
3. ours (read_video + batched preprocess) against a naive path that decodes every frame from the
   start and resizes frame by frame.

    python benchmarks/decode.py [--workdir DIR] [--minutes 10] [--gop-seconds 2] [--repeats 5]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import torch
import torch.nn.functional as F

from vjepa2.video import read_video
from vjepa2.video.decode import _TABLE_CACHE, _Decoder
from vjepa2.video.synthetic import SIGNATURE_BITS, draw_signature, read_signature
from vjepa2.video.transforms import IMAGENET_MEAN, IMAGENET_STD, preprocess

SIGNATURE_BOX = (0, 0, 240, 320)


def generate(path: Path, minutes: float, width: int, height: int, fps: int, gop: int) -> None:
    """Grayscale moving texture with the frame index painted top-left, encoded as yuv420p."""
    num_frames = round(minutes * 60 * fps)
    generator = torch.Generator().manual_seed(0)
    coarse = torch.rand(1, 1, height // 8, width // 4, generator=generator)
    texture = F.interpolate(coarse, size=(height, 2 * width), mode="bicubic", align_corners=False)
    texture = (texture[0, 0].clamp(0, 1) * 200 + 28).to(torch.uint8).numpy()
    chroma = np.full((height // 2, width), 128, np.uint8)
    partial = path.with_suffix(".partial.mp4")
    with av.open(str(partial), "w") as container:
        stream = container.add_stream(
            "libx264", rate=fps, options={"preset": "ultrafast", "g": str(gop)}
        )
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.codec_context.time_base = Fraction(1, fps)
        box = torch.zeros(1, SIGNATURE_BOX[2], SIGNATURE_BOX[3], 3, dtype=torch.uint8)
        for t in range(num_frames):
            shift = (4 * t) % width
            luma = texture[:, shift : shift + width].copy()
            draw_signature(box, [t])
            luma[: SIGNATURE_BOX[2], : SIGNATURE_BOX[3]] = box[0, ..., 0].numpy()
            frame = av.VideoFrame.from_ndarray(np.concatenate([luma, chroma]), format="yuv420p")
            frame.pts = t
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    partial.rename(path)


def naive_clip(path: Path, indices: np.ndarray, crop_size: int) -> torch.Tensor:
    """Decode every frame from the start, keep the wanted ones, resize each on its own."""
    wanted = set(indices.tolist())
    kept = {}
    with av.open(str(path)) as container:
        for number, frame in enumerate(container.decode(video=0)):
            rgb = frame.to_ndarray(format="rgb24")
            if number in wanted:
                kept[number] = rgb
            if number >= indices.max():
                break
    size = int(crop_size * 256 / 224)
    out = []
    for number in indices.tolist():
        image = torch.from_numpy(kept[number]).permute(2, 0, 1)[None].float()
        h, w = image.shape[-2:]
        new = (size, round(size * w / h)) if h <= w else (round(size * h / w), size)
        image = F.interpolate(image, size=new, mode="bilinear", align_corners=False)[0]
        top, left = (new[0] - crop_size) // 2, (new[1] - crop_size) // 2
        image = image[:, top : top + crop_size, left : left + crop_size] / 255
        out.append((image - IMAGENET_MEAN[:, None, None]) / IMAGENET_STD[:, None, None])
    return torch.stack(out)


def timed(fn, repeats: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--workdir", type=Path, default=Path(tempfile.gettempdir()) / "vjepa2-bench"
    )
    parser.add_argument("--minutes", type=float, default=10)
    parser.add_argument("--width", type=int, default=1280)
    parser.add_argument("--height", type=int, default=720)
    parser.add_argument("--fps", type=int, default=30)
    parser.add_argument("--gop-seconds", type=float, default=2)
    parser.add_argument("--frames", type=int, default=16)
    parser.add_argument("--crop-size", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=0, help="decoder threads, 0 = auto")
    parser.add_argument("--skip-naive", action="store_true", help="skip the slow naive path")
    args = parser.parse_args()

    gop = round(args.gop_seconds * args.fps)
    args.workdir.mkdir(parents=True, exist_ok=True)
    name = f"h264_{args.width}x{args.height}_{args.minutes:g}min_{args.fps}fps_gop{gop}.mp4"
    path = args.workdir / name
    if not path.exists():
        print(f"generating {path} ...", flush=True)
        start = time.perf_counter()
        generate(path, args.minutes, args.width, args.height, args.fps, gop)
        print(f"  {time.perf_counter() - start:.1f} s", flush=True)
    size_mb = path.stat().st_size / 1e6
    print(f"file: {path} ({size_mb:.0f} MB, keyframe every {gop} frames)")

    def read(indices):
        return lambda: read_video(path, indices=indices, num_threads=args.threads)[0]

    _TABLE_CACHE.clear()
    start = time.perf_counter()
    _, info = read_video(path, indices=[0], num_threads=args.threads)
    scan = time.perf_counter() - start
    n = info.num_frames
    with _Decoder(str(path), args.threads) as decoder:
        table = decoder.frame_table()
    keyframes = np.searchsorted(table.pts, table.keyframes)
    before_keyframe = int(keyframes[keyframes < n - 2 * args.fps][-1]) - 1
    clips = {
        "start": np.arange(args.frames),
        "end": np.arange(n - args.frames - args.fps, n - args.fps),
        # The worst place for a seek: the frame just before a keyframe needs the whole GOP.
        "end, worst case": np.arange(before_keyframe, before_keyframe + args.frames),
    }
    rows = [("frame-table scan + 1 frame (first read of the file)", scan)]
    results = {}
    for where, indices in clips.items():
        seconds, frames = timed(read(indices), args.repeats)
        painted = torch.from_numpy(indices) % 2**SIGNATURE_BITS  # the signature wraps at 4096
        assert torch.equal(read_signature(frames, SIGNATURE_BOX), painted), "wrong frames"
        results[where] = seconds
        label = f"read_video {args.frames} frames, {where} (from frame {indices[0]})"
        rows.append((label, seconds))
    for where, indices in list(clips.items())[:2]:
        seconds, _ = timed(
            lambda indices=indices: preprocess(read(indices)(), args.crop_size), args.repeats
        )
        rows.append((f"ours: read_video + preprocess, {where}", seconds))
        if not args.skip_naive:
            repeats = args.repeats if where == "start" else 1
            seconds, _ = timed(lambda indices=indices: naive_clip(path, indices, 256), repeats)
            rows.append((f"naive: decode from start + per-frame resize, {where}", seconds))

    print(f"{n} frames, {info.fps:g} fps, {info.width}x{info.height}, threads={args.threads}")
    width = max(len(label) for label, _ in rows)
    for label, seconds in rows:
        print(f"{label:<{width}}  {seconds * 1000:9.1f} ms")
    for where in ("end", "end, worst case"):
        print(f"{where} / start = {results[where] / results['start']:.2f} (target <= 3)")


if __name__ == "__main__":
    main()
