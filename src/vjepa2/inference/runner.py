"""Run a model over many videos' clips in batches that span videos, yielding per-video outputs.

Videos with one clip each would otherwise run one clip per forward; here clips of consecutive
videos are packed into batches of ``batch_size`` and the outputs split back, in input order.
A long video read in parts (sliding windows) is put back together by `video_outputs`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

import numpy as np
import torch

from vjepa2.data.clip_pipeline import Clips
from vjepa2.data.loader import UnreadableVideo
from vjepa2.runtime import autocast
from vjepa2.video import VideoInfo

Forward = Callable[[torch.Tensor], dict[str, torch.Tensor]]


def batched_outputs(
    items: Iterable[Clips | UnreadableVideo],
    forward: Forward,
    batch_size: int,
    device: torch.device,
    dtype: torch.dtype = torch.float32,
) -> Iterator[tuple[Clips | UnreadableVideo, dict[str, torch.Tensor] | None]]:
    """``(item, outputs)`` per item in input order; outputs are ``forward``'s tensors for the
    item's ``S*V`` clips, on the CPU in float32 (``None`` for unreadable files).

    ``forward`` maps pixels ``[C, T, 3, H, W]`` to a dict of ``[C, ...]`` tensors.
    """
    pending: list[Clips | UnreadableVideo] = []
    clips_pending = 0
    for item in items:
        pending.append(item)
        clips_pending += item.num_clips if isinstance(item, Clips) else 0
        if clips_pending >= batch_size:
            yield from _flush(pending, forward, batch_size, device, dtype)
            pending, clips_pending = [], 0
    yield from _flush(pending, forward, batch_size, device, dtype)


def _flush(pending, forward, batch_size, device, dtype):
    videos = [item for item in pending if isinstance(item, Clips)]
    outputs: dict[str, list[torch.Tensor]] = {}
    if videos:
        pixels = torch.cat([v.pixels.flatten(0, 1) for v in videos])  # [C, T, 3, H, W]
        with torch.inference_mode(), autocast(device, dtype):
            for chunk in pixels.split(batch_size):
                for name, value in forward(chunk.to(device, non_blocking=True)).items():
                    outputs.setdefault(name, []).append(value.float().cpu())
    merged = {name: torch.cat(parts) for name, parts in outputs.items()}
    offset = 0
    for item in pending:
        if isinstance(item, UnreadableVideo):
            yield item, None
            continue
        n = item.num_clips
        yield item, {name: value[offset : offset + n] for name, value in merged.items()}
        offset += n


@dataclass
class VideoClips:
    """Where the clips of one video came from, without their pixels.

    indices: frame indices int64 ``[S, T]``; starts / ends: seconds ``[S]``; views: V.
    """

    path: str
    indices: np.ndarray
    starts: np.ndarray
    ends: np.ndarray
    views: int
    info: VideoInfo | None = None

    @property
    def num_segments(self) -> int:
        return len(self.indices)


def _without_pixels(clips: Clips) -> VideoClips:
    return VideoClips(clips.path, clips.indices, clips.starts, clips.ends, clips.pixels.shape[1],
                      clips.info)  # fmt: skip


def _whole(parts: list[VideoClips]) -> VideoClips:
    return VideoClips(
        parts[0].path,
        np.concatenate([p.indices for p in parts]),
        np.concatenate([p.starts for p in parts]),
        np.concatenate([p.ends for p in parts]),
        parts[0].views,
        parts[-1].info,
    )


def video_outputs(
    items: Iterable[Clips | UnreadableVideo],
    forward: Forward,
    batch_size: int,
    device: torch.device,
    dtype: torch.dtype = torch.float32,
) -> Iterator[tuple[VideoClips | UnreadableVideo, dict[str, torch.Tensor] | None]]:
    """`batched_outputs` with the parts of each video joined: ``(video, outputs)`` per video,
    outputs ``[S*V, ...]`` (``None`` with the first failure when any part could not be read).
    Only the outputs of one video are held, never its pixels."""
    parts: list[VideoClips] = []  # what each part came from, its pixels dropped
    outputs: list[dict[str, torch.Tensor]] = []
    failure: UnreadableVideo | None = None
    for item, out in batched_outputs(items, forward, batch_size, device, dtype):
        if isinstance(item, UnreadableVideo):
            failure = failure or item
        else:
            parts.append(_without_pixels(item))
            outputs.append(out)
        if item.part < item.parts - 1:
            continue
        if failure is not None:
            yield failure, None
        else:
            yield _whole(parts), {k: torch.cat([o[k] for o in outputs]) for k in outputs[0]}
        parts, outputs, failure = [], [], None
