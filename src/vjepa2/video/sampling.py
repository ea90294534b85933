"""Which frames to read: pure functions from a video's length (and frame rate) to frame indices.

Every function returns int64 numpy indices into the video's frames in presentation order, ready
for `read_video(path, indices=...)`. Clips always have the requested length: where a video is too
short, the missing positions repeat its last frame (index num_frames - 1), so batches keep a fixed
shape. An image is a one-frame video: `static_indices` repeats it.

CLI mapping (`vjepa2 embed`): --frames → frames_per_clip, --frame-step → frame_step, --fps →
target_fps, --segments → num_segments (see `sample_clips`), --window/--stride → `sliding_windows`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


def _check_positive(**values: int) -> None:
    for name, value in values.items():
        if value < 1:
            raise ValueError(f"{name} must be >= 1, got {value}")


def parse_indices(text: str) -> np.ndarray:
    """Explicit indices from text: "0:128:2" (a Python range) or "0,4,8" (a list). int64 [T]."""
    text = text.strip()
    if ":" in text:
        parts = [int(p) if p.strip() else None for p in text.split(":")]
        if len(parts) > 3 or parts[1] is None:
            raise ValueError(f"expected start:stop[:step], got {text!r}")
        start, stop, step = [*parts, None][:3]
        return np.arange(start or 0, stop, step or 1, dtype=np.int64)
    return np.asarray([int(p) for p in text.split(",") if p.strip()], dtype=np.int64)


def pad_indices(indices: Sequence[int] | np.ndarray, num_frames: int) -> np.ndarray:
    """Indices past the end replaced by the last frame (num_frames - 1). int64 [T]."""
    _check_positive(num_frames=num_frames)
    return np.minimum(np.asarray(indices, dtype=np.int64), num_frames - 1)


def clip_indices(
    num_frames: int, frames_per_clip: int, frame_step: int = 1, start: int = 0
) -> np.ndarray:
    """`frames_per_clip` frames every `frame_step` from `start`, padded past the end. int64 [F].

    The demo clips are clip_indices(n, 64, 1) = arange(0, 64) and clip_indices(n, 64, 2) =
    arange(0, 128, 2).
    """
    _check_positive(frames_per_clip=frames_per_clip, frame_step=frame_step)
    return pad_indices(start + frame_step * np.arange(frames_per_clip), num_frames)


def uniform_indices(num_frames: int, frames_per_clip: int) -> np.ndarray:
    """`frames_per_clip` frames evenly spread from the first to the last frame. int64 [F].

    Rounded positions of linspace(0, num_frames - 1, frames_per_clip); a video with fewer frames
    than that repeats frames in place.
    """
    _check_positive(num_frames=num_frames, frames_per_clip=frames_per_clip)
    return np.round(np.linspace(0, num_frames - 1, frames_per_clip)).astype(np.int64)


def fps_frame_step(video_fps: float, target_fps: float = 4) -> int:
    """The frame step that samples a `video_fps` video at about `target_fps`.

    As in pretraining (4 fps): ceil(video_fps) // target_fps, at least 1. 30 fps → 7, 25 → 6.
    """
    if video_fps <= 0 or target_fps <= 0:
        raise ValueError(f"fps must be > 0, got video {video_fps} and target {target_fps}")
    return max(1, int(math.ceil(video_fps) // target_fps))


def fps_indices(
    num_frames: int,
    video_fps: float,
    frames_per_clip: int,
    target_fps: float = 4,
    start: int = 0,
) -> np.ndarray:
    """A clip sampled at about `target_fps` from `start`, padded past the end. int64 [F]."""
    step = fps_frame_step(video_fps, target_fps)
    return clip_indices(num_frames, frames_per_clip, step, start)


def segment_indices(
    num_frames: int, frames_per_clip: int, frame_step: int, num_segments: int
) -> np.ndarray:
    """The evaluation protocol's `num_segments` clips, deterministic variant. int64 [S, F].

    Follows the original `loadvideo_decord` with the clip placed at the start of each segment
    (its non-random position) and clip overlap allowed:
    - clip_len = frames_per_clip · frame_step, partition = num_frames // num_segments.
    - Segments longer than a clip: linspace(0, clip_len, frames_per_clip) clipped to
      clip_len - 1 and truncated to int (a linspace, not an exact stride), shifted by
      i · partition.
    - Otherwise: linspace over the first min(clip_len, num_frames) - 1 frames with
      (that // frame_step) points, padded with its last value up to frames_per_clip, clipped to
      one below it, shifted by i · ((num_frames - clip_len) // (num_segments - 1)) when the video
      is longer than a clip (so short videos give identical segments).
    A 1-frame video gives all zeros (the original would index -1).
    """
    _check_positive(
        num_frames=num_frames,
        frames_per_clip=frames_per_clip,
        frame_step=frame_step,
        num_segments=num_segments,
    )
    clip_len = frames_per_clip * frame_step
    partition = num_frames // num_segments
    clips = []
    for i in range(num_segments):
        if partition > clip_len:
            positions = np.linspace(0, clip_len, frames_per_clip)
            positions = np.clip(positions, 0, clip_len - 1).astype(np.int64) + i * partition
        else:
            last = min(clip_len, num_frames) - 1
            spread = np.linspace(0, last, last // frame_step)
            padding = np.full(frames_per_clip - len(spread), last, dtype=np.float64)
            positions = np.clip(np.concatenate([spread, padding]), 0, max(last - 1, 0))
            positions = positions.astype(np.int64)
            if num_frames > clip_len:
                positions += i * ((num_frames - clip_len) // (num_segments - 1))
        clips.append(positions)
    return np.stack(clips)


def sample_clips(
    num_frames: int,
    frames_per_clip: int,
    frame_step: int = 1,
    *,
    num_segments: int = 1,
    target_fps: float | None = None,
    video_fps: float | None = None,
) -> np.ndarray:
    """The clips for one video from the embed options. int64 [S, F].

    target_fps (with video_fps) replaces frame_step by `fps_frame_step`. One segment: a single
    clip with an exact stride from frame 0 (`clip_indices`), padded past the end. Several
    segments: the evaluation protocol (`segment_indices`).
    """
    if target_fps is not None:
        if video_fps is None:
            raise ValueError("target_fps needs the video's fps (video_fps)")
        frame_step = fps_frame_step(video_fps, target_fps)
    if num_segments == 1:
        return clip_indices(num_frames, frames_per_clip, frame_step)[None]
    return segment_indices(num_frames, frames_per_clip, frame_step, num_segments)


def static_indices(frames_per_clip: int) -> np.ndarray:
    """An image (a one-frame video) as a static clip: its frame repeated. int64 [F] of zeros."""
    _check_positive(frames_per_clip=frames_per_clip)
    return np.zeros(frames_per_clip, dtype=np.int64)


@dataclass(frozen=True)
class Window:
    """One sliding window: its frames (int64 [window]) and the time span they cover in seconds.

    end_time is where the last real (unpadded) frame stops showing; num_padded counts the
    trailing positions that repeat the last frame.
    """

    indices: np.ndarray
    start_time: float
    end_time: float
    num_padded: int = 0


def sliding_windows(
    num_frames: int,
    window: int,
    stride: int,
    *,
    frame_step: int = 1,
    fps: float | None = None,
    frame_times: Sequence[float] | np.ndarray | None = None,
) -> list[Window]:
    """Windows of `window` frames (every `frame_step`), starting every `stride` frames.

    Full windows start at 0, stride, 2·stride, ... When frames after the last full window are
    left uncovered, one more window starts at the next stride position and is padded with the
    last frame; a video shorter than one window gives a single padded window. Times come from
    `frame_times` (seconds per frame, for variable frame rates) or from `fps`.
    """
    _check_positive(num_frames=num_frames, window=window, stride=stride, frame_step=frame_step)
    if frame_times is None and not fps:
        raise ValueError("sliding_windows needs fps or frame_times for the window times")
    if frame_times is None:
        edges = np.arange(num_frames + 1) / fps
    else:
        # Frame start times, plus where the last frame stops: one frame period after it.
        times = np.asarray(frame_times, dtype=np.float64)[:num_frames]
        if len(times) < num_frames:
            raise ValueError(f"{len(times)} frame_times for {num_frames} frames")
        if fps:
            last_duration = 1 / fps
        else:
            last_duration = float(np.median(np.diff(times))) if len(times) > 1 else 0.0
        edges = np.append(times, times[-1] + last_duration)

    span = (window - 1) * frame_step + 1
    starts = list(range(0, max(num_frames - span, 0) + 1, stride))
    if starts[-1] + span < num_frames and starts[-1] + stride < num_frames:
        starts.append(starts[-1] + stride)
    windows = []
    for start in starts:
        raw = start + frame_step * np.arange(window)
        indices = pad_indices(raw, num_frames)
        last_real = int(indices[-1])
        windows.append(
            Window(
                indices=indices,
                start_time=float(edges[start]),
                end_time=float(edges[last_real + 1]),
                num_padded=int((raw >= num_frames).sum()),
            )
        )
    return windows


__all__ = [
    "Window",
    "clip_indices",
    "fps_frame_step",
    "fps_indices",
    "pad_indices",
    "parse_indices",
    "sample_clips",
    "segment_indices",
    "sliding_windows",
    "static_indices",
    "uniform_indices",
]
