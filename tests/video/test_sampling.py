"""Frame sampling: explicit clips, fps, the evaluation protocol, windows, padding."""

from __future__ import annotations

import numpy as np
import pytest

from vjepa2.video.sampling import (
    clip_indices,
    fps_frame_step,
    fps_indices,
    pad_indices,
    parse_indices,
    sample_clips,
    segment_indices,
    sliding_windows,
    static_indices,
    uniform_indices,
)


def test_the_demo_clips():
    assert np.array_equal(clip_indices(300, 64), np.arange(0, 64))
    assert np.array_equal(clip_indices(300, 64, frame_step=2), np.arange(0, 128, 2))
    assert clip_indices(300, 64).dtype == np.int64


def test_parse_indices():
    assert np.array_equal(parse_indices("0:128:2"), np.arange(0, 128, 2))
    assert np.array_equal(parse_indices(":64"), np.arange(64))
    assert np.array_equal(parse_indices("3, 1,4"), [3, 1, 4])
    with pytest.raises(ValueError):
        parse_indices("1:2:3:4")


def test_short_videos_are_padded_with_their_last_frame():
    assert clip_indices(10, 8, frame_step=2).tolist() == [0, 2, 4, 6, 8, 9, 9, 9]
    assert clip_indices(10, 4, start=8).tolist() == [8, 9, 9, 9]
    assert pad_indices([0, 5, 20], 6).tolist() == [0, 5, 5]


def test_uniform_spreads_from_first_to_last_frame():
    assert uniform_indices(100, 5).tolist() == [0, 25, 50, 74, 99]
    assert uniform_indices(3, 5).tolist() == [0, 0, 1, 2, 2]
    assert uniform_indices(1, 4).tolist() == [0, 0, 0, 0]


def test_fps_frame_step_follows_pretraining():
    assert fps_frame_step(30) == 7  # ceil(30) // 4
    assert fps_frame_step(29.97) == 7
    assert fps_frame_step(25) == 6
    assert fps_frame_step(60, 8) == 7
    assert fps_frame_step(2) == 1
    assert fps_indices(1000, 30, 4).tolist() == [0, 7, 14, 21]
    with pytest.raises(ValueError):
        fps_frame_step(0)


def test_segments_long_video_follow_the_original_linspace():
    clips = segment_indices(300, frames_per_clip=4, frame_step=2, num_segments=3)
    # clip_len 8 < partition 100: linspace(0, 8, 4) = 0, 2.67, 5.33, 8 → clip to 7 → int
    assert clips.tolist() == [[0, 2, 5, 7], [100, 102, 105, 107], [200, 202, 205, 207]]


def test_segments_when_partitions_are_shorter_than_a_clip():
    clips = segment_indices(40, frames_per_clip=16, frame_step=2, num_segments=2)
    # clip_len 32 > partition 20: 31 // 2 = 15 points over [0, 31], padded with 31, clipped
    # to 30, then shifted by (40 - 32) // 1 = 8 for the second segment.
    first = np.clip(np.concatenate([np.linspace(0, 31, 15), [31]]), 0, 30).astype(np.int64)
    assert clips.tolist() == [first.tolist(), (first + 8).tolist()]


def test_segments_of_a_video_shorter_than_a_clip_are_identical_and_padded():
    clips = segment_indices(10, frames_per_clip=16, frame_step=4, num_segments=2)
    assert np.array_equal(clips[0], clips[1])
    assert clips.max() <= 8 and clips.shape == (2, 16)
    assert segment_indices(1, 8, 2, 3).tolist() == [[0] * 8] * 3  # the original would give -1


def test_sample_clips_dispatch():
    assert sample_clips(100, 4, 2).tolist() == [[0, 2, 4, 6]]
    assert sample_clips(100, 4, target_fps=4, video_fps=30).tolist() == [[0, 7, 14, 21]]
    assert np.array_equal(sample_clips(300, 4, 2, num_segments=3), segment_indices(300, 4, 2, 3))
    with pytest.raises(ValueError, match="video_fps"):
        sample_clips(100, 4, target_fps=4)
    with pytest.raises(ValueError, match="frames_per_clip"):
        sample_clips(100, 0)


def test_sliding_windows_cover_the_video():
    windows = sliding_windows(100, window=16, stride=16, fps=10)
    assert [int(w.indices[0]) for w in windows] == [0, 16, 32, 48, 64, 80, 96]
    assert windows[0].start_time == 0 and windows[0].end_time == pytest.approx(1.6)
    last = windows[-1]
    assert last.indices.tolist() == [96, 97, 98, 99] + [99] * 12
    assert last.num_padded == 12 and last.end_time == pytest.approx(10.0)


def test_sliding_windows_exact_fit_and_short_video():
    windows = sliding_windows(48, window=16, stride=16, fps=8)
    assert len(windows) == 3 and all(w.num_padded == 0 for w in windows)
    (short,) = sliding_windows(5, window=8, stride=4, frame_step=2, fps=5)
    assert short.indices.tolist() == [0, 2, 4, 4, 4, 4, 4, 4] and short.num_padded == 5


def test_sliding_windows_with_variable_frame_times():
    times = np.array([0.0, 0.1, 0.5, 0.6, 1.5, 1.6])
    windows = sliding_windows(6, window=2, stride=2, frame_times=times)
    spans = np.array([(w.start_time, w.end_time) for w in windows])
    assert np.allclose(spans, [(0.0, 0.5), (0.5, 1.5), (1.5, 1.7)])
    with pytest.raises(ValueError, match="fps or frame_times"):
        sliding_windows(6, window=2, stride=2)


def test_an_image_is_a_static_clip():
    assert static_indices(16).tolist() == [0] * 16
