"""End-to-end ``embed`` (decode + preprocess + model + write) against model-only throughput.

    python benchmarks/embed.py --arch vit-tiny --videos 48 --frames 16 --size 128
    python benchmarks/embed.py --preset vitl --videos 16 --device cuda --dtype bf16

Generates N short H.264 videos once (cached in --workdir), then measures, in one process:
- model only: the encoder on already-preprocessed clips, same batch size;
- embed with decoding inline (--workers 0) and with decode workers (default 2).
Reports videos/s and the end-to-end share of model-only throughput (target >= 90% with workers).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch

import vjepa2
from common import DTYPES, machine
from vjepa2.data.clip_pipeline import ClipSpec, read_clips
from vjepa2.inference.embed import embed_forward, embed_videos
from vjepa2.presets import architecture, get_preset
from vjepa2.runtime import autocast
from vjepa2.video.synthetic import signature_frames
from vjepa2.video.writer import encode_video


def make_videos(folder: Path, count: int, frames: int, size: int) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(count):
        path = folder / f"v{i:03d}_{size}.mp4"
        if not path.exists():
            height, width = size, size * 4 // 3
            encode_video(path, signature_frames(frames, height, width, start=i), fps=30,
                         options={"preset": "veryfast"})  # fmt: skip
        paths.append(path)
    return paths


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arch", default="vit-tiny", help="from-scratch architecture")
    parser.add_argument("--preset", help="a released preset instead of --arch (random weights)")
    parser.add_argument("--videos", type=int, default=48)
    parser.add_argument("--frames", type=int, default=16)
    parser.add_argument("--size", type=int, default=128, help="crop size")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--dtype", choices=list(DTYPES), default="fp32")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument(
        "--workdir", type=Path, default=Path(tempfile.gettempdir()) / "vjepa2-bench"
    )
    args = parser.parse_args()

    torch.manual_seed(0)
    if args.preset:
        config = get_preset(args.preset).config().replace(id2label=None)
    else:
        config = architecture(args.arch)
    config = config.replace(crop_size=args.size, frames_per_clip=args.frames)
    with torch.device(args.device):
        model = vjepa2.VJEPA2Model(config, with_predictor=False).eval()
    device, dtype = torch.device(args.device), DTYPES[args.dtype]
    # Source videos a bit larger than the crop, as real footage is.
    paths = make_videos(args.workdir / "embed", args.videos, args.frames * 2, args.size * 5 // 4)
    spec = ClipSpec.for_model(config)

    clips = torch.cat([read_clips(p, spec).pixels.flatten(0, 1) for p in paths])
    forward = embed_forward(model, tokens=False)

    def model_only() -> float:
        start = time.perf_counter()
        with torch.inference_mode(), autocast(device, dtype):
            for chunk in clips.split(args.batch_size):
                forward(chunk.to(device))
        if device.type == "cuda":
            torch.cuda.synchronize()
        return time.perf_counter() - start

    def end_to_end(workers: int) -> float:
        with tempfile.TemporaryDirectory() as out:
            start = time.perf_counter()
            embed_videos(model, paths, out, spec, batch_size=args.batch_size, workers=workers,
                         dtype=dtype, progress=False)  # fmt: skip
            return time.perf_counter() - start

    model_only()  # warm-up
    results = {"model only": model_only(), "embed, workers 0": end_to_end(0),
               f"embed, workers {args.workers}": end_to_end(args.workers)}  # fmt: skip
    base = results["model only"]
    print(
        f"\n{args.videos} videos, {args.frames}x{args.size}px, {config.hidden_size}-wide x "
        f"{config.num_hidden_layers} layers, batch {args.batch_size}, {args.dtype}, {args.device}"
    )
    print(f"{'':22}{'seconds':>10}{'videos/s':>10}{'of model-only':>15}")
    for name, seconds in results.items():
        print(f"{name:22}{seconds:10.2f}{args.videos / seconds:10.2f}{base / seconds:14.0%}")
    print(machine())


if __name__ == "__main__":
    main()
