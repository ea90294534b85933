"""Options shared by the verbs that read videos (sampling, batching, device, precision)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from vjepa2.data.clip_pipeline import ClipSpec
from vjepa2.data.manifest import find_videos, read_list
from vjepa2.runtime import parse_dtype as parse_dtype_name
from vjepa2.runtime import pick_device
from vjepa2.weights import load

DEFAULT_WORKERS = min(4, max(1, (os.cpu_count() or 2) // 2))

Model = Annotated[
    str,
    typer.Option(
        "--model", "-m",
        help="Preset (see 'vjepa2 models'), Hub id, HF directory, or original .pt checkpoint.",
    ),
]  # fmt: skip
Frames = Annotated[
    int | None, typer.Option(help="Frames per clip (default: the checkpoint's frames_per_clip).")
]
FrameStep = Annotated[
    int | None,
    typer.Option(help="Take every N-th frame (default: 2 for 64-frame models, else 1)."),
]
Fps = Annotated[
    float | None, typer.Option(help="Sample at about this frame rate instead of --frame-step.")
]
Segments = Annotated[
    int, typer.Option(help="Clips spread evenly over each video (the evaluation protocol).")
]
Views = Annotated[int, typer.Option(help="Spatial views per clip: 1 (centre crop) or 3.")]
Window = Annotated[
    int | None, typer.Option(help="Sliding windows: frames per window (same as --frames).")
]
Stride = Annotated[
    int | None,
    typer.Option(help="Sliding windows: a window starts every N frames (one output per window)."),
]
BatchSize = Annotated[int, typer.Option(help="Clips per forward pass.")]
Workers = Annotated[
    int, typer.Option(help="Decoding processes running ahead of the model (0: decode inline).")
]
Device = Annotated[str, typer.Option(help="auto (cuda > mps > cpu), cpu, cuda, cuda:1, mps.")]
Dtype = Annotated[str, typer.Option(help="Compute precision: fp32, bf16 or fp16 (autocast).")]
CheckpointKey = Annotated[
    str, typer.Option(help="For .pt checkpoints: 'encoder' or 'target_encoder'.")
]


def load_model(model: str, device: str, checkpoint_key: str = "encoder"):
    """Load ``model`` onto the picked device, turning load errors into a clean CLI error."""
    try:
        target = pick_device(device)
        return load(model, checkpoint_key=checkpoint_key, device=target), target
    except (OSError, ValueError, KeyError) as err:
        raise typer.BadParameter(str(err), param_hint="--model") from err


def clip_spec(config, frames, frame_step, fps, segments, views, window, stride) -> ClipSpec:
    """The clip spec of the sampling options (the checkpoint's defaults for those not given);
    out-of-range values are a CLI error naming them."""
    try:
        return ClipSpec.for_model(
            config, frames=window or frames, frame_step=frame_step, fps=fps,
            segments=segments, views=views, stride=stride,
        )  # fmt: skip
    except ValueError as err:
        raise typer.BadParameter(str(err)) from err


def gather_inputs(inputs: list[Path] | None, list_file: Path | None) -> list[Path]:
    """Files, directories (recursive: videos and images) and a --list file, as one
    de-duplicated list."""
    items: list[Path] = list(inputs or [])
    try:
        if list_file is not None:
            items += read_list(list_file)
        videos = find_videos(items, images=True)
    except (FileNotFoundError, OSError) as err:
        raise typer.BadParameter(str(err), param_hint="INPUTS") from err
    if not videos:
        raise typer.BadParameter("no videos or images found in the inputs", param_hint="INPUTS")
    return videos


def parse_dtype(name: str):
    try:
        return parse_dtype_name(name)
    except ValueError as err:
        raise typer.BadParameter(str(err), param_hint="--dtype") from err
