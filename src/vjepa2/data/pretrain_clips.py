"""Pretraining clips from video files, in a deterministic, resumable, shardable order.

`ClipOrder` decides which video each process reads at each step: a seeded permutation per
epoch, cut into global batches of ``world_size × batch_size`` of which each rank takes its own
slice, and able to start from any batch of an epoch (to resume mid-epoch). It yields
``(epoch, index)`` keys; `TrainingClips` turns a key into a clip (through the clip pipeline,
`vjepa2.data.clip_pipeline`) with a random generator seeded from ``(seed, epoch, index)``, so
the same key gives the same clip in any worker process, in any run. A file that cannot be read
comes back as an `UnreadableVideo` with the reason instead of raising.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import nullcontext
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset
from tqdm import tqdm

from vjepa2.data.clip_pipeline import ClipSpec, cached_clips, read_clips
from vjepa2.data.loader import UnreadableVideo, make_loader, seeded_generator
from vjepa2.data.manifest import find_videos, is_video_file, read_labelled, read_list
from vjepa2.video import VideoDecodeError, VideoInfo, read_video
from vjepa2.video.transforms import TrainTransform

PretrainKey = tuple[int, int]  # (epoch, index)


def training_videos(source: str | os.PathLike) -> list[Path]:
    """The videos of a training source: a directory (searched recursively), a video file, a
    CSV/TSV manifest (labels ignored), or a list file (one path per line; an original
    ``path label`` file also works)."""
    source = Path(source)
    if source.is_dir() or is_video_file(source):
        return find_videos([source])
    if not source.is_file():
        raise FileNotFoundError(f"{source}: no such file or directory")
    if source.suffix.lower() in (".csv", ".tsv"):
        return [e.path for e in read_labelled(source).examples]
    paths = read_list(source)
    if paths and not paths[0].exists() and len(paths[0].name.split()) == 2:
        return [e.path for e in read_labelled(source).examples]
    return paths


class ClipOrder:
    """Which videos each rank reads, batch by batch.

    Epoch ``e`` shuffles ``range(num_videos)`` with a generator seeded from ``(seed, e)`` and
    drops the tail that does not fill a global batch, so every rank runs the same number of
    steps. Global batch ``g`` is ``perm[g·W·B : (g+1)·W·B]`` and rank ``r`` takes its ``r``-th
    block of ``B``.
    """

    def __init__(
        self, num_videos: int, batch_size: int, seed: int = 0, rank: int = 0, world_size: int = 1
    ) -> None:
        if num_videos < batch_size * world_size:
            raise ValueError(
                f"{num_videos} videos cannot fill one batch of {batch_size} × {world_size} ranks"
            )
        self.num_videos = num_videos
        self.batch_size = batch_size
        self.seed = seed
        self.rank = rank
        self.world_size = world_size

    @property
    def steps_per_epoch(self) -> int:
        return self.num_videos // (self.batch_size * self.world_size)

    def batches(self, epoch: int, start: int = 0) -> list[list[PretrainKey]]:
        """This rank's batches of ``epoch`` from batch number ``start`` on."""
        perm = torch.randperm(self.num_videos, generator=seeded_generator(self.seed, epoch))
        width = self.batch_size * self.world_size
        out = []
        for step in range(start, self.steps_per_epoch):
            mine = perm[step * width + self.rank * self.batch_size :][: self.batch_size]
            out.append([(epoch, int(i)) for i in mine])
        return out


class TrainingClips(Dataset):
    """Random clips of ``frames_per_clip`` frames sampled at about ``target_fps``.

    ``dataset[(epoch, index)]`` reads video ``index`` through `read_clips` with a generator
    seeded from ``(seed, epoch, index)``: a random start, then ``transform(frames, generator)``
    (e.g. `vjepa2.video.transforms.TrainTransform`) → float ``[T, C, H, W]``. Unreadable files
    give an `UnreadableVideo`. With ``cache=True`` every video is decoded once, up front, and its
    frames kept in memory (worth it for small datasets of short clips, such as the motion
    benchmark), by ``cache_workers`` processes (0 or 1: in this one).
    """

    def __init__(
        self,
        paths: Sequence[str | os.PathLike],
        transform: TrainTransform,
        frames_per_clip: int = 16,
        target_fps: float = 4.0,
        seed: int = 0,
        cache: bool = False,
        cache_workers: int = 0,
    ) -> None:
        self.paths = [Path(p) for p in paths]
        self.spec = ClipSpec(
            frames=frames_per_clip, fps=target_fps, crop_size=transform.crop_size,
            random_start=True, augment=transform,
        )  # fmt: skip
        self.seed = seed
        self.cache = decode_all(self.paths, cache_workers) if cache else None

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, key: PretrainKey) -> torch.Tensor | UnreadableVideo:
        epoch, index = key
        generator = seeded_generator(self.seed, epoch, index)
        path = self.paths[index]
        try:
            if self.cache is None:
                clips = read_clips(path, self.spec, generator=generator, decoder_threads=1)
                return clips.pixels[0, 0]
            entry = self.cache[index]
            if isinstance(entry, VideoDecodeError):
                raise entry
            return cached_clips(*entry, self.spec, generator)[0, 0]
        except VideoDecodeError as err:
            return UnreadableVideo(str(path), str(err))


CachedVideo = tuple[torch.Tensor, VideoInfo] | VideoDecodeError


def decode_all(paths: Sequence[Path], workers: int = 0) -> list[CachedVideo]:
    """Every frame of each video (uint8 ``[N, H, W, 3]``) and its info, or why it cannot be read,
    in ``paths`` order, decoded by ``workers`` processes (0 or 1: in this one), with a progress
    bar from 100 videos on."""
    bar = tqdm(total=len(paths), unit="video", desc="decoding into memory", dynamic_ncols=True,
               disable=len(paths) < 100)  # fmt: skip
    out: list[CachedVideo] = []
    with ProcessPoolExecutor(workers) if workers > 1 else nullcontext() as pool:
        decoded = pool.map(_decode_one, paths, chunksize=8) if pool else map(_decode_one, paths)
        for path, (frames, info, reason) in zip(paths, decoded, strict=True):
            if reason is None:
                out.append((torch.from_numpy(frames), info))
            else:
                out.append(VideoDecodeError(path, reason))
            bar.update()
    bar.close()
    return out


def _decode_one(path: Path) -> tuple[np.ndarray | None, VideoInfo | None, str | None]:
    """One video as ``(frames, info, None)``, or ``(None, None, reason)``: numpy frames and a
    plain reason string travel between processes without shared-memory handles."""
    try:
        frames, info = read_video(path, num_threads=1)
    except VideoDecodeError as err:
        return None, None, err.reason
    return frames.numpy(), info, None


def collate_clips(
    items: list[torch.Tensor | UnreadableVideo],
) -> tuple[torch.Tensor | None, list[UnreadableVideo]]:
    """Stack the clips into ``[B, T, C, H, W]`` (``None`` if every one failed) and pass the
    unreadable ones on."""
    clips = [x for x in items if isinstance(x, torch.Tensor)]
    failed = [x for x in items if isinstance(x, UnreadableVideo)]
    return (torch.stack(clips) if clips else None), failed


def iterate_batches(
    dataset: TrainingClips, batches: list[list[PretrainKey]], workers: int
) -> Iterator[tuple[torch.Tensor | None, list[UnreadableVideo]]]:
    """Load ``batches`` in order with ``workers`` processes (0: in this process)."""
    yield from make_loader(dataset, batches, workers=workers, batched=True,
                           collate_fn=collate_clips)  # fmt: skip
