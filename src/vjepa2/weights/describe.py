"""What a checkpoint is, without building a model: format, architecture and parameter counts,
read from headers where the format has them (``vjepa2 info``)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from safetensors import SafetensorError, safe_open

from vjepa2.config import CONFIG_NAME, VJEPA2Config
from vjepa2.errors import VJEPA2Error
from vjepa2.presets import DEMO_NAME, PRESETS, count_parameters
from vjepa2.weights import original
from vjepa2.weights.families import own_format_for_checkpoint, own_format_for_dir, read_config
from vjepa2.weights.loader import resolve_source
from vjepa2.weights.strict import CheckpointError


def describe(source: str) -> dict[str, Any]:
    """Format, config and parameter counts of a preset, HF directory, Hub id or ``.pt`` file.

    Raises :class:`CheckpointError` (or ``ConfigError``) for a checkpoint that is missing or
    cannot be read.
    """
    if not Path(source).exists() and source in PRESETS:
        preset = PRESETS[source]
        config = preset.config()
        return {"format": "preset", "hub_id": preset.hub_id, "config": config.to_dict(),
                "parameters": count_parameters(config, predictor=True)}  # fmt: skip
    path = resolve_source(source)
    if path.is_dir():
        return _describe_hf_dir(path, bundled=source == DEMO_NAME)
    return _describe_original(path)


def _describe_hf_dir(path: Path, bundled: bool = False) -> dict[str, Any]:
    config = read_config(path / CONFIG_NAME)  # into its family's config class
    params, tensors = 0, 0
    for file in sorted(path.glob("*.safetensors")):
        try:
            with safe_open(file, "pt") as f:
                for key in f.keys():  # noqa: SIM118 (safe_open is not a mapping)
                    params += math.prod(f.get_slice(key).get_shape())
                    tensors += 1
        except (SafetensorError, OSError) as err:
            raise CheckpointError(f"{file}: not a readable safetensors file ({err})") from err
    own = own_format_for_dir(path)
    kind = f"vjepa2 folder ({own.model_type})" if own else "huggingface"
    return {"format": kind + (" (bundled demo)" if bundled else ""), "path": str(path),
            "family": getattr(config, "model_type", "vjepa2"), "config": config.to_dict(),
            "tensors": tensors, "parameters": params}  # fmt: skip


def _describe_original(path: Path) -> dict[str, Any]:
    checkpoint = original.read_checkpoint(path)
    parts: dict[str, Any] = {}
    for key, value in checkpoint.items():
        if isinstance(value, dict) and value and all(hasattr(v, "shape") for v in value.values()):
            parts[key] = {
                "tensors": len(value),
                "parameters": sum(v.numel() for v in value.values()),
            }
        elif key == "classifiers" and isinstance(value, list):
            parts[key] = [
                {"parameters": sum(v.numel() for v in c.values() if hasattr(v, "numel"))}
                for c in value
                if isinstance(c, dict)
            ]
    own = own_format_for_checkpoint(checkpoint)
    info: dict[str, Any] = {
        "format": "original (.pt)", "path": str(path), "keys": sorted(map(str, checkpoint)),
        "parts": parts, "family": own.model_type if own else "vjepa2",
    }  # fmt: skip
    for key in ("epoch", "step"):
        if isinstance(checkpoint.get(key), int):
            info[key] = checkpoint[key]
    if own is not None:
        stored = checkpoint.get("config")
        info["config"] = (
            own.config_class.from_dict(stored).to_dict() if isinstance(stored, dict)
            else f"not stored in the file: pass config= to load it ({own.model_type})"
        )  # fmt: skip
    elif "encoder" in checkpoint or "target_encoder" in checkpoint:
        info["config"] = _original_config(checkpoint, path)
    return info


def _original_config(checkpoint: dict[str, Any], path: Path) -> dict[str, Any] | str:
    """The architecture as a config dict, or why it cannot be told."""
    key = "encoder" if "encoder" in checkpoint else "target_encoder"
    try:
        if isinstance(checkpoint.get("config"), dict):
            return VJEPA2Config.from_dict(checkpoint["config"]).to_dict()
        encoder = original.select_encoder(checkpoint, key, str(path))
        predictor = original.select_predictor(checkpoint, str(path))
        return original.infer_config(encoder, predictor, path.name).to_dict()
    except VJEPA2Error as err:
        return f"not inferable: {err}"
