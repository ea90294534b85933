"""``vjepa2 export``: a model as ``torch.export`` (.pt2) and ONNX graphs, with its
preprocessing and a parity check."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from vjepa2.cli import common
from vjepa2.cli.app import app
from vjepa2.export import FORMATS, ExportedFile, ExportOptions, export_model
from vjepa2.export.preprocessing import PREPROCESSING_NAME


@app.command("export", no_args_is_help=True)
def export(
    model: Annotated[
        str,
        typer.Argument(help="Preset (see 'vjepa2 models'), Hub id, HF folder or original .pt."),
    ],
    out: Annotated[
        Path, typer.Argument(help="Output folder: PART.pt2, PART.onnx, preprocessing.json.")
    ],
    part: Annotated[
        list[str] | None,
        typer.Option(
            help="encoder or classifier (repeatable); default: the classifier of a "
            "classifier, else the encoder."
        ),
    ] = None,
    fmt: Annotated[
        list[str] | None,
        typer.Option("--format", help="pt2 or onnx (repeatable); default: both."),
    ] = None,
    frames: Annotated[
        int | None,
        typer.Option(
            min=1,
            help="Clip length of the traced example (default: the checkpoint's frames per clip).",
        ),
    ] = None,
    batch_size: Annotated[
        int, typer.Option(min=2, help="Batch of the traced example (the batch stays dynamic).")
    ] = 2,
    dynamic_frames: Annotated[
        bool,
        typer.Option(
            "--dynamic-frames/--static-frames",
            help="Clip length dynamic (in whole tubelets) or fixed at --frames.",
        ),
    ] = True,
    tolerance: Annotated[
        float, typer.Option(min=0, help="Largest max-abs difference from PyTorch allowed.")
    ] = 1e-4,
    opset: Annotated[int | None, typer.Option(help="ONNX opset (default: the exporter's).")] = None,
    checkpoint_key: common.CheckpointKey = "encoder",
) -> None:
    """Export a model for deployment: torch.export (.pt2) and ONNX (.onnx) graphs.

    Writes `OUT/PART.pt2` and `OUT/PART.onnx` (input `pixel_values_videos` [batch, frames, 3,
    crop, crop], normalised pixels; output `last_hidden_state` [batch, tokens, width] for the
    encoder, `logits` [batch, classes] for the classifier), with a dynamic batch and clip length,
    and `OUT/preprocessing.json`: the frame sampling, resize, crop and normalisation the graphs
    expect (docs/export.md). Each file is loaded again (onnxruntime for ONNX) and compared with
    PyTorch on a batch and clip length other than the traced ones; the max abs difference is
    printed, and the command fails when it exceeds --tolerance. ONNX needs
    `pip install 'vjepa2[export]'`.

    **Examples**

    ```
    vjepa2 export demo exported/
    vjepa2 export vitl-ssv2 exported/ --part encoder --part classifier
    vjepa2 export runs/probe/model exported/ --format onnx --static-frames
    ```
    """
    net, _ = common.load_model(model, "cpu", checkpoint_key)
    options = ExportOptions(
        parts=tuple(part or ()), formats=tuple(fmt or FORMATS), frames=frames,
        batch_size=batch_size, dynamic_frames=dynamic_frames, tolerance=tolerance, opset=opset,
    )  # fmt: skip
    typer.echo(f"exporting {model} to {out}")
    export_model(net, out, options, model_name=model, report=_print)
    typer.echo(f"parity within {tolerance:g}; preprocessing: {out / PREPROCESSING_NAME}")


def _print(file: ExportedFile) -> None:
    shape = "x".join(map(str, file.check_shape))
    typer.echo(
        f"{file.path.name}: written in {file.seconds:.1f} s; max abs difference from PyTorch "
        f"{file.max_abs_error:.2e} on a [{shape}] input"
    )
