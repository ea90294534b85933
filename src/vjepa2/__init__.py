"""V-JEPA 2 video models end to end: embeddings, classification, probe training, pretraining.

The public facade: ``vjepa2.load`` / ``vjepa2.save`` for checkpoints, ``vjepa2.embed`` and
``vjepa2.classify`` for videos, ``vjepa2.build_model`` for a fresh model of a config.
"""

from __future__ import annotations

import os

import numpy as np
import torch

from vjepa2 import world_model
from vjepa2.config import ConfigError, VJEPA2Config
from vjepa2.data.clip_pipeline import ClipSpec
from vjepa2.errors import UsageError, VJEPA2Error
from vjepa2.inference import Embedding, classify, embed_video
from vjepa2.models import VJEPA2ForActionAnticipation, VJEPA2ForVideoClassification, VJEPA2Model
from vjepa2.presets import PRESETS, get_preset
from vjepa2.video.transforms import preprocess
from vjepa2.weights import CheckpointError, build_model, load, save

__version__ = "0.1.0"

__all__ = [
    "PRESETS",
    "CheckpointError",
    "ConfigError",
    "UsageError",
    "VJEPA2Config",
    "VJEPA2Error",
    "VJEPA2ForActionAnticipation",
    "VJEPA2ForVideoClassification",
    "VJEPA2Model",
    "__version__",
    "build_model",
    "classify",
    "embed",
    "get_preset",
    "load",
    "preprocess",
    "save",
    "world_model",
]


def embed(
    video: str | os.PathLike | torch.Tensor | np.ndarray,
    model: torch.nn.Module | str | os.PathLike,
    *,
    frames: int | None = None,
    frame_step: int | None = None,
    fps: float | None = None,
    segments: int | None = None,
    views: int | None = None,
    stride: int | None = None,
    batch_size: int = 8,
    layers: int | list[int] | None = None,
) -> Embedding:
    """Embed a video file, or uint8 frames ``[T, H, W, 3]`` taken as one clip.

    ``model`` is a loaded model or anything :func:`load` takes. Sampling defaults to the
    checkpoint's (``frames_per_clip`` frames from the start, every 2nd for 64-frame models).
    Returns an :class:`~vjepa2.inference.Embedding`: ``tokens`` ``[T', H', W', D]`` and
    ``pooled`` ``[D]`` (leading ``[S, V]`` dims when several segments/windows or views are
    asked for). ``layers``: multi-level features, a count (``4``: the paper's taps) or block
    indices; tokens and the mean ``pooled`` get a level axis (``[L, T', H', W', D]``, ``[L, D]``).
    For folders of videos see :func:`vjepa2.inference.embed_videos`.
    """
    if not isinstance(model, torch.nn.Module):
        model = load(model)
    spec = ClipSpec.for_model(
        model.config, frames=frames, frame_step=frame_step, fps=fps, segments=segments,
        views=views, stride=stride,
    )  # fmt: skip
    return embed_video(video, model, spec, batch_size=batch_size, layers=layers)
