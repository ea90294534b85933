"""``vjepa2 surprise``: a per-window surprise score over a long video (CSV and a PNG curve)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Annotated

import typer

from vjepa2.cli import common
from vjepa2.cli.app import app
from vjepa2.config import VJEPA2Config
from vjepa2.data.clip_pipeline import ClipSpec
from vjepa2.data.trajectories import episode_paths, read_episode
from vjepa2.errors import UsageError
from vjepa2.inference.surprise import (
    REDUCTIONS,
    SurpriseWindow,
    check_split,
    draw_curve,
    find_predictor,
    relative_scores,
    require_matplotlib,
    spike_scores,
    surprise_windows,
    write_csv,
)
from vjepa2.inference.surprise_ac import DEFAULT_CONTEXT, ac_surprise
from vjepa2.world_model import WorldModel


def surprise_spec(
    config: VJEPA2Config,
    context_frames: int | None,
    future_frames: int | None,
    stride: int | None,
    frame_step: int,
) -> tuple[ClipSpec, int]:
    """The sliding-window clip spec and the context length: by default half of the model's
    frames_per_clip each, a window starting every ``future`` sampled frames."""
    half = max(config.tubelet_size, config.frames_per_clip // 2)
    context = half if context_frames is None else context_frames
    future = half if future_frames is None else future_frames
    check_split(context, future, config.tubelet_size)
    stride = future * frame_step if stride is None else stride
    try:
        spec = ClipSpec.for_model(
            config, frames=context + future, frame_step=frame_step, stride=stride
        )
    except ValueError as err:
        raise UsageError(str(err)) from err
    return spec, context


@app.command(no_args_is_help=True)
def surprise(
    video: Annotated[
        Path,
        typer.Argument(
            help="The video to score; with a world model, a robot episode (its .mp4, .npz or "
            "their common stem: states and actions are read from the .npz)."
        ),
    ],
    model: common.Model = ...,
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="CSV of start_s,end_s,score per window.")
    ] = None,
    png: Annotated[
        Path | None,
        typer.Option(help="Also draw the curve to this PNG (needs pip install vjepa2[train])."),
    ] = None,
    context_frames: Annotated[
        int | None,
        typer.Option(
            help="Frames the predictor sees (default: half a model clip; with a world model "
            f"the {DEFAULT_CONTEXT} frames before the predicted one)."
        ),
    ] = None,
    future_frames: Annotated[
        int | None, typer.Option(help="Frames it predicts after them (default: the other half).")
    ] = None,
    stride: Annotated[
        int | None,
        typer.Option(help="A window starts every N video frames (default: the future's length)."),
    ] = None,
    frame_step: Annotated[int, typer.Option(help="Take every N-th frame of the video.")] = 1,
    mask_index: Annotated[
        int, typer.Option(help="The predictor's mask token (0: the one our pretraining trains).")
    ] = 0,
    reduce: Annotated[
        str,
        typer.Option(
            help="A prediction's score: the mean of its tokens' L1 errors, or the max (an event "
            "that touches few tokens is not averaged away)."
        ),
    ] = "mean",
    relative: Annotated[
        int | None,
        typer.Option(
            help="Divide each score by the median of it and the N scores before it (the clip's "
            "running level), so peaks are measured against the clip itself.",
            min=1,
        ),
    ] = None,
    spike: Annotated[
        bool,
        typer.Option(
            "--spike",
            help="Score how far each window stands above both its neighbours (after "
            "--relative): a one-off break of the world stands out, a hard stretch does not.",
        ),
    ] = False,
    batch_size: common.BatchSize = 8,
    device: common.Device = "auto",
    checkpoint_key: common.CheckpointKey = "encoder",
) -> None:
    """Score how unexpected each moment of a video is for a V-JEPA 2 model.

    Slides windows of context + future frames over the video. In each, the encoder sees only
    the context frames, the predictor predicts the future frames' tokens, and the score is
    their L1 distance to the encoder's layer-normed tokens of the whole window (the pretraining
    loss with the future masked). Windows are decoded a batch at a time, so memory does not
    grow with the video. Prints one line per window unless --out is given; needs a checkpoint
    with its predictor.

    With a world model (V-JEPA 2-AC) and a robot episode, every frame is predicted from the
    frames before it and the robot's actions and states (the .npz of the episode), and each
    step's score is the L1 distance to the frame's encoding: the robot's own motion is
    explained away. One row per step (frame t to frame t+1).

    **Examples**

    ```
    vjepa2 surprise long.mp4 -m my-pretrain/latest.pt -o surprise.csv --png surprise.png
    vjepa2 surprise clip.mp4 -m demo --context-frames 8 --future-frames 8 --stride 4
    vjepa2 surprise robot/val/episode_000230.mp4 -m runs/ac/model --spike -o steps.csv
    ```
    """
    if png is not None:
        try:
            require_matplotlib()
        except ImportError as err:
            raise UsageError(str(err)) from err
    if reduce not in REDUCTIONS:
        raise UsageError(f"--reduce must be one of {', '.join(REDUCTIONS)}, got {reduce!r}")
    if not (video.is_file() or episode_paths(video)[1].is_file()):
        raise UsageError(f"no such video: {video}")
    net, _ = common.load_model(model, device, checkpoint_key)
    windows = _score(net.eval(), video, context_frames, future_frames, stride, frame_step,
                     batch_size, mask_index, reduce)  # fmt: skip
    if relative is not None:
        windows = relative_scores(windows, relative)
    if spike:
        windows = spike_scores(windows)
    if out is not None:
        rows = write_csv(windows, out)
    else:
        rows = list(windows)
        for row in rows:
            typer.echo(f"{row.start_s:.3f}\t{row.end_s:.3f}\t{row.score:.6f}")
    if png is not None:
        draw_curve(rows, png, title=f"surprise: {video.name}")
    peak = max(rows, key=lambda row: row.score)
    typer.echo(
        f"{len(rows)} windows; peak {peak.score:.4f} at {peak.start_s:.2f}-{peak.end_s:.2f} s"
        + (f"; csv: {out}" if out is not None else ""),
        err=out is None,
    )


def _score(net, video, context_frames, future_frames, stride, frame_step, batch_size,
           mask_index, reduce) -> Iterator[SurpriseWindow]:  # fmt: skip
    """The windows' scores: a world model's per step, a V-JEPA 2 model's per sliding window."""
    if isinstance(net, WorldModel):
        if future_frames is not None or stride is not None:
            raise UsageError(
                "a world model predicts one frame at a time: --future-frames and --stride "
                "do not apply (use --context-frames and --frame-step)"
            )
        context = DEFAULT_CONTEXT if context_frames is None else context_frames
        return ac_surprise(net, read_episode(video), context, reduce=reduce, frame_step=frame_step)
    find_predictor(net)
    spec, context = surprise_spec(net.config, context_frames, future_frames, stride, frame_step)
    return surprise_windows(video, net, spec, context, batch_size=batch_size,
                            mask_index=mask_index, reduce=reduce)  # fmt: skip
