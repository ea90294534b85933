"""Checkpoints: the Hugging Face format, Meta's original ``.pt`` files, and conversion."""

from vjepa2.weights.keymaps import KeyMapError, from_hf, from_original, to_hf, to_original
from vjepa2.weights.loader import CheckpointError, load, load_strict, save_original

__all__ = [
    "CheckpointError",
    "KeyMapError",
    "from_hf",
    "from_original",
    "load",
    "load_strict",
    "save_original",
    "to_hf",
    "to_original",
]
