"""``vjepa2 pretrain`` (self-supervised V-JEPA pretraining) and ``vjepa2 pretrain-eval`` (a quick
frozen-probe check of an encoder)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from vjepa2.cli.app import app


def _parse_overrides(items: list[str]) -> dict:
    overrides = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep:
            raise typer.BadParameter(f"--set expects key=value, got {item!r}")
        try:
            overrides[key.strip()] = json.loads(value)
        except json.JSONDecodeError:
            overrides[key.strip()] = value
    return overrides


@app.command(no_args_is_help=True)
def pretrain(
    data: Annotated[
        str,
        typer.Option(
            help="Training videos: a folder (searched recursively), a CSV/TSV manifest "
            "(labels ignored) or a list file with one path per line."
        ),
    ],
    out: Annotated[
        Path, typer.Option(help="Run folder: latest.pt, metrics.jsonl, tb/ (TensorBoard).")
    ],
    arch: Annotated[
        str,
        typer.Option(help="From-scratch size: vit-tiny, vit-small, vit-base, vitl, vith, vitg."),
    ] = "vit-tiny",
    config: Annotated[
        Path | None, typer.Option(help="config.json with the architecture (instead of --arch).")
    ] = None,
    init: Annotated[
        str | None,
        typer.Option(
            help="Continue pretraining from a checkpoint: an original .pt (encoder, "
            "target_encoder, predictor), an HF folder, a Hub id or a preset."
        ),
    ] = None,
    set_: Annotated[
        list[str] | None,
        typer.Option(
            "--set",
            help="Override a config field, e.g. --set num_hidden_layers=6 "
            "--set pred_hidden_size=96 (repeatable).",
        ),
    ] = None,
    epochs: Annotated[int, typer.Option(help="Passes over the data.")] = 10,
    batch_size: Annotated[int, typer.Option(help="Clips per process and step.")] = 16,
    lr: Annotated[float, typer.Option(help="Peak learning rate (after warmup).")] = 5.25e-4,
    start_lr: Annotated[float, typer.Option(help="Learning rate at step 0.")] = 1e-4,
    final_lr: Annotated[
        float | None,
        typer.Option(help="Cosine decay to this rate after warmup; unset: constant --lr."),
    ] = None,
    warmup: Annotated[float, typer.Option(help="Warmup length in epochs.")] = 1.0,
    weight_decay: Annotated[
        float, typer.Option(help="AdamW weight decay (not on biases and norms).")
    ] = 0.04,
    ema: Annotated[
        tuple[float, float],
        typer.Option(help="Target-encoder EMA momentum, linear from the first to the second."),
    ] = (0.99925, 1.0),
    clip_grad: Annotated[
        float | None, typer.Option(help="Gradient-norm clipping (unset: none).")
    ] = 10.0,
    frames: Annotated[int, typer.Option(help="Frames per clip.")] = 16,
    fps: Annotated[float, typer.Option(help="Sample clips at about this frame rate.")] = 4.0,
    crop_size: Annotated[int, typer.Option(help="Training resolution (square crop).")] = 256,
    crop_scale: Annotated[
        tuple[float, float],
        typer.Option(help="Random-resized-crop area range (fraction of the frame)."),
    ] = (0.3, 1.0),
    mask: Annotated[
        list[str] | None,
        typer.Option(
            help="A mask configuration BLOCKS:SPATIAL[:TEMPORAL] (repeatable; the loss averages "
            "them): BLOCKS boxes, each covering SPATIAL of the frame for TEMPORAL of the clip "
            "(default 1), their union predicted from the rest. Default: the recipe's 8:0.15 "
            "(short-range) and 2:0.7 (long-range). On small token grids, 1:1:0.5 (predict "
            "half of the clip's time steps from the other half) keeps more context.",
        ),
    ] = None,
    workers: Annotated[int, typer.Option(help="Data-loading processes (0: in the main one).")] = 2,
    cache_frames: Annotated[
        bool,
        typer.Option(
            help="Decode every video once up front and keep the frames in memory "
            "(small datasets of short clips)."
        ),
    ] = False,
    device: Annotated[str, typer.Option(help="auto, cpu, cuda, cuda:1, mps.")] = "auto",
    dtype: Annotated[
        str, typer.Option(help="auto (bf16 autocast on CUDA, else fp32), fp32, bf16, fp16.")
    ] = "auto",
    seed: Annotated[int, typer.Option(help="Seeds the init, the data order and the masks.")] = 0,
    resume: Annotated[
        bool, typer.Option(help="Continue from OUT/latest.pt exactly where it stopped.")
    ] = False,
    checkpoint_every: Annotated[
        int, typer.Option(help="Also write latest.pt every N steps (0: at epoch ends only).")
    ] = 0,
    keep_epochs: Annotated[
        bool, typer.Option(help="Keep a numbered epoch-NNNN.pt at every epoch end.")
    ] = False,
    log_every: Annotated[
        int, typer.Option(help="Steps between throughput and collapse measurements.")
    ] = 10,
    probe_data: Annotated[
        Path | None,
        typer.Option(
            help="Labelled CSV for a frozen probe after each --probe-every epochs (logistic "
            "regression on mean-pooled target-encoder features, half fit, half scored)."
        ),
    ] = None,
    probe_every: Annotated[int, typer.Option(help="Epochs between frozen probes.")] = 1,
    max_steps: Annotated[
        int | None,
        typer.Option(help="Stop after this many steps (schedules still span --epochs)."),
    ] = None,
) -> None:
    """Pretrain (or continue pretraining) a video encoder with the V-JEPA objective.

    **Examples**

    ```
    vjepa2 pretrain --data videos/ --arch vit-small --out runs/small
    vjepa2 pretrain --data unlabelled.txt --arch vit-tiny --set num_hidden_layers=6 \\
        --crop-size 64 --out runs/motion --probe-data train.csv
    vjepa2 pretrain --data videos/ --init vitl.pt --lr 1e-4 --out runs/continued
    torchrun --nproc_per_node 8 -m vjepa2 pretrain --data videos/ --out runs/big
    vjepa2 pretrain ... --resume          (same command, continues from latest.pt)
    ```

    The run folder holds latest.pt (original layout: encoder, target_encoder, predictor, opt,
    epoch, ... + config; 'vjepa2 convert OUT/latest.pt hf/' makes an HF model of it),
    metrics.jsonl and TensorBoard logs under tb/ (loss per mask, lr, EMA momentum, throughput,
    collapse monitors: target std and effective rank).
    """
    import logging

    from vjepa2.train.masks import DEFAULT_MASKS, MaskConfig
    from vjepa2.train.pretrain import PretrainOptions
    from vjepa2.train.pretrain import pretrain as run

    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        masks = tuple(MaskConfig.parse(m) for m in mask) if mask else DEFAULT_MASKS
    except ValueError as err:
        raise typer.BadParameter(str(err), param_hint="--mask") from None
    opts = PretrainOptions(
        data=data, out=out, arch=arch, config=str(config) if config else None, init=init,
        overrides=_parse_overrides(set_ or []), epochs=epochs, batch_size=batch_size, lr=lr,
        start_lr=start_lr, final_lr=final_lr, warmup=warmup, weight_decay=weight_decay,
        ema=ema, clip_grad=clip_grad, frames=frames, fps=fps, crop_size=crop_size,
        crop_scale=crop_scale, masks=masks, workers=workers, cache_frames=cache_frames,
        device=device, dtype=dtype, seed=seed,
        resume=resume, checkpoint_every=checkpoint_every, keep_epochs=keep_epochs,
        log_every=log_every, probe_data=str(probe_data) if probe_data else None,
        probe_every=probe_every, max_steps=max_steps,
    )  # fmt: skip
    summary = run(opts)
    if summary["rank"] == 0:
        typer.echo(
            f"{summary['steps']} steps, last loss {summary['loss']:.4f}; "
            f"checkpoint {summary['checkpoint']}"
        )


@app.command("pretrain-eval", no_args_is_help=True)
def pretrain_eval(
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
    frames: Annotated[int, typer.Option(help="Frames per clip.")] = 16,
    fps: Annotated[float, typer.Option(help="Sample at about this frame rate.")] = 4.0,
    crop_size: Annotated[int | None, typer.Option(help="Resolution (default: config's).")] = None,
    attentive_epochs: Annotated[
        int, typer.Option(help="Epochs of the attentive probe (0: logistic regression only).")
    ] = 30,
    probe_blocks: Annotated[
        int, typer.Option(help="Self-attention blocks in the attentive probe.")
    ] = 1,
    probe_lr: Annotated[float, typer.Option(help="Attentive-probe learning rate.")] = 1e-3,
    seed: Annotated[int, typer.Option(help="Seed of the random init and of the probe.")] = 0,
    json_out: Annotated[
        Path | None, typer.Option("--json", help="Also write the results here.")
    ] = None,
) -> None:
    """Score a frozen encoder with two quick probes on a labelled train/test pair.

    A logistic regression on mean-pooled tokens and a small attentive probe on all tokens, both
    trained on features extracted once. Meant to compare pretrained against random init, not to
    replace 'vjepa2 train-probe'.

    **Examples**

    ```
    vjepa2 pretrain-eval runs/motion/latest.pt --train motion/train.csv --test motion/test.csv
    vjepa2 pretrain-eval random:runs/motion/config.json --train ... --test ...
    ```
    """
    import torch

    from vjepa2.config import VJEPA2Config
    from vjepa2.data import read_labelled
    from vjepa2.models import VJEPA2Model
    from vjepa2.train.pretrain_probe import accuracy, encode_videos, fit_attentive, fit_logistic

    if encoder.startswith("random:"):
        torch.manual_seed(seed)
        model = VJEPA2Model(VJEPA2Config.from_json_file(encoder[7:]), with_predictor=False)
        model.reset_parameters()
    else:
        from vjepa2.weights import load

        key = checkpoint_key if encoder.endswith((".pt", ".pth")) else "encoder"
        model = load(encoder, checkpoint_key=key)
    crop = crop_size or model.config.crop_size
    train_set = read_labelled(train)
    test_set = read_labelled(test, id2label=train_set.id2label)
    results = {"encoder": encoder}
    features = {}
    for name, labelled in (("train", train_set), ("test", test_set)):
        paths = [e.path for e in labelled.examples]
        tokens = encode_videos(model.encoder, paths, frames, fps, crop)
        features[name] = (tokens, torch.tensor([e.label for e in labelled.examples]))
    (x_train, y_train), (x_test, y_test) = features["train"], features["test"]
    num_classes = len(train_set.id2label)
    head = fit_logistic(x_train.mean(1), y_train, num_classes)
    results["logistic_accuracy"] = accuracy(head, x_test.mean(1), y_test)
    typer.echo(f"logistic regression (mean-pooled): {results['logistic_accuracy']:.3f}")
    if attentive_epochs:
        probe = fit_attentive(x_train, y_train, num_classes, epochs=attentive_epochs,
                              lr=probe_lr, num_self_blocks=probe_blocks, seed=seed)  # fmt: skip
        results["attentive_accuracy"] = accuracy(probe, x_test, y_test)
        typer.echo(f"attentive probe: {results['attentive_accuracy']:.3f}")
    if json_out is not None:
        json_out.write_text(json.dumps(results, indent=2) + "\n")
