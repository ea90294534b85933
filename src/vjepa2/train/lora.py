"""LoRA adapters on the encoder's blocks, through `peft` (an extra: ``pip install "vjepa2[lora]"``).

The adapters go into the encoder in place (its linear layers become peft's LoRA layers), so the
encoder stays a ``VJEPA2Encoder`` that every caller runs as before; only the adapters train. A
trained adapter is saved in peft's format (``adapter_config.json`` + ``adapter_model.safetensors``,
the encoder's tensors, ``base_model_name_or_path`` naming the model it was trained on), so
``peft.PeftModel.from_pretrained(model.encoder, ADAPTER)`` loads it as well as
:func:`merge_adapter` does. Merging adds ``scaling * B @ A`` into each adapted weight and turns
the layers back into plain ``nn.Linear``: the merged model is an ordinary model in the Hugging Face
format, which ``vjepa2.load`` and transformers read.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file
from torch import nn

from vjepa2.errors import UsageError
from vjepa2.files import atomic_write, share_like_new_files
from vjepa2.weights.strict import CheckpointError

INSTALL_HINT = 'LoRA needs peft: pip install "vjepa2[lora]"'
ADAPTER_NAME = "default"  # peft's name for a model's only adapter
CONFIG_FILE = "adapter_config.json"
WEIGHTS_FILE = "adapter_model.safetensors"
# peft names an adapter's tensors as seen from its PeftModel wrapper (PeftModel.base_model is the
# tuner, whose .model is the encoder).
KEY_PREFIX = "base_model.model."
# The linear layers of a block LoRA can adapt: attention (fused qkv, output projection), MLP.
TARGETS = {"qkv": "attn", "proj": "attn", "fc1": "mlp", "fc2": "mlp"}


def _peft():
    """The peft package, or a one-line :class:`UsageError` saying how to install it."""
    try:
        import peft  # an extra: imported where it is needed
    except ImportError:
        raise UsageError(INSTALL_HINT) from None
    return peft


def require_peft() -> None:
    """Raise :class:`UsageError` now, before any work, when peft is not installed."""
    _peft()


def target_pattern(targets: tuple[str, ...]) -> str:
    """The module names LoRA adapts, as the regular expression peft matches in full:
    ``("qkv", "proj")`` -> ``blocks\\.\\d+\\.(?:attn\\.qkv|attn\\.proj)``. The patch embedding
    (also named ``proj``) and the probe are left out."""
    unknown = sorted(set(targets) - set(TARGETS))
    if unknown or not targets:
        raise UsageError(
            f"--lora-targets {','.join(targets)}: choose from {', '.join(TARGETS)} (comma list)"
        )
    layers = "|".join(f"{TARGETS[t]}\\.{t}" for t in targets)
    return f"blocks\\.\\d+\\.(?:{layers})"


def lora_config(rank: int, alpha: float, dropout: float, targets: tuple[str, ...],
                base_model: str | None = None):  # fmt: skip
    """peft's ``LoraConfig`` for the encoder's blocks."""
    peft = _peft()
    return peft.LoraConfig(
        r=rank, lora_alpha=alpha, lora_dropout=dropout, target_modules=target_pattern(targets),
        bias="none", base_model_name_or_path=base_model,
    )  # fmt: skip


def add_lora(encoder: nn.Module, config) -> nn.Module:
    """Put fresh LoRA adapters (B = 0: the encoder's outputs do not change) into ``encoder`` in
    place and freeze everything else in it; returns peft's tuner around it, which
    :func:`merge_lora` and :func:`save_adapter` take."""
    peft = _peft()
    return peft.tuners.lora.LoraModel(encoder, config, ADAPTER_NAME)


def adapter_state(encoder: nn.Module) -> dict[str, torch.Tensor]:
    """The adapters' tensors (``...lora_A.default.weight``, ...), for a training checkpoint."""
    return {k: v for k, v in encoder.state_dict().items() if ".lora_" in k}


def load_adapter_state(encoder: nn.Module, state: dict[str, torch.Tensor]) -> None:
    """Restore what :func:`adapter_state` saved; every adapter tensor must be there."""
    expected = set(adapter_state(encoder))
    if set(state) != expected:
        missing, unexpected = sorted(expected - set(state)), sorted(set(state) - expected)
        raise CheckpointError(f"LoRA checkpoint does not match the adapters: missing {missing}, "
                              f"unexpected {unexpected}")  # fmt: skip
    encoder.load_state_dict(state, strict=False)


def save_adapter(tuner: nn.Module, directory: str | Path) -> Path:
    """Write the adapters in peft's format: ``adapter_config.json`` and
    ``adapter_model.safetensors`` (``base_model.model.blocks.0.attn.qkv.lora_A.weight``, ...:
    ``peft.PeftModel.from_pretrained(encoder, directory)`` loads them)."""
    peft = _peft()
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    config = tuner.peft_config[ADAPTER_NAME]
    config.save_pretrained(str(directory))
    # No embedding layers to save: without False, peft looks the base model up on the Hub.
    state = peft.get_peft_model_state_dict(
        tuner.model, adapter_name=ADAPTER_NAME, save_embedding_layers=False
    )
    tensors = {KEY_PREFIX + k: v.detach().contiguous() for k, v in state.items()}
    with atomic_write(directory / WEIGHTS_FILE) as tmp:
        save_file(tensors, tmp, metadata={"format": "pt"})
    share_like_new_files(directory / WEIGHTS_FILE)
    return directory


@torch.no_grad()
def merge_lora(tuner: nn.Module) -> nn.Module:
    """Add the adapters into the weights they adapt and remove them (in place); returns the
    plain encoder."""
    return tuner.merge_and_unload()


def adapter_base(directory: str | Path) -> str | None:
    """The model an adapter was trained on (``base_model_name_or_path``), if it says."""
    return read_adapter_config(directory).get("base_model_name_or_path")


def read_adapter_config(directory: str | Path) -> dict[str, Any]:
    path = Path(directory) / CONFIG_FILE
    if not path.is_file():
        raise UsageError(f"{directory} is not a LoRA adapter folder (no {CONFIG_FILE})")
    return json.loads(path.read_text())


def merge_adapter(model: nn.Module, directory: str | Path) -> nn.Module:
    """Load the adapter saved in ``directory`` onto ``model.encoder`` and merge it; returns
    ``model`` with the merged encoder. A tensor of the adapter that fits no layer, or a layer
    left without its tensor, is a :class:`CheckpointError`."""
    peft = _peft()
    directory = Path(directory)
    config = peft.LoraConfig.from_pretrained(str(directory))
    saved = load_file(directory / WEIGHTS_FILE)
    foreign = sorted(k for k in saved if not k.startswith(KEY_PREFIX))
    if foreign:
        raise CheckpointError(f"{directory}: not an encoder adapter saved by vjepa2 or peft "
                              f"(keys such as {foreign[:2]})")  # fmt: skip
    state = {k.removeprefix(KEY_PREFIX): v for k, v in saved.items()}
    tuner = add_lora(model.encoder, config)
    try:
        result = peft.set_peft_model_state_dict(model.encoder, state, adapter_name=ADAPTER_NAME)
    except RuntimeError as err:  # tensors of another shape
        raise CheckpointError(f"{directory}: the adapter does not fit this model's encoder: "
                              f"{str(err).splitlines()[-1].strip()}") from None  # fmt: skip
    missing = [k for k in result.missing_keys if ".lora_" in k]
    if result.unexpected_keys or missing:
        raise CheckpointError(
            f"{directory}: the adapter does not fit this model's encoder (unexpected "
            f"{sorted(result.unexpected_keys)[:4]}, missing {sorted(missing)[:4]})"
        )
    merge_lora(tuner)
    return model
