"""``vjepa2 train-probe``: a video classifier on your labels, frozen backbone + attentive probe."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from vjepa2.cli import common
from vjepa2.cli.app import app


def _floats(text: str | None) -> tuple[float, ...] | None:
    if text is None:
        return None
    try:
        return tuple(float(v) for v in text.split(",") if v.strip())
    except ValueError as err:
        raise typer.BadParameter(f"expected comma-separated numbers, got {text!r}") from err


def _datasets(data, train, val, test, split, seed):
    from vjepa2.data import read_labelled, split_examples

    if data is None and train is None:
        raise typer.BadParameter("give --data (split automatically) or --train [--val --test]")
    if data is not None and (train or val or test):
        raise typer.BadParameter("give either --data (split by --split) or --train/--val/--test")
    try:
        if data is not None:
            return split_examples(read_labelled(data), split, seed)
        train_set = read_labelled(train)
        val_set = read_labelled(val, train_set.id2label) if val else None
        test_set = read_labelled(test, train_set.id2label) if test else None
    except (OSError, ValueError) as err:
        raise typer.BadParameter(str(err)) from err
    if val_set is None or test_set is None:
        ratios = (split[0], 0.0 if val_set else split[1], 0.0 if test_set else split[2])
        train_set, carved_val, carved_test = split_examples(train_set, ratios, seed)
        val_set, test_set = val_set or carved_val, test_set or carved_test
    return train_set, val_set, test_set


@app.command("train-probe", no_args_is_help=True)
def train_probe(
    model: common.Model = ...,
    out: Annotated[Path, typer.Option("--out", "-o", help="Run folder.")] = ...,
    data: Annotated[
        Path | None,
        typer.Option(help="A folder per class, or a manifest (path,label); split by --split."),
    ] = None,
    train: Annotated[Path | None, typer.Option(help="Training manifest or class folders.")] = None,
    val: Annotated[
        Path | None, typer.Option(help="Validation set (else carved from --train).")
    ] = None,
    test: Annotated[Path | None, typer.Option(help="Test set (else carved from --train).")] = None,
    split: Annotated[
        tuple[float, float, float], typer.Option(help="Train/val/test ratios for --data.")
    ] = (0.8, 0.1, 0.1),
    recipe: Annotated[
        str,
        typer.Option(
            help="card: the published fine-tune (Adam 1e-5, 5 epochs, accumulation 4); "
            "paper: AdamW + cosine, 20 epochs, 20-probe lr/wd sweep, 2 segments x 3 views."
        ),
    ] = "card",
    epochs: Annotated[int | None, typer.Option(help="Epochs.")] = None,
    lr: Annotated[
        str | None, typer.Option(help="Learning rate(s), comma-separated: one probe each.")
    ] = None,
    weight_decay: Annotated[
        str | None, typer.Option(help="Weight decay(s), comma-separated.")
    ] = None,
    batch_size: Annotated[int | None, typer.Option(help="Videos per batch.")] = None,
    accumulation: Annotated[int | None, typer.Option(help="Batches per optimizer step.")] = None,
    optimizer: Annotated[str | None, typer.Option(help="adam or adamw.")] = None,
    schedule: Annotated[str | None, typer.Option(help="constant or cosine.")] = None,
    probe_heads: Annotated[int | None, typer.Option(help="Attention heads of the probe.")] = None,
    probe_blocks: Annotated[
        int | None,
        typer.Option(
            help="Self-attention blocks before the probe's cross-attention (3; 0 is "
            "V-JEPA 1's single cross-attention probe)."
        ),
    ] = None,
    frames: common.Frames = None,
    frame_step: common.FrameStep = None,
    segments: Annotated[
        int | None, typer.Option(help="Clips per video (tokens concatenated).")
    ] = None,
    views: Annotated[int | None, typer.Option(help="Spatial views at evaluation (1 or 3).")] = None,
    cache: Annotated[
        bool, typer.Option(help="Encode every clip once into a feature cache (no augmentation).")
    ] = True,
    cache_dtype: Annotated[
        str, typer.Option(help="Feature cache precision: fp16 or fp32.")
    ] = "fp16",
    augment: Annotated[
        bool, typer.Option(help="Random resized crop + flip (uncached path only).")
    ] = True,
    flip: Annotated[
        float | None,
        typer.Option(
            help="Horizontal-flip probability when augmenting (card recipe 0.5, paper 0). Use 0 "
            "when a label depends on left and right, e.g. 'moving something left to right'."
        ),
    ] = None,
    unfreeze: Annotated[
        int, typer.Option(help="Also train the last N encoder blocks (needs --no-cache).")
    ] = 0,
    seed: Annotated[int, typer.Option(help="Seed for the split, init and data order.")] = 0,
    checkpoint_every: Annotated[
        int, typer.Option(help="Also checkpoint every N optimizer steps (0: each epoch only).")
    ] = 0,
    resume: Annotated[bool, typer.Option(help="Continue the run in --out exactly.")] = False,
    workers: common.Workers = common.DEFAULT_WORKERS,
    device: common.Device = "auto",
    dtype: common.Dtype = "fp32",
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bars.")] = False,
) -> None:
    """Train a video classifier: a frozen V-JEPA 2 backbone with an attentive probe.

    The run folder gets TensorBoard logs (`tb/`), per-epoch validation, final test top-1/top-5,
    `metrics.json`, `confusion_matrix.png`, `training_curves.png`, checkpoints
    (`--resume` continues exactly) and `model/`: a classifier in the Hugging Face format that
    `vjepa2 classify` and transformers load.

    By default the backbone encodes every clip once into `features/` and the probe trains all
    epochs from there; `--no-cache` decodes and augments every epoch instead.

    **Examples**

    ```
    vjepa2 train-probe --data videos_by_class/ -m vitl -o runs/probe
    vjepa2 train-probe --train train.csv --val val.csv --test test.csv -m vitl-ssv2 -o runs/p
    vjepa2 train-probe --data labels.csv -m vitl -o runs/paper --recipe paper
    vjepa2 train-probe --data labels.csv -m vitl -o runs/p --epochs 20 --lr 1e-4 --batch-size 8
    ```
    """
    from vjepa2.train.probe import ProbeSettings
    from vjepa2.train.probe import train_probe as run

    if cache_dtype not in ("fp16", "fp32"):
        raise typer.BadParameter("choose fp16 or fp32", param_hint="--cache-dtype")
    try:
        settings = ProbeSettings.from_recipe(
            recipe, epochs=epochs, lrs=_floats(lr), weight_decays=_floats(weight_decay),
            batch_size=batch_size, accumulation=accumulation, optimizer=optimizer,
            schedule=schedule, probe_heads=probe_heads, probe_blocks=probe_blocks,
            frames=frames, frame_step=frame_step,
            segments=segments, views=views, cache=cache, cache_storage=cache_dtype,
            augment=augment, flip=flip, unfreeze=unfreeze, dtype=dtype, seed=seed,
            checkpoint_every=checkpoint_every, workers=workers,
        )  # fmt: skip
    except ValueError as err:
        raise typer.BadParameter(str(err)) from err
    common.parse_dtype(dtype)
    train_set, val_set, test_set = _datasets(data, train, val, test, split, seed)
    for name, subset in (("train", train_set), ("val", val_set), ("test", test_set)):
        if not len(subset):
            raise typer.BadParameter(f"the {name} set is empty")
    net, target = common.load_model(model, device)
    typer.echo(
        f"{len(train_set)} train / {len(val_set)} val / {len(test_set)} test videos, "
        f"{len(train_set.id2label)} classes, {len(settings.head_grid)} probe(s), on {target}"
    )
    try:
        metrics = run(net, train_set, val_set, test_set, out, settings, model_name=model,
                      resume=resume, progress=not quiet)  # fmt: skip
    except ValueError as err:
        raise typer.BadParameter(str(err)) from err
    for epoch in metrics["history"]:
        typer.echo(f"epoch {epoch['epoch']}: train loss {epoch['train_loss']:.4f}, "
                   f"val top-1 {epoch['best_val_top1']:.3f}")  # fmt: skip
    test_metrics = metrics["test"]
    typer.echo(
        f"test top-1 {test_metrics['top1']:.3f}, top-5 {test_metrics['top5']:.3f} "
        f"(probe lr {metrics['best_probe']['lr']:g}, wd {metrics['best_probe']['weight_decay']:g})"
    )
    failures = sum(len(v) for v in metrics["failures"].values())
    if failures:
        typer.echo(f"{failures} video(s) could not be decoded; see {out / 'metrics.json'}")
    typer.echo(f"model: {out / 'model'}  metrics: {out / 'metrics.json'}")
