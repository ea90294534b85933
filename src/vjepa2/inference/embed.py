"""Embeddings: :func:`embed_video` (``vjepa2.embed``) for one video, :func:`embed_videos` for
a folder of them.

Per video the job writes ``<stem>-<hash>.safetensors`` with
- ``tokens`` ``[S, V, T', H', W', D]`` (with ``pool`` none/both),
- ``pooled`` ``[S, V, D]`` (with ``pool`` mean/both): the mean of the tokens, or the attentive
  pooler's output when the model has a classifier head,
- ``indices`` ``[S, T]`` (frames used), ``starts`` / ``ends`` ``[S]`` (seconds),
for S clips (segments or windows) and V spatial views; a ``records.jsonl`` record per video
and the folder's ``run.json`` (see `vjepa2.inference.records`).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import save_file

from vjepa2.data.clip_pipeline import ClipSpec, clips_from_frames, read_clips, video_key
from vjepa2.data.loader import UnreadableVideo, iterate_clips
from vjepa2.files import atomic_write, share_like_new_files
from vjepa2.inference.records import claim_folder, file_identity, weights_fingerprint
from vjepa2.inference.runner import Forward, VideoClips, batched_outputs, video_outputs
from vjepa2.inference.shards import Shard, ShardRun
from vjepa2.models.model import VJEPA2ForVideoClassification, VJEPA2Model

POOL_CHOICES = ("mean", "none", "both")


@dataclass
class Embedding:
    """Embedding of one video.

    Attributes:
        tokens: the token grid ``[T', H', W', D]`` (``[S, V, T', H', W', D]`` when several clips
            or views were asked for).
        pooled: ``[D]`` (``[S, V, D]``): mean of the tokens, or the attentive pooler's output for
            a classifier.
        starts / ends: time span of each clip in seconds ``[S]``.
    """

    tokens: torch.Tensor
    pooled: torch.Tensor
    starts: np.ndarray
    ends: np.ndarray


def embed_forward(
    model: VJEPA2Model | VJEPA2ForVideoClassification, tokens: bool = True
) -> Forward:
    """pixels ``[C, T, 3, H, W]`` -> ``{"pooled": [C, D], "tokens": [C, N, D]}``."""
    encoder = model.encoder
    head = model.head if isinstance(model, VJEPA2ForVideoClassification) else None

    def forward(pixels: torch.Tensor) -> dict[str, torch.Tensor]:
        features = encoder(pixels)
        pooled = head.pool(features) if head is not None else features.mean(dim=1)
        return {"pooled": pooled, "tokens": features} if tokens else {"pooled": pooled}

    return forward


def _grid(model, frames: int, crop_size: int) -> tuple[int, int, int]:
    return model.encoder.token_grid((1, frames, 3, crop_size, crop_size))


def embed_video(
    video: str | os.PathLike | torch.Tensor | np.ndarray,
    model: VJEPA2Model | VJEPA2ForVideoClassification,
    spec: ClipSpec | None = None,
    batch_size: int = 8,
) -> Embedding:
    """Embed a video file, or uint8 frames ``[T, H, W, 3]`` (taken as one clip as they are)."""
    spec = spec or ClipSpec.for_model(model.config)
    if isinstance(video, (str, os.PathLike)):
        clips = read_clips(video, spec)
    else:
        clips = clips_from_frames(video, spec)
    device = next(model.parameters()).device
    ((_, out),) = batched_outputs([clips], embed_forward(model), batch_size, device)
    s, v, t = clips.pixels.shape[:3]
    tokens = out["tokens"].view(s, v, *_grid(model, t, clips.pixels.shape[-1]), -1)
    pooled = out["pooled"].view(s, v, -1)
    if s == v == 1:
        tokens, pooled = tokens[0, 0], pooled[0, 0]
    return Embedding(tokens, pooled, clips.starts, clips.ends)


@dataclass
class EmbedSummary:
    done: int = 0
    failed: int = 0
    skipped: int = 0
    seconds: float = 0.0

    @property
    def videos_per_second(self) -> float:
        return self.done / self.seconds if self.seconds else 0.0


def _write_atomic(tensors: dict[str, torch.Tensor], metadata: dict[str, str], path: Path) -> int:
    with atomic_write(path) as tmp:
        save_file({k: v.contiguous() for k, v in tensors.items()}, tmp, metadata=metadata)
        share_like_new_files(tmp)
    return path.stat().st_size


@dataclass(frozen=True)
class _Job:
    """What every video of one `embed_videos` call shares."""

    out_dir: Path
    spec: ClipSpec
    pool: str
    save_dtype: torch.dtype
    grid: tuple[int, int, int]
    run: dict


def _save(job: _Job, video: VideoClips, out: dict[str, torch.Tensor]) -> dict:
    """Write one video's tensors; returns the fields of its record."""
    s, v = video.num_segments, video.views
    tensors = {"indices": torch.from_numpy(video.indices),
               "starts": torch.from_numpy(video.starts.astype(np.float64)),
               "ends": torch.from_numpy(video.ends.astype(np.float64))}  # fmt: skip
    if job.pool != "none":
        tensors["pooled"] = out["pooled"].view(s, v, -1).to(job.save_dtype)
    if job.pool != "mean":
        tensors["tokens"] = out["tokens"].view(s, v, *job.grid, -1).to(job.save_dtype)
    name = video_key(video.path) + ".safetensors"
    metadata = {"source": video.path, "model": job.run["model_source"],
                "model_fingerprint": job.run["model"],
                "spec": json.dumps(job.spec.to_dict())}  # fmt: skip
    size = _write_atomic(tensors, metadata, job.out_dir / name)
    return {"status": "ok", "error": None, "output": name, "bytes": size,
            "frames": video.indices.reshape(-1).tolist(), "clips": s, "views": v}  # fmt: skip


def embed_run(model, spec: ClipSpec, pool: str, dtype, save_dtype, model_name: str) -> dict:
    """The identity of an embedding folder: the model's fingerprint and every setting that
    changes what is written (``model_source`` is informational)."""
    return {"model": weights_fingerprint(model), "model_source": model_name,
            "spec": spec.to_dict(), "pool": pool, "dtype": str(dtype).removeprefix("torch."),
            "save_dtype": str(save_dtype).removeprefix("torch.")}  # fmt: skip


def embed_videos(
    model: VJEPA2Model | VJEPA2ForVideoClassification,
    paths: Sequence[str | os.PathLike],
    out_dir: str | os.PathLike,
    spec: ClipSpec,
    *,
    pool: str = "mean",
    batch_size: int = 8,
    workers: int = 2,
    dtype: torch.dtype = torch.float32,
    save_dtype: torch.dtype = torch.float32,
    model_name: str = "",
    progress: bool = True,
    shard: Shard | None = None,
) -> EmbedSummary:
    """Embed many videos into ``out_dir``, skipping those a previous run finished.

    With a ``shard`` (see `vjepa2.inference.shards`), only that shard of ``paths`` is embedded
    and the shards' records are merged when the job is done.

    Bad files are recorded with their reason and the run goes on. A folder made with another
    model or other settings is refused (`EmbedFolderError`). Sliding windows are embedded in
    parts of ``batch_size`` windows, so memory does not grow with a video's length.
    """
    if pool not in POOL_CHOICES:
        raise ValueError(f"pool must be one of {POOL_CHOICES}, got {pool!r}")
    out_dir = Path(out_dir)
    run = embed_run(model, spec, pool, dtype, save_dtype, model_name)
    out_dir.mkdir(parents=True, exist_ok=True)
    claim_folder(out_dir, run)
    job = _Job(out_dir, spec, pool, save_dtype, _grid(model, spec.frames, spec.crop_size), run)
    shards = ShardRun(out_dir, shard)
    records, mine = shards.records, shards.shard.take(paths)
    todo = [os.fspath(p) for p in mine if not records.is_done(p)]
    summary = EmbedSummary(skipped=len(mine) - len(todo))
    device = next(model.parameters()).device
    forward = embed_forward(model, tokens=pool != "mean")
    start = last = time.perf_counter()
    bar = shards.progress(paths, len(todo), progress)
    items = iterate_clips(todo, spec, workers=workers, max_clips=batch_size)
    for video, out in video_outputs(items, forward, batch_size, device, dtype):
        now = time.perf_counter()
        record = {"path": video.path, **file_identity(video.path), "seconds": round(now - last, 4)}
        last = now
        if isinstance(video, UnreadableVideo):
            record.update(status="error", error=video.reason, output=None)
            summary.failed += 1
        else:
            record.update(_save(job, video, out))
            summary.done += 1
        records.append(record)
        bar.update(1)
        elapsed = time.perf_counter() - start
        bar.set_postfix(videos_s=f"{summary.done / elapsed:.2f}", failed=summary.failed)
    shards.finish(summary)  # closes the bar
    summary.seconds = time.perf_counter() - start
    return summary
