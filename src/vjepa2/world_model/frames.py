"""Camera frames -> world-model input, as the original AC planner prepares them.

The planning notebook builds its transform with ``random_resize_scale=(1, 1)`` and
``random_resize_aspect_ratio=(1, 1)``: the random resized crop then takes the whole frame when it
is square and otherwise falls back to the central square, which it resizes (bilinear, no
antialiasing, on float pixels) to the crop size before ImageNet normalisation. That is not the
classification models' evaluation transform (short side to crop·256/224, then a centre crop):
nothing of the frame is cut off beyond the square.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from vjepa2.video.transforms import normalize, to_channels_first


def central_square(frames: torch.Tensor) -> torch.Tensor:
    """The central ``s x s`` window of ``[..., C, H, W]``, ``s = min(H, W)``, at top
    ``(H - s) // 2`` and left ``(W - s) // 2`` (the original's fallback crop)."""
    height, width = frames.shape[-2:]
    side = min(height, width)
    top, left = (height - side) // 2, (width - side) // 2
    return frames[..., top : top + side, left : left + side]


@dataclass(frozen=True)
class FrameTransform:
    """uint8 frames ``[..., H, W, 3]`` -> float32 ``[..., 3, crop, crop]``: central square,
    bilinear resize to ``crop_size``, ImageNet normalisation."""

    crop_size: int = 256

    def __call__(self, frames: torch.Tensor) -> torch.Tensor:
        if frames.dtype != torch.uint8 or frames.dim() < 3 or frames.shape[-1] != 3:
            raise TypeError(
                f"expected uint8 [..., H, W, 3] frames, got {frames.dtype} {list(frames.shape)}"
            )
        square = central_square(to_channels_first(frames)).float()
        lead = square.shape[:-3]
        flat = square.reshape(-1, *square.shape[-3:])
        if flat.shape[-1] != self.crop_size:
            flat = F.interpolate(
                flat, size=(self.crop_size, self.crop_size), mode="bilinear", align_corners=False
            )
        return normalize(flat.reshape(*lead, *flat.shape[-3:])).contiguous()
