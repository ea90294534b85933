"""Classification: probabilities averaged over clips and views, top-k labels.

As in the evaluation protocol, every (segment, view) clip is classified on its own and the
softmax probabilities are averaged.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from vjepa2.data.clip_pipeline import ClipSpec, clips_from_frames, read_clips
from vjepa2.data.loader import UnreadableVideo, iterate_clips
from vjepa2.inference.runner import Forward, batched_outputs, video_outputs
from vjepa2.models.model import VJEPA2ForActionAnticipation, VJEPA2ForVideoClassification
from vjepa2.models.vjepa2_1 import VJEPA21ForVideoClassification
from vjepa2.weights import load

CLASSIFIERS = (VJEPA2ForVideoClassification, VJEPA21ForVideoClassification)
"""The classifier classes (V-JEPA 2 and 2.1): a backbone with an attentive ``head``."""


def classify_forward(model: VJEPA2ForVideoClassification) -> Forward:
    """pixels ``[C, T, 3, H, W]`` -> ``{"logits": [C, num_labels]}``."""
    return lambda pixels: {"logits": model(pixels).logits}


def average_probabilities(logits: torch.Tensor) -> torch.Tensor:
    """Per-clip logits ``[C, num_labels]`` -> mean of the per-clip softmax ``[num_labels]``."""
    return logits.float().softmax(dim=-1).mean(dim=0)


def top_labels(probs: torch.Tensor, id2label: dict[int, str], k: int) -> list[tuple[str, float]]:
    values, indices = probs.topk(min(k, probs.numel()))
    return [
        (id2label.get(int(i), str(int(i))), float(v)) for v, i in zip(values, indices, strict=True)
    ]


@dataclass
class Prediction:
    """Top-k labels of one video (or the reason it failed)."""

    path: str
    top: list[tuple[str, float]]
    error: str | None = None


ANTICIPATION_HINT = (
    "an action-anticipation model (verb/noun/action heads on encoder + predictor tokens) "
    "predicts what happens next, from Python: model(clip, anticipation=1.0).logits"
)


def _require_classifier(model) -> VJEPA2ForVideoClassification | VJEPA21ForVideoClassification:
    if isinstance(model, VJEPA2ForActionAnticipation):
        raise ValueError(ANTICIPATION_HINT)
    if not isinstance(model, CLASSIFIERS):
        raise ValueError(
            "this model has no classifier head; load a classifier (e.g. vitl-ssv2, a directory "
            "written by 'vjepa2 train-probe', or an encoder .pt with classifier=PROBE.pt)"
        )
    return model


def classify(
    video: str | os.PathLike | torch.Tensor | np.ndarray,
    model: VJEPA2ForVideoClassification | str | os.PathLike,
    top_k: int = 5,
    spec: ClipSpec | None = None,
) -> list[tuple[str, float]]:
    """Top-k ``(label, probability)`` for a video file or uint8 frames ``[T, H, W, 3]``.

    ``model`` is a loaded classifier or anything :func:`vjepa2.load` takes.
    """
    if not isinstance(model, torch.nn.Module):
        model = load(model)
    model = _require_classifier(model)
    spec = spec or ClipSpec.for_model(model.config)
    if isinstance(video, (str, os.PathLike)):
        clips = read_clips(video, spec)
    else:
        clips = clips_from_frames(video, spec)
    device = next(model.parameters()).device
    ((_, out),) = batched_outputs([clips], classify_forward(model), 8, device)
    return top_labels(average_probabilities(out["logits"]), model.id2label, top_k)


def classify_videos(
    model: VJEPA2ForVideoClassification,
    paths: Sequence[str | os.PathLike],
    spec: ClipSpec,
    *,
    k: int = 5,
    batch_size: int = 8,
    workers: int = 2,
    dtype: torch.dtype = torch.float32,
) -> Iterator[Prediction]:
    """A :class:`Prediction` per video, in order; bad files carry their reason."""
    model = _require_classifier(model)
    device = next(model.parameters()).device
    items = iterate_clips(paths, spec, workers=workers, max_clips=batch_size)
    for video, out in video_outputs(items, classify_forward(model), batch_size, device, dtype):
        if isinstance(video, UnreadableVideo):
            yield Prediction(video.path, [], video.reason)
        else:
            probs = average_probabilities(out["logits"])
            yield Prediction(video.path, top_labels(probs, model.id2label, k))
