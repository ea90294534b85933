"""Write videos and images with PyAV's bundled encoders: uint8 RGB frames → a file.

The package's only video writer: the synthetic test signals (`vjepa2.video.synthetic`), the
motion benchmark and the demo all write through it.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import torch


def encoder_available(codec: str) -> bool:
    """Whether the installed PyAV/FFmpeg build can encode `codec`."""
    try:
        av.codec.Codec(codec, "w")
    except ValueError:  # av.codec.codec.UnknownCodecError
        return False
    return True


def encode_video(
    path: str | Path,
    frames: torch.Tensor | np.ndarray,
    *,
    fps: float = 30,
    codec: str = "libx264",
    pix_fmt: str = "yuv420p",
    container_format: str | None = None,
    rotation: int | None = None,
    audio: bool = False,
    pts: Sequence[float] | None = None,
    gop: int | None = None,
    options: dict[str, str] | None = None,
) -> Path:
    """Encode uint8 RGB frames [T, H, W, 3] into `path` and return it.

    Frames are stored as given; `rotation` (degrees counter-clockwise, FFmpeg's display-matrix
    convention) only tags the stream, so a player shows the frames rotated by it. `pts` gives
    each frame's presentation time in seconds for a variable-frame-rate file. `audio` adds an AAC
    sine track of the same length.
    """
    path = Path(path)
    frames = torch.as_tensor(frames)
    num_frames, height, width, _ = frames.shape
    if codec == "libsvtav1":
        os.environ.setdefault("SVT_LOG", "1")  # SVT-AV1 prints its banner to stderr otherwise
    rate = Fraction(fps).limit_denominator(1001)
    with av.open(str(path), "w", format=container_format) as container:
        stream = container.add_stream(codec, rate=rate, options=dict(options or {}))
        stream.width, stream.height, stream.pix_fmt = width, height, pix_fmt
        if gop is not None:
            stream.codec_context.gop_size = gop
        if pts is not None:
            stream.codec_context.time_base = Fraction(1, 1000)
        if rotation:
            stream.set_display_rotation(rotation)
        audio_stream = container.add_stream("aac", rate=16000) if audio else None
        for t in range(num_frames):
            frame = av.VideoFrame.from_ndarray(frames[t].numpy(), format="rgb24")
            if pts is not None:
                frame.pts, frame.time_base = round(pts[t] * 1000), Fraction(1, 1000)
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
        if audio_stream is not None:
            seconds = pts[-1] + 1 / fps if pts is not None else num_frames / fps
            encode_sine(container, audio_stream, seconds)
    return path


def encode_sine(container, stream, seconds: float) -> None:
    rate, chunk = stream.rate, 1024
    total = math.ceil(seconds * rate / chunk) * chunk
    tone = (0.2 * np.sin(2 * np.pi * 440 * np.arange(total) / rate)).astype(np.float32)
    for start in range(0, total, chunk):
        frame = av.AudioFrame.from_ndarray(
            tone[None, start : start + chunk], format="fltp", layout="mono"
        )
        frame.sample_rate, frame.pts = rate, start
        container.mux(stream.encode(frame))
    container.mux(stream.encode(None))


def encode_image(path: str | Path, frame: torch.Tensor | np.ndarray) -> Path:
    """Write one uint8 RGB frame [H, W, 3] as a PNG or JPEG (chosen by the suffix)."""
    path = Path(path)
    codec = "png" if path.suffix.lower() == ".png" else "mjpeg"
    pix_fmt = "rgb24" if codec == "png" else "yuvj444p"
    with av.open(str(path), "w", format="image2") as container:
        stream = container.add_stream(codec, rate=1)
        stream.width, stream.height, stream.pix_fmt = frame.shape[1], frame.shape[0], pix_fmt
        image = av.VideoFrame.from_ndarray(np.asarray(frame), format="rgb24")
        container.mux(stream.encode(image))
        container.mux(stream.encode(None))
    return path
