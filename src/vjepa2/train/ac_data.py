"""What ``vjepa2 train-ac`` trains on: trajectory episodes, their frames encoded once by the frozen
encoder and cached on disk, and the clips (encodings, actions, states) drawn from them.

The cache: every frame of every episode is encoded once with ``wm.encode_frames`` (the frame as
a 2-frame tubelet, layer-normed) after the world model's frame transform, and stored as
``CACHE/<key>/<split>/<episode>.safetensors`` holding ``h`` ``[T, N, D]``. ``<key>`` is a hash of
the encoder's weights and config, the transform's crop size and the compute and stored dtypes,
so another predictor, another run on the same encoder or a resumed run reuse it; each file also
records its video's size and modification time and is encoded again when they change. Training
then draws clips from the cache: no frame is decoded or encoded after the first pass.

A clip of F frames of an episode recorded at ``fps_e`` takes every ``ceil(fps_e / fps)``-th frame
(the original: 4 fps) from a start drawn per epoch from a generator seeded with (seed, epoch), so
a resumed run sees the same clips. Its actions come from the file or are derived from the states
of the sampled frames (as the original does); file actions are summed over the frames a stride
skips.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from safetensors import safe_open
from safetensors.torch import save_file

from vjepa2.data.lerobot import (
    ACTION_KEY,
    STATE_KEY,
    is_lerobot,
    list_lerobot_episodes,
    read_info,
    read_lerobot_episode,
)
from vjepa2.data.trajectories import Episode, TrajectoryError, actions_from_states, read_episode
from vjepa2.errors import UsageError
from vjepa2.files import atomic_write
from vjepa2.runtime import autocast
from vjepa2.video import read_video
from vjepa2.world_model import WorldModel

log = logging.getLogger("vjepa2.train_ac")

Transform = Callable[[torch.Tensor], torch.Tensor]


@dataclass(frozen=True)
class Clip:
    """One training example: encodings ``h`` ``[F*N, D]``, actions ``[F-1, A]``, states
    ``[F, S]``."""

    h: torch.Tensor
    actions: torch.Tensor
    states: torch.Tensor


@dataclass(frozen=True)
class Batch:
    """Clips stacked: ``h`` ``[B, F*N, D]``, ``actions`` ``[B, F-1, A]``, ``states``
    ``[B, F, S]``."""

    h: torch.Tensor
    actions: torch.Tensor
    states: torch.Tensor

    @classmethod
    def of(cls, clips: Sequence[Clip]) -> Batch:
        fields = ("h", "actions", "states")
        return cls(*(torch.stack([getattr(clip, k) for clip in clips]) for k in fields))

    def to(self, device: torch.device) -> Batch:
        return Batch(self.h.to(device), self.actions.to(device), self.states.to(device))


@dataclass(frozen=True)
class CachedEpisode:
    """An episode whose frame encodings live in ``cache_path``; ``stride``: frames between two
    frames of a clip; ``derive_actions``: actions from the sampled states (else the file's)."""

    episode: Episode
    cache_path: Path
    stride: int
    derive_actions: bool

    @property
    def name(self) -> str:
        return self.episode.name

    def max_start(self, frames: int) -> int:
        """The last start of a clip of ``frames`` frames (negative: the episode is too short)."""
        return self.episode.num_frames - (frames - 1) * self.stride - 1

    def clip(self, start: int, frames: int) -> Clip:
        """The clip of ``frames`` frames from frame ``start``."""
        stop = start + (frames - 1) * self.stride + 1
        with safe_open(self.cache_path, framework="pt") as f:
            h = f.get_slice("h")[start:stop][:: self.stride].float()
        index = np.arange(start, stop, self.stride)
        states = self.episode.states[index]
        if self.derive_actions:
            actions = actions_from_states(states)
        else:
            steps = self.episode.actions[start : stop - 1]
            actions = steps.reshape(frames - 1, self.stride, -1).sum(1)
        return Clip(h.flatten(0, 1), torch.from_numpy(actions), torch.from_numpy(states))


# ----------------------------------------------------------------------------- episodes


def clip_stride(episode_fps: float, target_fps: float) -> int:
    """Frames between two clip frames: ``ceil(episode_fps / target_fps)``, at least 1."""
    return max(1, math.ceil(round(episode_fps / target_fps, 6)))


def refuse_lerobot_options(root: Path, given: dict[str, object]) -> None:
    """Refuse the options (flag -> value) that only a LeRobot dataset takes when ``root`` is a
    folder of episodes."""
    named = [flag for flag, value in given.items() if value is not None]
    if named and not is_lerobot(root):
        raise UsageError(f"{', '.join(named)}: only for a LeRobot dataset (meta/info.json); "
                         f"{root} is a folder of episodes (validation: its val/)")  # fmt: skip


def lerobot_paths(root: Path, val_episodes: int | None) -> dict[str, list[Path]]:
    """The parquet files of a LeRobot dataset's episodes: the last ``val_episodes`` (by index)
    are the validation split, the others the training split."""
    info = read_info(root)
    files = [info.data_file(index) for index in list_lerobot_episodes(root)]
    cut = len(files) - (val_episodes or 0)
    if cut < 1:
        raise UsageError(f"--val-episodes {val_episodes}: {root} holds {len(files)} episodes, "
                         "which leaves none to train on")  # fmt: skip
    return {"train": files[:cut], "val": files[cut:]}


def episode_reader(
    root: Path, camera: str | None, state_key: str | None, action_key: str | None
) -> Callable[[Path], Episode]:
    """What reads one episode of the dataset at ``root``: `read_episode` for a folder of
    episodes, or one reading the LeRobot episode of a parquet path with that camera and
    columns."""
    if not is_lerobot(root):
        return read_episode
    info = read_info(root)
    index = {info.data_file(i): i for i in list_lerobot_episodes(root)}
    state_key, action_key = state_key or STATE_KEY, action_key or ACTION_KEY
    return lambda path: read_lerobot_episode(root, index[path], camera, state_key, action_key)


def read_episodes(
    paths: Sequence[Path], action_source: str, read: Callable[[Path], Episode] = read_episode
) -> list[Episode]:
    """Read every episode with ``read``; ``action_source`` ``file`` requires actions in each
    file."""
    episodes = [read(path) for path in paths]
    for episode in episodes:
        if action_source == "file" and episode.actions_derived:
            raise TrajectoryError(episode.frames_path.with_suffix(".npz"),
                                  "no 'actions' array (--actions file needs one)")  # fmt: skip
    return episodes


def usable(episodes: list[CachedEpisode], frames: int, split: str) -> list[CachedEpisode]:
    """The episodes long enough for a clip; the others are named in a warning."""
    kept = [e for e in episodes if e.max_start(frames) >= 0]
    short = [e.name for e in episodes if e.max_start(frames) < 0]
    if short:
        named = ", ".join(short[:5]) + (" ..." if len(short) > 5 else "")
        log.warning("%s: %d episodes too short for a %d-frame clip, skipped: %s", split,
                    len(short), frames, named)  # fmt: skip
    return kept


# ----------------------------------------------------------------------------- the cache


def cache_key(wm: WorldModel, crop_size: int, compute: torch.dtype, stored: torch.dtype) -> str:
    """A short hash of what the cached encodings depend on: the encoder's weights and config,
    the crop size and the compute and stored dtypes."""
    digest = hashlib.sha256()
    settings = {"encoder": wm.config.encoder.to_dict(), "crop_size": crop_size,
                "compute": str(compute), "stored": str(stored), "version": 1}  # fmt: skip
    digest.update(json.dumps(settings, sort_keys=True, default=str).encode())
    for name, tensor in sorted(wm.encoder.state_dict().items()):
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy())
    return digest.hexdigest()[:16]


def _video_stamp(path: Path) -> dict[str, str]:
    stat = path.stat()
    return {"video_size": str(stat.st_size), "video_mtime_ns": str(stat.st_mtime_ns)}


def is_cached(path: Path, video: Path) -> bool:
    """Whether ``path`` holds the encodings of ``video`` as it is now."""
    if not path.is_file():
        return False
    try:
        with safe_open(path, framework="pt") as f:
            metadata = f.metadata() or {}
    except Exception:  # a torn or foreign file: encode again
        return False
    return all(metadata.get(k) == v for k, v in _video_stamp(video).items())


@torch.no_grad()
def encode_episode(
    wm: WorldModel,
    episode: Episode,
    transform: Transform,
    device: torch.device,
    dtype: torch.dtype,
    batch_size: int,
) -> torch.Tensor:
    """Every frame of ``episode`` through ``transform`` and ``wm.encode_frames``: ``[T, N, D]``."""
    frames, _ = read_video(episode.frames_path)
    if len(frames) != episode.num_frames:
        raise TrajectoryError(episode.frames_path, f"{len(frames)} frames decode for "
                              f"{episode.num_frames} states")  # fmt: skip
    chunks = []
    for chunk in frames.split(batch_size):
        with autocast(device, dtype):
            h = wm.encode_frames(transform(chunk)[None].to(device))
        chunks.append(h.float().view(len(chunk), wm.tokens_per_frame, -1).cpu())
    return torch.cat(chunks)


def fill_cache(
    wm: WorldModel,
    episodes: Sequence[CachedEpisode],
    transform: Transform,
    device: torch.device,
    dtype: torch.dtype,
    stored: torch.dtype,
    batch_size: int,
    shard: tuple[int, int] = (0, 1),
) -> int:
    """Encode the episodes of this process's ``shard`` (rank, world size) that are not cached
    yet; each file is written atomically. Returns how many were encoded."""
    rank, world = shard
    encoded = 0
    for episode in list(episodes)[rank::world]:
        video = episode.episode.frames_path
        if is_cached(episode.cache_path, video):
            continue
        h = encode_episode(wm, episode.episode, transform, device, dtype, batch_size)
        episode.cache_path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_write(episode.cache_path) as tmp:
            save_file({"h": h.to(stored).contiguous()}, tmp, metadata=_video_stamp(video))
        encoded += 1
    return encoded


# ----------------------------------------------------------------------------- clips


def epoch_clips(
    episodes: Sequence[CachedEpisode], frames: int, clips_per_episode: int, seed: int, epoch: int
) -> list[tuple[int, int]]:
    """The epoch's clips as (episode index, start), shuffled, each start uniform over the
    episode's valid starts; drawn from ``numpy.random.default_rng((seed, epoch))`` alone."""
    rng = np.random.default_rng((seed, epoch))
    items = np.repeat(np.arange(len(episodes)), clips_per_episode)
    order = rng.permutation(items)
    starts = [int(rng.integers(0, episodes[i].max_start(frames) + 1)) for i in order]
    return list(zip(order.tolist(), starts, strict=True))


def validation_clips(episodes: Sequence[CachedEpisode], frames: int) -> list[tuple[int, int]]:
    """Every non-overlapping clip of each episode, from its first frame (the same every time)."""
    clips = []
    for index, episode in enumerate(episodes):
        span = (frames - 1) * episode.stride + 1
        clips += [(index, start) for start in range(0, episode.max_start(frames) + 1, span)]
    return clips


def batches_per_epoch(num_clips: int, batch_size: int, world_size: int) -> int:
    """Full batches of ``batch_size`` clips on each of ``world_size`` processes."""
    return num_clips // (batch_size * world_size)


def iterate_batches(
    episodes: Sequence[CachedEpisode],
    clips: Sequence[tuple[int, int]],
    frames: int,
    batch_size: int,
    start: int = 0,
    shard: tuple[int, int] = (0, 1),
    drop_last: bool = True,
) -> Iterator[Batch]:
    """This process's batches of ``clips`` from the ``start``-th: global batch j holds clips
    ``[j*B*W, (j+1)*B*W)``, of which rank r takes the r-th block of B."""
    rank, world = shard
    per_step = batch_size * world
    count = len(clips) // per_step if drop_last else math.ceil(len(clips) / per_step)
    for j in range(start, count):
        mine = clips[j * per_step + rank * batch_size : j * per_step + (rank + 1) * batch_size]
        if mine:
            yield Batch.of([episodes[i].clip(s, frames) for i, s in mine])
