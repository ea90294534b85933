"""``vjepa2 embed --engine ray``: embeddings on a Ray cluster with Ray Data (the ``ray`` extra).

The pipeline streams: the paths to do → decode and preprocess in CPU tasks (`decode`) →
encode in a pool of model actors (`Encoder`, one per GPU, or CPU actors) with ``map_batches``,
each actor writing its videos' safetensors files → the driver appends one record per video to
``records.jsonl``. Ray Data's streaming executor keeps a bounded number of decoded clips in
flight (backpressure), so memory does not grow with the number of videos. The output folder is
the plain path's (`vjepa2.inference.embed`): the same files, records and ``run.json``, the same
resume; it must be reachable from every node (a shared file system). A video that cannot be
decoded, encoded or written is a record with its reason, never a crashed job. Each video is
decoded whole (its sliding windows together).

Ray is imported inside the functions that need it (an optional extra).
"""

from __future__ import annotations

import copy
import json
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from vjepa2.data.clip_pipeline import Clips, ClipSpec
from vjepa2.data.loader import ClipDataset, UnreadableVideo
from vjepa2.data.manifest import is_image_file
from vjepa2.errors import UsageError
from vjepa2.inference.embed import (
    EmbedSummary,
    _grid,
    _Job,
    _save,
    embed_forward,
    embed_levels,
    embed_run,
    has_image_path,
)
from vjepa2.inference.records import claim_folder, file_identity
from vjepa2.inference.runner import VideoClips, batched_outputs
from vjepa2.inference.shards import ShardRun
from vjepa2.models.model import VJEPA2ForVideoClassification, VJEPA2Model

RAY_HINT = "pip install 'vjepa2[ray]'"


def require_ray() -> Any:
    """The ``ray`` module with Ray Data, or a one-line :class:`UsageError` naming the extra."""
    try:
        import ray  # an optional extra
        import ray.data
    except ImportError as err:
        raise UsageError(f"--engine ray needs Ray Data ({err.name} is missing): "
                         f"{RAY_HINT}") from None  # fmt: skip
    return ray


def decode(row: dict[str, Any], spec: ClipSpec) -> dict[str, Any]:
    """A path -> its clips as arrays: ``pixels`` ``[S, V, T, 3, crop, crop]`` float32,
    ``indices`` ``[S, T]``, ``starts``/``ends`` ``[S]``; an empty ``error`` (or the reason, with
    empty arrays of the same ranks)."""
    path = row["path"]
    try:
        clips = ClipDataset([path], spec, max_clips=1 << 30)[(0, 0, 1)]
    except Exception as err:
        clips = UnreadableVideo(path, f"{type(err).__name__}: {err}")
    if isinstance(clips, UnreadableVideo):
        return {"path": path, "error": clips.reason,
                "pixels": np.zeros((0,) * 6, np.float32), "indices": np.zeros((0, 0), np.int64),
                "starts": np.zeros(0), "ends": np.zeros(0)}  # fmt: skip
    return {"path": path, "error": "", "pixels": clips.pixels.numpy(),
            "indices": clips.indices, "starts": clips.starts.astype(np.float64),
            "ends": clips.ends.astype(np.float64)}  # fmt: skip


class Encoder:
    """A model actor: encodes a batch of decoded videos, writes each one's safetensors and
    returns its record (as JSON, column ``record``)."""

    def __init__(self, model: torch.nn.Module, job: _Job, batch_size: int, dtype: torch.dtype,
                 device: str) -> None:  # fmt: skip
        self.device = torch.device(device)
        tokens = job.pool != "mean" or job.dense
        self.forward = embed_forward(model.to(self.device).eval(), tokens=tokens)
        self.job, self.batch_size, self.dtype = job, batch_size, dtype

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        items: list[Clips | UnreadableVideo] = []
        for i, path in enumerate(batch["path"]):
            if batch["error"][i]:
                items.append(UnreadableVideo(str(path), str(batch["error"][i])))
            else:
                pixels = torch.from_numpy(np.asarray(batch["pixels"][i], np.float32))
                items.append(Clips(str(path), pixels, np.asarray(batch["indices"][i]),
                                   batch["starts"][i], batch["ends"][i]))  # fmt: skip
        begin = time.perf_counter()
        try:
            records = [self._record(video, out) for video, out in batched_outputs(
                items, self.forward, self.batch_size, self.device, self.dtype)]  # fmt: skip
        except Exception as err:
            reason = f"{type(err).__name__}: {err}"
            records = [_failed(item.path, reason) for item in items]
        seconds = round((time.perf_counter() - begin) / max(1, len(items)), 4)
        return {"record": np.array([json.dumps({**r, "seconds": seconds}) for r in records])}

    def _record(self, video: Clips | UnreadableVideo, out: dict | None) -> dict[str, Any]:
        if isinstance(video, UnreadableVideo):
            return _failed(video.path, video.reason)
        clips = VideoClips(video.path, video.indices, video.starts, video.ends,
                           video.pixels.shape[1])  # fmt: skip
        try:
            return {"path": video.path, **file_identity(video.path), **_save(self.job, clips, out)}
        except OSError as err:
            return _failed(video.path, f"writing the output: {err}")


def _failed(path: str, reason: str) -> dict[str, Any]:
    return {"path": path, **file_identity(path), "status": "error", "error": reason,
            "output": None}  # fmt: skip


def embed_videos_ray(
    model: VJEPA2Model | VJEPA2ForVideoClassification,
    paths: Sequence[str | os.PathLike],
    out_dir: str | os.PathLike,
    spec: ClipSpec,
    *,
    pool: str = "mean",
    dense: bool = False,
    batch_size: int = 8,
    dtype: torch.dtype = torch.float32,
    save_dtype: torch.dtype = torch.float32,
    model_name: str = "",
    progress: bool = True,
    actors: int | None = None,
    device: str = "auto",
) -> EmbedSummary:
    """`vjepa2.inference.embed.embed_videos` on Ray Data (see the module docstring).

    Runs on the cluster ``ray.init`` joined (``RAY_ADDRESS``, else a local instance, when none
    was initialised), decoding in as many CPU tasks as the cluster fits. ``actors``: model
    actors (default: one per GPU of the cluster, else one CPU actor); ``device``: ``cpu``
    keeps the actors off the GPUs.
    """
    if has_image_path(model) and any(is_image_file(Path(p)) for p in paths):
        raise UsageError("--engine ray embeds videos; images through V-JEPA 2.1's image path "
                         "need the plain engine")  # fmt: skip
    if embed_levels(model, None):
        raise UsageError("--engine ray embeds the last block; a model loaded with levels "
                         "(or a multi-level classifier) needs the plain engine")  # fmt: skip
    ray = require_ray()
    if not ray.is_initialized():
        ray.init()
    out_dir = Path(out_dir)
    run = embed_run(model, spec, pool, dtype, save_dtype, model_name, dense)
    out_dir.mkdir(parents=True, exist_ok=True)
    claim_folder(out_dir, run)
    grid = _grid(model, spec.frames, spec.crop_size)
    job = _Job(out_dir, spec, pool, save_dtype, grid, run, dense=dense)
    shards = ShardRun(out_dir)
    todo = [os.fspath(p) for p in paths if not shards.records.is_done(p)]
    summary = EmbedSummary(skipped=len(paths) - len(todo))
    start = time.perf_counter()
    bar = shards.progress(paths, len(todo), progress)
    if todo:
        gpus = device != "cpu" and int(ray.cluster_resources().get("GPU", 0))
        for record in _pipeline(ray, model, job, todo, batch_size, dtype, actors, gpus):
            shards.records.append(record)
            summary.done += record["status"] == "ok"
            summary.failed += record["status"] != "ok"
            bar.update(1)
    shards.finish(summary)
    summary.seconds = time.perf_counter() - start
    return summary


def _pipeline(ray, model, job: _Job, todo: list[str], batch_size: int, dtype,
              actors: int | None, gpus: int):  # fmt: skip
    """The records of ``todo``, as the model actors finish them (``gpus``: of the cluster, to
    use)."""
    actors = actors or max(1, gpus)
    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = False  # the driver's bar counts records
    blocks = min(len(todo), 10_000)  # a decoding task per video, up to a point
    dataset = ray.data.from_items([{"path": path} for path in todo], override_num_blocks=blocks)
    dataset = dataset.map(decode, fn_kwargs={"spec": job.spec}, num_cpus=1)
    dataset = dataset.map_batches(
        Encoder, batch_size=batch_size, concurrency=actors, num_gpus=1 if gpus else 0,
        num_cpus=0 if gpus else 1, batch_format="numpy",
        fn_constructor_kwargs={"model": _on_cpu(model), "job": job, "batch_size": batch_size,
                               "dtype": dtype, "device": "cuda" if gpus else "cpu"},
    )  # fmt: skip
    for row in dataset.iter_rows():
        yield json.loads(row["record"])


def _on_cpu(model: torch.nn.Module) -> torch.nn.Module:
    """The model to ship to the actors: on the CPU (a copy when it is elsewhere)."""
    on_cpu = all(p.device.type == "cpu" for p in model.parameters())
    return model if on_cpu else copy.deepcopy(model).cpu()
