"""``vjepa2 convert``: original ``.pt`` <-> Hugging Face directory."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from vjepa2.cli.app import app


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
) -> None:
    """Convert a checkpoint between Meta's original format and the Hugging Face format.

    A directory output gets `config.json` + safetensors and loads in transformers; a `.pt`
    output holds `encoder`, `target_encoder`, `predictor` (and `classifiers`) as the original
    code writes them.

    **Examples**

    ```
    vjepa2 convert vitl.pt vitl-hf/
    vjepa2 convert vitl.pt ssv2-hf/ --classifier ssv2-vitl-16x2x3.pt --labels ssv2.txt
    vjepa2 convert vitl-hf/ vitl-again.pt
    ```
    """
    from vjepa2.config import VJEPA2Config
    from vjepa2.weights import load, save_original

    id2label = None
    if labels is not None:
        names = [line.strip() for line in labels.read_text().splitlines() if line.strip()]
        id2label = dict(enumerate(names))
    kwargs = dict(checkpoint_key=checkpoint_key, preset=preset)
    if config is not None:
        kwargs["config"] = VJEPA2Config.from_json_file(config)
    if classifier is not None:
        kwargs.update(classifier=classifier, classifier_heads=classifier_heads,
                      classifier_index=classifier_index, id2label=id2label)  # fmt: skip
    model = load(src, **kwargs)
    if id2label is not None and classifier is None:
        if not model.config.is_classifier or len(id2label) != model.config.num_labels:
            raise typer.BadParameter(
                f"{labels}: {len(id2label)} names for a model with {model.config.num_labels} labels"
            )
        model.config = model.config.replace(id2label=id2label)
    if out.suffix in (".pt", ".pth"):
        save_original(model, out)
    else:
        model.save_pretrained(out)
    kind = "classifier" if model.config.is_classifier else "encoder + predictor"
    typer.echo(f"wrote {out} ({kind}, {model.num_parameters() / 1e6:.1f}M parameters)")
