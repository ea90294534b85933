"""Embeddings: :func:`embed_video` (``vjepa2.embed``) for one video, :func:`embed_videos` for
a folder of them.

Per video the job writes ``<stem>-<hash>.safetensors`` with
- ``tokens`` ``[S, V, T', H', W', D]`` (with ``pool`` none/both),
- ``pooled`` ``[S, V, D]`` (with ``pool`` mean/both): the mean of the tokens, or the attentive
  pooler's output when the model has a classifier head,
- ``indices`` ``[S, T]`` (frames used), ``starts`` / ``ends`` ``[S]`` (seconds),
for S clips (segments or windows) and V spatial views; a ``records.jsonl`` record per video
and the folder's ``run.json`` (see `vjepa2.inference.records`).

With levels (``layers``: a count or block indices, see `vjepa2.models.levels`) the tokens get a
level axis, ``[S, V, L, T', H', W', D]`` (each block through the final norm; a V-JEPA 2.1
model's hierarchical levels through their own norms), and the mean ``pooled`` one too,
``[S, V, L, D]``; a classifier's attentive ``pooled`` stays ``[S, V, D]`` (its probe reads the
levels concatenated along the token axis).
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
from tqdm import tqdm

from vjepa2.data.clip_pipeline import ClipSpec, clips_from_frames, read_clips, video_key
from vjepa2.data.loader import UnreadableVideo, iterate_clips
from vjepa2.errors import UsageError
from vjepa2.files import atomic_write, share_like_new_files
from vjepa2.inference.records import EmbedRecords, claim_folder, file_identity, weights_fingerprint
from vjepa2.inference.runner import Forward, VideoClips, batched_outputs, video_outputs
from vjepa2.models.levels import Levels, encode_levels, resolve_levels
from vjepa2.models.model import VJEPA2ForVideoClassification, VJEPA2Model

POOL_CHOICES = ("mean", "none", "both")


@dataclass
class Embedding:
    """Embedding of one video.

    Attributes:
        tokens: the token grid ``[T', H', W', D]`` (``[S, V, T', H', W', D]`` when several clips
            or views were asked for; ``[L, T', H', W', D]`` with L levels).
        pooled: ``[D]`` (``[S, V, D]``): mean of the tokens (per level: ``[L, D]``), or the
            attentive pooler's output for a classifier.
        starts / ends: time span of each clip in seconds ``[S]``.
    """

    tokens: torch.Tensor
    pooled: torch.Tensor
    starts: np.ndarray
    ends: np.ndarray


def embed_forward(
    model: VJEPA2Model | VJEPA2ForVideoClassification,
    tokens: bool = True,
    levels: tuple[int, ...] | None = None,
) -> Forward:
    """pixels ``[C, T, 3, H, W]`` -> ``{"pooled": [C, D], "tokens": [C, N, D]}``; with
    ``levels`` (block indices) ``tokens`` ``[C, L, N, D]`` and a mean ``pooled`` ``[C, L, D]``."""
    encoder = model.encoder
    head = model.head if isinstance(model, VJEPA2ForVideoClassification) else None

    def forward(pixels: torch.Tensor) -> dict[str, torch.Tensor]:
        if levels:
            features = encode_levels(encoder, pixels, levels)  # [C, L, N, D]
            probe_input = features.flatten(1, 2)
        else:
            features = probe_input = encoder(pixels)
        pooled = head.pool(probe_input) if head is not None else features.mean(dim=-2)
        return {"pooled": pooled, "tokens": features} if tokens else {"pooled": pooled}

    return forward


def embed_levels(model, layers: Levels | None) -> tuple[int, ...] | None:
    """The blocks an embedding taps: ``layers`` resolved for the model (default: the levels
    the model was loaded with, ``config.out_layers``). A classifier's levels are what its probe
    reads; asking for others is a :class:`UsageError`."""
    loaded = getattr(model.config, "out_layers", None)
    if layers is None:
        return tuple(loaded) if loaded else None
    blocks = resolve_levels(model.config, layers)
    if isinstance(model, VJEPA2ForVideoClassification):
        depth = model.config.num_hidden_layers
        reads = tuple(v % depth for v in loaded or [depth - 1])
        if blocks != reads:
            raise UsageError(
                f"this classifier's probe reads encoder blocks {list(reads)}; --layers asks for "
                f"blocks {list(blocks)} (leave --layers out, or embed with the plain encoder)"
            )
        return tuple(loaded) if loaded else None
    return blocks


def _unflatten(out: dict[str, torch.Tensor], s: int, v: int, grid) -> tuple:
    """``[S*V, (L,) N, D]`` tokens and ``[S*V, (L,) D]`` pooled -> ``[S, V, (L,) T', H', W', D]``
    and ``[S, V, (L,) D]``."""
    tokens = out.get("tokens")
    if tokens is not None:
        tokens = tokens.view(s, v, *tokens.shape[1:-2], *grid, -1)
    return tokens, out["pooled"].view(s, v, *out["pooled"].shape[1:])


def _grid(model, frames: int, crop_size: int) -> tuple[int, int, int]:
    return model.encoder.token_grid((1, frames, 3, crop_size, crop_size))


def embed_video(
    video: str | os.PathLike | torch.Tensor | np.ndarray,
    model: VJEPA2Model | VJEPA2ForVideoClassification,
    spec: ClipSpec | None = None,
    batch_size: int = 8,
    layers: Levels | None = None,
) -> Embedding:
    """Embed a video file, or uint8 frames ``[T, H, W, 3]`` (taken as one clip as they are);
    ``layers``: multi-level features (a count or block indices)."""
    spec = spec or ClipSpec.for_model(model.config)
    if isinstance(video, (str, os.PathLike)):
        clips = read_clips(video, spec)
    else:
        clips = clips_from_frames(video, spec)
    device = next(model.parameters()).device
    forward = embed_forward(model, levels=embed_levels(model, layers))
    ((_, out),) = batched_outputs([clips], forward, batch_size, device)
    s, v, t = clips.pixels.shape[:3]
    tokens, pooled = _unflatten(out, s, v, _grid(model, t, clips.pixels.shape[-1]))
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
    tokens, pooled = _unflatten(out, s, v, job.grid)
    if job.pool != "none":
        tensors["pooled"] = pooled.to(job.save_dtype)
    if job.pool != "mean":
        tensors["tokens"] = tokens.to(job.save_dtype)
    name = video_key(video.path) + ".safetensors"
    metadata = {"source": video.path, "model": job.run["model_source"],
                "model_fingerprint": job.run["model"],
                "spec": json.dumps(job.spec.to_dict())}  # fmt: skip
    if job.run.get("layers"):
        metadata["layers"] = json.dumps(job.run["layers"])
    size = _write_atomic(tensors, metadata, job.out_dir / name)
    return {"status": "ok", "error": None, "output": name, "bytes": size,
            "frames": video.indices.reshape(-1).tolist(), "clips": s, "views": v}  # fmt: skip


def embed_run(
    model, spec: ClipSpec, pool: str, dtype, save_dtype, model_name: str, levels=None
) -> dict:
    """The identity of an embedding folder: the model's fingerprint and every setting that
    changes what is written (``model_source`` is informational)."""
    run = {"model": weights_fingerprint(model), "model_source": model_name,
           "spec": spec.to_dict(), "pool": pool, "dtype": str(dtype).removeprefix("torch."),
           "save_dtype": str(save_dtype).removeprefix("torch.")}  # fmt: skip
    return {**run, "layers": list(levels)} if levels else run  # no key: older folders resume


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
    layers: Levels | None = None,
) -> EmbedSummary:
    """Embed many videos into ``out_dir``, skipping those a previous run finished.

    Bad files are recorded with their reason and the run goes on. A folder made with another
    model or other settings is refused (`EmbedFolderError`). Sliding windows are embedded in
    parts of ``batch_size`` windows, so memory does not grow with a video's length.
    """
    if pool not in POOL_CHOICES:
        raise ValueError(f"pool must be one of {POOL_CHOICES}, got {pool!r}")
    out_dir = Path(out_dir)
    levels = embed_levels(model, layers)
    run = embed_run(model, spec, pool, dtype, save_dtype, model_name, levels)
    out_dir.mkdir(parents=True, exist_ok=True)
    claim_folder(out_dir, run)
    job = _Job(out_dir, spec, pool, save_dtype, _grid(model, spec.frames, spec.crop_size), run)
    records = EmbedRecords(out_dir)
    todo = [os.fspath(p) for p in paths if not records.is_done(p)]
    summary = EmbedSummary(skipped=len(paths) - len(todo))
    device = next(model.parameters()).device
    forward = embed_forward(model, tokens=pool != "mean", levels=levels)
    start = last = time.perf_counter()
    bar = tqdm(total=len(todo), unit="video", disable=not progress, dynamic_ncols=True)
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
    bar.close()
    summary.seconds = time.perf_counter() - start
    return summary
