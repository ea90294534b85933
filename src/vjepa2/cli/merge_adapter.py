"""``vjepa2 merge-adapter``: a LoRA adapter (``train-probe --lora-rank``) merged into its model."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from vjepa2.cli.app import app
from vjepa2.errors import UsageError
from vjepa2.train import lora
from vjepa2.weights import load
from vjepa2.weights import save as save_model


@app.command("merge-adapter", no_args_is_help=True)
def merge_adapter(
    adapter: Annotated[
        Path, typer.Argument(help="Adapter folder (peft format), e.g. RUN/adapter.")
    ],
    out: Annotated[Path, typer.Argument(help="Output: a directory (HF format) or a .pt file.")],
    base: Annotated[
        str | None,
        typer.Option(
            "--base",
            help="Model to merge into (preset, Hub id, HF directory, .pt); default: the one the "
            "adapter was trained on (its base_model_name_or_path).",
        ),
    ] = None,
) -> None:
    """Merge a LoRA adapter into a model's encoder and save the result as an ordinary model.

    `train-probe --lora-rank R` writes `RUN/adapter/` (the encoder's adapters, in peft's format)
    and `RUN/model/` (the classifier with the adapters already merged). This command puts the
    adapters into any model with the same encoder, e.g. the base model for embeddings; the output
    has plain weights that `vjepa2.load`, `vjepa2 embed` and transformers read.

    **Examples**

    ```
    vjepa2 merge-adapter runs/lora/adapter vitl-lora/
    vjepa2 merge-adapter runs/lora/adapter merged/ --base vitl
    ```
    """
    source = base or lora.adapter_base(adapter)
    if not source:
        raise UsageError(f"{adapter} does not name its base model: give --base")
    model = lora.merge_adapter(load(source), adapter)
    save_model(model, out)
    typer.echo(f"wrote {out} ({source} + {adapter})")
