"""Options shared by the verbs that read videos (sampling, batching, device, precision)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from vjepa2.cli.validate import (  # noqa: F401 - the shared options, re-exported for the verbs
    BatchSize,
    Device,
    Dtype,
    Fps,
    Frames,
    FrameStep,
    Segments,
    TopK,
    Views,
    Workers,
    check_frames,
)
from vjepa2.data.clip_pipeline import ClipSpec
from vjepa2.data.manifest import find_videos, read_list
from vjepa2.runtime import (  # noqa: F401 - DEFAULT_WORKERS and pick_device are re-exported
    COMPILE_HELP,
    DEFAULT_WORKERS,
    maybe_compile,
    pick_device,
)
from vjepa2.runtime import parse_dtype as parse_dtype_name
from vjepa2.weights import load

Model = Annotated[
    str,
    typer.Option(
        "--model", "-m",
        help="Preset (see 'vjepa2 models'), Hub id, HF directory, or original .pt checkpoint.",
    ),
]  # fmt: skip
Window = Annotated[
    int | None,
    typer.Option(help="Sliding windows: frames per window (same as --frames).", min=1),
]
Stride = Annotated[
    int | None,
    typer.Option(help="Sliding windows: a window starts every N frames (one output per window).",
                 min=1),
]  # fmt: skip
Compile = Annotated[bool, typer.Option("--compile", help=COMPILE_HELP)]
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


def compile_encoder(net, enabled: bool) -> None:
    """``torch.compile`` the model's encoder (in place) when ``--compile`` is given."""
    maybe_compile(net.encoder, enabled, name="encoder")


def clip_spec(config, frames, frame_step, fps, segments, views, window, stride) -> ClipSpec:
    """The clip spec of the sampling options (the checkpoint's defaults for those not given);
    out-of-range values are a CLI error naming them."""
    check_frames(window or frames, config.tubelet_size)
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
