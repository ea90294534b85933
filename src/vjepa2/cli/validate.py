"""Checks of option values shared by the verbs: ranges that typer enforces at parse time (use
these ``Annotated`` types for the options), and checks that need the model or several options
(call these functions). Each refusal names the option and raises a usage error (exit 2)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated

import typer

from vjepa2.data.splits import check_fractions
from vjepa2.errors import UsageError
from vjepa2.runtime import DEFAULT_WORKERS, DTYPES, parse_device

__all__ = ["DEFAULT_WORKERS"]


def check_views(views: int) -> int:
    if views not in (1, 3):
        raise UsageError(f"--views {views}: 1 (centre crop) or 3 (three crops)")
    return views


def check_positive(value: float | None) -> float | None:
    if value is not None and value <= 0:
        raise typer.BadParameter(f"{value} must be greater than 0")
    return value


def check_dtype(name: str) -> str:
    if name not in DTYPES:
        raise typer.BadParameter(f"{name!r}: choose from {', '.join(DTYPES)}")
    return name


def check_device(name: str) -> str:
    parse_device(name)
    return name


def check_split(ratios: Sequence[float]) -> tuple[float, float, float]:
    """Train/val/test fractions: three non-negative numbers that sum to 1, training non-zero."""
    return check_fractions(ratios)


def check_frames(frames: int | None, tubelet_size: int) -> None:
    """Frames per clip must fill whole tubelets (``tubelet_size`` frames each)."""
    if frames is not None and (frames < 1 or frames % tubelet_size):
        raise UsageError(f"--frames {frames}: a clip must be a positive multiple of the model's "
                         f"tubelet size ({tubelet_size} frames)")  # fmt: skip


BatchSize = Annotated[int, typer.Option(help="Clips per forward pass.", min=1)]
Workers = Annotated[
    int,
    typer.Option(help="Decoding processes running ahead of the model (0: decode inline).", min=0),
]
Frames = Annotated[
    int | None,
    typer.Option(help="Frames per clip (default: the checkpoint's frames_per_clip).", min=1),
]
FrameStep = Annotated[
    int | None,
    typer.Option(help="Take every N-th frame (default: 2 for 64-frame models, else 1).", min=1),
]
Fps = Annotated[
    float | None,
    typer.Option(help="Sample at about this frame rate instead of --frame-step.",
                 callback=check_positive),
]  # fmt: skip
Segments = Annotated[
    int, typer.Option(help="Clips spread evenly over each video (the evaluation protocol).", min=1)
]
Views = Annotated[
    int,
    typer.Option(help="Spatial views per clip: 1 (centre crop) or 3.",
                 callback=check_views),
]  # fmt: skip
TopK = Annotated[int, typer.Option(help="Labels to show per video.", min=1)]
Device = Annotated[
    str,
    typer.Option(help="auto (cuda > mps > cpu), cpu, cuda, cuda:1, mps.",
                 callback=check_device),
]  # fmt: skip
Dtype = Annotated[
    str,
    typer.Option(help="Compute precision: fp32, bf16 or fp16 (autocast).",
                 callback=check_dtype),
]  # fmt: skip
Split = Annotated[
    tuple[float, float, float],
    typer.Option(help="Train/val/test fractions for --data (they sum to 1).",
                 callback=check_split),
]  # fmt: skip
