"""Optional decoders behind `read_video(..., backend=...)`: torchcodec and decord.

Both are asked for the same frames as the PyAV path: timestamps are turned into frame numbers
with PyAV's frame table (`frame_times`), metadata comes from `video_info`, and frames come out
upright (decord 0.6 and torchcodec >= 0.11 apply the display matrix themselves; for older
torchcodec we rotate). Failures inside either library become `VideoDecodeError`. Neither
package is a dependency; selecting one that is not installed raises ImportError naming it.
decord 0.6 returns wrong frames after seeking in some formats (HEVC/mkv, MPEG-TS, packed-B-frame
AVI; see docs/video.md), which is why PyAV is the default.
"""

from __future__ import annotations

import importlib

import numpy as np
import torch

from vjepa2.video.decode import VideoDecodeError, VideoInfo, frame_times, video_info
from vjepa2.video.positions import frame_positions

BACKENDS = ("pyav", "torchcodec", "decord")


def _import(backend: str, module: str, package: str):
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise ImportError(
            f"video backend {backend!r} needs the {package!r} package (pip install {package}); "
            "the default backend 'pyav' needs nothing extra"
        ) from exc


def _positions(path: str, indices, timestamps, num_frames: int) -> np.ndarray:
    return frame_positions(indices, timestamps, num_frames, lambda: frame_times(path), path)


def _read_torchcodec(path, indices, timestamps, num_threads):
    decoders = _import("torchcodec", "torchcodec.decoders", "torchcodec")
    info = video_info(path)
    try:
        decoder = decoders.VideoDecoder(
            path, dimension_order="NHWC", num_ffmpeg_threads=num_threads, seek_mode="exact"
        )
        num_frames = decoder.metadata.num_frames
    except Exception as exc:  # the library's own error types vary between releases
        raise VideoDecodeError(path, f"torchcodec: {exc}") from exc
    positions = _positions(path, indices, timestamps, num_frames)
    try:
        frames = decoder.get_frames_at(indices=positions.tolist()).data
    except Exception as exc:
        raise VideoDecodeError(path, f"torchcodec: {exc}") from exc
    # torchcodec applies the display matrix itself from the release that reports it (0.11).
    if not hasattr(decoder.metadata, "rotation") and info.rotation:
        frames = torch.rot90(frames, info.rotation // 90, dims=(1, 2))
    return frames.contiguous(), _with_count(info, num_frames)


def _read_decord(path, indices, timestamps, num_threads):
    decord = _import("decord", "decord", "decord")
    info = video_info(path)
    try:
        reader = decord.VideoReader(path, ctx=decord.cpu(0), num_threads=num_threads)
        num_frames = len(reader)
    except Exception as exc:  # decord raises its own DECORDError (an Exception)
        raise VideoDecodeError(path, f"decord: {exc}") from exc
    positions = _positions(path, indices, timestamps, num_frames)
    try:
        batch = reader.get_batch(positions.tolist())
    except Exception as exc:
        raise VideoDecodeError(path, f"decord: {exc}") from exc
    # decord (0.6) applies the display matrix itself; its bridge may hand back a torch tensor.
    frames = torch.from_numpy(batch.asnumpy()) if hasattr(batch, "asnumpy") else batch
    return torch.as_tensor(frames).contiguous(), _with_count(info, num_frames)


def _with_count(info: VideoInfo, num_frames: int) -> VideoInfo:
    return VideoInfo(**{**info.__dict__, "num_frames": num_frames})


def read_with_backend(backend: str, path: str, indices, timestamps, num_threads: int):
    """`read_video` through a named optional backend."""
    readers = {"torchcodec": _read_torchcodec, "decord": _read_decord}
    if backend not in readers:
        raise ValueError(f"unknown video backend {backend!r}; choose one of {BACKENDS}")
    return readers[backend](path, indices, timestamps, num_threads)
