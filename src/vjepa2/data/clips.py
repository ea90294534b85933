"""Training clips from video files, in a deterministic, resumable, shardable order.

`ClipOrder` decides which video each process reads at each step: a seeded permutation per
epoch, cut into global batches of ``world_size × batch_size`` of which each rank takes its own
slice, and able to start from any batch of an epoch (to resume mid-epoch). It yields
``(epoch, index)`` keys; `TrainingClips` turns a key into a clip with a random generator seeded
from ``(seed, epoch, index)``, so the same key gives the same clip in any worker process, in any
run. A file that cannot be read comes back as a `SkippedClip` with the reason instead of raising.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from vjepa2.data.manifest import find_videos, is_video_file, read_labelled, read_list

ClipKey = tuple[int, int]  # (epoch, index)


def seeded_generator(*values: int) -> torch.Generator:
    """A torch generator seeded from a tuple of integers (via numpy's SeedSequence)."""
    state = np.random.SeedSequence(list(values)).generate_state(2, dtype=np.uint32)
    return torch.Generator().manual_seed(int(state[0]) << 32 | int(state[1]))


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

    def batches(self, epoch: int, start: int = 0) -> list[list[ClipKey]]:
        """This rank's batches of ``epoch`` from batch number ``start`` on."""
        perm = torch.randperm(self.num_videos, generator=seeded_generator(self.seed, epoch))
        width = self.batch_size * self.world_size
        out = []
        for step in range(start, self.steps_per_epoch):
            mine = perm[step * width + self.rank * self.batch_size :][: self.batch_size]
            out.append([(epoch, int(i)) for i in mine])
        return out


@dataclass(frozen=True)
class SkippedClip:
    """A video that could not be turned into a clip, and why."""

    path: str
    reason: str


class TrainingClips(Dataset):
    """Random clips of ``frames_per_clip`` frames sampled at about ``target_fps``.

    ``dataset[(epoch, index)]`` reads video ``index`` with a generator seeded from
    ``(seed, epoch, index)``: a random start, then ``transform(frames, generator)`` (e.g.
    `vjepa2.video.transforms.TrainTransform`) → float ``[T, C, H, W]``. Unreadable files give a
    `SkippedClip`. With ``cache=True`` every video is decoded once, up front, and its frames kept
    in memory (worth it for small datasets of short clips, such as the motion benchmark).
    """

    def __init__(
        self,
        paths: Sequence[str | os.PathLike],
        transform: Callable[[torch.Tensor, torch.Generator], torch.Tensor],
        frames_per_clip: int = 16,
        target_fps: float = 4.0,
        seed: int = 0,
        cache: bool = False,
    ) -> None:
        self.paths = [Path(p) for p in paths]
        self.transform = transform
        self.frames_per_clip = frames_per_clip
        self.target_fps = target_fps
        self.seed = seed
        self.cache = [self._decode_all(p) for p in self.paths] if cache else None

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, key: ClipKey) -> torch.Tensor | SkippedClip:
        epoch, index = key
        generator = seeded_generator(self.seed, epoch, index)
        try:
            frames = self._read(index, generator)
        except (OSError, IndexError, ValueError) as err:
            return SkippedClip(str(self.paths[index]), f"{type(err).__name__}: {err}")
        return self.transform(frames, generator)

    def _read(self, index: int, generator: torch.Generator) -> torch.Tensor:
        """uint8 ``[T, H, W, 3]``: the clip's frames, from the cache or the file."""
        from vjepa2.video import probe, read_video

        if self.cache is not None:
            entry = self.cache[index]
            if isinstance(entry, Exception):
                raise entry
            video, fps = entry
            return video[torch.from_numpy(self._indices(len(video), fps, generator))]
        info = probe(self.paths[index])
        indices = self._indices(info.num_frames, info.fps, generator)
        return read_video(self.paths[index], indices=indices, num_threads=1)[0]

    def _indices(self, num_frames: int, fps: float, generator: torch.Generator) -> np.ndarray:
        """A random window of ``frames_per_clip`` frames every fps-derived step (padded)."""
        from vjepa2.video.sampling import fps_frame_step, pad_indices

        step = fps_frame_step(fps, self.target_fps) if fps > 0 else 1
        span = (self.frames_per_clip - 1) * step + 1
        start = int(torch.randint(0, max(1, num_frames - span + 1), (1,), generator=generator))
        return pad_indices(start + step * np.arange(self.frames_per_clip), num_frames)

    @staticmethod
    def _decode_all(path: Path) -> tuple[torch.Tensor, float] | Exception:
        from vjepa2.video import read_video

        try:
            video, info = read_video(path, num_threads=1)
        except (OSError, IndexError, ValueError) as err:
            return err
        return video, info.fps


def collate_clips(
    items: list[torch.Tensor | SkippedClip],
) -> tuple[torch.Tensor | None, list[SkippedClip]]:
    """Stack the clips into ``[B, T, C, H, W]`` (``None`` if every one failed) and pass the
    skipped ones on."""
    clips = [x for x in items if isinstance(x, torch.Tensor)]
    skipped = [x for x in items if isinstance(x, SkippedClip)]
    return (torch.stack(clips) if clips else None), skipped


def worker_init(_: int) -> None:
    """DataLoader workers decode with one thread each and leave the cores to the model."""
    torch.set_num_threads(1)


def iterate_batches(
    dataset: TrainingClips, batches: list[list[ClipKey]], workers: int
) -> Iterator[tuple[torch.Tensor | None, list[SkippedClip]]]:
    """Load ``batches`` in order with ``workers`` processes (0: in this process)."""
    loader = torch.utils.data.DataLoader(
        dataset,
        batch_sampler=batches,
        num_workers=workers,
        collate_fn=collate_clips,
        worker_init_fn=worker_init if workers else None,
        persistent_workers=False,
    )
    yield from loader
