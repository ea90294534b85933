"""Loading clips in DataLoader workers: one worker set-up, one seeding recipe, one failure record.

- `seeded_generator(*values)`: every random draw of a clip comes from a torch.Generator seeded
  from a tuple such as ``(seed, epoch, index)``, so a clip is the same in any worker process,
  with any number of workers, in any run.
- `make_loader`: a DataLoader whose workers decode with one thread (`worker_init`) and which
  never draws from the global RNG (it gets its own generator), so building a loader does not
  change what a later ``torch.manual_seed``-free step draws, and results do not depend on the
  number of workers.
- A file that cannot be read comes back as an `UnreadableVideo` (path and reason) instead of
  stopping the run.
- `iterate_clips`: the clips of many files in order; long videos cut into sliding windows come
  in parts of at most ``max_clips`` windows, so memory does not grow with the video's length.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from vjepa2.data.clip_pipeline import Clips, ClipSpec, count_clips, read_clips
from vjepa2.video import VideoDecodeError


def seeded_generator(*values: int) -> torch.Generator:
    """A torch generator seeded from a tuple of integers (via numpy's SeedSequence)."""
    state = np.random.SeedSequence(list(values)).generate_state(2, dtype=np.uint32)
    return torch.Generator().manual_seed(int(state[0]) << 32 | int(state[1]))


def worker_init(_: int) -> None:
    """DataLoader workers decode with one thread each and leave the cores to the model."""
    torch.set_num_threads(1)
    os.environ["OMP_NUM_THREADS"] = "1"


def make_loader(
    dataset: Dataset,
    keys: Iterable,
    *,
    workers: int,
    batched: bool = False,
    collate_fn: Callable | None = None,
    prefetch: int = 2,
) -> DataLoader:
    """A DataLoader over ``keys`` (lists of keys when ``batched``), in order, in ``workers``
    processes (0: in this one). It draws from its own generator, never the global RNG."""
    order = {"batch_sampler": keys} if batched else {"sampler": keys, "batch_size": None}
    return DataLoader(
        dataset,
        num_workers=workers,
        collate_fn=collate_fn,
        worker_init_fn=worker_init if workers else None,
        prefetch_factor=prefetch if workers else None,
        persistent_workers=False,
        generator=torch.Generator().manual_seed(0),
        **order,
    )


@dataclass(frozen=True)
class UnreadableVideo:
    """A file that could not be turned into clips, and why (the `VideoDecodeError` message);
    part/parts as in `Clips`."""

    path: str
    reason: str
    part: int = 0
    parts: int = 1


ClipKey = tuple[int, int, int]  # (video index, part, parts)


class ClipDataset(Dataset):
    """`read_clips` over a list of files, keyed by ``(video, part, parts)``; a bad file gives an
    `UnreadableVideo`, not an error. Part ``p`` of ``n`` holds windows ``p·max_clips`` on."""

    def __init__(self, paths: Sequence[str | os.PathLike], spec: ClipSpec, max_clips: int):
        self.paths = [os.fspath(p) for p in paths]
        self.spec = spec
        self.max_clips = max_clips

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, key: ClipKey) -> Clips | UnreadableVideo:
        index, part, parts = key
        path = self.paths[index]
        select = slice(None)
        if parts > 1:
            select = slice(part * self.max_clips, (part + 1) * self.max_clips)
        try:
            clips = read_clips(path, self.spec, decoder_threads=1, select=select)
        except VideoDecodeError as err:
            return UnreadableVideo(path, str(err), part, parts)
        clips.part, clips.parts = part, parts
        return clips

    def part_keys(self) -> Iterator[ClipKey]:
        """Every part of every file, in order; long strided videos are counted as they come."""
        for index, path in enumerate(self.paths):
            parts = 1
            if self.spec.stride is not None:
                try:
                    parts = max(1, -(-count_clips(path, self.spec) // self.max_clips))
                except VideoDecodeError:
                    parts = 1  # reading it again gives the failure record
            for part in range(parts):
                yield index, part, parts


def iterate_clips(
    paths: Sequence[str | os.PathLike],
    spec: ClipSpec,
    workers: int = 0,
    prefetch: int = 2,
    max_clips: int = 64,
) -> Iterator[Clips | UnreadableVideo]:
    """Clips of each file in order (a strided video in parts of at most ``max_clips``
    windows), decoded in ``workers`` background processes (0: inline)."""
    dataset = ClipDataset(paths, spec, max_clips)
    if workers == 0:
        yield from (dataset[key] for key in dataset.part_keys())
        return
    yield from make_loader(dataset, dataset.part_keys(), workers=workers, prefetch=prefetch)
