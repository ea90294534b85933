"""Small synthetic videos for tests and benchmarks, written with PyAV's bundled encoders.

Every frame carries its own index as a grid of black/white blocks (`draw_signature`), big enough
to survive lossy compression, chroma subsampling and GIF palettes, so a test can check that the
*right* frames came back after a seek (`read_signature`). A bottom row of red, green, blue and
white blocks pins the channel order.

Files are written with `vjepa2.video.writer`. Encoders differ between FFmpeg builds:
`make_sample_videos` skips what the installed wheel cannot write (see
`writer.encoder_available`) instead of failing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import av
import torch

from vjepa2.video import writer

SIGNATURE_ROWS = 3
SIGNATURE_COLS = 4
SIGNATURE_BITS = SIGNATURE_ROWS * SIGNATURE_COLS
COLOUR_ROW = ((255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 255))


def _block_slices(box: tuple[int, int, int, int]) -> list[list[tuple[slice, slice]]]:
    """Pixel slices of the (rows + colour row) × cols signature grid inside `box`."""
    top, left, height, width = box
    rows = SIGNATURE_ROWS + 1
    ys = [top + (height * r) // rows for r in range(rows + 1)]
    xs = [left + (width * c) // SIGNATURE_COLS for c in range(SIGNATURE_COLS + 1)]
    return [
        [(slice(ys[r], ys[r + 1]), slice(xs[c], xs[c + 1])) for c in range(SIGNATURE_COLS)]
        for r in range(rows)
    ]


def draw_signature(
    frames: torch.Tensor, indices: Sequence[int], box: tuple[int, int, int, int] | None = None
) -> torch.Tensor:
    """Paint each frame's index (12 bits, white = 1) and the colour row into `box`, in place.

    frames: uint8 [T, H, W, 3]; box: (top, left, height, width), the whole frame by default.
    """
    box = box or (0, 0, frames.shape[1], frames.shape[2])
    grid = _block_slices(box)
    for t, index in enumerate(indices):
        for bit in range(SIGNATURE_BITS):
            ys, xs = grid[bit // SIGNATURE_COLS][bit % SIGNATURE_COLS]
            frames[t, ys, xs] = 255 if (int(index) >> bit) & 1 else 0
        for c, colour in enumerate(COLOUR_ROW):
            ys, xs = grid[SIGNATURE_ROWS][c]
            frames[t, ys, xs] = torch.tensor(colour, dtype=torch.uint8)
    return frames


def _block_means(frames: torch.Tensor, box: tuple[int, int, int, int] | None) -> torch.Tensor:
    """Mean colour of the central half of every block: float [..., rows + 1, cols, 3]."""
    box = box or (0, 0, frames.shape[-3], frames.shape[-2])
    means = []
    for row in _block_slices(box):
        row_means = []
        for ys, xs in row:
            h, w = ys.stop - ys.start, xs.stop - xs.start
            inner = frames[
                ..., ys.start + h // 4 : ys.stop - h // 4, xs.start + w // 4 : xs.stop - w // 4, :
            ]
            row_means.append(inner.float().mean(dim=(-3, -2)))
        means.append(torch.stack(row_means, dim=-2))
    return torch.stack(means, dim=-3)


def read_signature(
    frames: torch.Tensor, box: tuple[int, int, int, int] | None = None
) -> torch.Tensor:
    """The frame indices painted by `draw_signature`. frames: uint8 [..., H, W, 3] → int64 [...]."""
    bits = _block_means(frames, box)[..., :SIGNATURE_ROWS, :, :].mean(-1) > 127
    weights = 2 ** torch.arange(SIGNATURE_BITS).reshape(SIGNATURE_ROWS, SIGNATURE_COLS)
    return (bits.long() * weights).sum(dim=(-2, -1))


def read_colour_row(frames: torch.Tensor, box: tuple[int, int, int, int] | None = None):
    """Mean RGB of the red, green, blue, white blocks: float [..., 4, 3]."""
    return _block_means(frames, box)[..., SIGNATURE_ROWS, :, :]


def signature_frames(num_frames: int, height: int, width: int, start: int = 0) -> torch.Tensor:
    """Frames start..start+num_frames-1, each showing its index: uint8 [T, H, W, 3]."""
    frames = torch.zeros(num_frames, height, width, 3, dtype=torch.uint8)
    frames[..., 1] = 64
    return draw_signature(frames, range(start, start + num_frames))


@dataclass(frozen=True)
class SampleVideo:
    """A generated file and what a decoder should find in it.

    frames: the upright RGB frames that were encoded (before compression), [T, H, W, 3].
    pts: presentation time of each frame in seconds. timed: the file stores them (a raw
    elementary stream does not: its reader numbers frames in order and guesses 25 fps).
    """

    name: str
    path: Path
    frames: torch.Tensor
    fps: float
    pts: tuple[float, ...]
    codec: str
    rotation: int = 0
    has_audio: bool = False
    lossless: bool = False
    colour: bool = True
    timed: bool = True

    @property
    def num_frames(self) -> int:
        return self.frames.shape[0]


# name: (suffix, codec, pix_fmt, encoder options, extra keyword arguments)
_SAMPLES: dict[str, tuple[str, str, str, dict[str, str], dict]] = {
    # B-frames and a short GOP so seeking lands on keyframes in the middle of the file.
    "h264_mp4": (".mp4", "libx264", "yuv420p", {"preset": "veryfast", "bf": "2"}, {"gop": 12}),
    "hevc_mkv": (
        ".mkv",
        "libx265",
        "yuv420p",
        {"preset": "ultrafast", "x265-params": "log-level=none:keyint=15"},
        {},
    ),
    "h264_ts": (".ts", "libx264", "yuv420p", {"preset": "veryfast", "bf": "2"}, {"gop": 12}),
    # An Annex B elementary stream: no container, no timestamps, frames counted in order.
    "h264_raw": (
        ".h264",
        "libx264",
        "yuv420p",
        {"preset": "veryfast", "bf": "2"},
        {"gop": 12, "container_format": "h264", "timed": False},
    ),
    "vp9_webm": (".webm", "libvpx-vp9", "yuv420p", {"deadline": "realtime", "cpu-used": "8"}, {}),
    "mpeg4_avi": (".avi", "mpeg4", "yuv420p", {"qscale": "2"}, {"gop": 10}),
    "mpeg4_bframes_avi": (".avi", "mpeg4", "yuv420p", {"qscale": "2", "bf": "2"}, {"gop": 10}),
    "mjpeg_avi": (".avi", "mjpeg", "yuvj420p", {"qscale": "2"}, {}),
    "gif": (".gif", "gif", "rgb8", {}, {"fps": 10}),
    "h264_10bit_mp4": (".mp4", "libx264", "yuv420p10le", {"preset": "ultrafast"}, {"gop": 10}),
    "h264_yuv444_mkv": (".mkv", "libx264", "yuv444p", {"preset": "ultrafast"}, {"gop": 10}),
    "hevc_10bit_mkv": (
        ".mkv",
        "libx265",
        "yuv420p10le",
        {"preset": "ultrafast", "x265-params": "log-level=none"},
        {},
    ),
    "ffv1_gray_mkv": (".mkv", "ffv1", "gray", {}, {"colour": False}),
    "png_rgba_mov": (".mov", "png", "rgba", {}, {}),
    "av1_mkv": (".mkv", "libsvtav1", "yuv420p", {"preset": "12"}, {}),
    # H.264 4:2:0 needs even sizes; 4:4:4 and VP9 take odd ones.
    "odd_97x61_mp4": (".mp4", "libx264", "yuv444p", {"preset": "ultrafast"}, {"size": (61, 97)}),
    "odd_97x61_webm": (
        ".webm",
        "libvpx-vp9",
        "yuv420p",
        {"deadline": "realtime", "cpu-used": "8"},
        {"size": (61, 97)},
    ),
    "rotated90_mp4": (".mp4", "libx264", "yuv420p", {"preset": "ultrafast"}, {"rotation": 90}),
    "rotated270_mp4": (".mp4", "libx264", "yuv420p", {"preset": "ultrafast"}, {"rotation": -90}),
    "audio_mp4": (".mp4", "libx264", "yuv420p", {"preset": "ultrafast"}, {"audio": True}),
    "vfr_mp4": (".mp4", "libx264", "yuv420p", {"preset": "veryfast", "bf": "2"}, {"vfr": True}),
    "vfr_mkv": (".mkv", "libx264", "yuv420p", {"preset": "ultrafast"}, {"vfr": True}),
}


def vfr_times(num_frames: int, fps: float) -> tuple[float, ...]:
    """Presentation times with frame durations cycling through 1, 1, 3 and 2 frame periods."""
    durations = [1, 1, 3, 2]
    times, now = [], 0.0
    for t in range(num_frames):
        times.append(round(now, 3))
        now += durations[t % len(durations)] / fps
    return tuple(times)


def make_sample_videos(
    directory: str | Path,
    num_frames: int = 40,
    height: int = 64,
    width: int = 96,
    fps: float = 30,
    names: Sequence[str] | None = None,
) -> dict[str, SampleVideo]:
    """Write the sample files under `directory`; codecs the wheel cannot encode are left out.

    Covers H.264 in mp4 (with B-frames), MPEG-TS and a raw Annex B stream, HEVC/mkv, VP9/webm,
    MPEG-4/avi (with and without packed B-frames), MJPEG/avi, GIF, 10-bit, yuv444, gray, RGBA,
    AV1, an odd size (97×61), rotated (90° and 270°), audio + video, and variable frame rate in
    mp4 and mkv.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    samples = {}
    for name in names or _SAMPLES:
        suffix, codec, pix_fmt, options, extra = _SAMPLES[name]
        if not writer.encoder_available(codec):
            continue
        if extra.get("rotation") and not hasattr(
            av.video.stream.VideoStream, "set_display_rotation"
        ):
            continue  # tagging rotation needs PyAV >= 18
        extra = dict(extra)
        h, w = extra.pop("size", (height, width))
        rate = extra.pop("fps", fps)
        colour = extra.pop("colour", True)
        timed = extra.pop("timed", True)
        upright = signature_frames(num_frames, h, w)
        rotation = extra.get("rotation", 0)
        stored = torch.rot90(upright, -(rotation // 90), dims=(1, 2)).contiguous()
        times = vfr_times(num_frames, rate) if extra.pop("vfr", False) else None
        path = writer.encode_video(
            directory / f"{name}{suffix}",
            stored,
            fps=rate,
            codec=codec,
            pix_fmt=pix_fmt,
            pts=times,
            options=options,
            **extra,
        )
        samples[name] = SampleVideo(
            name=name,
            path=path,
            frames=upright,
            fps=rate,
            pts=times or tuple(t / rate for t in range(num_frames)),
            codec=codec,
            rotation=rotation % 360,
            has_audio=extra.get("audio", False),
            lossless=codec in ("ffv1", "png"),
            colour=colour,
            timed=timed,
        )
    return samples


def make_broken_files(directory: str | Path, source: str | Path | None = None) -> dict[str, Path]:
    """Files no decoder should accept or only partly: the reason each one fails is its name.

    empty, text, audio_only (AAC in .m4a), truncated_mp4 (moov atom cut off), truncated_mkv (the
    header survives, the tail is gone), corrupt_packets (MJPEG/avi with frames 0, 5, 6 and 12
    zeroed), and a directory named like a video. `source` is any valid mp4 to truncate; one is
    encoded when it is not given.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    files = {}
    files["empty"] = directory / "empty.mp4"
    files["empty"].write_bytes(b"")
    files["text"] = directory / "text.mp4"
    files["text"].write_text("this is not a video\n" * 50)
    files["directory"] = directory / "folder.mp4"
    files["directory"].mkdir(exist_ok=True)

    files["audio_only"] = directory / "audio_only.m4a"
    with av.open(str(files["audio_only"]), "w", format="ipod") as container:
        writer.encode_sine(container, container.add_stream("aac", rate=16000), 1.0)

    frames = signature_frames(30, 64, 96)
    if source is None:
        source = writer.encode_video(
            directory / "whole.mp4", frames, options={"preset": "ultrafast"}
        )
    data = Path(source).read_bytes()
    files["truncated_mp4"] = directory / "truncated.mp4"
    files["truncated_mp4"].write_bytes(data[: len(data) // 2])

    whole_mkv = writer.encode_video(
        directory / "whole.mkv", frames, gop=5, options={"preset": "ultrafast"}
    )
    data = whole_mkv.read_bytes()
    files["truncated_mkv"] = directory / "truncated.mkv"
    files["truncated_mkv"].write_bytes(data[: len(data) * 2 // 3])

    whole_avi = writer.encode_video(
        directory / "whole.avi", frames, codec="mjpeg", pix_fmt="yuvj420p"
    )
    files["corrupt_packets"] = directory / "corrupt_packets.avi"
    files["corrupt_packets"].write_bytes(zero_packets(whole_avi, CORRUPT_FRAMES))
    return files


CORRUPT_FRAMES = (0, 5, 6, 12)


def zero_packets(path: str | Path, frame_numbers: Sequence[int]) -> bytes:
    """The bytes of `path` with the payload of the given video packets (decode order) zeroed."""
    data = bytearray(Path(path).read_bytes())
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        packets = [(p.pos, p.size) for p in container.demux(stream) if p.size]
    for number in frame_numbers:
        pos, size = packets[number]
        data[pos : pos + size] = bytes(size)
    return bytes(data)
