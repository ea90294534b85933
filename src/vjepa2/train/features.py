"""A memory-mapped cache of frozen-backbone features, so a probe trains all epochs (and all its
heads) from features computed once.

Layout of a cache folder:
- ``tokens.npy``: ``[num_videos, V, S*N, D]`` (float16 by default), memory-mapped; with levels
  (a multi-level probe) ``[num_videos, V, S*L*N, D]``, each clip's levels concatenated along
  the tokens (level-major) before its segments are;
- ``labels.npy``: ``[num_videos]`` int64; ``done.npy``: which rows are written;
- ``failures.jsonl``: videos that could not be decoded, with the reason;
- ``meta.json``: what the cache was built from (model fingerprint, clip spec, shape), checked
  before reuse; a killed build resumes on the rows not yet done.

Several processes may build one cache together, each encoding its shard of the rows (see
`vjepa2.train.ddp`): the rows written are marked in ``done.npy`` under a file lock.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from vjepa2.data.clip_pipeline import ClipSpec
from vjepa2.data.loader import UnreadableVideo, iterate_clips
from vjepa2.data.manifest import Example
from vjepa2.files import atomic_write
from vjepa2.inference.records import weights_fingerprint
from vjepa2.inference.runner import video_outputs
from vjepa2.models.encoder import VJEPA2Encoder
from vjepa2.models.levels import probe_tokens

NUMPY_DTYPES = {"fp16": np.float16, "fp32": np.float32}


def concat_segments(tokens: torch.Tensor, segments: int, views: int) -> torch.Tensor:
    """Per-clip tokens ``[S*V, N, D]`` (segment-major) -> per-view ``[V, S*N, D]``: the tokens of
    all segments of a view concatenated along the token axis, as the evaluation protocol does."""
    n, d = tokens.shape[-2:]
    return tokens.view(segments, views, n, d).transpose(0, 1).reshape(views, segments * n, d)


class FeatureCache:
    """Read side of a cache folder (see the module docstring)."""

    def __init__(self, directory: str | os.PathLike) -> None:
        self.directory = Path(directory)
        self.meta = json.loads((self.directory / "meta.json").read_text())
        self.tokens = np.load(self.directory / "tokens.npy", mmap_mode="r")
        self.labels = np.load(self.directory / "labels.npy")
        self.done = np.load(self.directory / "done.npy")

    @property
    def valid_rows(self) -> np.ndarray:
        """Rows that hold features (failed videos excluded)."""
        return np.flatnonzero(self.done)

    def batch(self, rows: Sequence[int]) -> tuple[torch.Tensor, torch.Tensor]:
        """tokens ``[B, V, S*N, D]`` float32 and labels ``[B]`` for the given rows."""
        rows = np.asarray(rows)
        order = np.argsort(rows)  # memmap reads are faster in file order
        tokens = np.empty((len(rows), *self.tokens.shape[1:]), dtype=np.float32)
        tokens[order] = self.tokens[rows[order]]
        return torch.from_numpy(tokens), torch.from_numpy(self.labels[rows])

    @classmethod
    def build(
        cls,
        directory: str | os.PathLike,
        encoder: VJEPA2Encoder,
        examples: Sequence[Example],
        spec: ClipSpec,
        *,
        batch_size: int = 8,
        workers: int = 2,
        dtype: torch.dtype = torch.float32,
        storage: str = "fp16",
        progress: bool = True,
        description: str = "caching features",
        shard: tuple[int, int] = (0, 1),
        sync: Callable[[], None] | None = None,
        levels: Sequence[int] | None = None,
    ) -> FeatureCache:
        """Encode every example once (or finish an interrupted build) and return the cache.

        ``levels``: the blocks a multi-level probe reads (None: the last block). With
        ``shard=(i, n)`` this process encodes every n-th row to do from the i-th; shard 0
        prepares the folder, then ``sync()`` (a barrier of the n processes) runs; the returned
        cache holds the other shards' rows once they are done too.
        """
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        grid = encoder.token_grid((1, spec.frames, 3, spec.crop_size, spec.crop_size))
        per_clip = len(levels or (None,)) * int(np.prod(grid))
        shape = (len(examples), spec.views, spec.segments * per_clip, encoder.config.hidden_size)
        meta = {
            "encoder": weights_fingerprint(encoder),
            "spec": spec.to_dict(),
            "paths": hashlib.sha1("\n".join(str(e.path) for e in examples).encode()).hexdigest(),
            "shape": list(shape),
            "storage": storage,
        } | ({"levels": list(levels)} if levels else {})  # no key: older caches still match
        if shard[0] == 0 and not _matches(directory, meta):
            _start(directory, meta, shape, examples, NUMPY_DTYPES[storage])
        if sync is not None:
            sync()
        done = np.load(directory / "done.npy")
        todo = np.flatnonzero(~done & ~_failed_rows(directory, len(examples)))
        todo = todo[shard[0] :: shard[1]]
        if len(todo):
            tokens = np.load(directory / "tokens.npy", mmap_mode="r+")
            device = next(encoder.parameters()).device
            paths = [examples[i].path for i in todo]
            items = iterate_clips(paths, spec, workers=workers, max_clips=batch_size)
            bar = tqdm(total=len(todo), desc=description, unit="video", disable=not progress)
            forward = lambda pixels: {"tokens": probe_tokens(encoder, pixels, levels)}  # noqa: E731
            outputs = video_outputs(items, forward, batch_size, device, dtype)
            fresh: list[int] = []  # rows written since the last flush
            for written, (row, (video, out)) in enumerate(zip(todo, outputs, strict=True), 1):
                if out is None:
                    _record_failure(directory, int(row), video)
                else:
                    segments = concat_segments(out["tokens"], video.num_segments, video.views)
                    tokens[row] = segments.numpy()
                    fresh.append(int(row))
                if written % 64 == 0 or written == len(todo):
                    tokens.flush()
                    _mark_done(directory, fresh)
                    fresh = []
                bar.update(1)
            bar.close()
            del tokens
        return cls(directory)


def _matches(directory: Path, meta: dict) -> bool:
    path = directory / "meta.json"
    return path.exists() and json.loads(path.read_text()) == meta


def _start(directory: Path, meta: dict, shape, examples: Sequence[Example], dtype) -> None:
    for name in ("tokens.npy", "done.npy", "failures.jsonl"):
        (directory / name).unlink(missing_ok=True)
    np.lib.format.open_memmap(directory / "tokens.npy", mode="w+", dtype=dtype, shape=shape)
    np.save(directory / "labels.npy", np.array([e.label for e in examples], dtype=np.int64))
    _save_atomic_npy(directory / "done.npy", np.zeros(len(examples), dtype=bool))
    (directory / "meta.json").write_text(json.dumps(meta, indent=1))


def _save_atomic_npy(path: Path, array: np.ndarray) -> None:
    with atomic_write(path) as tmp, open(tmp, "wb") as f:  # a file: np.save would add ".npy"
        np.save(f, array)


def _mark_done(directory: Path, rows: list[int]) -> None:
    """Set ``rows`` in ``done.npy``, read and rewritten under a lock (other processes may be
    marking their rows)."""
    with open(directory / ".done.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            done = np.load(directory / "done.npy")
            done[rows] = True
            _save_atomic_npy(directory / "done.npy", done)
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _record_failure(directory: Path, row: int, item: UnreadableVideo) -> None:
    with open(directory / "failures.jsonl", "a") as f:
        f.write(json.dumps({"row": row, "path": item.path, "reason": item.reason}) + "\n")


def _failed_rows(directory: Path, n: int) -> np.ndarray:
    failed = np.zeros(n, dtype=bool)
    path = directory / "failures.jsonl"
    if path.exists():
        for line in path.read_text().splitlines():
            try:
                failed[json.loads(line)["row"]] = True
            except (json.JSONDecodeError, KeyError, IndexError):
                continue
    return failed


def read_failures(directory: str | os.PathLike) -> list[dict]:
    path = Path(directory) / "failures.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
