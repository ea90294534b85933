"""read_video / video_info over every generated file: right frames, metadata, seeking, bad input."""

from __future__ import annotations

import os
import pickle
import warnings
from concurrent.futures import ThreadPoolExecutor

import av
import numpy as np
import pytest
import torch

from vjepa2.video import (
    VideoDecodeError,
    VideoDecodeWarning,
    frame_times,
    read_image,
    read_video,
    video_info,
    writer,
)
from vjepa2.video import decode as decode_module
from vjepa2.video.synthetic import (
    CORRUPT_FRAMES,
    make_sample_videos,
    read_colour_row,
    read_signature,
)
from vjepa2.video.writer import encoder_available

NUM_FRAMES = 40  # every sample in conftest.py has 40 frames

SAMPLE_NAMES = [
    "h264_mp4",
    "h264_ts",
    "h264_raw",
    "hevc_mkv",
    "vp9_webm",
    "mpeg4_avi",
    "mpeg4_bframes_avi",
    "mjpeg_avi",
    "gif",
    "h264_10bit_mp4",
    "h264_yuv444_mkv",
    "hevc_10bit_mkv",
    "ffv1_gray_mkv",
    "png_rgba_mov",
    "av1_mkv",
    "odd_97x61_mp4",
    "odd_97x61_webm",
    "rotated90_mp4",
    "rotated270_mp4",
    "audio_mp4",
    "vfr_mp4",
    "vfr_mkv",
]


@pytest.fixture(params=SAMPLE_NAMES)
def sample(request, samples):
    if request.param not in samples:
        pytest.skip(f"this FFmpeg build cannot encode {request.param}")
    return samples[request.param]


def signatures(frames: torch.Tensor) -> list[int]:
    return read_signature(frames).tolist()


def test_every_container_in_the_brief_is_generated(samples):
    required = ["h264_mp4", "hevc_mkv", "vp9_webm", "mpeg4_avi", "mjpeg_avi", "gif"]
    missing = [name for name in required if name not in samples]
    assert not missing, f"the PyAV wheel lacks encoders for {missing}"


def test_full_decode_returns_every_frame_upright(sample):
    frames, _ = read_video(sample.path)
    assert frames.dtype == torch.uint8
    assert frames.shape == sample.frames.shape
    assert signatures(frames) == list(range(NUM_FRAMES))
    if sample.colour:
        error = (frames.float() - sample.frames.float()).abs().mean().item()
        assert error < (0.5 if sample.lossless else 4.0)
        red, green, blue, white = read_colour_row(frames[0]).tolist()
        assert red[0] > 200 and max(red[1:]) < 60
        assert green[1] > 200 and max(green[0], green[2]) < 60
        assert blue[2] > 200 and max(blue[:2]) < 60
        assert min(white) > 200


def test_metadata(sample):
    info = video_info(sample.path)
    _, read_info = read_video(sample.path, indices=[0])
    height, width = sample.frames.shape[1:3]
    for found in (info, read_info):
        assert found.path == os.fspath(sample.path)
        assert found.num_frames == NUM_FRAMES
        assert (found.width, found.height) == (width, height)
        assert found.rotation == sample.rotation
        assert found.has_audio == sample.has_audio
        assert found.codec and found.container and found.pix_fmt
        if not sample.timed:
            assert found.fps > 0 and found.duration > 0
        elif sample.name.startswith("vfr"):  # the last frame's duration is the muxer's guess
            assert found.duration == pytest.approx(sample.pts[-1], abs=0.2)
        else:
            assert found.duration == pytest.approx(NUM_FRAMES / sample.fps, abs=0.05)
            assert found.fps == pytest.approx(sample.fps, rel=0.01)


def test_seeked_frames_equal_a_sequential_decode(sample):
    full, _ = read_video(sample.path)
    indices = np.random.default_rng(0).integers(0, NUM_FRAMES, size=12)
    indices = np.concatenate([indices, [NUM_FRAMES - 1, 0, indices[0], -1]])
    frames, _ = read_video(sample.path, indices=indices)
    assert signatures(frames) == (indices % NUM_FRAMES).tolist()
    assert torch.equal(frames, full[indices % NUM_FRAMES])


def test_timestamps_follow_presentation_times(sample):
    if not sample.timed:
        pytest.skip("a raw stream has no timestamps")
    pts = np.asarray(sample.pts)
    assert np.allclose(frame_times(sample.path), pts, atol=0.011)
    frames, _ = read_video(sample.path, timestamps=pts + 0.012)
    assert signatures(frames) == list(range(NUM_FRAMES))
    frames, _ = read_video(sample.path, timestamps=[0.0, pts[-1] + 10])
    assert signatures(frames) == [0, NUM_FRAMES - 1]


def test_variable_frame_rate_indices_follow_presentation_order(samples):
    sample = samples["vfr_mp4"]
    gaps = np.diff(frame_times(sample.path))
    assert gaps.max() > 2.5 * gaps.min()  # really variable
    middle = (np.asarray(sample.pts[10:20]) + np.asarray(sample.pts[11:21])) / 2
    frames, _ = read_video(sample.path, timestamps=middle)
    assert signatures(frames) == list(range(10, 20))


@pytest.mark.parametrize("name", ["h264_mp4", "hevc_mkv", "mpeg4_avi"])
def test_reads_seek_instead_of_decoding_from_the_start(samples, name):
    path = os.fspath(samples[name].path)
    with decode_module._Decoder(path, 1) as decoder:
        table = decoder.frame_table()
        assert len(table.keyframes) > 2
        rgb, missing, _ = decode_module._decode_frames(decoder, table, np.array([37, 38]))
        assert sorted(rgb) == [37, 38] and not missing
        assert decoder.decoded <= 20, f"decoded {decoder.decoded} frames for 2 near the end"


def test_far_apart_frames_seek_between_groups(samples):
    path = os.fspath(samples["h264_mp4"].path)
    with decode_module._Decoder(path, 1) as decoder:
        table = decoder.frame_table()
        rgb, _, _ = decode_module._decode_frames(decoder, table, np.array([1, 38]))
        assert decoder.decoded < 30
    assert sorted(rgb) == [1, 38]


def test_index_and_timestamp_arguments(samples):
    path = samples["h264_mp4"].path
    empty, info = read_video(path, indices=[])
    assert empty.shape == (0, 64, 96, 3) and info.num_frames == NUM_FRAMES
    frames, _ = read_video(path, indices=torch.tensor([-1, -NUM_FRAMES]))
    assert signatures(frames) == [NUM_FRAMES - 1, 0]
    with pytest.raises(IndexError, match="out of range"):
        read_video(path, indices=[NUM_FRAMES])
    with pytest.raises(ValueError, match="not both"):
        read_video(path, indices=[0], timestamps=[0.0])
    with pytest.raises(ValueError, match=">= 0"):
        read_video(path, timestamps=[-1.0])


def test_thread_count_does_not_change_frames(samples):
    path = samples["hevc_mkv"].path
    single, _ = read_video(path, indices=[3, 30, 17], num_threads=1)
    auto, _ = read_video(path, indices=[3, 30, 17], num_threads=0)
    assert torch.equal(single, auto)


def test_images_are_static_clips(images):
    for kind in ("png", "jpg"):
        frames, info = read_image(images[kind], num_frames=16)
        assert frames.shape == (16, 61, 97, 3)
        assert signatures(frames) == [5] * 16
        assert info.num_frames == 1 and video_info(images[kind]).num_frames == 1
    png, _ = read_image(images["png"])
    assert torch.equal(png[0], images["frame"])


# ----------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("empty", "file is empty"),
        ("text", "not a media file"),
        ("directory", "is a directory"),
        ("audio_only", "audio only"),
        ("truncated_mp4", "not a media file"),
    ],
)
def test_unreadable_files_raise_a_typed_error_naming_path_and_reason(broken, name, reason):
    path = broken[name]
    for call in (read_video, video_info, frame_times):
        with pytest.raises(VideoDecodeError, match=reason) as caught:
            call(path)
        assert caught.value.path == os.fspath(path)
        assert os.fspath(path) in str(caught.value)


def test_missing_file(tmp_path):
    path = tmp_path / "nowhere.mp4"
    with pytest.raises(VideoDecodeError, match="file not found") as caught:
        read_video(path)
    assert str(path) in str(caught.value)
    assert isinstance(caught.value, OSError)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no named pipes here")
def test_named_pipes_are_refused_instead_of_blocking(tmp_path):
    fifo = tmp_path / "pipe.mp4"
    os.mkfifo(fifo)
    with pytest.raises(VideoDecodeError, match="not a regular file"):
        read_video(fifo)


def test_permission_denied(tmp_path, monkeypatch, samples):
    path = tmp_path / "locked.mp4"
    path.write_bytes(samples["h264_mp4"].path.read_bytes())

    def refuse(file, *args, **kwargs):
        raise av.error.PermissionError(13, "Permission denied", file)

    monkeypatch.setattr(decode_module.av, "open", refuse)
    with pytest.raises(VideoDecodeError, match="permission denied"):
        read_video(path)


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root reads any file")
def test_permission_denied_on_disk(tmp_path, samples):
    path = tmp_path / "locked.mp4"
    path.write_bytes(samples["h264_mp4"].path.read_bytes())
    path.chmod(0)
    with pytest.raises(VideoDecodeError, match="permission denied"):
        read_video(path)


def test_errors_survive_pickling_across_worker_processes(broken):
    with pytest.raises(VideoDecodeError) as caught:
        read_video(broken["text"])
    copy = pickle.loads(pickle.dumps(caught.value))
    assert (copy.path, copy.reason, str(copy)) == (
        caught.value.path,
        caught.value.reason,
        str(caught.value),
    )


def test_corrupt_packets_are_replaced_by_the_previous_good_frame(broken):
    with pytest.warns(VideoDecodeWarning, match=r"4 of 30 requested frames did not decode"):
        frames, info = read_video(broken["corrupt_packets"])
    expected = list(range(30))
    for bad in CORRUPT_FRAMES:
        expected[bad] = expected[bad - 1] if bad else 1  # frame 0 has no earlier: the next one
    assert info.num_frames == 30
    assert signatures(frames) == expected


def test_a_lone_corrupt_frame_falls_back_to_an_earlier_keyframe(broken):
    with pytest.warns(VideoDecodeWarning):
        frames, _ = read_video(broken["corrupt_packets"], indices=[6, 20, 0])
    assert signatures(frames) == [4, 20, 1]


def test_truncated_file_keeps_the_frames_that_survive(broken):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", VideoDecodeWarning)
        frames, info = read_video(broken["truncated_mkv"])
    assert 5 < info.num_frames < 30
    assert signatures(frames[:-1]) == list(range(info.num_frames - 1))


def test_absurd_frame_sizes_are_refused(samples, monkeypatch):
    monkeypatch.setattr(decode_module, "MAX_PIXELS", 1000)
    with pytest.raises(VideoDecodeError, match="exceeds"):
        read_video(samples["h264_mp4"].path)


# ----------------------------------------------------------------------------- concurrency


def test_concurrent_reads_from_threads(samples):
    names = [n for n in ("h264_mp4", "hevc_mkv", "vp9_webm", "mjpeg_avi") if n in samples]
    jobs = [(samples[n].path, [i, (i * 7) % NUM_FRAMES]) for n in names for i in range(6)]
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda job: read_video(job[0], indices=job[1])[0], jobs))
    for (_, indices), frames in zip(jobs, results, strict=True):
        assert signatures(frames) == indices


class _Clips(torch.utils.data.Dataset):
    def __init__(self, paths):
        self.paths = paths

    def __len__(self):
        return len(self.paths)

    def __getitem__(self, i):
        return read_video(self.paths[i], indices=[i, 2 * i], num_threads=1)[0]


def test_dataloader_workers(samples):
    paths = [samples[n].path for n in ("h264_mp4", "hevc_mkv", "vp9_webm", "mjpeg_avi")] * 2
    loader = torch.utils.data.DataLoader(_Clips(paths), batch_size=None, num_workers=2)
    for i, frames in enumerate(loader):
        assert signatures(frames) == [i, 2 * i]


# ----------------------------------------------------------------------------- backends


def test_unknown_backend():
    with pytest.raises(ValueError, match="unknown video backend"):
        read_video("any.mp4", backend="opencv")


def _installed(module: str) -> bool:
    try:
        __import__(module)
    except ImportError:
        return False
    return True


@pytest.mark.parametrize("backend", ["torchcodec", "decord"])
def test_missing_optional_backend_names_the_package(samples, backend):
    if _installed(backend):
        pytest.skip(f"{backend} is installed")
    with pytest.raises(ImportError, match=f"needs the '{backend}' package"):
        read_video(samples["h264_mp4"].path, indices=[0], backend=backend)


@pytest.mark.parametrize("backend", ["torchcodec", "decord"])
def test_optional_backends_return_the_same_frames(samples, backend):
    pytest.importorskip(backend)
    path = samples["rotated90_mp4"].path
    ours, _ = read_video(path, indices=[5, 1, 30])
    theirs, info = read_video(path, indices=[5, 1, 30], backend=backend)
    assert theirs.shape == ours.shape and info.num_frames == NUM_FRAMES
    assert signatures(theirs) == [5, 1, 30]
    by_time, _ = read_video(path, timestamps=[0.0, 0.5], backend=backend)
    assert signatures(by_time) == [0, 15]


def test_sample_generation_skips_missing_encoders(tmp_path, monkeypatch):
    monkeypatch.setattr(writer, "encoder_available", lambda codec: codec != "gif")
    made = make_sample_videos(tmp_path, num_frames=4, names=["gif", "mjpeg_avi"])
    assert list(made) == ["mjpeg_avi"]
    assert not encoder_available("no-such-codec")
