"""Read frames from video files with PyAV: upright RGB uint8 [T, H, W, 3] plus metadata.

How a read works:
1. A demux-only scan (no decoding) lists every video packet's presentation timestamp (pts) and
   keyframe flag. Sorted, the pts give the frames in presentation order, so frame `i` is the
   i-th smallest pts; this holds for B-frames and variable frame rates alike. The table is cached
   per file (path, size, mtime) in each process.
2. The wanted frames are grouped by the keyframe before each of them. For each group the
   decoder seeks to that keyframe, decodes forward and keeps the frames whose pts are wanted;
   it only seeks again when the next wanted frame has its own keyframe further on. When a seek
   lands after the wanted frame (MPEG-TS seeks by decode time; a keyframe may not decode) it
   steps back one keyframe at a time, at worst to the file's start. Streams whose packets carry
   no pts (raw .h264) are decoded from the start and numbered in output order.
3. Frames are converted to RGB by FFmpeg (any pixel format: 10-bit, 4:4:4, gray, alpha dropped)
   and rotated by the stream's display matrix so they come out upright.

Partial decodes: a wanted frame that does not decode (corrupt packet, truncated file) is replaced
by the nearest earlier frame that did decode (else the nearest later one) and a
`VideoDecodeWarning` says how many. When no frame decodes, `VideoDecodeError` is raised.

`vjepa2.video.read.read_video` is the entry point: it calls `read_pyav` here, or an optional
decoder of `vjepa2.video.backends` (which takes its frame table and metadata from this module).

Each call opens its own container and shares nothing but the lock-protected scan cache, so calls
are safe from threads and from DataLoader worker processes.
"""

from __future__ import annotations

import contextlib
import os
import threading
import warnings
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction

import av
import numpy as np
import torch

from vjepa2.errors import VJEPA2Error
from vjepa2.video.positions import frame_positions

MAX_PIXELS = 8192 * 8192
"""Largest frame (width × height) accepted; guards against absurd or malicious headers."""


class VideoDecodeError(VJEPA2Error, OSError):
    """A file that cannot be read as a video: the message names the path and the reason.

    Raised for missing or unreadable files, empty files, files FFmpeg cannot parse, files with
    no video stream (audio only) and files in which no requested frame decodes; the clip
    pipeline (`vjepa2.data.clip_pipeline`) raises it for every file it cannot turn into clips.
    A `VJEPA2Error`, and an OSError like PIL's `UnidentifiedImageError`, so data loaders that
    skip unreadable files with `except OSError` skip these too.
    """

    def __init__(self, path: str | os.PathLike, reason: str):
        self.path = os.fspath(path)
        self.reason = reason
        super().__init__(f"cannot decode video {self.path!r}: {reason}")

    def __reduce__(self):
        return type(self), (self.path, self.reason)

    def __str__(self) -> str:
        return f"cannot decode video {self.path!r}: {self.reason}"


class VideoDecodeWarning(UserWarning):
    """Some requested frames did not decode and were replaced by their nearest decoded frame."""


@dataclass(frozen=True)
class VideoInfo:
    """What a file says about its video stream.

    width/height are the displayed size (after rotation). rotation is the display-matrix angle in
    degrees counter-clockwise (0, 90, 180 or 270) that was applied to the frames. duration and
    fps come from the container; num_frames from the container header in `video_info` when it has
    one, otherwise (and always in `read_video`) from counting the video packets.
    """

    path: str
    num_frames: int
    fps: float
    duration: float
    width: int
    height: int
    rotation: int
    codec: str
    pix_fmt: str | None
    has_audio: bool
    container: str


# ----------------------------------------------------------------------------- opening files


def _error_reason(exc: BaseException) -> str:
    if isinstance(exc, FileNotFoundError):
        return "file not found"
    if isinstance(exc, PermissionError):
        return "permission denied"
    if isinstance(exc, IsADirectoryError):
        return "is a directory"
    if isinstance(exc, av.error.InvalidDataError):
        return "not a media file FFmpeg can read, or its header is damaged"
    return f"{type(exc).__name__}: {getattr(exc, 'strerror', None) or exc}"


def _open(path: str) -> av.container.InputContainer:
    if os.path.exists(path) and not os.path.isfile(path) and not os.path.isdir(path):
        # A FIFO or device could block or stream forever.
        raise VideoDecodeError(path, "not a regular file")
    try:
        empty = os.path.isfile(path) and os.path.getsize(path) == 0
        container = None if empty else av.open(path, metadata_errors="ignore")
    except (OSError, av.FFmpegError) as exc:
        raise VideoDecodeError(path, _error_reason(exc)) from exc
    if container is None:
        raise VideoDecodeError(path, "file is empty")
    return container


def _video_stream(container: av.container.InputContainer, path: str, num_threads: int):
    streams = [
        s for s in container.streams.video if not s.disposition & av.stream.Disposition.attached_pic
    ]
    if not streams:
        if container.streams.audio:
            raise VideoDecodeError(path, "no video stream (audio only)")
        raise VideoDecodeError(path, "no video stream")
    stream = streams[0]
    if stream.codec_context is None:
        raise VideoDecodeError(path, "no decoder for this video codec in the FFmpeg build")
    if stream.width * stream.height > MAX_PIXELS:
        raise VideoDecodeError(
            path, f"frame size {stream.width}x{stream.height} exceeds {MAX_PIXELS} pixels"
        )
    stream.thread_type = "AUTO"
    stream.codec_context.thread_count = num_threads
    return stream


# ----------------------------------------------------------------------------- frame table


@dataclass(frozen=True)
class _FrameTable:
    """Presentation order of a stream, from its packets.

    pts: int64 [N], sorted presentation timestamps (time_base units), one per frame.
    keyframes: int64 [K], sorted pts of the keyframes (decoding can start there).
    sequential: packets carry no pts (raw streams, some AVI): frames are numbered in decoder
    output order instead, pts = arange(N), and the file is decoded from its start.
    """

    pts: np.ndarray
    keyframes: np.ndarray
    time_base: Fraction
    sequential: bool = False

    def times(self, fps: float) -> np.ndarray:
        """Seconds from the first frame, float64 [N]."""
        if self.sequential or len(self.pts) == 0:
            return np.arange(len(self.pts), dtype=np.float64) / (fps or 1.0)
        return (self.pts - self.pts[0]).astype(np.float64) * float(self.time_base)

    def keyframe_before(self, pts: np.ndarray) -> np.ndarray:
        """The pts of the last keyframe at or before each of `pts` (the first keyframe if none)."""
        position = np.searchsorted(self.keyframes, pts, side="right") - 1
        return self.keyframes[np.maximum(position, 0)]


_TABLE_CACHE: OrderedDict[tuple, _FrameTable] = OrderedDict()
_TABLE_CACHE_SIZE = 256
_TABLE_LOCK = threading.Lock()


def _scan(container: av.container.InputContainer, stream) -> _FrameTable:
    pts, keyframe, has_pts = [], [], True
    try:
        for packet in container.demux(stream):
            if packet.size == 0 or packet.is_discard:
                continue
            has_pts = has_pts and packet.pts is not None
            pts.append(packet.pts if packet.pts is not None else 0)
            keyframe.append(packet.is_keyframe)
    except av.FFmpegError:
        pass  # a damaged tail: the table holds the packets before it
    time_base = stream.time_base or Fraction(1, 1)
    if not has_pts:
        return _FrameTable(np.arange(len(pts)), np.zeros(1, np.int64), time_base, sequential=True)
    all_pts = np.asarray(pts, dtype=np.int64)
    keyframes = np.unique(all_pts[np.asarray(keyframe, dtype=bool)])
    all_pts = np.unique(all_pts)
    if all_pts.size and (keyframes.size == 0 or keyframes[0] > all_pts[0]):
        keyframes = np.concatenate([all_pts[:1], keyframes])
    return _FrameTable(all_pts, keyframes, time_base)


# ----------------------------------------------------------------------------- decoding


class _Decoder:
    """One open file and its video stream: frame table, seeking, decoding.

    Owns its container; after a failed seek it reopens the file and decodes from the start.
    """

    def __init__(self, path: str, num_threads: int):
        self.path, self.num_threads = path, num_threads
        self.container = _open(path)
        self.at_start = True
        self.errors = 0
        self.decoded = 0
        try:
            self.stream = _video_stream(self.container, path, num_threads)
        except BaseException:
            self.container.close()
            raise

    def __enter__(self) -> _Decoder:
        return self

    def __exit__(self, *exc) -> None:
        self.container.close()

    def frame_table(self) -> _FrameTable:
        """The cached table of this file, scanning it on a miss."""
        stat = os.stat(self.path)
        key = (os.path.realpath(self.path), stat.st_size, stat.st_mtime_ns, stat.st_ino)
        with _TABLE_LOCK:
            table = _TABLE_CACHE.get(key)
            if table is not None:
                _TABLE_CACHE.move_to_end(key)
                return table
        table = _scan(self.container, self.stream)
        self.at_start = False
        with _TABLE_LOCK:
            _TABLE_CACHE[key] = table
            while len(_TABLE_CACHE) > _TABLE_CACHE_SIZE:
                _TABLE_CACHE.popitem(last=False)
        return table

    def frames_from(self, start_pts: int | None) -> Iterator[av.VideoFrame]:
        """Decoded frames from the keyframe at or before `start_pts` (None: the file's start)."""
        if start_pts is None:
            if not self.at_start:
                self._reopen()
        else:
            try:
                self.container.seek(int(start_pts), stream=self.stream, backward=True)
            except av.FFmpegError:
                self._reopen()
        self.at_start = False
        return self._decode()

    def _reopen(self) -> None:
        self.container.close()
        self.container = _open(self.path)
        self.stream = _video_stream(self.container, self.path, self.num_threads)

    def _decode(self) -> Iterator[av.VideoFrame]:
        try:
            for packet in self.container.demux(self.stream):
                try:
                    frames = packet.decode()
                except av.FFmpegError:
                    self.errors += 1
                    continue
                self.decoded += len(frames)
                yield from frames
        except av.FFmpegError:
            self.errors += 1  # unreadable data: flush what the decoder holds and stop
            with contextlib.suppress(av.FFmpegError):
                yield from self.stream.codec_context.decode(None)


def _to_rgb(frame: av.VideoFrame, size: tuple[int, int]) -> np.ndarray:
    """uint8 [H, W, 3]; a frame whose size differs from `size` (width, height) is rescaled to it
    so that a stream changing resolution midway still stacks."""
    if (frame.width, frame.height) == size:
        return frame.to_ndarray(format="rgb24")
    return frame.to_ndarray(format="rgb24", width=size[0], height=size[1])


def _decode_frames(decoder: _Decoder, table: _FrameTable, wanted: np.ndarray) -> tuple:
    """Decode the frames at the table positions `wanted` (sorted, unique, non-empty).

    Returns (rgb: {position: uint8 [H, W, 3]}, missing: {position: the av.VideoFrame standing in
    for it, the nearest earlier decoded frame or else the next one}, the first decoded
    av.VideoFrame or None when nothing decoded).
    """
    wanted_pts = table.pts[wanted]
    start_of = table.keyframe_before(wanted_pts)
    position_of = dict(zip(wanted_pts.tolist(), wanted.tolist(), strict=True))
    rgb: dict[int, np.ndarray] = {}
    missing: dict[int, av.VideoFrame | None] = {}
    first = previous = None

    def decode_from(start: int | None):
        """Frames from keyframe `start` (None: the file's start) and whether to check them."""
        if table.sequential or start is None:
            return decoder.frames_from(None), False
        if start == table.keyframes[0] and decoder.at_start:
            return decoder.frames_from(None), False  # nothing earlier to fall back to
        return decoder.frames_from(start), True

    k, seek, retreating = 0, True, False
    while k < len(wanted_pts):
        if seek:
            start = int(start_of[k])
            (frames, check_overshoot), count = decode_from(start), 0
        seek, overshot = True, check_overshoot
        for frame in frames:
            key = count if table.sequential else frame.pts
            count += 1
            if key is None:
                continue
            if check_overshoot and key > wanted_pts[k]:
                break
            overshot = check_overshoot = False
            if first is None:
                first = frame
            if key in position_of:
                rgb[position_of[key]] = _to_rgb(frame, (first.width, first.height))
            while k < len(wanted_pts) and wanted_pts[k] <= key:
                if int(wanted[k]) not in rgb:
                    missing[int(wanted[k])] = previous if previous is not None else frame
                k, retreating = k + 1, False
            previous = frame
            if k == len(wanted_pts):
                break
            if not retreating and _skips_frames(table, key, start_of[k]):
                break  # the next wanted frame has its own keyframe further on: seek there
        else:
            if not overshot:
                break  # end of the stream
        if overshot:
            # The seek landed after the wanted frame (some demuxers seek by decode time, or the
            # keyframe does not decode): start one keyframe earlier, at worst at the file start.
            earlier = table.keyframes[table.keyframes < start]
            start = int(earlier[-1]) if earlier.size else None
            (frames, check_overshoot), count = decode_from(start), 0
            seek, retreating = False, True
    for position in wanted[k:].tolist():
        missing[position] = previous
    return rgb, missing, first


def _skips_frames(table: _FrameTable, current_pts: int, keyframe_pts: int) -> bool:
    """Whether seeking from `current_pts` to `keyframe_pts` jumps over at least one frame."""
    gap = np.searchsorted(table.pts, keyframe_pts) - np.searchsorted(table.pts, current_pts)
    return gap > 1


def _fill_missing(rgb: dict, missing: dict, size: tuple[int, int], path: str, requested: int):
    """Put each undecoded frame's stand-in in its place and warn."""
    for position, stand_in in missing.items():
        rgb[position] = _to_rgb(stand_in, size)
    shown = sorted(missing)
    warnings.warn(
        f"{path}: {len(missing)} of {requested} requested frames did not decode (frames "
        f"{shown[:8]}{'...' if len(shown) > 8 else ''}); each was replaced by the nearest "
        "earlier frame that decoded (the next one where none did)",
        VideoDecodeWarning,
        stacklevel=4,
    )


def _rotation(frame: av.VideoFrame) -> int:
    return (round((frame.rotation or 0) / 90) % 4) * 90


def _header_fps(stream) -> float:
    rate = stream.average_rate or stream.guessed_rate or stream.base_rate
    return float(rate) if rate else 0.0


def _info(decoder: _Decoder, num_frames: int, width: int, height: int, rotation: int) -> VideoInfo:
    container, stream = decoder.container, decoder.stream
    fps = _header_fps(stream)
    if stream.duration and stream.time_base:
        duration = float(stream.duration * stream.time_base)
    elif container.duration:
        duration = container.duration / av.time_base
    else:
        duration = num_frames / fps if fps else 0.0
    if not fps and duration:
        fps = num_frames / duration
    if rotation in (90, 270):
        width, height = height, width
    return VideoInfo(
        path=decoder.path,
        num_frames=num_frames,
        fps=fps,
        duration=duration,
        width=width,
        height=height,
        rotation=rotation,
        codec=stream.codec_context.name,
        pix_fmt=stream.format.name if stream.format else None,
        has_audio=len(container.streams.audio) > 0,
        container=container.format.name,
    )


def read_pyav(path: str, indices, timestamps, num_threads: int) -> tuple[torch.Tensor, VideoInfo]:
    """`read_video` with PyAV (see the module docstring); arguments as there."""
    with _Decoder(path, num_threads) as decoder:
        table = decoder.frame_table()
        if len(table.pts) == 0:
            raise VideoDecodeError(path, "the video stream has no readable packets")
        fps = _header_fps(decoder.stream)
        positions = frame_positions(
            indices, timestamps, len(table.pts), lambda: table.times(fps), path
        )
        wanted = np.unique(positions) if positions.size else np.zeros(1, np.int64)
        rgb, missing, first = _decode_frames(decoder, table, wanted)
        if first is None:
            detail = f" ({decoder.errors} decoding errors)" if decoder.errors else ""
            raise VideoDecodeError(path, f"no frame decodes{detail}")
        size = (first.width, first.height)
        rotation = _rotation(first)
        info = _info(decoder, len(table.pts), size[0], size[1], rotation)
    if missing:
        _fill_missing(rgb, missing, size, path, len(positions))
    if positions.size == 0:
        return torch.empty(0, size[1], size[0], 3, dtype=torch.uint8), info
    frames = torch.from_numpy(np.stack([rgb[p] for p in positions.tolist()]))
    if rotation:
        frames = torch.rot90(frames, rotation // 90, dims=(1, 2)).contiguous()
    return frames, info


# ----------------------------------------------------------------------------- public API


def frame_times(path: str | os.PathLike) -> np.ndarray:
    """Presentation time of every frame in seconds from the first one: float64 [num_frames]."""
    path = os.fspath(path)
    with _Decoder(path, 1) as decoder:
        return decoder.frame_table().times(_header_fps(decoder.stream))


def video_info(path: str | os.PathLike) -> VideoInfo:
    """Metadata without decoding the file: header fields plus the first frame's size and rotation.

    num_frames comes from the container header where it records one (mp4, mov, avi, gif) and
    from counting packets otherwise (mkv, webm, ts): that reads the file but decodes nothing.
    """
    path = os.fspath(path)
    with _Decoder(path, 1) as decoder:
        num_frames = decoder.stream.frames
        if num_frames <= 0:
            num_frames = len(decoder.frame_table().pts)
        first = next(decoder.frames_from(None), None)
        if first is None:
            raise VideoDecodeError(path, "no frame decodes")
        return _info(decoder, num_frames, first.width, first.height, _rotation(first))
