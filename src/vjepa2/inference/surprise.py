"""Surprise: how badly the V-JEPA predictor foresees the next moments of a video.

A long video is cut into sliding windows of ``context + future`` frames. In each window the
encoder sees only the tokens of the first ``context`` frames (the context, as in pretraining),
the predictor fills mask tokens at the positions of the later frames' tokens, and the score is
the L1 distance between its prediction and the encoder's tokens of the whole window,
layer-normalised without affine parameters: the pretraining loss with the future masked. A
high score is a moment the model did not expect.

Windows are decoded a batch at a time (`read_clips` with ``select=``), so memory does not grow
with the video's length.

A score is the mean of the per-token errors or their max (`reduce_tokens`); a sequence of scores
can be taken relative to the clip's running level (`relative_scores`) or to its neighbours
(`spike_scores`). With a world model and a robot's actions: `vjepa2.inference.surprise_ac`.
"""

from __future__ import annotations

import csv
import os
import statistics
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from vjepa2.data.clip_pipeline import ClipSpec, count_clips, read_clips
from vjepa2.errors import UsageError
from vjepa2.models.encoder import VJEPA2Encoder, gather_tokens, target_features
from vjepa2.models.predictor import VJEPA2Predictor

CSV_COLUMNS = ("start_s", "end_s", "score")


@dataclass(frozen=True)
class SurpriseWindow:
    """One window's score; the window spans [start_s, end_s), its last frames are predicted."""

    start_s: float
    end_s: float
    score: float


def find_predictor(model: nn.Module) -> VJEPA2Predictor:
    """The masked-latent predictor of a V-JEPA 2 model (also under a classifier's backbone)."""
    predictor = getattr(model, "predictor", None)
    if predictor is None:
        predictor = getattr(getattr(model, "backbone", None), "predictor", None)
    if not isinstance(predictor, VJEPA2Predictor):
        raise UsageError(
            "surprise needs the model's predictor, and this checkpoint has none "
            "(use a pretraining checkpoint or a Hub model with its predictor)"
        )
    return predictor


def check_split(context_frames: int, future_frames: int, tubelet_size: int) -> None:
    """Both parts whole tubelets, none empty (a `UsageError` naming the option otherwise)."""
    for name, value in (("--context-frames", context_frames), ("--future-frames", future_frames)):
        if value < tubelet_size or value % tubelet_size:
            raise UsageError(
                f"{name} must be a positive multiple of the tubelet size {tubelet_size}, "
                f"got {value}"
            )


def future_indices(
    grid: tuple[int, int, int], context_steps: int, batch: int, device: torch.device
) -> tuple[torch.Tensor, torch.Tensor]:
    """Flat token indices (t, h, w order) of the first ``context_steps`` time steps and of the
    rest: ``[B, Nc]`` and ``[B, Nt]``."""
    steps, hp, wp = grid
    if not 0 < context_steps < steps:
        raise UsageError(f"the window has {steps} time steps; the context needs 1 to {steps - 1}")
    n_context = context_steps * hp * wp
    context = torch.arange(n_context, device=device).expand(batch, -1)
    target = torch.arange(n_context, steps * hp * wp, device=device).expand(batch, -1)
    return context, target


@torch.no_grad()
def window_scores(
    encoder: VJEPA2Encoder,
    predictor: VJEPA2Predictor,
    clips: torch.Tensor,
    context_frames: int,
    mask_index: int = 0,
    reduce: str = "mean",
) -> torch.Tensor:
    """Surprise of each clip ``[B, T, C, H, W]`` whose first ``context_frames`` frames are the
    context: |prediction − layer_norm(encoder tokens)| averaged over the feature dim, then over
    the future tokens (``reduce="mean"``) or their largest (``"max"``), ``[B]``."""
    grid = encoder.token_grid(clips.shape)
    context_steps = context_frames // encoder.config.tubelet_size
    context_idx, target_idx = future_indices(grid, context_steps, clips.size(0), clips.device)
    targets = target_features(encoder, clips)
    context = encoder(clips, masks=context_idx)
    predicted = predictor(context, context_idx, target_idx, mask_index=mask_index, grid_hw=grid[1:])
    wanted = gather_tokens(targets, target_idx)
    return reduce_tokens((predicted.float() - wanted).abs().mean(dim=-1), reduce)


REDUCTIONS = ("mean", "max")
"""How the per-token errors of a prediction become one score."""


def reduce_tokens(errors: torch.Tensor, how: str) -> torch.Tensor:
    """Per-token errors ``[B, N]`` -> ``[B]``: their mean or their max."""
    if how == "mean":
        return errors.mean(dim=-1)
    if how == "max":
        return errors.amax(dim=-1)
    raise UsageError(f"unknown reduction {how!r}; choose one of {', '.join(REDUCTIONS)}")


def relative_scores(windows: Iterable[SurpriseWindow], level: int) -> Iterator[SurpriseWindow]:
    """Each score over the clip's running level: divided by the median of its own score and the
    up to ``level`` scores before it (so a score at the running level is 1 and the first window
    is 1 exactly). Keeps ``level`` numbers, whatever the video's length."""
    if level < 1:
        raise UsageError(f"--relative must be at least 1 (windows of running level), got {level}")
    recent: deque[float] = deque(maxlen=level)
    for window in windows:
        median = statistics.median([*recent, window.score])
        recent.append(window.score)
        score = window.score / median if median > 0 else 1.0
        yield SurpriseWindow(window.start_s, window.end_s, score)


def spike_scores(windows: Iterable[SurpriseWindow]) -> Iterator[SurpriseWindow]:
    """Each score minus the larger of its two neighbours' (the one missing at either end left
    out; a lone window scores 0): how far a window stands above the windows around it. An event
    that breaks the world once spoils the predictions that span it, while a hard stretch (fast
    motion) raises a run of windows together. Yields each window one window late; keeps three."""
    before = current = None
    for after in windows:
        if current is not None:
            yield _spike(before, current, after)
        before, current = current, after
    if current is not None:
        yield _spike(before, current, None)


def _spike(before, current: SurpriseWindow, after) -> SurpriseWindow:
    around = [w.score for w in (before, after) if w is not None]
    score = current.score - max(around) if around else 0.0
    return SurpriseWindow(current.start_s, current.end_s, score)


def surprise_windows(
    path: str | os.PathLike,
    model: nn.Module,
    spec: ClipSpec,
    context_frames: int,
    *,
    batch_size: int = 8,
    mask_index: int = 0,
    reduce: str = "mean",
) -> Iterator[SurpriseWindow]:
    """Score every sliding window of ``path`` (``spec.stride`` set; ``spec.frames`` = context +
    future), decoding ``batch_size`` windows at a time. Yields the windows in time order."""
    if spec.stride is None:
        raise UsageError("surprise slides windows over the video: the clip spec needs a stride")
    encoder, predictor = model.encoder, find_predictor(model)
    check_split(context_frames, spec.frames - context_frames, encoder.config.tubelet_size)
    device = next(encoder.parameters()).device
    total = count_clips(path, spec)
    for begin in range(0, total, batch_size):
        clips = read_clips(path, spec, select=slice(begin, begin + batch_size))
        pixels = clips.pixels[:, 0].to(device)
        scores = window_scores(encoder, predictor, pixels, context_frames, mask_index, reduce)
        for start, end, score in zip(clips.starts, clips.ends, scores.tolist(), strict=True):
            yield SurpriseWindow(float(start), float(end), score)


def write_csv(windows: Iterable[SurpriseWindow], path: str | os.PathLike) -> list[SurpriseWindow]:
    """Write ``start_s,end_s,score`` rows as the windows come; returns them (three floats each,
    so the list stays small however long the video)."""
    rows = []
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(CSV_COLUMNS)
        for window in windows:
            writer.writerow([f"{window.start_s:.4f}", f"{window.end_s:.4f}", f"{window.score:.6f}"])
            handle.flush()
            rows.append(window)
    return rows


def require_matplotlib() -> None:
    """Raise a clear ImportError when matplotlib (the ``[train]`` extra) is missing."""
    try:
        import matplotlib  # noqa: F401
    except ImportError as err:
        raise ImportError(
            "drawing the surprise curve needs matplotlib: pip install 'vjepa2[train]'"
        ) from err


def draw_curve(
    windows: list[SurpriseWindow],
    path: str | os.PathLike,
    title: str | None = None,
    events: Sequence[float] = (),
) -> Path:
    """Write the surprise curve as a PNG: each window's score at its end (the end of the
    predicted part), the peak marked with a red cross, ``events`` (seconds) as dashed lines.
    Needs matplotlib (``[train]``)."""
    require_matplotlib()
    from matplotlib.figure import Figure

    times = [w.end_s for w in windows]
    scores = [w.score for w in windows]
    figure = Figure(figsize=(7, 2.8), layout="constrained")
    ax = figure.subplots()
    ax.plot(times, scores, marker="o", markersize=3, linewidth=1.2)
    peak = max(range(len(scores)), key=scores.__getitem__)
    ax.plot([times[peak]], [scores[peak]], marker="x", color="red", markersize=10, mew=2)
    for event in events:
        ax.axvline(event, color="grey", linestyle="--", linewidth=1)
    ax.set_xlabel("window end (s)")
    ax.set_ylabel("surprise (L1)")
    ax.set_title(title or "surprise per window")
    ax.grid(alpha=0.3)
    figure.savefig(path, dpi=100)
    return Path(path)
