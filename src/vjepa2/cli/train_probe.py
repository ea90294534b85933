"""``vjepa2 train-probe``: a video classifier on your labels, frozen backbone + attentive probe.
Its training options are the fields of `ProbeSettings` (see `vjepa2.cli.options`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from vjepa2.cli import common
from vjepa2.cli.app import app
from vjepa2.cli.options import options_command
from vjepa2.cli.validate import check_device, check_frames
from vjepa2.data.splits import labelled_splits
from vjepa2.train import probe
from vjepa2.train.probe_settings import ProbeSettings


@app.command("train-probe", no_args_is_help=True)
@options_command(ProbeSettings, build=ProbeSettings.from_recipe)
def train_probe(
    options: ProbeSettings,
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
        tuple[float, float, float],
        typer.Option(help="Train/val/test fractions for --data (they sum to 1)."),
    ] = (0.8, 0.1, 0.1),
    resume: Annotated[
        bool, typer.Option(help="Continue the run in --out exactly (same settings, model, data).")
    ] = False,
    overwrite: Annotated[
        bool, typer.Option(help="Delete the run already in --out and start again.")
    ] = False,
    allow_change: Annotated[
        list[str] | None,
        typer.Option(
            help="With --resume: accept a changed setting that is safe to change (epochs; "
            "repeatable)."
        ),
    ] = None,
    device: Annotated[
        str, typer.Option(help="auto (cuda > mps > cpu), cpu, cuda, cuda:1, mps.")
    ] = "auto",
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bars.")] = False,
    compile_model: common.Compile = False,
) -> None:
    """Train a video classifier: a frozen V-JEPA 2 backbone with an attentive probe.

    The run folder gets TensorBoard logs (`tb/`), per-epoch validation, final test top-1/top-5,
    `metrics.json`, `confusion_matrix.png`, `training_curves.png`, checkpoints
    (`--resume` continues exactly) and `model/`: a classifier in the Hugging Face format that
    `vjepa2 classify` and transformers load. A folder that holds a run is refused unless
    `--resume` (other settings, model or data are refused, naming them) or `--overwrite`.

    By default the backbone encodes every clip once into `features/` and the probe trains all
    epochs from there; `--no-cache` decodes and augments every epoch instead (`--unfreeze`
    implies it).

    **Examples**

    ```
    vjepa2 train-probe --data videos_by_class/ -m vitl -o runs/probe
    vjepa2 train-probe --train train.csv --val val.csv --test test.csv -m vitl-ssv2 -o runs/p
    vjepa2 train-probe --data labels.csv -m vitl -o runs/paper --recipe paper
    vjepa2 train-probe --data labels.csv -m vitl -o runs/p --epochs 20 --lr 1e-4 --batch-size 8
    vjepa2 train-probe ... --resume --epochs 10 --allow-change epochs
    ```
    """
    settings = options
    check_device(device)
    train_set, val_set, test_set = labelled_splits(data, train, val, test, split, settings.seed)
    net, target = common.load_model(model, device)
    check_frames(settings.frames, net.config.tubelet_size)
    common.compile_encoder(net, compile_model)
    typer.echo(
        f"{len(train_set)} train / {len(val_set)} val / {len(test_set)} test videos, "
        f"{len(train_set.id2label)} classes, {len(settings.head_grid)} probe(s), on {target}"
    )
    metrics = probe.train_probe(
        net, train_set, val_set, test_set, out, settings, model_name=model, resume=resume,
        overwrite=overwrite, allow_change=tuple(allow_change or ()), progress=not quiet,
    )  # fmt: skip
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
