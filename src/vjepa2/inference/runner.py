"""Run a model over many videos' clips in batches that span videos, yielding per-video outputs.

Videos with one clip each would otherwise run one clip per forward; here clips of consecutive
videos are packed into batches of ``batch_size`` and the outputs split back, in input order.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

import torch

from vjepa2.data.video_clips import Clips, Failure
from vjepa2.runtime import autocast

Forward = Callable[[torch.Tensor], dict[str, torch.Tensor]]


def batched_outputs(
    items: Iterable[Clips | Failure],
    forward: Forward,
    batch_size: int,
    device: torch.device,
    dtype: torch.dtype = torch.float32,
) -> Iterator[tuple[Clips | Failure, dict[str, torch.Tensor] | None]]:
    """``(item, outputs)`` per video in input order; outputs are ``forward``'s tensors for the
    video's ``S*V`` clips, on the CPU in float32 (``None`` for failures).

    ``forward`` maps pixels ``[C, T, 3, H, W]`` to a dict of ``[C, ...]`` tensors.
    """
    pending: list[Clips | Failure] = []
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
        if isinstance(item, Failure):
            yield item, None
            continue
        n = item.num_clips
        yield item, {name: value[offset : offset + n] for name, value in merged.items()}
        offset += n
