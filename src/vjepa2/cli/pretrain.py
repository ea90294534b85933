"""``vjepa2 pretrain`` (self-supervised V-JEPA pretraining) and ``vjepa2 pretrain-eval`` (a quick
frozen-probe check of an encoder). Their options are the fields of `PretrainOptions` and
`FrozenEvalSettings` (see `vjepa2.cli.options`)."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Annotated

import typer

from vjepa2.cli.app import app, show_package_logs
from vjepa2.cli.options import options_command
from vjepa2.files import write_text_atomic
from vjepa2.train import pretrain as pretraining
from vjepa2.train.frozen_eval import FrozenEvalSettings, format_table, frozen_eval, load_encoder
from vjepa2.train.pretrain_options import PretrainOptions


@app.command(no_args_is_help=True)
@options_command(PretrainOptions)
def pretrain(options: PretrainOptions) -> None:
    """Pretrain (or continue pretraining) a video encoder with the V-JEPA objective.

    **Examples**

    ```
    vjepa2 pretrain --data videos/ --arch vit-small --out runs/small
    vjepa2 pretrain --data unlabelled.txt --arch vit-tiny --set num_hidden_layers=6 \\
        --crop-size 64 --out runs/motion --probe-data train.csv
    vjepa2 pretrain --data videos/ --init vitl.pt --lr 1e-4 --out runs/continued
    torchrun --nproc_per_node 8 -m vjepa2 pretrain --data videos/ --out runs/big
    vjepa2 pretrain ... --resume          (same command, continues from latest.pt)
    vjepa2 pretrain ... --resume --epochs 20 --allow-change epochs
    ```

    The run folder holds latest.pt (original layout: encoder, target_encoder, predictor, opt,
    epoch, ... + config; 'vjepa2 convert OUT/latest.pt hf/' makes an HF model of it),
    run.json (the options, data and model the run is made of), metrics.jsonl and TensorBoard
    logs under tb/ (loss per mask, lr, EMA momentum, throughput, collapse monitors: target std
    and effective rank). A folder that holds a run is refused unless --resume (continue it
    exactly; other options or data are refused, naming them) or --overwrite (start again).
    """
    show_package_logs(logging.INFO)
    summary = pretraining.pretrain(options)
    if summary["rank"] == 0:
        typer.echo(
            f"{summary['steps']} steps, last loss {summary['loss']:.4f}; "
            f"checkpoint {summary['checkpoint']}"
        )


@app.command("pretrain-eval", no_args_is_help=True)
@options_command(FrozenEvalSettings)
def pretrain_eval(
    options: FrozenEvalSettings,
    encoder: Annotated[
        str,
        typer.Argument(
            help="A pretraining checkpoint (RUN/latest.pt), HF folder, Hub id or preset; "
            "'random:CONFIG.json' for a randomly initialised encoder of that architecture."
        ),
    ],
    train: Annotated[Path, typer.Option(help="Labelled CSV to fit the probes on.")],
    test: Annotated[Path, typer.Option(help="Labelled CSV to score them on.")],
    checkpoint_key: Annotated[
        str, typer.Option(help="Encoder of a .pt: target_encoder (EMA) or encoder.")
    ] = "target_encoder",
    json_out: Annotated[
        Path | None, typer.Option("--json", help="Also write the results here.")
    ] = None,
) -> None:
    """Score a frozen encoder, random init of the same architecture and a positions-added probe.

    Features are extracted once for the encoder and the random-init controls (--random-seeds);
    on each: a logistic regression on mean-pooled tokens, an attentive probe on all tokens
    (--probe-seeds fits) and the same probe given fixed 3-D sin-cos token positions. Prints a
    table of top-1 and, when the classes come in time-reversal pairs (the paired motion
    benchmark), within-pair direction accuracy, each as mean ± std over the probe seeds; --json
    writes every number. Meant to compare pretrained against random init, not to replace
    'vjepa2 train-probe'.

    **Examples**

    ```
    vjepa2 pretrain-eval runs/motion/latest.pt --train motion/train.csv --test motion/test.csv
    vjepa2 pretrain-eval runs/motion/latest.pt --train ... --test ... --random-seeds '' \
        --probe-seeds 0 --json eval.json          (no controls, one probe fit)
    vjepa2 pretrain-eval random:runs/motion/config.json --train ... --test ...
    ```
    """
    model = load_encoder(encoder, checkpoint_key, options.seed)
    report = frozen_eval(model, train, test, options)
    typer.echo(format_table(report))
    if json_out is not None:
        record = {"encoder": encoder, "checkpoint_key": checkpoint_key, **report}
        write_text_atomic(json_out, json.dumps(record, indent=2) + "\n")
