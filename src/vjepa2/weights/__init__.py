"""Checkpoints: the model families, the Hugging Face format, Meta's original ``.pt`` files."""

from vjepa2.weights import ac, vjepa2_1  # noqa: F401 - registers their own formats
from vjepa2.weights.families import (
    ModelFamily,
    OwnFormat,
    build_model,
    family_for_config,
    register,
    register_own_format,
)
from vjepa2.weights.keymaps import (
    CLASSIFIER_KEYS,
    VJEPA2_KEYS,
    KeyMap,
    from_hf,
    from_original,
    to_hf,
    to_original,
)
from vjepa2.weights.loader import load, save, save_original
from vjepa2.weights.strict import CheckpointError, CheckpointNotFoundError, load_strict

__all__ = [
    "CLASSIFIER_KEYS",
    "VJEPA2_KEYS",
    "CheckpointError",
    "CheckpointNotFoundError",
    "KeyMap",
    "ModelFamily",
    "OwnFormat",
    "build_model",
    "family_for_config",
    "from_hf",
    "from_original",
    "load",
    "load_strict",
    "register",
    "register_own_format",
    "save",
    "save_original",
    "to_hf",
    "to_original",
]
