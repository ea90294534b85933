"""Meta's original checkpoints (``.pt``): pretraining files and attentive-probe files.

Pretraining checkpoints hold ``encoder``, ``target_encoder`` and ``predictor`` state dicts (keys
wrapped in ``module.backbone.``); probe checkpoints hold a list ``classifiers`` (keys wrapped in
``module.``). They carry no config, so the architecture comes from a preset, an explicit config,
or the weight shapes (widths of the released models map to their head counts).
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import torch

from vjepa2.config import VJEPA2Config
from vjepa2.errors import VJEPA2Error
from vjepa2.presets import _ENCODER_ARCH, preset_for_original_file
from vjepa2.weights.keymaps import StateDict, strip_wrappers
from vjepa2.weights.strict import CheckpointError, CheckpointNotFoundError

ENCODER_KEYS = ("encoder", "target_encoder", "ema_encoder")

# Head counts of the released widths (tiny, small, base, L, H, g); others need a config.
HEADS_BY_WIDTH = {192: 3, 384: 6, 768: 12} | {
    arch["hidden_size"]: arch["num_attention_heads"] for arch in _ENCODER_ARCH.values()
}
PRED_HEADS_BY_WIDTH = {384: 12}


def read_checkpoint(path: str | os.PathLike) -> dict[str, Any]:
    """``torch.load`` with ``weights_only=True``: a pickle payload (code to run), a torn or a
    foreign file raises :class:`CheckpointError` naming the file; nothing in it runs."""
    try:
        checkpoint = torch.load(Path(path), map_location="cpu", weights_only=True)
    except FileNotFoundError as err:
        raise CheckpointNotFoundError(f"{path}: no such file") from err
    except IsADirectoryError as err:
        raise CheckpointNotFoundError(f"{path}: a folder, not a checkpoint file") from err
    except Exception as err:  # torch raises UnpicklingError, RuntimeError, EOFError, ...
        raise CheckpointError(f"{path}: not a readable PyTorch checkpoint ({err})") from err
    if not isinstance(checkpoint, dict):
        raise CheckpointError(
            f"{path}: expected a dict checkpoint, got {type(checkpoint).__name__}"
        )
    return checkpoint


def _state_dict(value: Any, what: str) -> StateDict:
    if not (isinstance(value, dict) and all(isinstance(v, torch.Tensor) for v in value.values())):
        raise CheckpointError(f"{what} is not a state dict (names -> tensors)")
    return value


def select_encoder(checkpoint: dict[str, Any], key: str, source: str) -> StateDict:
    """The encoder state dict under ``key`` (``encoder`` or ``target_encoder``)."""
    if key in checkpoint and isinstance(checkpoint[key], dict):
        return _state_dict(checkpoint[key], f"{source}: {key!r}")
    if any(str(k).endswith("patch_embed.proj.weight") for k in checkpoint):
        return _state_dict(checkpoint, source)  # a bare encoder state dict
    available = [k for k, v in checkpoint.items() if isinstance(v, dict)]
    raise CheckpointError(f"{source}: no {key!r} in the checkpoint; it has {available}")


def select_predictor(checkpoint: dict[str, Any], source: str) -> StateDict | None:
    """The ``predictor`` state dict, or None when the checkpoint has none."""
    if not checkpoint.get("predictor"):
        return None
    return _state_dict(checkpoint["predictor"], f"{source}: 'predictor'")


def select_classifier(checkpoint: dict[str, Any], index: int, source: str) -> StateDict:
    """``classifiers[index]`` of a probe checkpoint (or a bare probe state dict)."""
    if "classifiers" in checkpoint:
        heads = checkpoint["classifiers"]
        if not isinstance(heads, list) or not 0 <= index < len(heads):
            count = len(heads) if isinstance(heads, list) else "no list of"
            raise CheckpointError(
                f"{source}: classifier index {index} out of range ({count} heads)"
            )
        return _state_dict(heads[index], f"{source}: classifiers[{index}]")
    if any(str(k).endswith("pooler.query_tokens") for k in checkpoint):
        return _state_dict(checkpoint, source)
    raise CheckpointError(f"{source}: not a probe checkpoint (no 'classifiers' list)")


def infer_config(
    encoder: StateDict,
    predictor: StateDict | None,
    filename: str | None = None,
) -> VJEPA2Config:
    """Architecture of an original checkpoint: from its released file name, else its shapes."""
    preset = preset_for_original_file(filename) if filename else None
    if preset is not None:
        return preset.config()
    try:
        return _infer_from_shapes(strip_wrappers(encoder), predictor and strip_wrappers(predictor))
    except VJEPA2Error:
        raise
    except (KeyError, ValueError, IndexError) as err:
        raise CheckpointError(
            f"cannot infer the architecture from the weights (no {err} or an odd shape); pass "
            "config=VJEPA2Config(...) or preset=..."
        ) from err


def _infer_from_shapes(enc: StateDict, pred: StateDict | None) -> VJEPA2Config:
    dim, _, tubelet, patch, _ = enc["patch_embed.proj.weight"].shape
    depth = 1 + max(int(m.group(1)) for k in enc if (m := re.match(r"blocks\.(\d+)\.", k)))
    hidden = enc["blocks.0.mlp.fc1.weight"].shape[0]
    if dim not in HEADS_BY_WIDTH:
        raise CheckpointError(
            f"cannot tell the head count of a {dim}-wide encoder from its weights; pass "
            f"config=VJEPA2Config(...) or preset=..."
        )
    kwargs: dict[str, Any] = dict(
        hidden_size=dim,
        num_hidden_layers=depth,
        num_attention_heads=HEADS_BY_WIDTH[dim],
        mlp_ratio=hidden / dim,
        patch_size=patch,
        tubelet_size=tubelet,
    )
    if pred:
        pdim = pred["predictor_embed.weight"].shape[0]
        if pdim not in PRED_HEADS_BY_WIDTH:
            raise CheckpointError(
                f"cannot tell the head count of a {pdim}-wide predictor; pass config="
            )
        kwargs.update(
            pred_hidden_size=pdim,
            pred_num_attention_heads=PRED_HEADS_BY_WIDTH[pdim],
            pred_num_hidden_layers=1
            + max(
                int(m.group(1)) for k in pred if (m := re.match(r"predictor_blocks\.(\d+)\.", k))
            ),
            pred_num_mask_tokens=sum(k.startswith("mask_tokens.") for k in pred),
            pred_mlp_ratio=pred["predictor_blocks.0.mlp.fc1.weight"].shape[0] / pdim,
        )
    return VJEPA2Config(**kwargs)


# Meta's released probe files and the encoder blocks their probes read (each through the final
# norm, concatenated along the token axis); None: the last block. EK100 probes read the last
# block's tokens followed by the predictor's (see ``VJEPA2ForActionAnticipation``).
RELEASED_PROBES: dict[str, tuple[int, ...] | None] = {
    "ssv2-vitl-16x2x3.pt": None,
    "ssv2-vitg-384-64x2x3.pt": None,
    "diving48-vitl-256.pt": (17, 19, 21, 23),
    "diving48-vitg-384-32x4x3.pt": (24, 29, 34, 39),
    "ek100-vitl-256.pt": None,
    "ek100-vitg-384.pt": None,
}
# The order of the EK100 heads' queries (query i feeds task i); other tasks follow in file order.
TASK_ORDER = ("verb", "noun", "action")


# A probe file that does not say which blocks it reads (a file of Meta's under another name).
UNKNOWN_LEVELS = object()


def probe_levels(checkpoint: dict[str, Any], filename: str) -> Any:
    """The encoder blocks a probe file's probe reads: from the config a file of ours stores, or
    a released file's name (None: the last block); :data:`UNKNOWN_LEVELS` otherwise."""
    stored = checkpoint.get("config")
    if isinstance(stored, dict):
        return stored.get("out_layers")
    if filename in RELEASED_PROBES:
        released = RELEASED_PROBES[filename]
        return list(released) if released else None
    return UNKNOWN_LEVELS


def stored_probe_settings(checkpoint: dict[str, Any]) -> dict[str, Any]:
    """The probe's heads and LayerNorm eps a file of ours stores in its config (empty for a
    file of Meta's: their probes use 16 heads and eps 1e-5)."""
    stored = checkpoint.get("config")
    if not isinstance(stored, dict):
        return {}
    return {k: stored.get(k) for k in ("classifier_num_heads", "classifier_layer_norm_eps")}


def probe_width(probe: StateDict) -> int:
    """The token width D a probe reads (its queries are ``[1, Q, D]``)."""
    return int(strip_wrappers(probe)["pooler.query_tokens"].shape[-1])


def probe_tasks(probe: StateDict) -> list[tuple[str, int]]:
    """``(task, classes)`` of a multi-task probe's ``{task}_classifier`` heads, in query order
    (empty for a single-head probe)."""
    found = {
        m.group(1): value.shape[0]
        for key, value in strip_wrappers(probe).items()
        if (m := re.fullmatch(r"([a-z][a-z0-9_]*)_classifier\.weight", key))
    }
    ordered = [t for t in TASK_ORDER if t in found] + [t for t in found if t not in TASK_ORDER]
    return [(task, found[task]) for task in ordered]


def classifier_settings(probe: StateDict, num_heads: int) -> dict[str, Any]:
    """Config fields for an original probe: its class count (or its tasks' for a multi-task
    probe), blocks and queries from the shapes; heads as given (16 for every released probe)
    and LayerNorm eps 1e-5 (the probe's default). A layout that is neither is a
    :class:`CheckpointError` naming what it has."""
    probe = strip_wrappers(probe)
    tasks = probe_tasks(probe)
    if "pooler.query_tokens" not in probe or probe["pooler.query_tokens"].dim() != 3:
        raise CheckpointError("not an attentive probe (no pooler.query_tokens [1, Q, D])")
    num_queries = probe["pooler.query_tokens"].shape[1]
    if tasks and "linear.weight" in probe:
        raise CheckpointError("a probe has either one 'linear' head or per-task heads, not both")
    if not tasks and "linear.weight" not in probe:
        heads = sorted({k.split(".")[0] for k in probe if not k.startswith("pooler.")})
        raise CheckpointError(
            "not a probe layout this package knows: no 'linear' head and no per-task "
            f"'<task>_classifier' heads (it has: {', '.join(heads) or 'the pooler only'})"
        )
    if tasks and len(tasks) != num_queries:
        names = ", ".join(t for t, _ in tasks)
        raise CheckpointError(
            f"a multi-task probe has one query per task: {len(tasks)} heads ({names}) but "
            f"{num_queries} queries"
        )
    num_blocks = len({k.split(".")[2] for k in probe if k.startswith("pooler.blocks.")})
    labels = None if tasks else {i: f"LABEL_{i}" for i in range(probe["linear.weight"].shape[0])}
    return dict(
        id2label=labels,
        classifier_tasks=tasks or None,
        num_pooler_layers=num_blocks,
        classifier_num_heads=num_heads,
        classifier_layer_norm_eps=1e-5,
        classifier_num_queries=num_queries,
    )
