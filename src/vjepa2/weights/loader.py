"""``vjepa2.load``: one entry point for HF directories, Hub ids, presets and original ``.pt`` files.

Loading is strict: a checkpoint whose keys or shapes differ from the model raises
:class:`CheckpointError` listing every missing, unexpected and mis-shaped key. The model is built
on the ``meta`` device and the checkpoint tensors are assigned into it, so nothing is initialised
only to be overwritten.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from vjepa2.config import VJEPA2Config
from vjepa2.files import atomic_write
from vjepa2.models.model import VJEPA2ForVideoClassification, VJEPA2Model, build_model
from vjepa2.presets import DEMO_DIR, DEMO_NAME, PRESETS, get_preset
from vjepa2.weights import hf, original
from vjepa2.weights.keymaps import StateDict, from_hf, from_original, to_original

Model = VJEPA2Model | VJEPA2ForVideoClassification

_SHOWN = 20


class CheckpointError(ValueError):
    """A checkpoint that does not match the model it is loaded into."""


def _listing(title: str, items: list[str]) -> str:
    shown = items[:_SHOWN]
    more = f"\n    ... and {len(items) - _SHOWN} more" if len(items) > _SHOWN else ""
    return f"  {title} ({len(items)}):\n" + "\n".join(f"    {i}" for i in shown) + more


def load_strict(
    model: torch.nn.Module, state_dict: StateDict, source: str, assign: bool = False
) -> None:
    """Load ``state_dict`` into ``model``; raise listing every missing/unexpected/mis-shaped key."""
    expected = model.state_dict()
    missing = sorted(set(expected) - set(state_dict))
    unexpected = sorted(set(state_dict) - set(expected))
    mis_shaped = sorted(
        f"{k}: checkpoint {list(state_dict[k].shape)} vs model {list(expected[k].shape)}"
        for k in set(expected) & set(state_dict)
        if state_dict[k].shape != expected[k].shape
    )
    if missing or unexpected or mis_shaped:
        parts = [f"{source}: the checkpoint does not match the model"]
        for title, items in (("missing", missing), ("unexpected", unexpected),
                             ("wrong shape", mis_shaped)):  # fmt: skip
            if items:
                parts.append(_listing(title, items))
        raise CheckpointError("\n".join(parts))
    model.load_state_dict(state_dict, strict=True, assign=assign)


def instantiate(
    config: VJEPA2Config,
    state_dict: StateDict,
    source: str,
    dtype: torch.dtype = torch.float32,
    device: str | torch.device = "cpu",
) -> Model:
    """Build the model the config describes and load ``state_dict`` into it strictly.

    A predictor is part of the model when the checkpoint has one; a checkpoint without any
    predictor weights gives a model without a predictor (encoder and classifier still strict).
    """
    with_predictor = any(".predictor." in f".{k}" for k in state_dict)
    with torch.device("meta"):
        model = build_model(config, with_predictor=with_predictor)
    state_dict = {
        k: v.to(device=device, dtype=dtype if v.is_floating_point() else v.dtype)
        for k, v in state_dict.items()
    }
    load_strict(model, state_dict, source, assign=True)
    return model.eval()


def resolve_source(
    source: str | os.PathLike, revision: str | None = None, cache_dir: Any = None
) -> Path:
    """A local path for a file, directory, preset name or Hub id (downloading if needed)."""
    path = Path(source)
    if path.exists():
        return path
    name = str(source)
    if name == DEMO_NAME:
        if not (DEMO_DIR / "config.json").exists():
            raise FileNotFoundError(
                f"the demo model is missing from this installation ({DEMO_DIR})"
            )
        return DEMO_DIR
    if name in PRESETS:
        name = get_preset(name).hub_id
    if name.count("/") == 1 and not name.startswith((".", "/")):
        return hf.download(name, revision=revision, cache_dir=cache_dir)
    raise FileNotFoundError(
        f"{source}: no such file or directory, and not a preset ({', '.join(PRESETS)}) "
        f"or a Hub id (org/name)"
    )


def load(
    source: str | os.PathLike,
    *,
    checkpoint_key: str = "encoder",
    classifier: str | os.PathLike | None = None,
    classifier_heads: int = 16,
    classifier_index: int = 0,
    id2label: Mapping[int, str] | None = None,
    config: VJEPA2Config | None = None,
    preset: str | None = None,
    revision: str | None = None,
    cache_dir: str | os.PathLike | None = None,
    dtype: torch.dtype = torch.float32,
    device: str | torch.device = "cpu",
) -> Model:
    """Load a V-JEPA 2 model.

    Args:
        source: an HF-format directory, a Hub id (``facebook/vjepa2-vitl-fpc64-256``), a preset
            name (``vitl``, ``vitl-ssv2``, ... see ``vjepa2 models``) or an original ``.pt``.
        checkpoint_key: for ``.pt`` files, which encoder: ``encoder`` (as the Hub and
            transformers) or ``target_encoder`` (the EMA teacher, as the original evals).
        classifier: an original probe ``.pt`` to put on top of a ``.pt`` encoder.
        classifier_heads: the probe's attention heads (16 for every released probe).
        classifier_index: which of the probe file's ``classifiers`` to take.
        id2label: class names for an original probe (default ``LABEL_i``).
        config / preset: the architecture of a ``.pt`` file, when its file name and widths do
            not tell it.
        revision / cache_dir: Hub revision and cache (``HF_HUB_OFFLINE=1`` works as usual).
        dtype / device: where the weights go.

    Returns:
        :class:`VJEPA2Model`, or :class:`VJEPA2ForVideoClassification` when the checkpoint
        has a classifier; in eval mode.
    """
    path = resolve_source(source, revision, cache_dir)
    if path.is_dir():
        if classifier is not None:
            raise ValueError("classifier= combines with an original .pt encoder only")
        if not hf.is_hf_dir(path):
            raise FileNotFoundError(f"{path}: no config.json (not a Hugging Face model directory)")
        cfg, hf_state = hf.read_hf_dir(path)
        if config is not None:
            cfg = config
        state = from_hf(hf_state, classifier=cfg.is_classifier)
        return instantiate(cfg, state, str(path), dtype, device)

    checkpoint = original.read_checkpoint(path)
    encoder = original.select_encoder(checkpoint, checkpoint_key, str(path))
    predictor = checkpoint.get("predictor") if encoder is not checkpoint else None
    if config is None and preset:
        config = get_preset(preset).config()
    if config is None and isinstance(checkpoint.get("config"), dict):
        config = VJEPA2Config.from_dict(checkpoint["config"])  # written by our pretraining
    if config is None:
        config = original.infer_config(encoder, predictor, path.name)
    probe = None
    if classifier is not None:
        probe = original.select_classifier(
            original.read_checkpoint(classifier), classifier_index, str(classifier)
        )
        config = config.replace(**original.classifier_settings(probe, classifier_heads))
        if id2label is not None:
            config = config.replace(id2label=dict(id2label))
    elif config.is_classifier:
        config = config.replace(id2label=None)
    state = from_original(encoder, predictor, probe)
    source_name = f"{path} [{checkpoint_key}]" + (f" + {classifier}" if classifier else "")
    return instantiate(config, state, source_name, dtype, device)


def save_original(model: Model, path: str | os.PathLike) -> Path:
    """Write ``model`` in the original layout: ``{"encoder", "predictor", "classifiers"}``.

    The encoder is also written as ``target_encoder`` so evaluation code that reads the EMA
    teacher finds it, and the architecture as ``config`` (original code ignores the extra key;
    :func:`load` uses it, so the file needs no ``config=``).
    """
    parts = to_original({k: v.detach().cpu() for k, v in model.state_dict().items()})
    checkpoint: dict[str, Any] = {
        "encoder": parts["encoder"],
        "target_encoder": parts["encoder"],
        "config": model.config.replace(id2label=None).to_dict(),
    }
    if "predictor" in parts:
        checkpoint["predictor"] = parts["predictor"]
    if "classifier" in parts:
        checkpoint["classifiers"] = [parts["classifier"]]
    path = Path(path)
    with atomic_write(path) as tmp:
        torch.save(checkpoint, tmp)
    return path
