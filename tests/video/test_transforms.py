"""Transforms: parity with transformers' VJEPA2VideoProcessor fixtures, views, augmentations."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from tests.conftest import FIXTURES
from vjepa2.video.transforms import (
    EvalTransform,
    TrainTransform,
    center_crop,
    horizontal_flip,
    normalize,
    preprocess,
    random_resized_crop,
    random_resized_crop_box,
    resize_short_side,
    short_side_size,
    spatial_views,
)

ONE_GRAY_LEVEL = 0.0175  # 1/255 over the smallest ImageNet std, rounded up
PROCESSOR_FIXTURES = sorted((FIXTURES / "processor").glob("*.pt"))


@pytest.mark.parametrize("path", PROCESSOR_FIXTURES, ids=lambda p: p.stem)
def test_preprocess_matches_the_transformers_processor(path, record_property, capsys):
    case = torch.load(path, weights_only=True)
    expected = case["expected_btchw"][0]
    out = preprocess(case["frames_thwc"], case["crop_size"])
    assert out.shape == expected.shape and out.dtype == torch.float32
    max_error = (out - expected).abs().max().item()
    exact = (out == expected).float().mean().item()
    record_property("parity", json.dumps({"max_abs_error": max_error, "exact_share": exact}))
    with capsys.disabled():
        print(f"\n{path.stem}: max abs error {max_error:.6f}, exactly equal {exact:.2%}")
    assert max_error <= ONE_GRAY_LEVEL


def _pattern_frames() -> torch.Tensor:
    """uint8 [3, 150, 200, 3] with detail at every scale, from integer arithmetic alone."""
    t = torch.arange(3).view(3, 1, 1, 1)
    y = torch.arange(150).view(1, 150, 1, 1)
    x = torch.arange(200).view(1, 1, 200, 1)
    c = torch.arange(3).view(1, 1, 1, 3)
    return ((x * 7 + y * 13 + t * 29 + c * 85 + (x * y) // 5) % 256).to(torch.uint8)


def test_preprocess_matches_the_processor_when_shrinking(record_property):
    # The shared fixtures only enlarge; this one (tests/video/data, made by transformers'
    # VJEPA2VideoProcessor on torchvision's CPU kernels) shrinks 150 → 36, where antialiasing
    # decides the result.
    case = torch.load(
        Path(__file__).parent / "data" / "downscale_150x200_c32.pt", weights_only=True
    )
    out = preprocess(_pattern_frames(), case["crop_size"])
    expected = case["expected_btchw"][0]
    max_error = (out - expected).abs().max().item()
    exact = (out == expected).float().mean().item()
    record_property("parity", json.dumps({"max_abs_error": max_error, "exact_share": exact}))
    assert max_error <= ONE_GRAY_LEVEL


def test_processor_fixtures_are_present():
    if not PROCESSOR_FIXTURES:
        pytest.skip(f"no processor fixtures under {FIXTURES / 'processor'}")
    assert len(PROCESSOR_FIXTURES) >= 3


def test_preprocess_batches_over_leading_dims():
    frames = torch.randint(0, 256, (2, 3, 50, 70, 3), dtype=torch.uint8)
    batched = preprocess(frames, 32)
    assert batched.shape == (2, 3, 3, 32, 32) and batched.is_contiguous()
    assert torch.equal(batched[1], preprocess(frames[1], 32))
    with pytest.raises(TypeError, match="uint8"):
        preprocess(frames.float(), 32)


def test_downscaling_is_antialiased_and_within_a_gray_level_of_float_math():
    # A plain float antialiased resize, rounded, is the reference the uint8 kernel approximates.
    frames = torch.randint(0, 256, (2, 360, 640, 3), dtype=torch.uint8)
    ours = resize_short_side(frames.permute(0, 3, 1, 2), 146)
    assert ours.dtype == torch.uint8 and ours.shape == (2, 3, 146, 259)
    reference = F.interpolate(
        frames.permute(0, 3, 1, 2).float(), size=(146, 259), mode="bilinear", antialias=True
    )
    assert (ours.float() - reference).abs().max() <= 1.0


def test_sizes_and_crop_offsets():
    assert short_side_size(256) == 292 and short_side_size(384) == 438
    frames = torch.arange(10 * 7).reshape(1, 1, 10, 7)
    assert resize_short_side(frames, 7) is frames
    assert torch.equal(center_crop(frames, 4), frames[..., 3:7, 1:5])
    with pytest.raises(ValueError, match="cannot crop"):
        center_crop(frames, 8)


def test_normalize_is_imagenet_on_0_255_values():
    pixels = torch.tensor([0, 128, 255], dtype=torch.uint8).reshape(1, 3, 1, 1)
    out = normalize(pixels).flatten()
    expected = (torch.tensor([0, 128, 255]) / 255 - torch.tensor([0.485, 0.456, 0.406])) / (
        torch.tensor([0.229, 0.224, 0.225])
    )
    assert torch.allclose(out, expected, atol=1e-6)


@pytest.mark.parametrize(("height", "width"), [(48, 80), (80, 48), (40, 40)])
def test_three_spatial_views_slide_along_the_long_side(height, width):
    frames = torch.randint(0, 256, (4, height, width, 3), dtype=torch.uint8)
    views = spatial_views(frames, 32)
    assert views.shape == (3, 4, 3, 32, 32)
    resized = resize_short_side(frames.permute(0, 3, 1, 2), 32)
    slack = max(resized.shape[-2:]) - 32
    for i in range(3):
        offset = i * (slack // 2)
        if width >= height:
            window = resized[..., :, offset : offset + 32]
        else:
            window = resized[..., offset : offset + 32, :]
        assert torch.equal(views[i], normalize(window))


def test_eval_transform_object():
    frames = torch.randint(0, 256, (4, 48, 64, 3), dtype=torch.uint8)
    assert torch.equal(EvalTransform(32)(frames), preprocess(frames, 32))
    assert EvalTransform(32, num_views=3)(frames).shape == (3, 4, 3, 32, 32)
    assert EvalTransform(32) == EvalTransform(32)  # comparable, so a model can carry one


def test_random_resized_crop_boxes_respect_scale_and_ratio():
    generator = torch.Generator().manual_seed(0)
    for _ in range(200):
        top, left, h, w = random_resized_crop_box(120, 160, generator=generator)
        assert top >= 0 and top + h <= 120 and left >= 0 and left + w <= 160
        assert 0.3 * 0.9 <= h * w / (120 * 160) <= 1.0
        assert 0.75 * 0.95 <= w / h <= 1.35 * 1.05


def test_random_resized_crop_falls_back_to_a_centre_crop():
    box = random_resized_crop_box(100, 400, scale=(0.99, 1.0), ratio=(1.0, 1.0))
    assert box == (0, 150, 100, 100)  # no square box covers 99% of a 1:4 frame


def test_augmentations_repeat_under_a_seed_and_vary_without():
    frames = torch.randint(0, 256, (4, 60, 80, 3), dtype=torch.uint8)
    transform = TrainTransform(crop_size=32)
    first = transform(frames, torch.Generator().manual_seed(7))
    again = transform(frames, torch.Generator().manual_seed(7))
    other = transform(frames, torch.Generator().manual_seed(8))
    assert first.shape == (4, 3, 32, 32) and first.dtype == torch.float32
    assert torch.equal(first, again)
    assert not torch.equal(first, other)


def test_crop_and_flip_apply_to_the_whole_clip():
    frame = torch.randint(0, 256, (1, 3, 60, 80), dtype=torch.uint8)
    clip = frame.expand(5, -1, -1, -1)
    out = random_resized_crop(clip, 24, generator=torch.Generator().manual_seed(1))
    assert out.dtype == torch.float32 and out.shape == (5, 3, 24, 24)
    assert all(torch.equal(out[0], out[t]) for t in range(5))
    assert torch.equal(horizontal_flip(clip, p=1.0), clip.flip(-1))
    assert torch.equal(horizontal_flip(clip, p=0.0), clip)


def test_flip_probability_is_about_one_half():
    generator = torch.Generator().manual_seed(0)
    clip = torch.arange(4.0).reshape(1, 1, 1, 4)
    flips = sum(horizontal_flip(clip, 0.5, generator)[0, 0, 0, 0].item() == 3 for _ in range(400))
    assert 160 < flips < 240
