"""The Hugging Face format: a directory (or Hub repo) with ``config.json`` and safetensors.

Reads single-file, sharded (``model.safetensors.index.json``) and legacy ``pytorch_model.bin``
checkpoints; writes safetensors (sharded when large) plus the video processor config, so the
directory loads in transformers (``VJEPA2Model`` / ``VJEPA2ForVideoClassification``) and here.

Saving never destroys the old model first: the new folder is written beside the old one and
swapped in by two renames, so a full disk or a kill leaves the old model whole.
"""

from __future__ import annotations

import json
import os
import shutil
import warnings
from pathlib import Path

import torch
from huggingface_hub import save_torch_state_dict, snapshot_download
from safetensors import SafetensorError
from safetensors.torch import load_file

from vjepa2.config import CONFIG_NAME, VJEPA2Config
from vjepa2.files import share_like_new_files
from vjepa2.weights.families import family_for_config, read_config
from vjepa2.weights.keymaps import StateDict, to_hf
from vjepa2.weights.strict import CheckpointError, CheckpointNotFoundError

SAFETENSORS_NAME = "model.safetensors"
SAFETENSORS_INDEX = "model.safetensors.index.json"
PYTORCH_NAME = "pytorch_model.bin"
PYTORCH_INDEX = "pytorch_model.bin.index.json"
PROCESSOR_NAME = "video_preprocessor_config.json"
HUB_PATTERNS = ["*.json", "*.safetensors"]

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def is_hf_dir(path: str | os.PathLike) -> bool:
    return (Path(path) / CONFIG_NAME).is_file()


def read_hf_dir(directory: str | os.PathLike) -> tuple[VJEPA2Config, StateDict]:
    """``config.json`` (read into its family's config class) and the (possibly sharded) state
    dict of an HF-format directory."""
    directory = Path(directory)
    config = read_config(directory / CONFIG_NAME)
    return config, read_hf_weights(directory)


def read_hf_weights(directory: Path) -> StateDict:
    """The state dict of an HF directory, preferring safetensors."""
    if (directory / SAFETENSORS_NAME).is_file():
        return read_safetensors(directory / SAFETENSORS_NAME)
    if (directory / SAFETENSORS_INDEX).is_file():
        return _read_sharded(directory, SAFETENSORS_INDEX, read_safetensors)
    if (directory / PYTORCH_NAME).is_file():
        return read_torch_weights(directory / PYTORCH_NAME)
    if (directory / PYTORCH_INDEX).is_file():
        return _read_sharded(directory, PYTORCH_INDEX, read_torch_weights)
    raise CheckpointNotFoundError(
        f"{directory}: no weights found (looked for {SAFETENSORS_NAME}, {SAFETENSORS_INDEX}, "
        f"{PYTORCH_NAME}, {PYTORCH_INDEX})"
    )


def read_safetensors(path: Path) -> StateDict:
    """A safetensors file; a truncated or corrupt one raises :class:`CheckpointError`."""
    try:
        return load_file(path)
    except (SafetensorError, OSError) as err:
        raise CheckpointError(f"{path}: not a readable safetensors file ({err})") from err


def read_torch_weights(path: Path) -> StateDict:
    """A ``pytorch_model.bin`` read with ``weights_only=True``: a pickle payload (code to run)
    or a torn file raises :class:`CheckpointError` instead of running anything."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError as err:
        raise CheckpointNotFoundError(f"{path}: no such file") from err
    except Exception as err:  # torch raises UnpicklingError, RuntimeError, EOFError, ...
        raise CheckpointError(f"{path}: not a readable PyTorch checkpoint ({err})") from err
    if not isinstance(state, dict):
        raise CheckpointError(f"{path}: expected a state dict, got {type(state).__name__}")
    return state


def _read_sharded(directory: Path, index_name: str, reader) -> StateDict:
    try:
        shards = sorted(
            set(json.loads((directory / index_name).read_text())["weight_map"].values())
        )
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as err:
        raise CheckpointError(f"{directory / index_name}: not a readable index ({err})") from err
    missing = [s for s in shards if not (directory / s).is_file()]
    if missing:
        raise CheckpointNotFoundError(
            f"{directory}: shards listed in {index_name} are missing: {missing}"
        )
    state_dict: StateDict = {}
    for shard in shards:
        state_dict.update(reader(directory / shard))
    return state_dict


def download(
    repo_id: str,
    revision: str | None = None,
    cache_dir: str | os.PathLike | None = None,
    token: str | bool | None = None,
) -> Path:
    """Fetch (or find in the cache) an HF repo's config and safetensors; returns the local dir.

    Uses huggingface_hub's cache, so ``HF_HUB_OFFLINE=1``, ``HF_HOME`` / ``HF_HUB_CACHE`` and
    ``revision`` (branch, tag or commit) behave as in transformers.
    """
    path = snapshot_download(
        repo_id,
        revision=revision,
        cache_dir=cache_dir,
        allow_patterns=HUB_PATTERNS,
        token=token,
    )
    return Path(path)


def processor_config(crop_size: int) -> dict:
    """transformers' ``VJEPA2VideoProcessor`` settings for a crop size."""
    return {
        "video_processor_type": "VJEPA2VideoProcessor",
        "crop_size": {"height": crop_size, "width": crop_size},
        "size": {"shortest_edge": int(crop_size * 256 / 224)},
        "do_resize": True,
        "resample": 2,
        "do_center_crop": True,
        "do_rescale": True,
        "rescale_factor": 1 / 255,
        "do_normalize": True,
        "image_mean": list(IMAGENET_MEAN),
        "image_std": list(IMAGENET_STD),
    }


def _warn_if_transformers_differs(config: VJEPA2Config, directory: Path) -> None:
    if not config.is_classifier:
        return
    differences = []
    if config.pooler_num_heads != config.num_attention_heads:
        differences.append(
            f"{config.pooler_num_heads} heads (transformers uses the encoder's "
            f"{config.num_attention_heads})"
        )
    if config.pooler_layer_norm_eps != config.layer_norm_eps:
        differences.append(
            f"LayerNorm eps {config.pooler_layer_norm_eps:g} (transformers uses "
            f"{config.layer_norm_eps:g})"
        )
    if getattr(config, "out_layers", None):
        differences.append(
            f"encoder blocks {config.out_layers} as its input (transformers feeds it the last "
            "block's tokens)"
        )
    if differences:
        warnings.warn(
            f"{directory}: this probe has {' and '.join(differences)}, so transformers' "
            "VJEPA2ForVideoClassification computes different logits from it; vjepa2.load "
            "reads the probe's own settings from config.json.",
            stacklevel=3,
        )


def _is_weight_file(name: str) -> bool:
    return name.startswith(("model.safetensors", "model-", "pytorch_model")) or name in (
        CONFIG_NAME,
        PROCESSOR_NAME,
    )


def save_pretrained(
    model: torch.nn.Module, directory: str | os.PathLike, max_shard_size: str = "5GB"
) -> Path:
    """Write ``model`` in the HF format into ``directory``, replacing a model already there.

    The new files go to a folder beside ``directory``; only when all are written does it take
    ``directory``'s place (files of the old folder that are not part of a model are carried
    over). A failure or a kill before that leaves the old model as it was.
    """
    directory = Path(directory)
    if directory.exists() and not directory.is_dir():
        raise CheckpointError(f"{directory}: exists and is not a folder")
    config: VJEPA2Config = model.config
    _warn_if_transformers_differs(config, directory)
    state_dict = to_hf(model.state_dict(), family_for_config(config).keys)
    directory.parent.mkdir(parents=True, exist_ok=True)
    new = directory.with_name(f".{directory.name}.{os.getpid()}.new")
    shutil.rmtree(new, ignore_errors=True)
    new.mkdir()
    try:
        save_torch_state_dict(
            {k: v.detach().cpu().contiguous() for k, v in state_dict.items()},
            new,
            max_shard_size=max_shard_size,
            metadata={"format": "pt"},
        )
        share_like_new_files(*new.glob("model*.safetensors"))
        (new / PROCESSOR_NAME).write_text(
            json.dumps(processor_config(config.crop_size), indent=2) + "\n"
        )
        config.save(new)
        _swap_in(new, directory)
    finally:
        shutil.rmtree(new, ignore_errors=True)
    return directory


def _swap_in(new: Path, directory: Path) -> None:
    """Put the finished folder ``new`` in ``directory``'s place; the old one is removed last."""
    if not directory.exists():
        os.replace(new, directory)
        return
    for item in directory.iterdir():
        if not _is_weight_file(item.name) and not (new / item.name).exists():
            if item.is_dir():
                shutil.copytree(item, new / item.name, symlinks=True)
            else:
                shutil.copy2(item, new / item.name, follow_symlinks=False)
    old = directory.with_name(f".{directory.name}.{os.getpid()}.old")
    shutil.rmtree(old, ignore_errors=True)
    os.replace(directory, old)
    os.replace(new, directory)
    shutil.rmtree(old, ignore_errors=True)
