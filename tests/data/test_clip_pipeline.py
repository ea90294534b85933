"""The one file → clip-tensor path: spec limits, train/eval modes, strided videos read in parts,
and loaders whose results depend neither on the number of workers nor on the global RNG."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tests.conftest import tiny_config
from vjepa2.data import clip_pipeline, loader
from vjepa2.data.clip_pipeline import ClipSpec, ClipSpecError, read_clips
from vjepa2.data.loader import UnreadableVideo, iterate_clips
from vjepa2.data.manifest import Example
from vjepa2.data.pretrain_clips import TrainingClips, iterate_batches
from vjepa2.errors import UsageError, VJEPA2Error
from vjepa2.models.encoder import VJEPA2Encoder
from vjepa2.train.features import FeatureCache
from vjepa2.video import VideoDecodeError, read_video
from vjepa2.video.sampling import sliding_windows
from vjepa2.video.synthetic import signature_frames
from vjepa2.video.transforms import EvalTransform, TrainTransform
from vjepa2.video.writer import encode_video


@pytest.fixture(scope="module")
def videos(tmp_path_factory):
    root = tmp_path_factory.mktemp("pipeline")
    paths = [
        encode_video(root / f"v{i}.mp4", signature_frames(20 + 7 * i, 64, 80, start=i), fps=10)
        for i in range(4)
    ]
    broken = root / "broken.mp4"
    broken.write_text("not a video")
    return [*paths, broken]


def test_spec_refuses_sizes_out_of_range():
    with pytest.raises(ClipSpecError, match="frames must be <= 1024, got 100000"):
        ClipSpec(frames=100000)
    with pytest.raises(ClipSpecError, match="frames must be >= 1"):
        ClipSpec.for_model(tiny_config(), frames=0)  # not the checkpoint's default
    with pytest.raises(ClipSpecError, match="fps must be > 0"):
        ClipSpec(fps=0)
    assert issubclass(ClipSpecError, UsageError) and issubclass(ClipSpecError, ValueError)


def test_unreadable_file_is_one_error_type(videos):
    with pytest.raises(VideoDecodeError) as caught:
        read_clips(videos[-1], ClipSpec(frames=4, crop_size=32))
    assert isinstance(caught.value, VJEPA2Error)
    items = list(iterate_clips(videos[-2:], ClipSpec(frames=4, crop_size=32)))
    assert isinstance(items[1], UnreadableVideo) and "broken.mp4" in items[1].reason


def test_eval_mode_is_the_eval_transform_of_the_sampled_frames(videos):
    spec = ClipSpec(frames=4, frame_step=2, segments=2, views=3, crop_size=32)
    clips = read_clips(videos[0], spec)
    assert clips.pixels.shape == (2, 3, 4, 3, 32, 32)
    frames = read_video(videos[0], indices=clips.indices[1])[0]
    torch.testing.assert_close(clips.pixels[1], EvalTransform(32, 3)(frames), rtol=0, atol=0)


def test_train_mode_is_a_function_of_the_generator(videos):
    spec = ClipSpec(frames=4, fps=5, crop_size=32, random_start=True, augment=TrainTransform(32))
    a = read_clips(videos[3], spec, generator=loader.seeded_generator(0, 1, 2))
    b = read_clips(videos[3], spec, generator=loader.seeded_generator(0, 1, 2))
    c = read_clips(videos[3], spec, generator=loader.seeded_generator(0, 2, 2))
    assert torch.equal(a.pixels, b.pixels) and not torch.equal(a.pixels, c.pixels)
    assert np.all(np.diff(a.indices[0]) == 2)  # 10 fps sampled at 5 fps


def test_strided_video_comes_in_bounded_parts_lazily(videos, monkeypatch):
    spec = ClipSpec(frames=4, crop_size=32, stride=1)
    reads = []
    original = clip_pipeline.read_clips

    def counting(*args, **kwargs):
        reads.append(kwargs.get("select"))
        return original(*args, **kwargs)

    monkeypatch.setattr(loader, "read_clips", counting)
    items = iterate_clips([videos[3]], spec, max_clips=8)  # 41 frames: 38 windows
    first = next(items)
    assert len(reads) == 1 and first.pixels.shape[0] == 8 and (first.part, first.parts) == (0, 5)
    rest = list(items)
    assert [p.pixels.shape[0] for p in rest] == [8, 8, 8, 6] and len(reads) == 5
    expected = sliding_windows(41, 4, 1, fps=10)
    joined = np.concatenate([first.indices, *[p.indices for p in rest]])
    np.testing.assert_array_equal(joined, np.stack([w.indices for w in expected]))


def test_clip_draws_do_not_depend_on_workers_or_touch_the_global_rng(videos):
    data = TrainingClips(videos, TrainTransform(crop_size=32), frames_per_clip=4, seed=3)
    batches = [[(0, 0), (0, 1)], [(0, 2), (0, 4)], [(1, 3), (1, 0)]]
    torch.manual_seed(0)
    state = torch.random.get_rng_state()
    inline = list(iterate_batches(data, batches, workers=0))
    assert torch.equal(torch.random.get_rng_state(), state)
    parallel = list(iterate_batches(data, batches, workers=2))
    assert torch.equal(torch.random.get_rng_state(), state)
    for (a, skipped_a), (b, skipped_b) in zip(inline, parallel, strict=True):
        assert torch.equal(a, b) and skipped_a == skipped_b
    assert [s.path for s in inline[1][1]] == [str(videos[-1])]


def test_feature_cache_is_the_same_for_0_and_2_workers(videos, tmp_path):
    torch.manual_seed(0)
    encoder = VJEPA2Encoder(tiny_config()).eval()
    examples = [Example(p, i % 2) for i, p in enumerate(videos)]
    spec = ClipSpec(frames=4, segments=2, crop_size=64)
    caches = []
    for workers in (0, 2):
        state = torch.random.get_rng_state()
        cache = FeatureCache.build(
            tmp_path / str(workers), encoder, examples, spec, workers=workers, batch_size=3,
            storage="fp32", progress=False,
        )  # fmt: skip
        assert torch.equal(torch.random.get_rng_state(), state)  # the probe's init is untouched
        caches.append(cache)
    assert list(caches[0].valid_rows) == list(caches[1].valid_rows) == [0, 1, 2, 3]
    assert np.array_equal(np.asarray(caches[0].tokens), np.asarray(caches[1].tokens))
