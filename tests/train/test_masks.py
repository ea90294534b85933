"""Multiblock 3D masks: sizes, disjointness, complement, equal K, determinism, block scales."""

from __future__ import annotations

import pytest
import torch

from vjepa2.train.masks import (
    DEFAULT_MASKS,
    LONG_RANGE,
    SHORT_RANGE,
    MaskConfig,
    block_shape,
    sample_masks,
    step_generator,
)

GRID = (8, 16, 16)  # 16 frames at 256 px


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def test_one_pair_per_config_with_equal_k_per_batch():
    pairs = sample_masks(6, GRID, DEFAULT_MASKS, _gen())
    assert len(pairs) == 2
    for context, target in pairs:
        assert context.dtype == target.dtype == torch.long
        assert context.shape[0] == target.shape[0] == 6
        assert context.dim() == target.dim() == 2
        assert context.shape[1] > 0 and target.shape[1] > 0


def test_context_and_target_are_disjoint_sorted_and_in_range():
    n = GRID[0] * GRID[1] * GRID[2]
    for context, target in sample_masks(5, GRID, DEFAULT_MASKS, _gen(1)):
        for c, t in zip(context, target, strict=True):
            assert not set(c.tolist()) & set(t.tolist())
            assert torch.all(c[1:] > c[:-1]) and torch.all(t[1:] > t[:-1])
            assert c.min() >= 0 and t.max() < n


def test_a_single_sample_is_an_exact_complement():
    n = GRID[0] * GRID[1] * GRID[2]
    for context, target in sample_masks(1, GRID, DEFAULT_MASKS, _gen(2)):
        union = torch.cat([context[0], target[0]]).sort().values
        assert torch.equal(union, torch.arange(n))


def test_same_generator_seed_same_masks_and_different_seed_differs():
    a = sample_masks(4, GRID, DEFAULT_MASKS, step_generator(0, 5))
    b = sample_masks(4, GRID, DEFAULT_MASKS, step_generator(0, 5))
    c = sample_masks(4, GRID, DEFAULT_MASKS, step_generator(0, 6))
    d = sample_masks(4, GRID, DEFAULT_MASKS, step_generator(0, 5, rank=1))
    for (ca, ta), (cb, tb) in zip(a, b, strict=True):
        assert torch.equal(ca, cb) and torch.equal(ta, tb)
    assert any(not torch.equal(x[1], y[1]) for x, y in zip(a, c, strict=True))
    assert any(not torch.equal(x[1], y[1]) for x, y in zip(a, d, strict=True))


def test_blocks_span_the_whole_clip_in_time():
    """Temporal scale 1: every target is a set of tubes, the same spatial cells in every frame."""
    t, h, w = GRID
    for _, target in sample_masks(3, GRID, DEFAULT_MASKS, _gen(4)):
        for row in target:
            cells = row.view(-1)
            per_frame = [set((cells[cells // (h * w) == f] % (h * w)).tolist()) for f in range(t)]
            # Truncation may only shorten the last frames.
            assert all(per_frame[f] >= per_frame[f + 1] for f in range(t - 1))
            assert per_frame[0] == per_frame[t // 2]


@pytest.mark.parametrize("config", [SHORT_RANGE, LONG_RANGE])
def test_block_scale_and_aspect(config: MaskConfig):
    t, h, w = GRID
    for seed in range(50):
        bt, bh, bw = block_shape(config, GRID, _gen(seed))
        assert bt == t
        keep = int(h * w * config.spatial_scale[0])
        assert abs(bh * bw - keep) <= bh + bw  # rounding of h and w
        assert 0.75 * 0.6 <= bh / bw <= 1.5 / 0.6


def test_short_range_covers_less_than_long_range():
    short = sample_masks(16, GRID, (SHORT_RANGE,), _gen(5))[0][1].shape[1]
    long = sample_masks(16, GRID, (LONG_RANGE,), _gen(5))[0][1].shape[1]
    assert short < long
    n = GRID[0] * GRID[1] * GRID[2]
    assert 0.3 * n < long < n  # two 70 % blocks: most of the clip, never all of it


def test_tiny_grid_resamples_until_context_is_left():
    """On a 4x4 grid long-range boxes can be 4x3: two of them may cover everything; those
    placements are redrawn, so every sample keeps some context."""
    for seed in range(20):
        for context, _ in sample_masks(8, (8, 4, 4), DEFAULT_MASKS, _gen(seed)):
            assert context.shape[1] > 0


def test_config_that_always_covers_the_grid_raises():
    with pytest.raises(ValueError, match="no context"):
        sample_masks(1, (2, 2, 2), (MaskConfig(1, (1.0, 1.0), aspect_ratio=(1.0, 1.0)),), _gen())


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("8:0.15", SHORT_RANGE),
        ("2:0.7", LONG_RANGE),
        ("1:1:0.5", MaskConfig(1, (1.0, 1.0), (0.5, 0.5))),
        ("3:0.1-0.3:0.25-1", MaskConfig(3, (0.1, 0.3), (0.25, 1.0))),
        ("1:1:0.5:end", MaskConfig(1, (1.0, 1.0), (0.5, 0.5), anchor="end")),
        ("2:0.5:1:start", MaskConfig(2, (0.5, 0.5), anchor="start")),
    ],
)
def test_parse_and_spec_round_trip(text: str, expected: MaskConfig):
    assert MaskConfig.parse(text) == expected
    assert MaskConfig.parse(expected.spec()) == expected


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("8", "2 to 4 fields"),
        ("8:0.1:0.5:end:1", "2 to 4 fields"),
        ("8:0.1:0.5:later", "ANCHOR must be one of any, end, start"),
        ("x:0.5", "invalid literal"),
        ("0:0.5", "at least 1"),
        ("2:0", "not a fraction"),
        ("2:1.5", "not a fraction"),
        ("2:0.7-0.3", "not a fraction"),
    ],
)
def test_parse_names_the_bad_mask(text: str, reason: str):
    with pytest.raises(ValueError, match=reason) as info:
        MaskConfig.parse(text)
    assert repr(text) in str(info.value)


def test_temporal_mask_hides_whole_frames_for_a_stretch_of_time():
    """``1:1:0.5``: the target is every token of half the time steps, contiguous; the context
    is every token of the other half."""
    grid = (8, 4, 4)
    ((context, target),) = sample_masks(6, grid, (MaskConfig.parse("1:1:0.5"),), _gen(3))
    assert context.shape == target.shape == (6, 64)
    for row in target:
        steps = torch.unique(row // 16)
        assert len(steps) == 4 and int(steps[-1] - steps[0]) == 3


@pytest.mark.parametrize("anchor", ["end", "start"])
def test_anchored_time_masks_cover_the_clip_end_or_start(anchor: str):
    """``1:1:0.5:end`` hides exactly the last half of the time steps (every place in them) in
    every sample, ``start`` the first half: the context is the other half. A spatial scale of 1
    is the whole frame whatever aspect ratio the batch draws (about 1 batch in 4 would otherwise
    round to a 4 x 3 box on this grid)."""
    grid = (8, 4, 4)
    config = MaskConfig.parse(f"1:1:0.5:{anchor}")
    for seed in range(40):
        ((context, target),) = sample_masks(4, grid, (config,), _gen(seed))
        per_frame = grid[1] * grid[2]
        hidden = range(4, 8) if anchor == "end" else range(0, 4)
        expected = torch.tensor([t * per_frame + i for t in hidden for i in range(per_frame)])
        for row_context, row_target in zip(context, target, strict=True):
            assert torch.equal(row_target, expected)
            assert set(row_context.tolist()).isdisjoint(expected.tolist())
            assert len(row_context) == 4 * per_frame
