"""Surprise with a world model: how badly the action-conditioned predictor foresees each frame.

Given a robot episode (its video and, in the trajectory format of `vjepa2.data.trajectories`,
its states and actions) and a V-JEPA 2-AC world model, every frame ``t + 1`` is predicted from
the encodings of the (up to) ``context_frames`` frames before it with the actions and states
that led there, exactly as the predictor is trained (teacher forcing): the robot's own motion is
given, so it is explained away and what is left is what the world did unexpectedly. The error
of a step is the L1 distance between that prediction and the encoding of frame ``t + 1`` (each
frame encoded alone and layer-normed, `WorldModel.encode_frames`), per token ``[N]``, reduced to
one number by its mean over the tokens (``"mean"``) or its largest token (``"max"``: an event
that touches a few tokens of the frame is not averaged away).

Frames are decoded and encoded ``chunk`` at a time and only the last ``context_frames``
encodings are kept, so memory does not grow with the episode's length.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch

from vjepa2.data.trajectories import Episode
from vjepa2.errors import UsageError
from vjepa2.inference.surprise import SurpriseWindow, reduce_tokens
from vjepa2.video.read import read_video
from vjepa2.world_model.model import WorldModel

DEFAULT_CONTEXT = 8
"""Frames of context: the length of `vjepa2 train-ac`'s clips (and the original's)."""


@dataclass(frozen=True)
class StepErrors:
    """The prediction of sampled frame ``step + 1`` from the frames up to ``step``: its time
    span (frame ``step`` to frame ``step + 1``, seconds) and the L1 error per token ``[N]``."""

    step: int
    start_s: float
    end_s: float
    errors: torch.Tensor


def sampled_trajectory(
    episode: Episode, frame_step: int
) -> tuple[np.ndarray, torch.Tensor, torch.Tensor]:
    """Every ``frame_step``-th frame of the episode: their indices ``[F]``, states ``[F, S]`` and
    the actions between them ``[F-1, A]`` (the per-frame actions summed over the skipped frames,
    read as increments, as `vjepa2 train-ac` does)."""
    if frame_step < 1:
        raise UsageError(f"--frame-step must be at least 1, got {frame_step}")
    frames = np.arange(0, episode.num_frames, frame_step)
    if len(frames) < 2:
        raise UsageError(f"{episode.frames_path}: fewer than 2 frames at frame step {frame_step}")
    actions = np.add.reduceat(episode.actions[: frames[-1]], frames[:-1], axis=0)
    return frames, torch.from_numpy(episode.states[frames]), torch.from_numpy(actions)


def check_dims(wm: WorldModel, states: torch.Tensor, actions: torch.Tensor) -> None:
    """The episode's state and action sizes must be the predictor's (a `UsageError` otherwise)."""
    config = wm.config.predictor
    for name, have, want in (("state", states.size(-1), config.state_dim),
                             ("action", actions.size(-1), config.action_dim)):  # fmt: skip
        if have != want:
            raise UsageError(f"the episode has {have}-D {name}s, the world model takes {want}-D")


def encoded_chunks(
    wm: WorldModel, episode: Episode, frames: np.ndarray, chunk: int
) -> Iterator[torch.Tensor]:
    """The encodings of the sampled frames, ``chunk`` frames at a time: ``[k, N, D]`` each."""
    device = wm.predictor.predictor_embed.weight.device
    n = wm.tokens_per_frame
    for begin in range(0, len(frames), chunk):
        pixels, _ = read_video(episode.frames_path, indices=frames[begin : begin + chunk].tolist())
        h = wm.encode_frames(wm.transform(pixels)[None].to(device))
        yield h.view(-1, n, h.size(-1))


@torch.no_grad()
def predict_errors(
    wm: WorldModel,
    context: torch.Tensor,
    actions: torch.Tensor,
    states: torch.Tensor,
    target: torch.Tensor,
) -> torch.Tensor:
    """L1 error per token of predicting the frame after ``context`` ``[B, c, N, D]`` (with the
    actions ``[B, c, A]`` and states ``[B, c, S]`` of its frames) against ``target`` ``[B, N, D]``:
    ``[B, N]``."""
    b, c, n, d = context.shape
    device = context.device
    predicted = wm.predict_next(context.reshape(b, c * n, d), actions.to(device), states.to(device))
    return (predicted[:, -n:].float() - target.float()).abs().mean(-1)


def step_errors(
    wm: WorldModel,
    episode: Episode,
    context_frames: int = DEFAULT_CONTEXT,
    *,
    frame_step: int = 1,
    chunk: int = 32,
) -> Iterator[StepErrors]:
    """The per-token error of every step of ``episode`` (see the module docstring), in time
    order. ``chunk`` frames are decoded and encoded at a time; steps whose context is complete
    are predicted in one batch per chunk."""
    if context_frames < 1:
        raise UsageError(f"--context-frames must be at least 1, got {context_frames}")
    frames, states, actions = sampled_trajectory(episode, frame_step)
    check_dims(wm, states, actions)
    times = frames / episode.fps
    kept, done = None, 0  # the last encodings before this chunk; frames encoded so far
    for h in encoded_chunks(wm, episode, frames, chunk):
        window = h if kept is None else torch.cat([kept, h])
        first = done - (0 if kept is None else len(kept))  # the frame window[0] holds
        targets = list(range(max(done, 1), done + len(h)))
        for group in _by_context(targets, context_frames):
            c = min(context_frames, group[0])
            context = torch.stack([window[g - c - first : g - first] for g in group])
            errors = predict_errors(
                wm, context, torch.stack([actions[g - c : g] for g in group]),
                torch.stack([states[g - c : g] for g in group]),
                torch.stack([window[g - first] for g in group]),
            )  # fmt: skip
            for g, row in zip(group, errors.cpu(), strict=True):
                yield StepErrors(g - 1, float(times[g - 1]), float(times[g]), row)
        done += len(h)
        kept = window[-context_frames:]


def _by_context(targets: list[int], context_frames: int) -> list[list[int]]:
    """The predicted frames grouped by context length: those with fewer frames before them than
    ``context_frames`` alone, the others (all with a full context) together."""
    short = [[g] for g in targets if g < context_frames]
    full = [g for g in targets if g >= context_frames]
    return short + ([full] if full else [])


def ac_surprise(
    wm: WorldModel,
    episode: Episode,
    context_frames: int = DEFAULT_CONTEXT,
    *,
    reduce: str = "mean",
    frame_step: int = 1,
    chunk: int = 32,
) -> Iterator[SurpriseWindow]:
    """One `SurpriseWindow` per step of ``episode``: the span from frame t to frame t+1 and the
    error of predicting frame t+1, its tokens reduced by ``reduce`` (``"mean"`` or ``"max"``)."""
    for step in step_errors(wm, episode, context_frames, frame_step=frame_step, chunk=chunk):
        score = float(reduce_tokens(step.errors[None], reduce)[0])
        yield SurpriseWindow(step.start_s, step.end_s, score)
