"""The Hugging Face format: a directory (or Hub repo) with ``config.json`` and safetensors.

Reads single-file, sharded (``model.safetensors.index.json``) and legacy ``pytorch_model.bin``
checkpoints; writes safetensors (sharded when large) plus the video processor config, so the
directory loads in transformers (``VJEPA2Model`` / ``VJEPA2ForVideoClassification``) and here.
"""

from __future__ import annotations

import json
import os
import warnings
from pathlib import Path

import torch
from safetensors.torch import load_file

from vjepa2.config import CONFIG_NAME, VJEPA2Config
from vjepa2.files import share_like_new_files
from vjepa2.weights.keymaps import StateDict, to_hf

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
    """``config.json`` and the (possibly sharded) state dict of an HF-format directory."""
    directory = Path(directory)
    config = VJEPA2Config.from_json_file(directory / CONFIG_NAME)
    return config, read_hf_weights(directory)


def read_hf_weights(directory: Path) -> StateDict:
    """The state dict of an HF directory, preferring safetensors."""
    if (directory / SAFETENSORS_NAME).is_file():
        return load_file(directory / SAFETENSORS_NAME)
    if (directory / SAFETENSORS_INDEX).is_file():
        return _read_sharded(directory, SAFETENSORS_INDEX, load_file)
    if (directory / PYTORCH_NAME).is_file():
        return _torch_load(directory / PYTORCH_NAME)
    if (directory / PYTORCH_INDEX).is_file():
        return _read_sharded(directory, PYTORCH_INDEX, _torch_load)
    raise FileNotFoundError(
        f"{directory}: no weights found (looked for {SAFETENSORS_NAME}, {SAFETENSORS_INDEX}, "
        f"{PYTORCH_NAME}, {PYTORCH_INDEX})"
    )


def _torch_load(path: Path) -> StateDict:
    return torch.load(path, map_location="cpu", weights_only=True)


def _read_sharded(directory: Path, index_name: str, reader) -> StateDict:
    index = json.loads((directory / index_name).read_text())
    shards = sorted(set(index["weight_map"].values()))
    missing = [s for s in shards if not (directory / s).is_file()]
    if missing:
        raise FileNotFoundError(
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
    from huggingface_hub import snapshot_download

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


def save_pretrained(
    model: torch.nn.Module, directory: str | os.PathLike, max_shard_size: str = "5GB"
) -> Path:
    """Write ``model`` (a VJEPA2Model or VJEPA2ForVideoClassification) in the HF format."""
    from huggingface_hub import save_torch_state_dict

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    config: VJEPA2Config = model.config
    if config.is_classifier:
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
        if differences:
            warnings.warn(
                f"{directory}: this probe has {' and '.join(differences)}, so transformers' "
                "VJEPA2ForVideoClassification computes different logits from it; vjepa2.load "
                "reads the probe's own settings from config.json.",
                stacklevel=2,
            )
    state_dict = to_hf(model.state_dict(), classifier=config.is_classifier)
    for stale in (SAFETENSORS_NAME, SAFETENSORS_INDEX):
        (directory / stale).unlink(missing_ok=True)
    save_torch_state_dict(
        {k: v.detach().cpu().contiguous() for k, v in state_dict.items()},
        directory,
        max_shard_size=max_shard_size,
        metadata={"format": "pt"},
    )
    share_like_new_files(*directory.glob("model*.safetensors"))
    config.save(directory)
    (directory / PROCESSOR_NAME).write_text(
        json.dumps(processor_config(config.crop_size), indent=2) + "\n"
    )
    return directory
