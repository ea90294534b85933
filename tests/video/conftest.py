"""Sample videos generated once per test session (per xdist worker) in a temporary folder."""

from __future__ import annotations

import pytest

from vjepa2.video.synthetic import make_broken_files, make_sample_videos, signature_frames
from vjepa2.video.writer import encode_image

NUM_FRAMES = 40


@pytest.fixture(scope="session")
def samples(tmp_path_factory):
    """{name: SampleVideo} for every codec/container the installed FFmpeg can encode."""
    return make_sample_videos(tmp_path_factory.mktemp("videos"), num_frames=NUM_FRAMES)


@pytest.fixture(scope="session")
def broken(tmp_path_factory, samples):
    return make_broken_files(tmp_path_factory.mktemp("broken"), samples["h264_mp4"].path)


@pytest.fixture(scope="session")
def images(tmp_path_factory):
    """A PNG and a JPEG of signature frame 5, and the frame itself."""
    folder = tmp_path_factory.mktemp("images")
    frame = signature_frames(1, 61, 97, start=5)[0]
    return {
        "png": encode_image(folder / "frame.png", frame),
        "jpg": encode_image(folder / "frame.jpg", frame),
        "frame": frame,
    }
