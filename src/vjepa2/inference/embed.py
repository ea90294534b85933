"""Embeddings: :func:`embed_video` (``vjepa2.embed``) for one video, :func:`embed_videos` for
a folder of them.

Per video the job writes ``<stem>-<hash>.safetensors`` with
- ``tokens`` ``[S, V, T', H', W', D]`` (with ``pool`` none/both, or ``dense``): the dense token
  grid, T' temporal steps (one per tubelet of 2 frames; 1 for an image through a 2.1 model) of
  H' x W' patches (16 px each) of the crop,
- ``token_frames`` ``[S, T', F]`` (with ``dense``): the frame indices each temporal step covers
  (F = the tubelet size, 1 for an image),
- ``pooled`` ``[S, V, D]`` (with ``pool`` mean/both): the mean of the tokens, or the attentive
  pooler's output when the model has a classifier head,
- ``indices`` ``[S, T]`` (frames used), ``starts`` / ``ends`` ``[S]`` (seconds),
for S clips (segments or windows) and V spatial views; a ``records.jsonl`` record per video
(with ``modality``, and the ``dense`` layout when asked) and the folder's ``run.json`` (see
`vjepa2.inference.records`).

Images: a model with an image path (V-JEPA 2.1) embeds an image file as one frame through it
(tubelet-1 patch embedding and image modality embedding; T' = 1). A V-JEPA 2 model has none: an
image is a static clip, its frame repeated ``frames`` times.

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

from vjepa2.data.clip_pipeline import ClipSpec, clips_from_frames, read_clips, video_key
from vjepa2.data.loader import UnreadableVideo, iterate_clips
from vjepa2.data.manifest import is_image_file
from vjepa2.errors import UsageError
from vjepa2.files import atomic_write, share_like_new_files
from vjepa2.inference.classify import CLASSIFIERS
from vjepa2.inference.records import claim_folder, file_identity, weights_fingerprint
from vjepa2.inference.runner import Forward, VideoClips, batched_outputs, video_outputs
from vjepa2.inference.shards import Shard, ShardRun
from vjepa2.models.levels import Levels, encode_levels, resolve_levels
from vjepa2.models.model import VJEPA2ForVideoClassification, VJEPA2Model

POOL_CHOICES = ("mean", "none", "both")
IMAGE, VIDEO = "image", "video"


@dataclass
class Embedding:
    """Embedding of one video.

    Attributes:
        tokens: the token grid ``[T', H', W', D]`` (``[S, V, T', H', W', D]`` when several clips
            or views were asked for; ``[L, T', H', W', D]`` with L levels).
        pooled: ``[D]`` (``[S, V, D]``): mean of the tokens (per level: ``[L, D]``), or the
            attentive pooler's output for a classifier.
        starts / ends: time span of each clip in seconds ``[S]``.
        modality: ``image`` for an image through a model's image path (T' = 1), else ``video``.
    """

    tokens: torch.Tensor
    pooled: torch.Tensor
    starts: np.ndarray
    ends: np.ndarray
    modality: str = VIDEO


def embed_forward(
    model: VJEPA2Model | VJEPA2ForVideoClassification,
    tokens: bool = True,
    levels: tuple[int, ...] | None = None,
) -> Forward:
    """pixels ``[C, T, 3, H, W]`` -> ``{"pooled": [C, D], "tokens": [C, N, D]}``; with
    ``levels`` (block indices) ``tokens`` ``[C, L, N, D]`` and a mean ``pooled`` ``[C, L, D]``."""
    encoder = model.encoder
    head = model.head if isinstance(model, CLASSIFIERS) else None

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


def _grid(model, frames: int, height: int, width: int | None = None) -> tuple[int, int, int]:
    return model.encoder.token_grid((1, frames, 3, height, width or height))


def has_image_path(model) -> bool:
    """Whether the model embeds a single frame as an image (V-JEPA 2.1's ``patch_embed_img``)."""
    return hasattr(model.encoder, "patch_embed_img")


def image_spec(spec: ClipSpec) -> ClipSpec:
    """The spec of an image through a model's image path: one clip of one frame (the views
    kept)."""
    return spec.with_(frames=1, frame_step=1, fps=None, segments=1, stride=None,
                      random_start=False)  # fmt: skip


def embed_video(
    video: str | os.PathLike | torch.Tensor | np.ndarray,
    model: VJEPA2Model | VJEPA2ForVideoClassification,
    spec: ClipSpec | None = None,
    batch_size: int = 8,
    layers: Levels | None = None,
) -> Embedding:
    """Embed a video or image file, or uint8 frames ``[T, H, W, 3]`` (taken as one clip as they
    are; one frame is an image for a model with an image path); ``layers``:
    multi-level features (a count or block indices)."""
    spec = spec or ClipSpec.for_model(model.config)
    image_path = has_image_path(model)
    if isinstance(video, (str, os.PathLike)):
        if image_path and is_image_file(Path(video)):
            spec = image_spec(spec)
        clips = read_clips(video, spec)
    else:
        clips = clips_from_frames(video, spec)
    device = next(model.parameters()).device
    forward = embed_forward(model, levels=embed_levels(model, layers))
    ((_, out),) = batched_outputs([clips], forward, batch_size, device)
    s, v, t = clips.pixels.shape[:3]
    tokens, pooled = _unflatten(out, s, v, _grid(model, t, *clips.pixels.shape[-2:]))
    if s == v == 1:
        tokens, pooled = tokens[0, 0], pooled[0, 0]
    modality = IMAGE if image_path and t == 1 else VIDEO
    return Embedding(tokens, pooled, clips.starts, clips.ends, modality)


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
    modality: str = VIDEO
    dense: bool = False

    @property
    def frames_per_step(self) -> int:
        """Frames per temporal token (the tubelet; 1 for an image)."""
        return self.spec.frames // self.grid[0]

    def dense_layout(self) -> dict:
        """How ``tokens`` / ``token_frames`` are laid out (written into each record)."""
        t, h, w = self.grid
        level = ["level"] if self.run.get("layers") else []
        return {"tokens": ["clip", "view", *level, "time", "height", "width", "channel"],
                "grid": [t, h, w], "frames_per_step": self.frames_per_step,
                "token_frames": ["clip", "time", "frame"]}  # fmt: skip


def _save(job: _Job, video: VideoClips, out: dict[str, torch.Tensor]) -> dict:
    """Write one video's tensors; returns the fields of its record."""
    s, v = video.num_segments, video.views
    tensors = {"indices": torch.from_numpy(video.indices),
               "starts": torch.from_numpy(video.starts.astype(np.float64)),
               "ends": torch.from_numpy(video.ends.astype(np.float64))}  # fmt: skip
    tokens, pooled = _unflatten(out, s, v, job.grid)
    if job.pool != "none":
        tensors["pooled"] = pooled.to(job.save_dtype)
    if job.pool != "mean" or job.dense:
        tensors["tokens"] = tokens.to(job.save_dtype)
    if job.dense:
        frames = torch.from_numpy(video.indices.copy())
        tensors["token_frames"] = frames.view(s, job.grid[0], job.frames_per_step)
    name = video_key(video.path) + ".safetensors"
    metadata = {"source": video.path, "model": job.run["model_source"],
                "model_fingerprint": job.run["model"], "modality": job.modality,
                "spec": json.dumps(job.spec.to_dict())}  # fmt: skip
    if job.run.get("layers"):
        metadata["layers"] = json.dumps(job.run["layers"])
    layout = {"dense": job.dense_layout()} if job.dense else {}
    metadata.update({key: json.dumps(value) for key, value in layout.items()})
    size = _write_atomic(tensors, metadata, job.out_dir / name)
    return {"status": "ok", "error": None, "output": name, "bytes": size,
            "frames": video.indices.reshape(-1).tolist(), "clips": s, "views": v,
            "modality": job.modality, **layout}  # fmt: skip


def embed_run(
    model,
    spec: ClipSpec,
    pool: str,
    dtype,
    save_dtype,
    model_name: str,
    dense: bool = False,
    levels=None,
) -> dict:
    """The identity of an embedding folder: the model's fingerprint and every setting that
    changes what is written (``model_source`` is informational)."""
    run = {"model": weights_fingerprint(model), "model_source": model_name,
           "spec": spec.to_dict(), "pool": pool, "dtype": str(dtype).removeprefix("torch."),
           "save_dtype": str(save_dtype).removeprefix("torch.")}  # fmt: skip
    if dense:
        run["dense"] = True
    if levels:
        run["layers"] = list(levels)
    return run  # without these keys: older folders resume


def embed_videos(
    model: VJEPA2Model | VJEPA2ForVideoClassification,
    paths: Sequence[str | os.PathLike],
    out_dir: str | os.PathLike,
    spec: ClipSpec,
    *,
    pool: str = "mean",
    dense: bool = False,
    batch_size: int = 8,
    workers: int = 2,
    dtype: torch.dtype = torch.float32,
    save_dtype: torch.dtype = torch.float32,
    model_name: str = "",
    progress: bool = True,
    shard: Shard | None = None,
    layers: Levels | None = None,
) -> EmbedSummary:
    """Embed many videos (and images) into ``out_dir``, skipping those a previous run finished.

    With a ``shard`` (see `vjepa2.inference.shards`), only that shard of ``paths`` is embedded
    and the shards' records are merged when the job is done.

    ``dense`` writes the token grid ``tokens`` (whatever ``pool``) and ``token_frames``, with
    the layout in each record. Images go through the model's image path when it has one (see
    the module docstring). Bad files are recorded with their reason and the run goes on. A
    folder made with another model or other settings is refused (`EmbedFolderError`). Sliding
    windows are embedded in parts of ``batch_size`` windows, so memory does not grow with a
    video's length.
    """
    if pool not in POOL_CHOICES:
        raise ValueError(f"pool must be one of {POOL_CHOICES}, got {pool!r}")
    out_dir = Path(out_dir)
    levels = embed_levels(model, layers)
    run = embed_run(model, spec, pool, dtype, save_dtype, model_name, dense, levels)
    out_dir.mkdir(parents=True, exist_ok=True)
    claim_folder(out_dir, run)
    shards = ShardRun(out_dir, shard)
    records, mine = shards.records, shards.shard.take(paths)
    todo = [os.fspath(p) for p in mine if not records.is_done(p)]
    summary = EmbedSummary(skipped=len(mine) - len(todo))
    device = next(model.parameters()).device
    forward = embed_forward(model, tokens=pool != "mean" or dense, levels=levels)
    start = time.perf_counter()
    bar = shards.progress(paths, len(todo), progress)
    for modality, group in _by_modality(todo, has_image_path(model)):
        group_spec = image_spec(spec) if modality == IMAGE else spec
        grid = _grid(model, group_spec.frames, group_spec.crop_size)
        job = _Job(out_dir, group_spec, pool, save_dtype, grid, run, modality, dense)
        items = iterate_clips(group, group_spec, workers=workers, max_clips=batch_size)
        last = time.perf_counter()
        for video, out in video_outputs(items, forward, batch_size, device, dtype):
            now = time.perf_counter()
            records.append(_record(job, video, out, round(now - last, 4), summary))
            last = now
            bar.update(1)
            bar.set_postfix(videos_s=f"{summary.done / (now - start):.2f}", failed=summary.failed)
    shards.finish(summary)  # closes the bar
    summary.seconds = time.perf_counter() - start
    return summary


def _by_modality(paths: list[str], image_path: bool) -> list[tuple[str, list[str]]]:
    """The videos, then the images when the model has an image path (each group its own clip
    spec, so their clips batch together); otherwise everything as videos."""
    image_set = {p for p in paths if image_path and is_image_file(Path(p))}
    videos = [p for p in paths if p not in image_set]
    images = [p for p in paths if p in image_set]
    return [(m, g) for m, g in ((VIDEO, videos), (IMAGE, images)) if g]


def _record(job: _Job, video, out, seconds: float, summary: EmbedSummary) -> dict:
    """The record of one processed file (its tensors written when it could be read)."""
    record = {"path": video.path, **file_identity(video.path), "seconds": seconds}
    if isinstance(video, UnreadableVideo):
        record.update(status="error", error=video.reason, output=None)
        summary.failed += 1
    else:
        record.update(_save(job, video, out))
        summary.done += 1
    return record
