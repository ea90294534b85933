"""Multiblock 3D masks for V-JEPA pretraining.

On the token grid (T', Hp, Wp) = (T / tubelet, H / patch, W / patch), each mask configuration
draws one block shape per batch and places ``num_blocks`` boxes of that shape at random in every
sample; the union of the boxes is the *target* (what the predictor must fill in) and its
complement the *context* (what the context encoder sees). The recipe uses two configurations per
clip: short-range (8 small blocks, 15 % of the frame each) and long-range (2 large blocks, 70 %),
both spanning the whole clip in time, so the context is a set of tubes through time.

Indices are flat positions in (t, h, w) order, n = t·Hp·Wp + h·Wp + w, sorted. Sample sizes differ,
so every list is truncated to the batch's smallest (dropping its last, latest-in-time entries), as
the original does; the returned tensors are therefore ``[B, K]`` with one K per batch.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

MAX_TRIES = 100
ANCHORS = ("any", "end", "start")  # where a mask's time block sits: anywhere, at the end, start


@dataclass(frozen=True)
class MaskConfig:
    """One multiblock mask generator.

    Attributes:
        num_blocks: boxes placed per sample (their union is the target).
        spatial_scale: (min, max) fraction of Hp·Wp one box covers.
        temporal_scale: (min, max) fraction of T' one box spans.
        aspect_ratio: (min, max) of a box's height / width.
        anchor: where a box shorter than the clip sits in time: ``"any"`` (at random, the
            original's), ``"end"`` (the last time steps: predict the future from the past) or
            ``"start"`` (the first: predict the past from the future).
    """

    num_blocks: int
    spatial_scale: tuple[float, float]
    temporal_scale: tuple[float, float] = (1.0, 1.0)
    aspect_ratio: tuple[float, float] = (0.75, 1.5)
    anchor: str = "any"

    @classmethod
    def parse(cls, text: str) -> MaskConfig:
        """``BLOCKS:SPATIAL[:TEMPORAL[:ANCHOR]]``, e.g. ``8:0.15`` (short-range), ``2:0.7``
        (long-range), ``1:1.0:0.5`` (the whole frame for half of the clip: predict a stretch of
        time) or ``1:1:0.5:end`` (predict the second half from the first). Each scale is a
        fraction, or a ``low-high`` range of fractions; ANCHOR is ``any``, ``end`` or ``start``."""
        parts = text.split(":")
        try:
            if len(parts) not in (2, 3, 4):
                raise ValueError("expected 2 to 4 fields")
            blocks = int(parts[0])
            scales = [_fraction_range(p) for p in parts[1:3]]
            anchor = parts[3] if len(parts) == 4 else "any"
            if blocks < 1:
                raise ValueError("BLOCKS must be at least 1")
            if anchor not in ANCHORS:
                raise ValueError(f"ANCHOR must be one of {', '.join(ANCHORS)}")
        except ValueError as err:
            raise ValueError(
                f"mask {text!r}: {err} (BLOCKS:SPATIAL[:TEMPORAL[:ANCHOR]], e.g. 8:0.15)"
            ) from None
        temporal = scales[1] if len(scales) > 1 else (1.0, 1.0)
        return cls(blocks, scales[0], temporal, anchor=anchor)

    def spec(self) -> str:
        """The ``parse`` text of this configuration."""
        fields = [str(self.num_blocks), _range_text(self.spatial_scale)]
        if self.temporal_scale != (1.0, 1.0) or self.anchor != "any":
            fields.append(_range_text(self.temporal_scale))
        if self.anchor != "any":
            fields.append(self.anchor)
        return ":".join(fields)


def _fraction_range(text: str) -> tuple[float, float]:
    low, _, high = text.partition("-")
    pair = (float(low), float(high or low))
    if not 0 < pair[0] <= pair[1] <= 1:
        raise ValueError(f"{text!r} is not a fraction (or range of fractions) in (0, 1]")
    return pair


def _range_text(pair: tuple[float, float]) -> str:
    return f"{pair[0]:g}" if pair[0] == pair[1] else f"{pair[0]:g}-{pair[1]:g}"


SHORT_RANGE = MaskConfig(num_blocks=8, spatial_scale=(0.15, 0.15))
LONG_RANGE = MaskConfig(num_blocks=2, spatial_scale=(0.7, 0.7))
DEFAULT_MASKS: tuple[MaskConfig, ...] = (SHORT_RANGE, LONG_RANGE)


def _uniform(low_high: tuple[float, float], generator: torch.Generator) -> float:
    low, high = low_high
    return low + (high - low) * torch.rand(1, generator=generator).item()


def block_shape(
    config: MaskConfig, grid: tuple[int, int, int], generator: torch.Generator
) -> tuple[int, int, int]:
    """The (t, h, w) size of this batch's boxes, each at least 1 and at most the grid."""
    duration, height, width = grid
    t = max(1, int(duration * _uniform(config.temporal_scale, generator)))
    keep = int(height * width * _uniform(config.spatial_scale, generator))
    aspect = _uniform(config.aspect_ratio, generator)
    if keep >= height * width:  # ours: a box the frame's area is the frame, at any aspect
        return min(t, duration), height, width
    h = round(math.sqrt(keep * aspect))
    w = round(math.sqrt(keep / aspect))
    return min(t, duration), min(max(h, 1), height), min(max(w, 1), width)


def _covered(
    shape: tuple[int, int, int],
    num_blocks: int,
    grid: tuple[int, int, int],
    generator: torch.Generator,
    anchor: str = "any",
) -> torch.Tensor:
    """Boolean [T', Hp, Wp]: the union of ``num_blocks`` boxes of ``shape`` at random places
    (in time at ``anchor``: anywhere, or flush with the clip's end or start)."""
    covered = torch.zeros(grid, dtype=torch.bool)
    starts = [
        torch.randint(0, g - s + 1, (num_blocks,), generator=generator)
        for g, s in zip(grid, shape, strict=True)
    ]
    if anchor != "any":
        starts[0] = torch.full_like(starts[0], grid[0] - shape[0] if anchor == "end" else 0)
    t, h, w = shape
    for t0, top, left in zip(*(s.tolist() for s in starts), strict=True):
        covered[t0 : t0 + t, top : top + h, left : left + w] = True
    return covered


def sample_masks(
    batch_size: int,
    grid: tuple[int, int, int],
    configs: tuple[MaskConfig, ...] = DEFAULT_MASKS,
    generator: torch.Generator | None = None,
) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Context and target indices for a batch, one pair per mask configuration.

    Args:
        batch_size: B.
        grid: the token grid (T', Hp, Wp).
        configs: the mask generators (default: short-range and long-range).
        generator: the torch generator all draws come from (seed it to repeat a batch).

    Returns:
        ``[(context_idx [B, Kc], target_idx [B, Kt]), ...]`` LongTensors, disjoint per sample,
        together covering the grid unless truncated.
    """
    generator = generator if generator is not None else torch.Generator().manual_seed(0)
    pairs = []
    for config in configs:
        shape = block_shape(config, grid, generator)
        contexts, targets = [], []
        for _ in range(batch_size):
            for _ in range(MAX_TRIES):
                covered = _covered(
                    shape, config.num_blocks, grid, generator, config.anchor
                ).flatten()
                if not covered.all():
                    break
            else:
                raise ValueError(
                    f"{config} leaves no context on the {grid} grid in {MAX_TRIES} tries"
                )
            targets.append(covered.nonzero().squeeze(1))
            contexts.append((~covered).nonzero().squeeze(1))
        kc = min(len(c) for c in contexts)
        kt = min(len(t) for t in targets)
        pairs.append(
            (torch.stack([c[:kc] for c in contexts]), torch.stack([t[:kt] for t in targets]))
        )
    return pairs


def step_generator(seed: int, step: int, rank: int = 0) -> torch.Generator:
    """A generator for the masks of one training step on one process: the same (seed, step,
    rank) always gives the same masks, so a resumed run draws what the uninterrupted one did."""
    state = np.random.SeedSequence([seed, step, rank]).generate_state(2, dtype=np.uint32)
    return torch.Generator().manual_seed(int(state[0]) << 32 | int(state[1]))
