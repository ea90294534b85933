"""``vjepa2 classify``: top-k action labels for videos."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from vjepa2.cli import common
from vjepa2.cli.app import app
from vjepa2.inference.attention import explain_names, explain_video
from vjepa2.inference.classify import ANTICIPATION_HINT, CLASSIFIERS, classify_videos
from vjepa2.inference.shards import gather, rank_device, resolve_shard
from vjepa2.models.model import VJEPA2ForActionAnticipation


@app.command(no_args_is_help=True)
def classify(
    videos: Annotated[
        list[Path], typer.Argument(help="Video or image files and/or folders (recursive).")
    ],
    model: common.Model = ...,
    top_k: common.TopK = 5,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per video.")] = False,
    frames: common.Frames = None,
    frame_step: common.FrameStep = None,
    fps: common.Fps = None,
    segments: common.Segments = 1,
    views: common.Views = 1,
    batch_size: common.BatchSize = 8,
    workers: common.Workers = common.DEFAULT_WORKERS,
    device: common.Device = "auto",
    dtype: common.Dtype = "fp32",
    shard: Annotated[
        str | None,
        typer.Option(help="I/N: classify shard I of N only (processes launched by hand)."),
    ] = None,
    compile_model: common.Compile = False,
    explain: Annotated[
        Path | None,
        typer.Option(
            help="Also write where the probe looks, per video: DIR/NAME.mp4 (the classified "
            "clips beside the attention heat map of the probe's query) and DIR/NAME.png."
        ),
    ] = None,
) -> None:
    """Classify videos with a V-JEPA 2 classifier: the top-k labels with probabilities.

    With several `--segments` or `--views` every clip is classified and the softmax
    probabilities are averaged, as in the evaluation protocol. Unreadable files are reported
    and skipped; the exit code is 1 only when no video could be classified.

    **Examples**

    ```
    vjepa2 classify clip.mp4 -m vitl-ssv2
    vjepa2 classify videos/ -m ./my-probe-run/model --top-k 3 --json
    vjepa2 classify clip.mp4 -m vitl-ssv2 --segments 2 --views 3
    vjepa2 classify videos/ -m demo --explain attention/
    torchrun --nproc_per_node 4 -m vjepa2 classify videos/ -m vitl-ssv2 --json  # rank 0 prints
    ```
    """
    job_shard = resolve_shard(shard)
    paths = common.gather_inputs(videos, None)
    order = {str(path): i for i, path in enumerate(paths)}
    net, _ = common.load_model(model, rank_device(device))
    if isinstance(net, VJEPA2ForActionAnticipation):
        raise typer.BadParameter(ANTICIPATION_HINT, param_hint="--model")
    if not isinstance(net, CLASSIFIERS):
        raise typer.BadParameter(
            "this checkpoint has no classifier head; use a classifier preset (see 'vjepa2 "
            "models') or a model trained with 'vjepa2 train-probe'",
            param_hint="--model",
        )
    common.compile_encoder(net, compile_model)
    spec = common.clip_spec(net.config, frames, frame_step, fps, segments, views, None, None)
    predictions = classify_videos(
        net, job_shard.take(paths), spec, k=top_k, batch_size=batch_size, workers=workers,
        dtype=common.parse_dtype(dtype),
    )  # fmt: skip
    predictions = gather(predictions, job_shard, key=lambda p: order[p.path])
    if not job_shard.reports:
        return
    table = Table(show_lines=False)
    table.add_column("video", overflow="fold")
    table.add_column("label", overflow="fold")
    table.add_column("probability", justify="right")
    succeeded = 0
    names = dict(zip(map(str, paths), explain_names(paths), strict=True))
    for prediction in predictions:
        if explain is not None and prediction.error is None:
            explain_video(prediction.path, net, spec, explain / names[prediction.path])
        if as_json:
            top = [{"label": label, "probability": round(p, 6)} for label, p in prediction.top]
            record = {"path": prediction.path, "top_k": top, "error": prediction.error}
            typer.echo(json.dumps(record))
        elif prediction.error:
            table.add_row(prediction.path, f"[red]error: {prediction.error}[/red]", "")
        else:
            for rank, (label, p) in enumerate(prediction.top):
                table.add_row(prediction.path if rank == 0 else "", label, f"{p:.3f}")
        succeeded += prediction.error is None
    if not as_json:
        Console().print(table)
    if explain is not None:
        typer.echo(f"attention maps: {explain}/", err=as_json)
    if not succeeded:
        raise typer.Exit(1)
