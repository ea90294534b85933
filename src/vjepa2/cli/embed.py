"""``vjepa2 embed``: embeddings of many videos, resumable, one safetensors file per video."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from vjepa2.cli import common
from vjepa2.cli.app import app
from vjepa2.errors import UsageError
from vjepa2.inference.embed import POOL_CHOICES, embed_videos
from vjepa2.inference.ray_engine import embed_videos_ray, require_ray
from vjepa2.inference.records import RECORDS, EmbedFolderError
from vjepa2.inference.shards import merge_records, rank_device, resolve_shard
from vjepa2.models.levels import parse_levels


@app.command(no_args_is_help=True)
def embed(
    inputs: Annotated[
        list[Path] | None,
        typer.Argument(help="Video or image files and/or folders (searched recursively)."),
    ] = None,
    model: common.Model = None,
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder.")] = ...,
    list_file: Annotated[
        Path | None, typer.Option("--list", help="A text file with one video path per line.")
    ] = None,
    pool: Annotated[
        str,
        typer.Option(
            help="mean: pooled vector per clip (the attentive pooler's for classifiers); "
            "none: the token grid only; both."
        ),
    ] = "mean",
    layers: Annotated[
        str | None,
        typer.Option(
            help="Multi-level features: a count (4: the paper's taps, ViT-L blocks 17,19,21,23, "
            "ViT-g 24,29,34,39; a V-JEPA 2.1 model's hierarchical levels) or block indices "
            "(17,19,21,23). Adds a level axis: tokens [S, V, L, T', H', W', D], mean pooled "
            "[S, V, L, D]. Default: the last block (a classifier's: what its probe reads)."
        ),
    ] = None,
    dense: Annotated[
        bool,
        typer.Option(
            "--dense",
            help="Also write the token grid `tokens` [S, V, T', H', W', D] (whatever --pool) and "
            "`token_frames` [S, T', F] (the frames of each temporal step), the layout in each "
            "record.",
        ),
    ] = False,
    frames: common.Frames = None,
    frame_step: common.FrameStep = None,
    fps: common.Fps = None,
    segments: common.Segments = 1,
    views: common.Views = 1,
    window: common.Window = None,
    stride: common.Stride = None,
    batch_size: common.BatchSize = 8,
    workers: common.Workers = common.DEFAULT_WORKERS,
    device: common.Device = "auto",
    dtype: common.Dtype = "fp32",
    save_dtype: Annotated[
        str, typer.Option(help="Precision of the saved tensors: fp32 or fp16.")
    ] = "fp32",
    checkpoint_key: common.CheckpointKey = "encoder",
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
    compile_model: common.Compile = False,
    shard: Annotated[
        str | None,
        typer.Option(
            help="I/N: embed shard I of N only (processes launched by hand, e.g. a SLURM "
            "array); the last shard to finish merges the records. Under torchrun every rank "
            "takes its shard by itself."
        ),
    ] = None,
    engine: Annotated[
        str,
        typer.Option(
            help="plain: this process (each rank under torchrun); ray: a Ray Data pipeline on "
            "the cluster that RAY_ADDRESS names, else a local one, decoding on as many CPUs "
            "as it has (pip install 'vjepa2[ray]')."
        ),
    ] = "plain",
    merge_only: Annotated[
        bool,
        typer.Option(
            "--merge-only", help="Merge the records that sharded runs left in --out, and exit."
        ),
    ] = False,
) -> None:
    """Embed videos and images with a V-JEPA 2 or 2.1 encoder.

    Writes `OUT/<name>-<hash>.safetensors` per file, with tensors `pooled` [S, V, D] and/or
    `tokens` [S, V, T', H', W', D] (the dense grid: T' steps of 2 frames, H' x W' patches of
    16 px; with `--layers`, a level axis L after V), the frame `indices` and the clip
    `starts`/`ends` in seconds (S clips, V views);
    `OUT/records.jsonl` (path, status, error, output, frames, seconds, modality) and
    `OUT/run.json` (the model and settings).

    Images: a V-JEPA 2.1 model embeds an image as one frame through its image path (T' = 1,
    S = 1); a V-JEPA 2 model has none and embeds it as a static clip (the frame repeated).

    Running again skips videos already embedded (the same file: resolved path, size and
    modification time), so a stopped run resumes. Another model or other settings into the
    same OUT are refused: a folder never mixes embeddings. Unreadable files are recorded with
    their reason and the run goes on; the exit code is 1 only when no video could be embedded.

    **Examples**

    ```
    vjepa2 embed videos/ -m vitl -o emb/
    vjepa2 embed --list files.txt -m facebook/vjepa2-vitg-fpc64-384 -o emb/ --pool both
    vjepa2 embed long.mp4 -m vitl -o emb/ --stride 32      # one vector per 32 frames
    vjepa2 embed clips/ -m vitl-ssv2 -o emb/ --segments 2 --views 3 --dtype bf16
    torchrun --nproc_per_node 4 -m vjepa2 embed videos/ -m vitl -o emb/   # 4 shards, 1 bar
    vjepa2 embed videos/ -m vitl -o emb/ --shard $SLURM_ARRAY_TASK_ID/16  # shard by hand
    RAY_ADDRESS=auto vjepa2 embed videos/ -m vitl -o /shared/emb --engine ray
    vjepa2 embed clips/ -m vitl -o emb/ --layers 4 --pool both   # the paper's 4 levels
    vjepa2 embed photos/ -m vitl-2.1 -o emb/ --dense      # images and videos, token grids
    ```
    """
    if merge_only:
        typer.echo(f"{merge_records(out)} records merged into {out / RECORDS}")
        return
    if model is None:
        raise typer.BadParameter("give the model to embed with", param_hint="--model")
    job_shard = resolve_shard(shard)
    if engine not in ("plain", "ray"):
        raise typer.BadParameter("choose plain or ray", param_hint="--engine")
    if engine == "ray":
        require_ray()
        if job_shard.sharded:
            raise UsageError("--engine ray spreads the work over the cluster itself: run one "
                             "process, without torchrun or --shard")  # fmt: skip
        if layers is not None:
            raise UsageError("--layers is not supported with --engine ray yet: use the plain "
                             "engine (torchrun or --shard to spread it)")  # fmt: skip
    if pool not in POOL_CHOICES:
        raise typer.BadParameter(f"choose one of {', '.join(POOL_CHOICES)}", param_hint="--pool")
    if save_dtype not in ("fp32", "fp16"):
        raise typer.BadParameter("choose fp32 or fp16", param_hint="--save-dtype")
    levels = parse_levels(layers) if layers is not None else None
    videos = common.gather_inputs(inputs, list_file)
    compute_dtype = common.parse_dtype(dtype)
    on = "cpu" if engine == "ray" else rank_device(device)  # Ray ships the model to its actors
    net, target = common.load_model(model, on, checkpoint_key)
    common.compile_encoder(net, compile_model)
    spec = common.clip_spec(net.config, frames, frame_step, fps, segments, views, window, stride)
    try:
        options = dict(pool=pool, batch_size=batch_size, dtype=compute_dtype, model_name=model,
                       save_dtype=common.parse_dtype(save_dtype), progress=not quiet)  # fmt: skip
        if engine == "ray":
            summary = embed_videos_ray(net, videos, out, spec, dense=dense, device=device,
                                       **options)  # fmt: skip
        else:
            summary = embed_videos(net, videos, out, spec, dense=dense, workers=workers,
                                   shard=job_shard, layers=levels, **options)  # fmt: skip
    except EmbedFolderError as err:
        raise typer.BadParameter(str(err), param_hint="--out") from err
    if not job_shard.reports:
        return
    typer.echo(
        f"{summary.done} embedded, {summary.failed} failed, {summary.skipped} already done "
        f"({summary.videos_per_second:.2f} videos/s on {target}); "
        f"records: {out / RECORDS}"
    )
    if summary.failed and not summary.done and not summary.skipped:
        raise typer.Exit(1)
