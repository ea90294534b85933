"""Embeddings: :func:`embed_video` (``vjepa2.embed``) for one video, :func:`embed_videos` for
a folder of them.

Per video the job writes ``<stem>-<hash>.safetensors`` with
- ``tokens`` ``[S, V, T', H', W', D]`` (with ``pool`` none/both),
- ``pooled`` ``[S, V, D]`` (with ``pool`` mean/both): the mean of the tokens, or the attentive
  pooler's output when the model has a classifier head,
- ``indices`` ``[S, T]`` (frames used), ``starts`` / ``ends`` ``[S]`` (seconds),
for S clips (segments or windows) and V spatial views; and a ``manifest.jsonl`` record.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import save_file
from tqdm import tqdm

from vjepa2.data.video_clips import Clips, ClipSpec, iterate_clips, load_clips, video_key
from vjepa2.files import atomic_write, share_like_new_files
from vjepa2.inference.manifest import Manifest
from vjepa2.inference.runner import Forward, batched_outputs
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
    encoder = _encoder(model)

    def forward(pixels: torch.Tensor) -> dict[str, torch.Tensor]:
        features = encoder(pixels)
        if isinstance(model, VJEPA2ForVideoClassification):
            pooled = model.head.pool(features)
        else:
            pooled = features.mean(dim=1)
        return {"pooled": pooled, "tokens": features} if tokens else {"pooled": pooled}

    return forward


def _encoder(model):
    return (
        model.backbone.encoder if isinstance(model, VJEPA2ForVideoClassification) else model.encoder
    )


def _grid(model, clips: Clips) -> tuple[int, int, int]:
    return _encoder(model).token_grid((1, *clips.pixels.shape[2:]))


def embed_video(
    model: VJEPA2Model | VJEPA2ForVideoClassification,
    video: str | os.PathLike | torch.Tensor | np.ndarray,
    spec: ClipSpec | None = None,
    batch_size: int = 8,
) -> Embedding:
    """Embed a video file, or uint8 frames ``[T, H, W, 3]`` (taken as one clip as they are)."""
    spec = spec or ClipSpec.for_model(model.config)
    if isinstance(video, (str, os.PathLike)):
        clips = load_clips(video, spec)
    else:
        frames = torch.as_tensor(video)
        from vjepa2.video.transforms import EvalTransform

        pixels = EvalTransform(spec.crop_size, spec.views)(frames)
        pixels = pixels.unsqueeze(0) if spec.views > 1 else pixels[None, None]
        n = frames.shape[0]
        clips = Clips("<frames>", pixels, np.arange(n)[None], np.zeros(1), np.full(1, float(n)))
    device = next(model.parameters()).device
    ((_, out),) = batched_outputs([clips], embed_forward(model), batch_size, device)
    s, v = clips.pixels.shape[:2]
    tokens = out["tokens"].view(s, v, *_grid(model, clips), -1)
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
) -> EmbedSummary:
    """Embed many videos into ``out_dir``, skipping those a previous run finished.

    Bad files are recorded in the manifest with their reason and the run goes on.
    """
    if pool not in POOL_CHOICES:
        raise ValueError(f"pool must be one of {POOL_CHOICES}, got {pool!r}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    manifest = Manifest(out_dir / "manifest.jsonl")
    todo = [os.fspath(p) for p in paths if not manifest.is_done(os.fspath(p))]
    summary = EmbedSummary(skipped=len(paths) - len(todo))
    device = next(model.parameters()).device
    forward = embed_forward(model, tokens=pool != "mean")
    start = last = time.perf_counter()
    bar = tqdm(total=len(todo), unit="video", disable=not progress, dynamic_ncols=True)
    items = iterate_clips(todo, spec, workers=workers)
    for item, out in batched_outputs(items, forward, batch_size, device, dtype):
        now = time.perf_counter()
        record = {"path": item.path, "seconds": round(now - last, 4)}
        last = now
        if out is None:
            record.update(status="error", error=item.reason, output=None)
            summary.failed += 1
        else:
            s, v = item.pixels.shape[:2]
            tensors = {"indices": torch.from_numpy(item.indices),
                       "starts": torch.from_numpy(item.starts.astype(np.float64)),
                       "ends": torch.from_numpy(item.ends.astype(np.float64))}  # fmt: skip
            if pool != "none":
                tensors["pooled"] = out["pooled"].view(s, v, -1).to(save_dtype)
            if pool != "mean":
                tensors["tokens"] = out["tokens"].view(s, v, *_grid(model, item), -1).to(save_dtype)
            name = video_key(item.path) + ".safetensors"
            metadata = {"source": item.path, "model": model_name, "spec": json.dumps(asdict(spec))}
            size = _write_atomic(tensors, metadata, out_dir / name)
            record.update(status="ok", error=None, output=name, bytes=size,
                          frames=item.indices.reshape(-1).tolist(), clips=s, views=v)  # fmt: skip
            summary.done += 1
        manifest.append(record)
        bar.update(1)
        elapsed = time.perf_counter() - start
        bar.set_postfix(videos_s=f"{summary.done / elapsed:.2f}", failed=summary.failed)
    bar.close()
    summary.seconds = time.perf_counter() - start
    return summary
