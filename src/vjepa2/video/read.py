"""`read_video`: the one entry point from a file to frames, whichever decoder reads it.

PyAV (`vjepa2.video.decode`) is the default; torchcodec and decord (`vjepa2.video.backends`)
are optional and asked for the same frames.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np
import torch

from vjepa2.video.backends import read_with_backend
from vjepa2.video.decode import VideoInfo, read_pyav

IndexLike = Sequence[int] | np.ndarray | torch.Tensor
TimeLike = Sequence[float] | np.ndarray | torch.Tensor


def read_video(
    path: str | os.PathLike,
    indices: IndexLike | None = None,
    timestamps: TimeLike | None = None,
    backend: str = "pyav",
    *,
    num_threads: int = 0,
) -> tuple[torch.Tensor, VideoInfo]:
    """Decode frames of a video (or image) file as upright RGB.

    Args:
        path: any file FFmpeg reads (mp4, mkv, webm, avi, mov, gif, png, jpg, ...).
        indices: frame numbers in presentation order; any order, repeats allowed, negative
            numbers count from the end. All frames when neither indices nor timestamps are given.
        timestamps: seconds from the first frame; each picks the frame on screen at that time
            (the last frame whose presentation time is <= it; past the end, the last frame).
        backend: "pyav" (default), or "torchcodec" / "decord" when installed.
        num_threads: decoder threads; 0 lets FFmpeg choose. Use 1 inside DataLoader workers.

    Returns:
        frames: uint8 [T, H, W, 3] in the requested order.
        info: the file's `VideoInfo` (num_frames counted from its packets).

    Raises:
        VideoDecodeError: missing, unreadable, empty, not a video, or no frame decodes.
        IndexError: an index outside [-num_frames, num_frames).
    """
    path = os.fspath(path)
    if backend != "pyav":
        return read_with_backend(backend, path, indices, timestamps, num_threads)
    return read_pyav(path, indices, timestamps, num_threads)


def read_image(path: str | os.PathLike, num_frames: int = 1) -> tuple[torch.Tensor, VideoInfo]:
    """An image (jpg, png, ...; for a video, its first frame) as a static clip [N, H, W, 3]."""
    return read_video(path, indices=np.zeros(num_frames, dtype=np.int64))
