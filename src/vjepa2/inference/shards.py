"""Embedding across processes: each process embeds its shard of the videos into the one output
folder, and the records of every shard are merged into ``records.jsonl``.

Two ways to run shards:

- under ``torchrun`` (any number of nodes): the ranks join a gloo process group; rank 0 merges
  what an earlier run left before the others start, waits for every rank at the end and merges;
  it alone shows a progress bar, for the whole job.
- ``--shard I/N`` (processes launched by hand, e.g. a SLURM array): no process group; the shard
  that finishes last (every ``records-*-of-N.done`` marker there) merges, and `merge_records`
  (``vjepa2 embed --merge-only``) merges whatever a run left.

A shard is stable: the inputs sorted by resolved path, every N-th from the I-th, so the same
inputs give the same shards in every process and every rerun. A video counts as done by its
record, whatever shard or world size wrote it: while a sharded run is under way each shard
appends its records to its own ``records-I-of-N.jsonl`` beside ``records.jsonl``, and every
reader takes those part files into account, so a rerun after a kill, with another world size or
without shards, skips what is finished. A merge keeps one record per video (the last written
wins), writes ``records.jsonl`` atomically and removes the parts and markers.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar

import torch
import torch.distributed as dist
from tqdm import tqdm

from vjepa2.errors import UsageError
from vjepa2.files import write_text_atomic
from vjepa2.inference.records import RECORDS, EmbedRecords, read_records

T = TypeVar("T")
PARTS = "records-*-of-*.jsonl"
MARKERS = "records-*-of-*.done"
LOCK = ".records.lock"
# Ranks may finish their shards hours apart: the group waits that long at the final barrier.
GROUP_TIMEOUT = timedelta(days=7)


@dataclass(frozen=True)
class Shard:
    """Shard ``index`` of ``count``; ``group``: the processes are ranks of a torchrun job."""

    index: int = 0
    count: int = 1
    group: bool = False

    @classmethod
    def parse(cls, text: str) -> Shard:
        """``"I/N"`` (0 <= I < N) -> ``Shard(I, N)``."""
        match = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", text)
        if not match or not 0 <= int(match[1]) < int(match[2]):
            raise UsageError(f"--shard {text!r}: give I/N with 0 <= I < N, e.g. 0/4")
        return cls(int(match[1]), int(match[2]))

    @classmethod
    def from_env(cls) -> Shard:
        """This rank's shard under torchrun (``RANK`` of ``WORLD_SIZE``); the whole job alone."""
        world = int(os.environ.get("WORLD_SIZE", "1"))
        return cls(int(os.environ["RANK"]), world, group=True) if world > 1 else cls()

    @property
    def sharded(self) -> bool:
        return self.count > 1

    @property
    def reports(self) -> bool:
        """Whether this process prints the job's outcome (rank 0 of a torchrun job; any process
        launched by hand)."""
        return not self.group or self.index == 0

    def take(self, paths: Sequence[T]) -> list[T]:
        """This shard's inputs, in input order."""
        if not self.sharded:
            return list(paths)
        resolved = [_resolved(p) for p in paths]
        mine = set(sorted(set(resolved))[self.index :: self.count])
        return [p for p, key in zip(paths, resolved, strict=True) if key in mine]

    def part(self, out_dir: Path) -> Path:
        """The file this shard appends its records to."""
        return Path(out_dir) / f"records-{self.index:05d}-of-{self.count:05d}.jsonl"

    def marker(self, out_dir: Path) -> Path:
        """The file that says this shard finished (processes launched by hand)."""
        return self.part(out_dir).with_suffix(".done")


def _resolved(path: Any) -> str:
    return str(Path(path).resolve())


def resolve_shard(text: str | None) -> Shard:
    """The ``--shard`` option's shard, or the torchrun rank's; refuses both at once."""
    shard = Shard.from_env()
    if text is None:
        return shard
    if shard.sharded:
        raise UsageError("--shard is for processes launched by hand; under torchrun every rank "
                         "takes its shard by itself")  # fmt: skip
    return Shard.parse(text)


def rank_device(name: str) -> str:
    """Under torchrun, ``auto``/``cuda`` on a machine with GPUs means this rank's GPU
    (``cuda:LOCAL_RANK``); any other name is kept."""
    if os.environ.get("LOCAL_RANK") is None or name not in ("auto", "cuda"):
        return name
    if not torch.cuda.is_available():
        return name
    return f"cuda:{int(os.environ['LOCAL_RANK'])}"


def _parts(out_dir: Path) -> list[Path]:
    """The part files in ``out_dir``, oldest first (their records are applied in this order)."""
    return sorted(Path(out_dir).glob(PARTS), key=lambda p: (p.stat().st_mtime_ns, p.name))


@contextmanager
def _locked(out_dir: Path) -> Iterator[None]:
    """One merge at a time in ``out_dir`` (two shards may finish together)."""
    with open(Path(out_dir) / LOCK, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def merge_records(out_dir: str | os.PathLike) -> int:
    """Fold the part files of sharded runs into ``records.jsonl`` (one record per video, the
    last written winning; rewritten atomically), then remove the parts and the markers. Returns
    the number of records taken from parts (0: nothing to merge). Call it when no shard is
    running into ``out_dir``."""
    out_dir = Path(out_dir)
    if not out_dir.is_dir() or not (_parts(out_dir) or list(out_dir.glob(MARKERS))):
        return 0  # nothing to merge (and no lock file left in a folder never sharded)
    with _locked(out_dir):
        parts = _parts(out_dir)
        if parts:
            merged = read_records(out_dir / RECORDS)
            taken = 0
            for part in parts:
                records = read_records(part)
                merged.update(records)
                taken += len(records)
            text = "".join(json.dumps(record) + "\n" for record in merged.values())
            write_text_atomic(out_dir / RECORDS, text)
        for leftover in [*parts, *out_dir.glob(MARKERS)]:
            leftover.unlink(missing_ok=True)
    return taken if parts else 0


def _join_group() -> tuple[Any, bool]:
    """A gloo group over every rank (the default one when it is gloo); whether it was created
    here (and must be destroyed here)."""
    if not dist.is_initialized():
        dist.init_process_group("gloo", timeout=GROUP_TIMEOUT)
        return None, True
    if dist.get_backend() == "gloo":
        return None, False
    return dist.new_group(backend="gloo", timeout=GROUP_TIMEOUT), False


class _JobBar:
    """Rank 0's bar for a whole torchrun job: it counts the records every rank appends to its
    part file (the folder is shared by the ranks), polled from a thread."""

    def __init__(self, out_dir: Path, count: int, total: int, enabled: bool) -> None:
        self.pattern = f"records-*-of-{count:05d}.jsonl"
        self.out_dir, self.lines = out_dir, {}
        self.bar = tqdm(total=total, unit="video", disable=not enabled, dynamic_ncols=True)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._poll, daemon=True)
        self.thread.start()

    def _count(self) -> int:
        for part in self.out_dir.glob(self.pattern):
            offset, lines = self.lines.get(part, (0, 0))
            with open(part, "rb") as f:
                f.seek(offset)
                chunk = f.read()
            self.lines[part] = (offset + len(chunk), lines + chunk.count(b"\n"))
        return sum(lines for _, lines in self.lines.values())

    def _poll(self) -> None:
        while not self.stop.wait(0.5):
            self.bar.update(self._count() - self.bar.n)

    def update(self, n: int = 1) -> None:
        """Counted from the part files instead."""

    def set_postfix(self, **values: Any) -> None:
        """The bar shows the whole job's rate itself."""

    def close(self) -> None:
        self.stop.set()
        self.thread.join()
        self.bar.update(self._count() - self.bar.n)
        self.bar.close()


class ShardRun:
    """One process's part of an embedding job into ``out_dir``: its records (every finished
    video of the folder, whoever embedded it), its progress bar and the final merge (see the
    module docstring). ``records.append`` goes to this shard's part file when sharded."""

    def __init__(self, out_dir: str | os.PathLike, shard: Shard | None = None) -> None:
        shard = shard or Shard()
        self.out_dir, self.shard = Path(out_dir), shard
        self.group, self.joined = _join_group() if shard.group else (None, False)
        if shard.group:
            if shard.index == 0:
                merge_records(self.out_dir)  # a killed run's parts, before any rank reads
            dist.barrier(group=self.group)
        elif not shard.sharded:
            merge_records(self.out_dir)
        else:
            shard.marker(self.out_dir).unlink(missing_ok=True)
        self.records = EmbedRecords(self.out_dir)
        if shard.sharded:
            for part in _parts(self.out_dir):
                self.records.records.update(read_records(part))
            self.records.path = shard.part(self.out_dir)
        self.bar: tqdm | _JobBar | None = None

    def progress(self, paths: Sequence[Any], todo: int, enabled: bool) -> tqdm | _JobBar:
        """The progress bar: for rank 0 of a torchrun job every rank's videos still to do among
        ``paths``, for other ranks none, otherwise this process's ``todo``."""
        if self.shard.group and self.shard.index == 0:
            total = sum(not self.records.is_done(p) for p in paths)
            self.bar = _JobBar(self.out_dir, self.shard.count, total, enabled)
        else:
            enabled = enabled and not self.shard.group
            self.bar = tqdm(total=todo, unit="video", disable=not enabled, dynamic_ncols=True)
        return self.bar

    def finish(self, summary: Any) -> None:
        """Close the bar and merge when the job is done. Under torchrun ``summary``'s counters
        (``done``, ``failed``, ``skipped``) become the whole job's."""
        if self.shard.group:
            dist.barrier(group=self.group)
        if self.bar is not None:
            self.bar.close()
        if self.shard.group:
            counts = torch.tensor([summary.done, summary.failed, summary.skipped])
            dist.all_reduce(counts, group=self.group)
            summary.done, summary.failed, summary.skipped = counts.tolist()
            if self.shard.index == 0:
                merge_records(self.out_dir)
        if self.joined:
            dist.destroy_process_group()
        if self.shard.sharded and not self.shard.group:
            self.shard.marker(self.out_dir).touch()
            count = self.shard.count
            if all(Shard(i, count).marker(self.out_dir).exists() for i in range(count)):
                merge_records(self.out_dir)


def gather(items: Iterable[T], shard: Shard, key: Callable[[T], Any] | None = None) -> list[T]:
    """Every rank's ``items`` on rank 0 of a torchrun job (sorted by ``key`` when given), none
    on the others; without torchrun, ``items`` themselves."""
    items = list(items)
    if not shard.group:
        return items
    group, joined = _join_group()
    everything: list[list[T] | None] = [None] * shard.count
    dist.all_gather_object(everything, items, group=group)
    if joined:
        dist.destroy_process_group()
    if shard.index != 0:
        return []
    merged = [item for part in everything for item in part or []]
    return sorted(merged, key=key) if key is not None else merged
