"""Video input: decode files to frames, choose which frames, turn them into model input.

file → `read_video` (uint8 [T, H, W, 3]) → `sampling` (which indices) → `transforms`
(float [T, 3, crop, crop], the layout `VJEPA2Model` takes per clip). Modules: `read` (the entry
point), `decode` (PyAV), `backends` (torchcodec, decord), `positions` (requested frames →
positions), `sampling`, `transforms`, `writer` (frames → a file) and `synthetic` (test signals).
"""

from vjepa2.video.backends import BACKENDS
from vjepa2.video.decode import (
    VideoDecodeError,
    VideoDecodeWarning,
    VideoInfo,
    frame_times,
    video_info,
)
from vjepa2.video.read import read_image, read_video
from vjepa2.video.sampling import (
    Window,
    clip_indices,
    fps_frame_step,
    sample_clips,
    segment_indices,
    sliding_windows,
    uniform_indices,
)
from vjepa2.video.transforms import EvalTransform, TrainTransform, preprocess, spatial_views

__all__ = [
    "BACKENDS",
    "EvalTransform",
    "TrainTransform",
    "VideoDecodeError",
    "VideoDecodeWarning",
    "VideoInfo",
    "Window",
    "clip_indices",
    "fps_frame_step",
    "frame_times",
    "preprocess",
    "read_image",
    "read_video",
    "sample_clips",
    "segment_indices",
    "sliding_windows",
    "spatial_views",
    "uniform_indices",
    "video_info",
]
