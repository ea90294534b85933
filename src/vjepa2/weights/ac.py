"""V-JEPA 2-AC checkpoints: Meta's ``.pt`` layout and our own directory format.

Meta's layout (``vjepa2-ac-vitg.pt``) is ``{"encoder": ..., "predictor": ...}``, each a state dict
whose keys carry the ``module.backbone.`` prefix of the training wrappers. It holds no
architecture, so a size other than the released one needs ``config=``.

Our format is a directory with ``config.json`` (``model_type`` ``"vjepa2_ac"``, see
:class:`~vjepa2.models.ac_predictor.VJEPA2ACConfig`) and ``model.safetensors`` with the keys
``encoder.*`` and ``predictor.*``.

Loading is strict: every missing, unexpected or mis-shaped key is listed in the error. Tensors are
read with ``weights_only=True`` and written back unchanged, so ``.pt`` -> ours -> ``.pt`` gives the
same tensors bit for bit (keys the model does not use, the encoder's ``pos_embed``, are dropped).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

import torch
from safetensors.torch import load_file, save_file

from vjepa2.config import CONFIG_NAME
from vjepa2.files import atomic_write, share_like_new_files
from vjepa2.models.ac_predictor import AC_MODEL_TYPE, VJEPA2ACConfig, VJEPA2ACModel
from vjepa2.weights.families import OwnFormat, register_own_format
from vjepa2.weights.keymaps import IGNORED_ORIGINAL_KEYS, StateDict, strip_wrappers
from vjepa2.weights.original import read_checkpoint
from vjepa2.weights.strict import CheckpointError

SAFETENSORS_NAME = "model.safetensors"
ORIGINAL_PREFIX = "module.backbone."
PARTS = ("encoder", "predictor")

ModelT = TypeVar("ModelT", bound=VJEPA2ACModel)
ConfigLike = VJEPA2ACConfig | Mapping[str, Any] | str | os.PathLike


def is_ac_checkpoint(checkpoint: Mapping[str, Any]) -> bool:
    """Whether a loaded ``.pt`` dict is in Meta's AC layout: its ``predictor`` has an
    ``action_encoder`` (the detection predicate for a model-family registry)."""
    predictor = checkpoint.get("predictor")
    return isinstance(predictor, Mapping) and any(
        k.endswith("action_encoder.weight") for k in predictor
    )


def is_ac_dir(path: str | os.PathLike) -> bool:
    """Whether ``path`` is a directory in our AC format (``config.json`` of model type
    ``vjepa2_ac``)."""
    config = Path(path) / CONFIG_NAME
    if not config.is_file():
        return False
    try:
        return json.loads(config.read_text()).get("model_type") == AC_MODEL_TYPE
    except (OSError, json.JSONDecodeError, AttributeError):
        return False


def from_ac_original(checkpoint: Mapping[str, Any], source: str) -> StateDict:
    """Meta's ``{"encoder", "predictor"}`` -> our state dict (``encoder.*``, ``predictor.*``).

    Raises:
        CheckpointError: the file does not have both state dicts.
    """
    missing = [p for p in PARTS if not isinstance(checkpoint.get(p), Mapping)]
    if missing:
        found = sorted(str(k) for k in checkpoint)
        raise CheckpointError(
            f"{source}: not a V-JEPA 2-AC checkpoint: no {' or '.join(map(repr, missing))} "
            f"state dict (top-level keys: {found})"
        )
    out: StateDict = {}
    for part in PARTS:
        for key, value in strip_wrappers(dict(checkpoint[part])).items():
            if not (part == "encoder" and key in IGNORED_ORIGINAL_KEYS):
                out[f"{part}.{key}"] = value
    return out


def to_ac_original(state_dict: Mapping[str, torch.Tensor]) -> dict[str, StateDict]:
    """Our state dict -> Meta's ``{"encoder", "predictor"}`` with ``module.backbone.`` keys."""
    out: dict[str, StateDict] = {part: {} for part in PARTS}
    for key, value in state_dict.items():
        part, rest = key.split(".", 1)
        if part not in out:
            raise CheckpointError(f"{key}: not an encoder or predictor weight")
        out[part][ORIGINAL_PREFIX + rest] = value
    return out


def resolve_config(config: ConfigLike) -> VJEPA2ACConfig:
    """A config object, a ``config.json`` dict, or the path of a ``config.json`` (or of the
    directory holding it) -> :class:`VJEPA2ACConfig`."""
    if isinstance(config, VJEPA2ACConfig):
        return config
    if isinstance(config, Mapping):
        return VJEPA2ACConfig.from_dict(dict(config))
    if not isinstance(config, (str, os.PathLike)):
        raise CheckpointError(
            "a V-JEPA 2-AC model needs config= as a VJEPA2ACConfig, a config.json dict or path, "
            f"not a {type(config).__name__}"
        )
    path = Path(config)
    return VJEPA2ACConfig.from_json_file(path / CONFIG_NAME if path.is_dir() else path)


def read_ac(path: str | os.PathLike) -> tuple[VJEPA2ACConfig | None, StateDict]:
    """The architecture (when the source carries one) and our state dict, from our directory
    format or a Meta-layout ``.pt`` (a ``config`` entry in the ``.pt``, as
    :func:`save_ac_original` can write, is read too)."""
    path = Path(path)
    if path.is_dir():
        if not is_ac_dir(path):
            raise CheckpointError(f"{path}: no config.json of model type {AC_MODEL_TYPE!r}")
        weights = path / SAFETENSORS_NAME
        if not weights.is_file():
            raise FileNotFoundError(f"{path}: no {SAFETENSORS_NAME}")
        return VJEPA2ACConfig.from_json_file(path / CONFIG_NAME), load_file(weights)
    checkpoint = read_checkpoint(path)
    stored = checkpoint.get("config")
    config = VJEPA2ACConfig.from_dict(stored) if isinstance(stored, dict) else None
    return config, from_ac_original(checkpoint, str(path))


def mismatches(model: torch.nn.Module, state_dict: Mapping[str, torch.Tensor]) -> list[str]:
    """Every difference between the model's keys and shapes and the state dict's, one a line."""
    expected = model.state_dict()
    lines = [f"missing: {k}" for k in expected if k not in state_dict]
    lines += [f"unexpected: {k}" for k in state_dict if k not in expected]
    lines += [
        f"wrong shape: {k}: checkpoint {list(state_dict[k].shape)} vs model "
        f"{list(expected[k].shape)}"
        for k in expected
        if k in state_dict and state_dict[k].shape != expected[k].shape
    ]
    return lines


def config_fits(config: VJEPA2ACConfig, state_dict: Mapping[str, torch.Tensor]) -> bool:
    """Whether ``state_dict`` loads into the model ``config`` describes (built on ``meta``)."""
    with torch.device("meta"):
        model = VJEPA2ACModel(config)
    return not mismatches(model, state_dict)


def build_ac(
    config: VJEPA2ACConfig,
    state_dict: Mapping[str, torch.Tensor],
    source: str,
    model_cls: type[ModelT] = VJEPA2ACModel,
    dtype: torch.dtype | None = torch.float32,
    device: str | torch.device = "cpu",
) -> ModelT:
    """Build ``model_cls(config)`` and load ``state_dict`` into it strictly (eval mode).

    ``dtype=None`` keeps the checkpoint's dtypes.

    Raises:
        CheckpointError: listing every missing, unexpected and mis-shaped key.
    """
    with torch.device("meta"):
        model = model_cls(config)
    problems = mismatches(model, state_dict)
    if problems:
        raise CheckpointError(
            f"{source}: the checkpoint does not match the V-JEPA 2-AC model "
            f"({len(problems)} keys):\n" + "\n".join(f"  {line}" for line in problems)
        )
    state = {
        k: v.to(device=device, dtype=dtype if dtype and v.is_floating_point() else v.dtype)
        for k, v in state_dict.items()
    }
    model.load_state_dict(state, strict=True, assign=True)
    return model.eval()


def load_ac(
    path: str | os.PathLike,
    config: ConfigLike | None = None,
    *,
    model_cls: type[ModelT] = VJEPA2ACModel,
    dtype: torch.dtype | None = torch.float32,
    device: str | torch.device = "cpu",
) -> ModelT:
    """Load a V-JEPA 2-AC model from our directory format or a Meta-layout ``.pt``.

    Args:
        path: a directory with ``config.json`` + ``model.safetensors``, or a ``.pt`` file.
        config: the architecture (object, dict or ``config.json`` path); required for a Meta
            ``.pt``, which carries none; overrides the directory's own.
        model_cls: the class to build (a :class:`VJEPA2ACModel` subclass).
        dtype / device: where the weights go (``dtype=None`` keeps the checkpoint's).
    """
    stored, state = read_ac(path)
    if config is not None:
        stored = resolve_config(config)
    if stored is None:
        raise CheckpointError(
            f"{path}: a V-JEPA 2-AC .pt carries no architecture; pass config= (a "
            f"VJEPA2ACConfig or a config.json of model type {AC_MODEL_TYPE!r})"
        )
    return build_ac(stored, state, str(path), model_cls, dtype, device)


def _cpu_state(model: VJEPA2ACModel) -> StateDict:
    return {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}


def save_ac_pretrained(model: VJEPA2ACModel, directory: str | os.PathLike) -> Path:
    """Write ``config.json`` + ``model.safetensors`` (our format) and return the directory."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    with atomic_write(directory / SAFETENSORS_NAME) as tmp:
        save_file(_cpu_state(model), tmp, metadata={"format": "pt"})
    share_like_new_files(directory / SAFETENSORS_NAME)
    model.config.save(directory)
    return directory


def save_ac_original(
    model: VJEPA2ACModel, path: str | os.PathLike, with_config: bool = False
) -> Path:
    """Write Meta's layout ``{"encoder", "predictor"}`` (``module.backbone.`` keys).

    ``with_config`` adds the architecture under ``config`` (Meta's code ignores it; here it
    makes ``config=`` unnecessary when loading the file back).
    """
    checkpoint: dict[str, Any] = dict(to_ac_original(_cpu_state(model)))
    if with_config:
        checkpoint["config"] = model.config.to_dict()
    path = Path(path)
    with atomic_write(path) as tmp:
        torch.save(checkpoint, tmp)
    return path


def save_ac(model: VJEPA2ACModel, path: str | os.PathLike) -> Path:
    """Meta's layout for a ``.pt`` / ``.pth`` path (with the architecture under ``config``, so
    it loads back without ``config=``), our folder format otherwise."""
    path = Path(path)
    if path.suffix in (".pt", ".pth"):
        return save_ac_original(model, path, with_config=True)
    return save_ac_pretrained(model, path)


def convert_ac(src: Path, out: Path, config: ConfigLike | None) -> Path:
    """``vjepa2 convert`` of an AC checkpoint, dtypes kept: a ``.pt`` out gets exactly Meta's
    ``{"encoder", "predictor"}`` (what the released file holds), a folder our format."""
    model = load_ac(src, config, dtype=None)
    if Path(out).suffix in (".pt", ".pth"):
        return save_ac_original(model, out)
    return save_ac_pretrained(model, out)


register_own_format(
    OwnFormat(
        model_type=AC_MODEL_TYPE,
        holds=is_ac_checkpoint,
        load=lambda path, config=None, dtype=torch.float32, device="cpu": load_ac(
            path, config, dtype=dtype, device=device
        ),
        model_class=VJEPA2ACModel,
        config_class=VJEPA2ACConfig,
        save=save_ac,
        convert=convert_ac,
    )
)
