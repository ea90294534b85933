"""The one path from a video file to clip tensors, driven by a `ClipSpec`.

file → `video_info` (length, frame rate) → `clip_positions` (which frames: segments, sliding windows
or one random window) → `read_video` → `transform_clips` (the evaluation views, or the training
augmentation drawn from a seeded generator) → `Clips`: pixels ``[S, V, T, 3, crop, crop]`` for
``S`` clips of ``T`` frames seen through ``V`` spatial views, ready for the model once flattened
to ``[S*V, T, 3, crop, crop]``.

Every consumer reads through `read_clips`: embedding and classification, the probe's feature
cache and its online training clips, pretraining clips and the pretraining monitor's probe. A
file that cannot be turned into clips raises `VideoDecodeError` (a `VJEPA2Error`), whatever the
reason; the loaders in `vjepa2.data.loader` turn it into an `UnreadableVideo` record.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import torch

from vjepa2.config import VJEPA2Config
from vjepa2.errors import UsageError
from vjepa2.video import VideoDecodeError, VideoInfo, frame_times, read_video, video_info
from vjepa2.video.sampling import fps_frame_step, pad_indices, sample_clips, sliding_windows
from vjepa2.video.transforms import EvalTransform, TrainTransform

MAX_FRAMES_PER_CLIP = 1024
"""Longest clip accepted: the released models take 16 or 64 frames; far more only fills memory."""
MAX_SEGMENTS = 128
MAX_VIEWS = 16
MAX_CROP_SIZE = 4096


class ClipSpecError(UsageError, ValueError):
    """Clip settings out of range (a ValueError too, for callers that catch that)."""


@dataclass(frozen=True)
class ClipSpec:
    """How to turn a video into clips: sampling and transform.

    Attributes:
        frames: frames per clip.
        frame_step: take every ``frame_step``-th frame (ignored when ``fps`` is set).
        fps: sample at about this many frames per second instead (step = ceil(video fps)//fps;
            1 for files that report no frame rate).
        segments: clips spread over the video (the evaluation protocol); 1 = one clip from the
            start.
        views: spatial views per clip (1 = centre crop after the 256/224 resize; 3 = the
            protocol's three crops along the long side).
        crop_size: pixels per side.
        stride: sliding windows instead of segments: a clip starts every ``stride`` frames.
        random_start: training sampling: one clip starting at a random frame.
        augment: training transform (random resized crop, flip) instead of the evaluation
            views; both draw from the generator given to `read_clips`.
    """

    frames: int = 16
    frame_step: int = 1
    fps: float | None = None
    segments: int = 1
    views: int = 1
    crop_size: int = 256
    stride: int | None = None
    random_start: bool = False
    augment: TrainTransform | None = None

    def __post_init__(self) -> None:
        limits = {"frames": MAX_FRAMES_PER_CLIP, "frame_step": None, "segments": MAX_SEGMENTS,
                  "views": MAX_VIEWS, "crop_size": MAX_CROP_SIZE}  # fmt: skip
        for name, limit in limits.items():
            value = getattr(self, name)
            if value < 1:
                raise ClipSpecError(f"{name} must be >= 1, got {value}")
            if limit is not None and value > limit:
                raise ClipSpecError(f"{name} must be <= {limit}, got {value}")
        if self.fps is not None and not self.fps > 0:
            raise ClipSpecError(f"fps must be > 0, got {self.fps}")
        if self.stride is not None and self.stride < 1:
            raise ClipSpecError(f"stride must be >= 1, got {self.stride}")
        if self.stride is not None and self.segments != 1:
            raise ClipSpecError("choose sliding windows (stride) or segments, not both")
        if self.random_start and (self.stride is not None or self.segments != 1):
            raise ClipSpecError("random_start samples one clip: no segments or stride")
        if self.augment is not None and self.views != 1:
            raise ClipSpecError("augment makes one view per clip: views must be 1")

    @classmethod
    def for_model(cls, config: VJEPA2Config, **overrides) -> ClipSpec:
        """The checkpoint's own sampling: ``frames_per_clip`` consecutive frames from the start
        (every 2nd frame for 64-frame models, as the released demo does), at its crop size."""
        frames = overrides.pop("frames", None)
        frames = config.frames_per_clip if frames is None else frames
        step = overrides.pop("frame_step", None)
        step = (2 if frames >= 64 else 1) if step is None else step
        fields = {k: v for k, v in overrides.items() if v is not None}
        return cls(frames=frames, frame_step=step, crop_size=config.crop_size, **fields)

    def with_(self, **changes) -> ClipSpec:
        return replace(self, **changes)

    @property
    def training(self) -> bool:
        """Whether clips are drawn at random (random start or augmentation)."""
        return self.random_start or self.augment is not None

    def to_dict(self) -> dict:
        """JSON-ready fields (equal after a JSON round trip), for metadata and identity checks."""
        fields = asdict(self)
        if self.augment is not None:
            fields["augment"] = {k: list(v) if isinstance(v, tuple) else v
                                 for k, v in fields["augment"].items()}  # fmt: skip
        return fields


@dataclass(frozen=True)
class ClipPositions:
    """Frame indices of each clip, int64 ``[S, T]``, and its time span in seconds ``[S]``."""

    indices: np.ndarray
    starts: np.ndarray
    ends: np.ndarray

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, select: slice) -> ClipPositions:
        return ClipPositions(self.indices[select], self.starts[select], self.ends[select])


@dataclass
class Clips:
    """Clips of one video (all of them, or part ``part`` of ``parts`` for long strided videos).

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
    part: int = 0
    parts: int = 1

    @property
    def num_clips(self) -> int:
        return self.pixels.shape[0] * self.pixels.shape[1]


def _frame_step(info: VideoInfo, spec: ClipSpec) -> int:
    if spec.fps is None:
        return spec.frame_step
    return fps_frame_step(info.fps, spec.fps) if info.fps > 0 else 1


def _random_start(num_frames: int, spec: ClipSpec, step: int, generator) -> np.ndarray:
    """One window of ``spec.frames`` frames every ``step`` at a random start (padded). [1, T]"""
    span = (spec.frames - 1) * step + 1
    start = int(torch.randint(0, max(1, num_frames - span + 1), (1,), generator=generator))
    return pad_indices(start + step * np.arange(spec.frames), num_frames)[None]


def clip_positions(
    info: VideoInfo, spec: ClipSpec, path: str, generator: torch.Generator | None = None
) -> ClipPositions:
    """Which frames each clip of ``path`` takes under ``spec``; ``generator`` draws the random
    start of a training clip."""
    step = _frame_step(info, spec)
    if spec.stride is not None:
        times = frame_times(path) if info.fps <= 0 else None
        windows = sliding_windows(info.num_frames, spec.frames, spec.stride, frame_step=step,
                                  fps=info.fps or None, frame_times=times)  # fmt: skip
        return ClipPositions(
            np.stack([w.indices for w in windows]),
            np.array([w.start_time for w in windows]),
            np.array([w.end_time for w in windows]),
        )
    if spec.random_start:
        indices = _random_start(info.num_frames, spec, step, generator)
    else:
        indices = sample_clips(info.num_frames, spec.frames, step, num_segments=spec.segments)
    fps = info.fps if info.fps > 0 else 1.0
    return ClipPositions(indices, indices[:, 0] / fps, (indices[:, -1] + 1) / fps)


def transform_clips(
    frames: torch.Tensor, spec: ClipSpec, generator: torch.Generator | None = None
) -> torch.Tensor:
    """uint8 ``[S, T, H, W, 3]`` → float32 ``[S, V, T, 3, crop, crop]`` (the spec's transform)."""
    if spec.augment is not None:
        return torch.stack([spec.augment(clip, generator) for clip in frames]).unsqueeze(1)
    transform = EvalTransform(spec.crop_size, spec.views)
    pixels = torch.stack([transform(clip) for clip in frames])
    return pixels.unsqueeze(1) if spec.views == 1 else pixels


def read_clips(
    path: str | os.PathLike,
    spec: ClipSpec,
    *,
    generator: torch.Generator | None = None,
    decoder_threads: int = 0,
    select: slice = slice(None),
) -> Clips:
    """Decode and transform the clips of one file (only those ``select`` picks, in order).

    Raises ``VideoDecodeError`` for every file that cannot give these clips (unreadable, no
    frames, frames the header promised but the file lacks).
    """
    path = os.fspath(path)
    try:
        info = video_info(path)
        positions = clip_positions(info, spec, path, generator)[select]
        flat = positions.indices.reshape(-1)
        frames, info = read_video(path, indices=flat, num_threads=decoder_threads)
    except (IndexError, ValueError) as err:
        raise VideoDecodeError(path, str(err)) from err
    frames = frames.view(*positions.indices.shape, *frames.shape[1:])  # [S, T, H, W, 3]
    pixels = transform_clips(frames, spec, generator)
    return Clips(path, pixels, positions.indices, positions.starts, positions.ends, info)


def count_clips(path: str | os.PathLike, spec: ClipSpec) -> int:
    """How many clips `read_clips` gives for ``path`` (reads the header and, for files without
    a frame rate, the packet timestamps; decodes one frame)."""
    path = os.fspath(path)
    if spec.stride is None:
        return spec.segments
    try:
        return len(clip_positions(video_info(path), spec, path))
    except (IndexError, ValueError) as err:
        raise VideoDecodeError(path, str(err)) from err


def clips_from_frames(frames: torch.Tensor | np.ndarray, spec: ClipSpec) -> Clips:
    """uint8 frames ``[T, H, W, 3]`` taken as one clip as they are, through the eval views."""
    frames = torch.as_tensor(frames)
    n = frames.shape[0]
    pixels = transform_clips(frames[None], spec.with_(augment=None))
    return Clips("<frames>", pixels, np.arange(n)[None], np.zeros(1), np.full(1, float(n)))


def cached_clips(
    video: torch.Tensor,
    info: VideoInfo,
    spec: ClipSpec,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """The clips of a video decoded whole beforehand (uint8 ``[N, H, W, 3]``), as `read_clips`
    would give them: ``[S, V, T, 3, crop, crop]``."""
    info = replace(info, num_frames=len(video))
    positions = clip_positions(info, spec, info.path, generator)
    frames = video[torch.from_numpy(positions.indices.reshape(-1))]
    return transform_clips(frames.view(*positions.indices.shape, *video.shape[1:]), spec, generator)


def video_key(path: str | os.PathLike) -> str:
    """A readable, collision-free file stem for a video's outputs: ``<stem>-<8 hex>``."""
    resolved = str(Path(path).resolve())
    return f"{Path(path).stem}-{hashlib.sha1(resolved.encode()).hexdigest()[:8]}"
