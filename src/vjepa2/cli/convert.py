"""``vjepa2 convert``: original ``.pt`` <-> Hugging Face directory."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from vjepa2.cli.app import app
from vjepa2.models.levels import parse_levels
from vjepa2.weights.convert import convert as convert_checkpoint


@app.command(no_args_is_help=True)
def convert(
    src: Annotated[
        str, typer.Argument(help="Original .pt checkpoint, HF directory, Hub id or preset.")
    ],
    out: Annotated[
        Path,
        typer.Argument(help="Output: a directory (HF format) or a .pt file (original layout)."),
    ],
    checkpoint_key: Annotated[
        str,
        typer.Option(
            help="Encoder weights of a .pt: 'encoder' (Hub, transformers) or "
            "'target_encoder' (the EMA teacher, as the original evals)."
        ),
    ] = "encoder",
    classifier: Annotated[
        Path | None,
        typer.Option(
            help="Original attentive-probe .pt to attach (entry --classifier-index of its list)."
        ),
    ] = None,
    classifier_heads: Annotated[
        int, typer.Option(help="Attention heads of that probe (16 for all released probes).")
    ] = 16,
    classifier_index: Annotated[
        int, typer.Option(help="Which entry of the probe file's 'classifiers' list.")
    ] = 0,
    labels: Annotated[
        Path | None,
        typer.Option(help="Text file with one class name per line, in class-index order."),
    ] = None,
    preset: Annotated[
        str | None,
        typer.Option(
            help="Architecture of the .pt when its file name does not tell (see 'vjepa2 models')."
        ),
    ] = None,
    config: Annotated[
        Path | None,
        typer.Option(help="config.json giving the architecture of a .pt (instead of --preset)."),
    ] = None,
    layers: Annotated[
        str | None,
        typer.Option(
            help="The encoder blocks a multi-level probe reads when its file name does not tell "
            "(released Diving48 files do): 4 (the paper's taps) or indices (17,19,21,23)."
        ),
    ] = None,
) -> None:
    """Convert a checkpoint between Meta's original format and the Hugging Face format.

    A directory output gets `config.json` + safetensors and loads in transformers; a `.pt`
    output holds `encoder`, `target_encoder`, `predictor` (and `classifiers`) as the original
    code writes them. A model already in the output is replaced only once the new one is
    completely written.

    **Examples**

    ```
    vjepa2 convert vitl.pt vitl-hf/
    vjepa2 convert vitl.pt ssv2-hf/ --classifier ssv2-vitl-16x2x3.pt --labels ssv2.txt
    vjepa2 convert vitl.pt diving48-hf/ --classifier diving48-vitl-256.pt   # 4 levels
    vjepa2 convert vitl.pt ek100.pt --checkpoint-key target_encoder --classifier ek100-vitl-256.pt
    vjepa2 convert vitl-hf/ vitl-again.pt
    ```
    """
    model = convert_checkpoint(
        src, out, checkpoint_key=checkpoint_key, classifier=classifier,
        classifier_heads=classifier_heads, classifier_index=classifier_index, labels=labels,
        preset=preset, config=config, layers=parse_levels(layers) if layers else None,
    )  # fmt: skip
    family = getattr(model.config, "model_type", "vjepa2")
    kind = "classifier" if getattr(model.config, "is_classifier", False) else "encoder + predictor"
    if getattr(model.config, "classifier_tasks", None):
        kind = "action-anticipation probe on encoder + predictor"
    params = sum(p.numel() for p in model.parameters())
    typer.echo(f"wrote {out} ({family}, {kind}, {params / 1e6:.1f}M parameters)")
