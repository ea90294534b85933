"""Frames → model input, in torch, batched over frames, without torchvision.

Layouts: the decoder gives uint8 [T, H, W, 3]; the model takes float [T, 3, H, W] per clip
([B, T, 3, H, W] batched). The building blocks below work on [..., C, H, W] tensors holding pixel
values in 0..255 (uint8 or float) and keep one crop and one flip for the whole clip.

`preprocess` equals transformers' VJEPA2VideoProcessor: shortest side to int(crop · 256 / 224)
with antialiased bilinear on uint8 (torch's native uint8 kernel, which is what torchvision runs
on CPU), centre crop at int((size - crop) / 2), then (x - 255 · mean) / (255 · std) in float32.
On the reference fixtures it is bit-exact (see docs/video.md).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

IMAGENET_MEAN = torch.tensor([0.485, 0.456, 0.406])
IMAGENET_STD = torch.tensor([0.229, 0.224, 0.225])


def short_side_size(crop_size: int) -> int:
    """The evaluation resize target: int(crop_size · 256 / 224), 292 for 256 and 438 for 384."""
    return int(crop_size * 256 / 224)


def to_channels_first(frames: torch.Tensor) -> torch.Tensor:
    """[..., H, W, C] → [..., C, H, W] as a view (no copy)."""
    return frames.movedim(-1, -3)


def _interpolate(frames: torch.Tensor, size: tuple[int, int], antialias: bool) -> torch.Tensor:
    """Bilinear resize of [..., C, H, W]; uint8 stays uint8 (rounded), float stays float."""
    lead = frames.shape[:-3]
    flat = frames.reshape(-1, *frames.shape[-3:])
    if frames.dtype == torch.uint8 and frames.device.type != "cpu":
        # torch's exact uint8 kernel is CPU-only; elsewhere round a float resize (within 1 level).
        out = F.interpolate(
            flat.float(), size=size, mode="bilinear", align_corners=False, antialias=antialias
        )
        out = out.round_().clamp_(0, 255).to(torch.uint8)
    else:
        out = F.interpolate(
            flat, size=size, mode="bilinear", align_corners=False, antialias=antialias
        )
    return out.reshape(*lead, *out.shape[-3:])


def resize_short_side(frames: torch.Tensor, size: int, antialias: bool = True) -> torch.Tensor:
    """Resize [..., C, H, W] so the shorter side is `size`; the longer is int(size · long/short)."""
    height, width = frames.shape[-2:]
    if height <= width:
        new = (size, int(size * width / height))
    else:
        new = (int(size * height / width), size)
    if new == (height, width):
        return frames
    return _interpolate(frames, new, antialias)


def center_crop(frames: torch.Tensor, size: int) -> torch.Tensor:
    """The central size × size window of [..., C, H, W], at top int((H - size) / 2) and left
    int((W - size) / 2), as transformers (not torchvision's rounding)."""
    height, width = frames.shape[-2:]
    if height < size or width < size:
        raise ValueError(f"cannot crop {size}x{size} from {height}x{width} frames")
    top, left = int((height - size) / 2), int((width - size) / 2)
    return frames[..., top : top + size, left : left + size]


def normalize(frames: torch.Tensor) -> torch.Tensor:
    """ImageNet normalisation of [..., 3, H, W] pixel values in 0..255 → float32 (fused /255)."""
    mean = (IMAGENET_MEAN * 255.0).to(frames.device)[:, None, None]
    std = (IMAGENET_STD * 255.0).to(frames.device)[:, None, None]
    return (frames.to(torch.float32) - mean) / std


def preprocess(frames: torch.Tensor, crop_size: int = 256) -> torch.Tensor:
    """The single-view evaluation transform, equal to transformers' VJEPA2VideoProcessor.

    frames: uint8 [..., H, W, 3] (e.g. [T, H, W, 3] from `read_video`, or [B, T, H, W, 3]).
    Returns float32 [..., 3, crop_size, crop_size].
    """
    if frames.dtype != torch.uint8 or frames.shape[-1] != 3:
        raise TypeError(f"expected uint8 [..., H, W, 3] frames, got {frames.dtype} {frames.shape}")
    resized = resize_short_side(to_channels_first(frames), short_side_size(crop_size))
    return normalize(center_crop(resized, crop_size)).contiguous()


def spatial_views(frames: torch.Tensor, crop_size: int = 256, num_views: int = 3) -> torch.Tensor:
    """The multi-view evaluation transform (3 views in the original protocol).

    Shorter side resized to crop_size (no 256/224 factor), then num_views crop × crop windows
    along the longer side at offsets i · ((long - crop) // (num_views - 1)), normalised.
    frames: uint8 [T, H, W, 3] → float32 [num_views, T, 3, crop, crop].
    """
    if frames.dtype != torch.uint8 or frames.shape[-1] != 3:
        raise TypeError(f"expected uint8 [T, H, W, 3] frames, got {frames.dtype} {frames.shape}")
    resized = resize_short_side(to_channels_first(frames), crop_size)
    height, width = resized.shape[-2:]
    slack = max(height, width) - crop_size
    step = slack // (num_views - 1) if num_views > 1 else 0
    offsets = [i * step for i in range(num_views)] if num_views > 1 else [slack // 2]
    views = [
        resized[..., :, o : o + crop_size]
        if width >= height
        else resized[..., o : o + crop_size, :]
        for o in offsets
    ]
    return normalize(torch.stack(views)).contiguous()


def random_resized_crop_box(
    height: int,
    width: int,
    scale: tuple[float, float] = (0.3, 1.0),
    ratio: tuple[float, float] = (0.75, 1.35),
    generator: torch.Generator | None = None,
    attempts: int = 10,
) -> tuple[int, int, int, int]:
    """A random (top, left, h, w) covering `scale` of the area with aspect w/h in `ratio`.

    Area fraction uniform in scale, aspect log-uniform in ratio; after `attempts` boxes that do
    not fit, the largest centred box whose aspect is clamped into `ratio`.
    """
    area = height * width
    log_ratio = (math.log(ratio[0]), math.log(ratio[1]))
    for _ in range(attempts):
        target = area * torch.empty(1).uniform_(*scale, generator=generator).item()
        aspect = math.exp(torch.empty(1).uniform_(*log_ratio, generator=generator).item())
        w = round(math.sqrt(target * aspect))
        h = round(math.sqrt(target / aspect))
        if 0 < w <= width and 0 < h <= height:
            top = int(torch.randint(0, height - h + 1, (1,), generator=generator))
            left = int(torch.randint(0, width - w + 1, (1,), generator=generator))
            return top, left, h, w
    aspect = width / height
    if aspect < ratio[0]:
        w, h = width, round(width / ratio[0])
    elif aspect > ratio[1]:
        w, h = round(height * ratio[1]), height
    else:
        w, h = width, height
    return (height - h) // 2, (width - w) // 2, h, w


def random_resized_crop(
    frames: torch.Tensor,
    size: int,
    scale: tuple[float, float] = (0.3, 1.0),
    ratio: tuple[float, float] = (0.75, 1.35),
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """One random box for the whole clip, resized to size × size (bilinear, align_corners=False).

    frames: [..., C, H, W] in 0..255 → float32 [..., C, size, size], as the pretraining recipe.
    """
    top, left, h, w = random_resized_crop_box(*frames.shape[-2:], scale, ratio, generator)
    box = frames[..., top : top + h, left : left + w].to(torch.float32)
    return _interpolate(box, (size, size), antialias=False)


def horizontal_flip(
    frames: torch.Tensor, p: float = 0.5, generator: torch.Generator | None = None
) -> torch.Tensor:
    """Mirror the whole clip [..., C, H, W] left-right with probability p."""
    if torch.rand(1, generator=generator).item() < p:
        return frames.flip(-1)
    return frames


@dataclass(frozen=True)
class EvalTransform:
    """Evaluation preprocessing a model carries with it.

    num_views 1: `preprocess`, uint8 [T, H, W, 3] → float32 [T, 3, crop, crop].
    num_views > 1: `spatial_views` → float32 [num_views, T, 3, crop, crop].
    """

    crop_size: int = 256
    num_views: int = 1

    def __call__(self, frames: torch.Tensor) -> torch.Tensor:
        if self.num_views == 1:
            return preprocess(frames, self.crop_size)
        return spatial_views(frames, self.crop_size, self.num_views)


@dataclass(frozen=True)
class TrainTransform:
    """The pretraining augmentation: random resized crop, horizontal flip, normalisation.

    uint8 [T, H, W, 3] → float32 [T, 3, crop, crop]; pass a seeded torch.Generator to repeat it.
    """

    crop_size: int = 256
    scale: tuple[float, float] = (0.3, 1.0)
    ratio: tuple[float, float] = (0.75, 1.35)
    flip_p: float = 0.5

    def __call__(
        self, frames: torch.Tensor, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        clip = to_channels_first(frames)
        clip = random_resized_crop(clip, self.crop_size, self.scale, self.ratio, generator)
        clip = horizontal_flip(clip, self.flip_p, generator)
        return normalize(clip).contiguous()


__all__ = [
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "EvalTransform",
    "TrainTransform",
    "center_crop",
    "horizontal_flip",
    "normalize",
    "preprocess",
    "random_resized_crop",
    "random_resized_crop_box",
    "resize_short_side",
    "short_side_size",
    "spatial_views",
    "to_channels_first",
]
