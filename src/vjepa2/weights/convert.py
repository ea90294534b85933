"""Conversion between Meta's original ``.pt`` layout and the Hugging Face format (``vjepa2
convert``). Every failure is a :class:`~vjepa2.errors.VJEPA2Error` naming the file at fault."""

from __future__ import annotations

import os
from pathlib import Path

from torch import nn

from vjepa2.config import VJEPA2Config
from vjepa2.errors import UsageError
from vjepa2.weights.loader import load, own_format_of, resolve_source, save


def read_labels(path: str | os.PathLike) -> dict[int, str]:
    """Class names, one per line in class-index order (blank lines skipped)."""
    try:
        text = Path(path).read_text()
    except (OSError, UnicodeDecodeError) as err:
        raise UsageError(f"{path}: cannot read the labels file ({err})") from err
    names = [line.strip() for line in text.splitlines() if line.strip()]
    if not names:
        raise UsageError(f"{path}: no class names in the labels file")
    return dict(enumerate(names))


def convert(
    src: str | os.PathLike,
    out: str | os.PathLike,
    *,
    checkpoint_key: str = "encoder",
    classifier: str | os.PathLike | None = None,
    classifier_heads: int = 16,
    classifier_index: int = 0,
    labels: str | os.PathLike | None = None,
    preset: str | None = None,
    config: str | os.PathLike | None = None,
    layers: int | list[int] | None = None,
) -> nn.Module:
    """Load ``src`` (anything :func:`vjepa2.load` takes) and write it to ``out``: a ``.pt`` /
    ``.pth`` path gets the original layout, anything else an HF folder. A model already at
    ``out`` is replaced only once the new one is completely written. Returns the model.

    ``labels`` names the classes of an attached original probe (``classifier``) or renames
    those of a classifier checkpoint; ``config`` (a config.json) or ``preset`` gives the
    architecture of a ``.pt`` whose file name and widths do not tell it; ``layers`` the levels
    a multi-level probe reads when its file does not tell them (see :func:`vjepa2.load`).
    """
    own = own_format_of(resolve_source(src))
    if own is not None:  # V-JEPA 2-AC, 2.1: their own layouts, converted losslessly
        if classifier is not None or labels is not None or layers is not None:
            raise UsageError(
                f"{src}: a {own.model_type} model takes no classifier, labels or layers"
            )
        arch = own.config_class.from_json_file(config) if config is not None else None
        try:
            own.convert(Path(src), Path(out), arch)
        except OSError as err:
            raise UsageError(f"{out}: cannot write the converted model ({err})") from err
        return load(src, config=arch)
    id2label = read_labels(labels) if labels is not None else None
    kwargs: dict = dict(checkpoint_key=checkpoint_key, preset=preset, layers=layers)
    if config is not None:
        kwargs["config"] = VJEPA2Config.from_json_file(config)
    if classifier is not None:
        kwargs.update(classifier=classifier, classifier_heads=classifier_heads,
                      classifier_index=classifier_index, id2label=id2label)  # fmt: skip
    model = load(src, **kwargs)
    if id2label is not None and classifier is None:
        if not model.config.is_classifier or len(id2label) != model.config.num_labels:
            raise UsageError(
                f"{labels}: {len(id2label)} names for a model with {model.config.num_labels} labels"
            )
        model.config = model.config.replace(id2label=id2label)
    try:
        save(model, out)
    except OSError as err:
        raise UsageError(f"{out}: cannot write the converted model ({err})") from err
    return model
