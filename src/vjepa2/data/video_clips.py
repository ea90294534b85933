"""Evaluation clips of a video file: which frames (``ClipSpec``), decoded and preprocessed
(``load_clips``), in DataLoader workers that keep going past bad files (``iterate_clips``).

A video becomes ``S`` clips (segments spread over it, or sliding windows) of ``T`` frames, each
seen through ``V`` spatial views: pixels ``[S, V, T, 3, crop, crop]``, ready for the model once
flattened to ``[S*V, T, 3, crop, crop]``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from vjepa2.config import VJEPA2Config
from vjepa2.video import VideoDecodeError, VideoInfo, frame_times, probe, read_video
from vjepa2.video.sampling import fps_frame_step, sample_clips, sliding_windows
from vjepa2.video.transforms import EvalTransform


@dataclass(frozen=True)
class ClipSpec:
    """How to turn a video into clips.

    Attributes:
        frames: frames per clip.
        frame_step: take every ``frame_step``-th frame (ignored when ``fps`` is set).
        fps: sample at about this many frames per second instead (step = ceil(video fps)//fps).
        segments: clips spread over the video (the evaluation protocol); 1 = one clip from the
            start.
        views: spatial views per clip (1 = centre crop after the 256/224 resize; 3 = the
            protocol's three crops along the long side).
        crop_size: pixels per side.
        stride: sliding windows instead of segments: a clip starts every ``stride`` frames.
    """

    frames: int = 16
    frame_step: int = 1
    fps: float | None = None
    segments: int = 1
    views: int = 1
    crop_size: int = 256
    stride: int | None = None

    def __post_init__(self) -> None:
        for name in ("frames", "frame_step", "segments", "views", "crop_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.stride is not None and self.stride < 1:
            raise ValueError(f"stride must be >= 1, got {self.stride}")
        if self.stride is not None and self.segments != 1:
            raise ValueError("choose sliding windows (stride) or segments, not both")

    @classmethod
    def for_model(cls, config: VJEPA2Config, **overrides) -> ClipSpec:
        """The checkpoint's own sampling: ``frames_per_clip`` consecutive frames from the start
        (every 2nd frame for 64-frame models, as the released demo does), at its crop size."""
        frames = overrides.pop("frames", None) or config.frames_per_clip
        step = overrides.pop("frame_step", None) or (2 if frames >= 64 else 1)
        fields = {k: v for k, v in overrides.items() if v is not None}
        return cls(frames=frames, frame_step=step, crop_size=config.crop_size, **fields)

    def with_(self, **changes) -> ClipSpec:
        return replace(self, **changes)


@dataclass
class Clips:
    """The clips of one video.

    Attributes:
        path: the source file.
        pixels: ``[S, V, T, 3, crop, crop]`` float32, normalised.
        indices: frame indices of each clip, int64 ``[S, T]``.
        starts / ends: the time span of each clip in seconds, ``[S]``.
        info: the file's metadata (None for frames given directly).
    """

    path: str
    pixels: torch.Tensor
    indices: np.ndarray
    starts: np.ndarray
    ends: np.ndarray
    info: VideoInfo | None = None

    @property
    def num_clips(self) -> int:
        return self.pixels.shape[0] * self.pixels.shape[1]


@dataclass
class Failure:
    """A file that could not be turned into clips, with the reason."""

    path: str
    reason: str


def clip_indices_for(info: VideoInfo, spec: ClipSpec, path: str) -> tuple[np.ndarray, ...]:
    """Frame indices ``[S, T]`` and each clip's start/end time in seconds."""
    step = fps_frame_step(info.fps, spec.fps) if spec.fps else spec.frame_step
    if spec.stride is not None:
        times = frame_times(path) if info.fps <= 0 else None
        windows = sliding_windows(info.num_frames, spec.frames, spec.stride, frame_step=step,
                                  fps=info.fps or None, frame_times=times)  # fmt: skip
        indices = np.stack([w.indices for w in windows])
        return (
            indices,
            np.array([w.start_time for w in windows]),
            np.array([w.end_time for w in windows]),
        )
    indices = sample_clips(info.num_frames, spec.frames, step, num_segments=spec.segments)
    fps = info.fps if info.fps > 0 else 1.0
    return indices, indices[:, 0] / fps, (indices[:, -1] + 1) / fps


def load_clips(path: str | os.PathLike, spec: ClipSpec, decoder_threads: int = 0) -> Clips:
    """Decode and preprocess the clips of one file. Raises ``VideoDecodeError`` for bad files."""
    path = os.fspath(path)
    info = probe(path)
    indices, starts, ends = clip_indices_for(info, spec, path)
    frames, info = read_video(path, indices=indices.reshape(-1), num_threads=decoder_threads)
    frames = frames.view(*indices.shape, *frames.shape[1:])  # [S, T, H, W, 3]
    transform = EvalTransform(spec.crop_size, spec.views)
    pixels = torch.stack([transform(clip) for clip in frames])
    if spec.views == 1:
        pixels = pixels.unsqueeze(1)
    return Clips(path, pixels, indices, starts, ends, info)


class ClipDataset(Dataset):
    """``load_clips`` over a list of files; a bad file yields a :class:`Failure`, not an error."""

    def __init__(self, paths: Sequence[str | os.PathLike], spec: ClipSpec) -> None:
        self.paths = [os.fspath(p) for p in paths]
        self.spec = spec

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index: int) -> Clips | Failure:
        path = self.paths[index]
        try:
            return load_clips(path, self.spec, decoder_threads=1)
        except (VideoDecodeError, OSError, IndexError) as err:
            return Failure(path, _reason(err, path))


def _reason(err: Exception, path: str) -> str:
    reason = getattr(err, "reason", None)
    if reason:
        return str(reason)
    text = str(err)
    return text.replace(f"{path}: ", "") or type(err).__name__


def _single_threaded_worker(_: int) -> None:
    torch.set_num_threads(1)


def iterate_clips(
    paths: Sequence[str | os.PathLike], spec: ClipSpec, workers: int = 0, prefetch: int = 2
) -> Iterator[Clips | Failure]:
    """Clips of each file in order, decoded in ``workers`` background processes (0: inline)."""
    dataset = ClipDataset(paths, spec)
    if workers == 0:
        yield from (dataset[i] for i in range(len(dataset)))
        return
    loader = DataLoader(
        dataset,
        batch_size=None,
        num_workers=workers,
        prefetch_factor=prefetch,
        worker_init_fn=_single_threaded_worker,
        persistent_workers=False,
    )
    yield from loader


def video_key(path: str | os.PathLike) -> str:
    """A readable, collision-free file stem for a video's outputs: ``<stem>-<8 hex>``."""
    import hashlib

    resolved = str(Path(path).resolve())
    return f"{Path(path).stem}-{hashlib.sha1(resolved.encode()).hexdigest()[:8]}"
