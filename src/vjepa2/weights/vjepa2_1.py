"""V-JEPA 2.1 checkpoints: Meta's ``.pt`` layouts and our own directory format.

Meta's files (every state dict's keys wrapped in ``module.backbone.``; any mix of ``module.`` and
``backbone.`` prefixes is accepted):

- the training layout ``{encoder, predictor, opt, scaler, target_encoder, epoch, loss,
  batch_size, world_size, lr}`` (``opt`` / ``scaler`` present or not): g and G are read from
  ``target_encoder``, as Meta's Hub code does;
- the distilled layout ``{ema_encoder, predictor, epoch}`` of ViT-B/L: read from ``ema_encoder``.

Our format is a directory with ``config.json`` (``model_type`` ``"vjepa2_1"``, see
:class:`~vjepa2.models.vjepa2_1.VJEPA21Config`) and ``model.safetensors`` with ``encoder.*`` and
``predictor.*``. transformers has no V-JEPA 2.1, so nothing here claims its format.

Loading is strict, as Meta's 2.1 Hub code is: every missing, unexpected or mis-shaped key is
listed. A V-JEPA 2 (2.0) checkpoint or directory is refused with a message saying so. Tensors are
read with ``weights_only=True`` and written back unchanged: Meta's file -> ours -> Meta's layout
gives the same state dicts (keys, order, dtypes, values) and scalars. Not carried: a training
file's ``opt`` / ``scaler`` contents and its online ``encoder`` when another key was loaded
(written back as the loaded encoder).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file

from vjepa2.config import CONFIG_NAME
from vjepa2.files import atomic_write, share_like_new_files
from vjepa2.models.vjepa2_1 import (
    MODEL_TYPE,
    VJEPA21Config,
    VJEPA21ForVideoClassification,
    VJEPA21Model,
    VJEPA21PreTrained,
    preset_for_file,
)
from vjepa2.weights.families import OwnFormat, register_own_format
from vjepa2.weights.keymaps import StateDict, strip_wrappers
from vjepa2.weights.original import read_checkpoint
from vjepa2.weights.strict import CheckpointError, load_strict

SAFETENSORS_NAME = "model.safetensors"
ORIGINAL_PREFIX = "module.backbone."
ENCODER_KEYS = ("target_encoder", "ema_encoder", "encoder")
TRAIN_LAYOUT = ("encoder", "predictor", "opt", "scaler", "target_encoder", "epoch")
DISTILLED_LAYOUT = ("ema_encoder", "predictor", "epoch")
# What config.json keeps of the Meta file a model came from (to write it back the same).
ORIGIN = "original_checkpoint"
OTHER_ENCODERS = "other_encoders.safetensors"

# Head counts of the released widths (B, L, g, G; the 2.1 predictor); others need a config.
HEADS_BY_WIDTH = {768: 12, 1024: 16, 1408: 22, 1664: 26}
PRED_HEADS_BY_WIDTH = {384: 12}


def is_v21_state(state_dict: Mapping[str, Any]) -> bool:
    """Whether an encoder state dict (wrapped or not) is V-JEPA 2.1's: it has hierarchical
    norms or an image patch embedding (V-JEPA 2's has one final ``norm`` and neither)."""
    return any(
        re.search(r"(^|\.)(norms_block\.\d+\.weight|patch_embed_img\.proj\.weight)$", k)
        for k in state_dict
    )


def is_v21_checkpoint(checkpoint: Mapping[str, Any]) -> bool:
    """Whether a loaded ``.pt`` dict holds a V-JEPA 2.1 encoder under any encoder key (the
    detection test for a model-family registry)."""
    return any(
        isinstance(checkpoint.get(k), Mapping) and is_v21_state(checkpoint[k]) for k in ENCODER_KEYS
    )


def is_v21_dir(path: str | os.PathLike) -> bool:
    """Whether ``path`` is a directory in our 2.1 format (``config.json`` of type vjepa2_1)."""
    config = Path(path) / CONFIG_NAME
    try:
        return json.loads(config.read_text()).get("model_type") == MODEL_TYPE
    except (OSError, json.JSONDecodeError, AttributeError):
        return False


def default_encoder_key(checkpoint: Mapping[str, Any]) -> str:
    """``ema_encoder`` (distilled B/L) if present, else ``target_encoder`` (g/G), else
    ``encoder``: the one Meta's Hub code reads."""
    for key in ("ema_encoder", "target_encoder", "encoder"):
        if isinstance(checkpoint.get(key), Mapping):
            return key
    return "target_encoder"


def original_parts(
    checkpoint: Mapping[str, Any], source: str, checkpoint_key: str | None = None
) -> tuple[str, StateDict, StateDict | None]:
    """(encoder key, encoder, predictor or None) of a Meta 2.1 file, wrappers stripped.

    Raises:
        CheckpointError: no such encoder, a V-JEPA 2 (2.0) file, or a malformed predictor.
    """
    key = checkpoint_key or default_encoder_key(checkpoint)
    if not isinstance(checkpoint.get(key), Mapping):
        found = sorted(str(k) for k in checkpoint)
        raise CheckpointError(
            f"{source}: no {key!r} state dict in the checkpoint (top-level keys: {found})"
        )
    encoder = strip_wrappers(dict(checkpoint[key]))
    if not is_v21_state(encoder):
        hint = ": it has V-JEPA 2's final 'norm', load it with vjepa2.load"
        raise CheckpointError(
            f"{source}: {key!r} is not a V-JEPA 2.1 encoder (no norms_block / patch_embed_img"
            f"{hint if 'norm.weight' in encoder else ''})"
        )
    predictor = checkpoint.get("predictor")
    if predictor is not None and not isinstance(predictor, Mapping):
        raise CheckpointError(f"{source}: 'predictor' is not a state dict")
    return key, encoder, strip_wrappers(dict(predictor)) if predictor is not None else None


def _depth(state: StateDict, prefix: str) -> int:
    found = [int(m.group(1)) for k in state if (m := re.match(rf"{prefix}\.(\d+)\.", k))]
    return 1 + max(found) if found else 0


def _heads(table: dict[int, int], width: int, what: str) -> int:
    if width not in table:
        raise CheckpointError(
            f"cannot tell the head count of a {width}-wide {what} from its weights; pass "
            f"config=VJEPA21Config(...)"
        )
    return table[width]


def _predictor_fields(pred: StateDict, dim: int) -> dict[str, Any]:
    embed = pred.get("predictor_embed.0.weight")
    levels = 1 if embed is None else embed.shape[1] // dim
    pdim = pred["predictor_norm.weight"].shape[0]
    out = pred["predictor_proj.weight"].shape[0] // levels
    return dict(
        pred_hidden_size=pdim,
        pred_num_attention_heads=_heads(PRED_HEADS_BY_WIDTH, pdim, "predictor"),
        pred_num_hidden_layers=_depth(pred, "predictor_blocks"),
        pred_mlp_ratio=pred["predictor_blocks.0.mlp.fc1.weight"].shape[0] / pdim,
        pred_num_mask_tokens=sum(k.startswith("mask_tokens.") for k in pred),
        pred_num_levels=levels,
        pred_teacher_dim=None if out == dim else out,
    )


def infer_config(
    encoder: StateDict, predictor: StateDict | None, filename: str | None = None
) -> VJEPA21Config:
    """Architecture of a Meta 2.1 file: its released file name's preset, else its weight shapes
    (released widths only; 384-px crops, 64 frames, the Hub's RoPE flags)."""
    preset = preset_for_file(filename) if filename else None
    if preset is not None:
        return preset.config()
    try:
        dim, _, tubelet, patch, _ = encoder["patch_embed.proj.weight"].shape
        depth = _depth(encoder, "blocks")
        fields: dict[str, Any] = dict(
            hidden_size=dim,
            num_hidden_layers=depth,
            num_attention_heads=_heads(HEADS_BY_WIDTH, dim, "encoder"),
            mlp_ratio=encoder["blocks.0.mlp.fc1.weight"].shape[0] / dim,
            patch_size=patch,
            tubelet_size=tubelet,
        )
        if _depth(encoder, "norms_block") == 1:
            fields["hierarchical_layers"] = [depth - 1]
        if predictor:
            fields.update(_predictor_fields(predictor, dim))
        return VJEPA21Config(**fields)
    except CheckpointError:
        raise
    except (KeyError, IndexError, ValueError) as err:
        raise CheckpointError(
            f"cannot infer a V-JEPA 2.1 architecture ({err}); pass config="
        ) from err


def _prefix(state_dict: Mapping[str, Any]) -> str:
    """The wrapper prefix (``module.backbone.``, ``backbone.``, ...) of a state dict's keys."""
    key = next(iter(state_dict), "")
    unwrapped = next(iter(strip_wrappers({key: None})))
    return key[: len(key) - len(unwrapped)]


def _origin(checkpoint: Mapping[str, Any], encoder_key: str) -> dict[str, Any]:
    """What to remember of a Meta file: its top-level keys in order, its encoder key, each
    state dict's key prefix and its JSON-able scalars (``opt`` / ``scaler`` contents are not
    kept)."""
    plain = (int, float, str, bool, type(None))
    return {
        "encoder_key": encoder_key,
        "keys": [str(k) for k in checkpoint],
        "prefixes": {str(k): _prefix(v) for k, v in checkpoint.items() if isinstance(v, Mapping)},
        "scalars": {str(k): v for k, v in checkpoint.items() if isinstance(v, plain)},
    }


def instantiate(
    config: VJEPA21Config,
    state_dict: StateDict,
    source: str,
    dtype: torch.dtype | None = torch.float32,
    device: str | torch.device = "cpu",
) -> VJEPA21PreTrained:
    """Build the model (with a predictor iff the state dict has one; the classifier when the
    config has labels) and load it strictly. ``dtype=None`` keeps the checkpoint's dtypes."""
    model_class = VJEPA21ForVideoClassification if config.is_classifier else VJEPA21Model
    prefix = "backbone.predictor." if config.is_classifier else "predictor."
    with_predictor = any(k.startswith(prefix) for k in state_dict)
    with torch.device("meta"):
        model = model_class(config, with_predictor=with_predictor)
    state_dict = {
        k: v.to(device=device, dtype=dtype if dtype and v.is_floating_point() else v.dtype)
        for k, v in state_dict.items()
    }
    load_strict(model, state_dict, source, assign=True)
    return model.eval()


def load_original(
    path: str | os.PathLike,
    *,
    config: VJEPA21Config | None = None,
    checkpoint_key: str | None = None,
    dtype: torch.dtype | None = torch.float32,
    device: str | torch.device = "cpu",
) -> VJEPA21Model:
    """A Meta 2.1 ``.pt`` (training or distilled layout) as a :class:`VJEPA21Model`.

    ``checkpoint_key`` picks the encoder (default: ``ema_encoder`` if present, else
    ``target_encoder``, as Meta's Hub). The architecture comes from ``config``, the ``config``
    our own ``.pt`` files carry, the released file name, or the weight shapes.
    """
    path = Path(path)
    checkpoint = read_checkpoint(path)
    key, encoder, predictor = original_parts(checkpoint, str(path), checkpoint_key)
    if config is None and isinstance(checkpoint.get("config"), Mapping):
        config = VJEPA21Config.from_dict(dict(checkpoint["config"]))
    if config is None:
        config = infer_config(encoder, predictor, path.name)
    config = config.replace(extra={**config.extra, ORIGIN: _origin(checkpoint, key)})
    state = {f"encoder.{k}": v for k, v in encoder.items()}
    state.update({f"predictor.{k}": v for k, v in (predictor or {}).items()})
    return instantiate(config, state, f"{path} [{key}]", dtype, device)


def load_pretrained(
    directory: str | os.PathLike,
    *,
    config: VJEPA21Config | None = None,
    dtype: torch.dtype | None = torch.float32,
    device: str | torch.device = "cpu",
) -> VJEPA21PreTrained:
    """A directory in our 2.1 format (``config.json`` + ``model.safetensors``)."""
    directory = Path(directory)
    if config is None:
        try:
            config = VJEPA21Config.from_json_file(directory / CONFIG_NAME)
        except ValueError as err:
            raise CheckpointError(f"{directory}: {err}") from err
    weights = directory / SAFETENSORS_NAME
    if not weights.is_file():
        raise CheckpointError(f"{directory}: no {SAFETENSORS_NAME}")
    return instantiate(config, load_file(weights), str(directory), dtype, device)


def load_v21(
    source: str | os.PathLike,
    *,
    config: VJEPA21Config | None = None,
    checkpoint_key: str | None = None,
    dtype: torch.dtype | None = torch.float32,
    device: str | torch.device = "cpu",
) -> VJEPA21PreTrained:
    """Load a V-JEPA 2.1 model from our directory format or a Meta ``.pt`` (see
    :func:`load_original`); strict, in eval mode."""
    path = Path(source)
    if path.is_dir():
        if checkpoint_key is not None:
            raise CheckpointError("checkpoint_key= applies to Meta .pt files only")
        return load_pretrained(path, config=config, dtype=dtype, device=device)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file or directory")
    return load_original(
        path, config=config, checkpoint_key=checkpoint_key, dtype=dtype, device=device
    )


def save_pretrained(model: VJEPA21PreTrained, directory: str | os.PathLike) -> Path:
    """Write ``model`` in our format: ``config.json`` and ``model.safetensors``."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    tensors = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    with atomic_write(directory / SAFETENSORS_NAME) as tmp:
        save_file(tensors, tmp, metadata={"format": "pt"})
    share_like_new_files(directory / SAFETENSORS_NAME)
    model.config.save(directory)
    return directory


def _fresh_origin(config: VJEPA21Config) -> dict[str, Any]:
    distilled = config.pred_num_levels == 1
    return {
        "encoder_key": "ema_encoder" if distilled else "target_encoder",
        "keys": [*(DISTILLED_LAYOUT if distilled else TRAIN_LAYOUT), "config"],
        "prefixes": {},
        "scalars": {"epoch": 0, "opt": None, "scaler": None},
    }


def to_original(model: VJEPA21Model) -> dict[str, Any]:
    """``model`` in Meta's layout: the layout, key prefixes and scalars of the file it came
    from; else the training layout (g/G) or, for a 1-level predictor, the distilled one (B/L),
    with ``module.backbone.`` prefixes and our ``config`` (Meta's code ignores it; :func:`load_v21`
    reads it). A training layout's ``encoder`` is written as the model's encoder."""
    if isinstance(model, VJEPA21ForVideoClassification):
        raise CheckpointError(
            "a V-JEPA 2.1 classifier is saved as a folder (vjepa2.save(model, 'dir')): Meta's "
            "2.1 layout has no classifier"
        )
    origin = model.config.extra.get(ORIGIN) or _fresh_origin(model.config)
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    config = {k: v for k, v in model.config.to_dict().items() if k != ORIGIN}
    values: dict[str, Any] = {**origin["scalars"], "config": config}
    for key in dict.fromkeys([origin["encoder_key"], *ENCODER_KEYS, "predictor"]):
        part = "predictor" if key == "predictor" else "encoder"
        if key in origin["keys"] and (part == "encoder" or model.predictor is not None):
            prefix = origin["prefixes"].get(key, ORIGINAL_PREFIX)
            values.setdefault(key, _part(state, part, prefix))
    return {k: values[k] for k in origin["keys"] if k in values}


def _part(state: StateDict, part: str, prefix: str) -> StateDict:
    start = len(part) + 1
    return {prefix + k[start:]: v for k, v in state.items() if k.startswith(part + ".")}


def save_original(model: VJEPA21Model, path: str | os.PathLike) -> Path:
    """Write ``model`` as a Meta 2.1 ``.pt`` (see :func:`to_original`)."""
    path = Path(path)
    with atomic_write(path) as tmp:
        torch.save(to_original(model), tmp)
    return path


def convert_original(
    path: str | os.PathLike,
    directory: str | os.PathLike,
    *,
    config: VJEPA21Config | None = None,
    checkpoint_key: str | None = None,
) -> Path:
    """A Meta 2.1 ``.pt`` -> our directory, dtypes kept. The file's other encoders (a training
    file's online ``encoder`` beside ``target_encoder``) go to ``other_encoders.safetensors``,
    which loading ignores, so :func:`convert_to_original` gives the same state dicts back."""
    model = load_original(path, config=config, checkpoint_key=checkpoint_key, dtype=None)
    directory = save_pretrained(model, directory)
    checkpoint = read_checkpoint(path)
    loaded = model.config.extra[ORIGIN]["encoder_key"]
    others = {
        f"{key}/{name}": value.contiguous()
        for key in ENCODER_KEYS
        if key != loaded and isinstance(checkpoint.get(key), Mapping)
        for name, value in checkpoint[key].items()
    }
    target = directory / OTHER_ENCODERS
    target.unlink(missing_ok=True)
    if others:
        with atomic_write(target) as tmp:
            save_file(others, tmp, metadata={"order": json.dumps(list(others))})
        share_like_new_files(target)
    return directory


def convert_to_original(directory: str | os.PathLike, path: str | os.PathLike) -> Path:
    """Our directory -> a Meta 2.1 ``.pt`` (dtypes kept), with the other encoders that
    :func:`convert_original` set aside."""
    directory, path = Path(directory), Path(path)
    checkpoint = to_original(load_pretrained(directory, dtype=None))
    others = directory / OTHER_ENCODERS
    if others.is_file():
        tensors = load_file(others)
        with safe_open(others, "pt") as f:
            order = json.loads(f.metadata()["order"])
        replaced: dict[str, StateDict] = {}
        for name in order:
            key, rest = name.split("/", 1)
            replaced.setdefault(key, {})[rest] = tensors[name]
        checkpoint.update(replaced)  # in place: the layout's key order stays
    with atomic_write(path) as tmp:
        torch.save(checkpoint, tmp)
    return path


def _load_for_facade(
    path: str | os.PathLike,
    config: Any = None,
    dtype: torch.dtype | None = torch.float32,
    device: str | torch.device = "cpu",
) -> VJEPA21PreTrained:
    """:func:`load_v21` as :func:`vjepa2.load` calls it, refusing a config of another family."""
    if config is not None and not isinstance(config, VJEPA21Config):
        raise CheckpointError(
            f"{path} holds a V-JEPA 2.1 model: config= must be a VJEPA21Config, "
            f"not a {type(config).__name__}"
        )
    return load_v21(path, config=config, dtype=dtype, device=device)


def save_v21(model: VJEPA21PreTrained, path: str | os.PathLike) -> Path:
    """Meta's layout for a ``.pt`` / ``.pth`` path, our folder format otherwise."""
    path = Path(path)
    return (
        save_original(model, path)
        if path.suffix in (".pt", ".pth")
        else save_pretrained(model, path)
    )


def convert_v21(src: Path, out: Path, config: VJEPA21Config | None) -> Path:
    """``vjepa2 convert`` of a 2.1 checkpoint, lossless between Meta's ``.pt`` and our folder
    (:func:`convert_original` / :func:`convert_to_original`), dtypes kept."""
    src, out = Path(src), Path(out)
    to_pt = out.suffix in (".pt", ".pth")
    if src.is_dir() and to_pt:
        return convert_to_original(src, out)
    if not src.is_dir() and not to_pt:
        return convert_original(src, out, config=config)
    return save_v21(load_v21(src, config=config, dtype=None), out)


register_own_format(
    OwnFormat(
        model_type=MODEL_TYPE,
        holds=is_v21_checkpoint,
        load=_load_for_facade,
        model_class=VJEPA21PreTrained,
        config_class=VJEPA21Config,
        save=save_v21,
        convert=convert_v21,
    )
)
