"""Video input: decode files to frames, choose which frames, turn them into model input.

file → `read_video` (uint8 [T, H, W, 3]) → `sampling` (which indices) → `transforms`
(float [T, 3, crop, crop], the layout `VJEPA2Model` takes per clip).
"""

from vjepa2.video.backends import BACKENDS
from vjepa2.video.decode import (
    VideoDecodeError,
    VideoDecodeWarning,
    VideoInfo,
    frame_times,
    probe,
    read_image,
    read_video,
)

__all__ = [
    "BACKENDS",
    "VideoDecodeError",
    "VideoDecodeWarning",
    "VideoInfo",
    "frame_times",
    "probe",
    "read_image",
    "read_video",
]
