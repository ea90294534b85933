"""Requested frames → frame positions, shared by every decoder (PyAV and the optional ones).

A read asks for frames by number (`indices`, negative from the end) or by time (`timestamps`,
seconds from the first frame); both become int64 positions into the frames in presentation
order.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch


def index_positions(indices, num_frames: int, path: str) -> np.ndarray:
    """Frame numbers (negative from the end) checked against num_frames: int64 [T]."""
    positions = torch.as_tensor(indices, dtype=torch.int64).reshape(-1).numpy().copy()
    outside = (positions < -num_frames) | (positions >= num_frames)
    if outside.any():
        raise IndexError(
            f"frame index {positions[outside][0]} out of range for {path!r} "
            f"with {num_frames} frames"
        )
    positions[positions < 0] += num_frames
    return positions


def time_positions(timestamps, times: np.ndarray) -> np.ndarray:
    """The frame on screen at each time: the last with times <= t. times: sorted seconds [N]."""
    seconds = torch.as_tensor(timestamps, dtype=torch.float64).reshape(-1).numpy()
    if seconds.size and (not np.isfinite(seconds).all() or seconds.min() < 0):
        raise ValueError(f"timestamps must be finite and >= 0 seconds, got {seconds}")
    return np.maximum(np.searchsorted(times, seconds, side="right") - 1, 0)


def frame_positions(
    indices, timestamps, num_frames: int, times: Callable[[], np.ndarray], path: str
) -> np.ndarray:
    """Requested frames as positions, int64 [T], in the caller's order (all frames when neither
    is given). `times()` gives every frame's time in seconds; it is only called for timestamps."""
    if indices is not None and timestamps is not None:
        raise ValueError("pass indices or timestamps, not both")
    if timestamps is not None:
        return np.minimum(time_positions(timestamps, times()), num_frames - 1)
    if indices is None:
        return np.arange(num_frames)
    return index_positions(indices, num_frames, path)
