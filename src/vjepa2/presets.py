"""Named model presets: the released V-JEPA 2 encoders and classifiers with their Hub ids, and
the released V-JEPA 2.1 encoders with Meta's file names.

A preset is architecture plus where the weights live; the architecture lives in the config so it
can be built without downloading anything (``vjepa2.build_model(preset.config())``). A V-JEPA 2.1
preset (``model_type`` "vjepa2_1") builds the config class its family registers with
:func:`register_config_class` (``vjepa2.models`` does so on import): this layer sits below the
models and does not import them.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vjepa2.config import VJEPA2Config
from vjepa2.errors import UsageError

_ENCODER_ARCH: dict[str, dict[str, Any]] = {
    "vit-tiny": dict(hidden_size=192, num_hidden_layers=12, num_attention_heads=3, mlp_ratio=4.0),
    "vit-small": dict(hidden_size=384, num_hidden_layers=12, num_attention_heads=6, mlp_ratio=4.0),
    "vit-base": dict(hidden_size=768, num_hidden_layers=12, num_attention_heads=12, mlp_ratio=4.0),
    "vitl": dict(hidden_size=1024, num_hidden_layers=24, num_attention_heads=16, mlp_ratio=4.0),
    "vith": dict(hidden_size=1280, num_hidden_layers=32, num_attention_heads=16, mlp_ratio=4.0),
    "vitg": dict(hidden_size=1408, num_hidden_layers=40, num_attention_heads=22, mlp_ratio=48 / 11),
}


# V-JEPA 2.1 encoders and predictors (Meta's 2.1 Hub code): all 384 px, patch 16, tubelet 2, a
# 384-wide 12-head predictor with 8 mask tokens. L (pred_num_levels) is 1 for the B/L distilled
# from ViT-G (teacher width 1664), 4 for g/G.
_V21_ARCH: dict[str, dict[str, Any]] = {
    "vit-base": dict(hidden_size=768, num_hidden_layers=12, num_attention_heads=12,
                     mlp_ratio=4.0, pred_num_hidden_layers=12, pred_num_levels=1,
                     pred_teacher_dim=1664),
    "vitl": dict(hidden_size=1024, num_hidden_layers=24, num_attention_heads=16, mlp_ratio=4.0,
                 pred_num_hidden_layers=12, pred_num_levels=1, pred_teacher_dim=1664),
    "vitg": dict(hidden_size=1408, num_hidden_layers=40, num_attention_heads=22,
                 mlp_ratio=48 / 11, pred_num_hidden_layers=24, pred_num_levels=4),
    "vitG": dict(hidden_size=1664, num_hidden_layers=48, num_attention_heads=26,
                 mlp_ratio=64 / 13, pred_num_hidden_layers=24, pred_num_levels=4),
}  # fmt: skip
V21_MODEL_TYPE = "vjepa2_1"

_CONFIG_CLASSES: dict[str, Callable[..., Any]] = {"vjepa2": VJEPA2Config}


def register_config_class(model_type: str, config_class: Callable[..., Any]) -> None:
    """The config class a preset of ``model_type`` builds (V-JEPA 2.1's registers itself)."""
    _CONFIG_CLASSES[model_type] = config_class


class UnknownPresetError(UsageError, KeyError):
    """A preset or architecture name that does not exist (the message lists the known ones)."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


@dataclass(frozen=True)
class Preset:
    """A released checkpoint: its name here, Hub id, original file and architecture.

    ``model_type`` is the network family (see :mod:`vjepa2.config`); a preset with ``num_labels``
    is that family's classifier. ``checkpoint_key`` is the encoder a released ``.pt`` is read
    from (V-JEPA 2.1: ``ema_encoder`` for the distilled B/L, ``target_encoder`` for g/G). An
    empty ``hub_id`` means no Hub mirror: the preset loads from Meta's file found locally
    (:meth:`find_file`).
    """

    name: str
    hub_id: str
    arch: str
    crop_size: int
    frames_per_clip: int
    original_file: str | None = None
    task: str | None = None
    num_labels: int = 0
    description: str = ""
    overrides: dict[str, Any] = field(default_factory=dict)
    model_type: str = "vjepa2"
    checkpoint_key: str | None = None

    @property
    def is_classifier(self) -> bool:
        return self.num_labels > 0

    def config(self) -> Any:
        """The architecture as a config (classifier labels are placeholders until loaded): a
        ``VJEPA2Config``, or the registered config class of the preset's ``model_type``."""
        if self.model_type != "vjepa2":
            return self._family_config()
        kwargs: dict[str, Any] = dict(_ENCODER_ARCH[self.arch])
        kwargs.update(model_type=self.model_type, crop_size=self.crop_size)
        kwargs.update(frames_per_clip=self.frames_per_clip)
        kwargs.update(self.overrides)
        if self.is_classifier:
            kwargs["id2label"] = {i: f"LABEL_{i}" for i in range(self.num_labels)}
        return VJEPA2Config(**kwargs)

    def _family_config(self) -> Any:
        config_class = _CONFIG_CLASSES.get(self.model_type)
        if config_class is None:
            raise UsageError(
                f"preset {self.name!r} is a {self.model_type} model, whose config class is not "
                f"registered (import vjepa2.models first)"
            )
        return config_class(**_V21_ARCH[self.arch], crop_size=self.crop_size,
                            frames_per_clip=self.frames_per_clip, **self.overrides)  # fmt: skip

    def num_parameters(self) -> int:
        """Parameter count of the architecture, computed from the config without building it."""
        return count_parameters(self.config())

    def find_file(self) -> Path:
        """Meta's released file of a preset without a Hub mirror, looked up by its name in the
        current folder, then in PyTorch Hub's download cache (``$TORCH_HOME/hub/checkpoints``,
        by default ``~/.cache/torch/hub/checkpoints``)."""
        name = str(self.original_file)
        places = [Path.cwd(), _torch_hub_checkpoints()]
        for folder in places:
            if (folder / name).is_file():
                return folder / name
        raise UnknownPresetError(
            f"preset {self.name!r} has no Hub mirror: download Meta's {name} (facebookresearch/"
            f"vjepa2) and pass its path, "
            f"or put it in {' or '.join(str(p) for p in places)}"
        )


PRESETS: dict[str, Preset] = {
    p.name: p
    for p in [
        Preset("vitl", "facebook/vjepa2-vitl-fpc64-256", "vitl", 256, 64, "vitl.pt",
               description="ViT-L/16 encoder, 256 px"),
        Preset("vith", "facebook/vjepa2-vith-fpc64-256", "vith", 256, 64, "vith.pt",
               description="ViT-H/16 encoder, 256 px"),
        Preset("vitg", "facebook/vjepa2-vitg-fpc64-256", "vitg", 256, 64, "vitg.pt",
               description="ViT-g/16 encoder, 256 px"),
        Preset("vitg-384", "facebook/vjepa2-vitg-fpc64-384", "vitg", 384, 64, "vitg-384.pt",
               description="ViT-g/16 encoder, cooled down at 384 px"),
        Preset("vitl-ssv2", "facebook/vjepa2-vitl-fpc16-256-ssv2", "vitl", 256, 16,
               task="ssv2", num_labels=174, description="ViT-L classifier, Something-Something v2"),
        Preset("vitg-384-ssv2", "facebook/vjepa2-vitg-fpc64-384-ssv2", "vitg", 384, 64,
               task="ssv2", num_labels=174, description="ViT-g 384 classifier, SSv2"),
        Preset("vitl-diving48", "facebook/vjepa2-vitl-fpc32-256-diving48", "vitl", 256, 32,
               task="diving48", num_labels=48, description="ViT-L classifier, Diving48",
               overrides=dict(out_layers=[17, 19, 21, 23])),  # the 4-level probe
        Preset("vitg-384-diving48", "facebook/vjepa2-vitg-fpc32-384-diving48", "vitg", 384, 32,
               task="diving48", num_labels=48, description="ViT-g 384 classifier, Diving48",
               overrides=dict(out_layers=[24, 29, 34, 39])),
        Preset("vitb-2.1", "", "vit-base", 384, 64, "vjepa2_1_vitb_dist_vitG_384.pt",
               model_type=V21_MODEL_TYPE, checkpoint_key="ema_encoder",
               description="ViT-B/16 V-JEPA 2.1 encoder distilled from ViT-G, 384 px"),
        Preset("vitl-2.1", "", "vitl", 384, 64, "vjepa2_1_vitl_dist_vitG_384.pt",
               model_type=V21_MODEL_TYPE, checkpoint_key="ema_encoder",
               description="ViT-L/16 V-JEPA 2.1 encoder distilled from ViT-G, 384 px"),
        Preset("vitg-2.1", "", "vitg", 384, 64, "vjepa2_1_vitg_384.pt",
               model_type=V21_MODEL_TYPE, checkpoint_key="target_encoder",
               description="ViT-g/16 V-JEPA 2.1 encoder, 384 px"),
        Preset("vitG-2.1", "", "vitG", 384, 64, "vjepa2_1_vitG_384.pt",
               model_type=V21_MODEL_TYPE, checkpoint_key="target_encoder",
               description="ViT-G/16 V-JEPA 2.1 encoder (1.84B), 384 px"),
    ]
}  # fmt: skip


def architecture(name: str, **overrides: Any) -> VJEPA2Config:
    """A from-scratch architecture by name (``vit-tiny``, ``vit-small``, ``vit-base``, ``vitl``,
    ``vith``, ``vitg``) with the standard predictor, for pretraining; fields can be overridden."""
    if name not in _ENCODER_ARCH:
        raise UnknownPresetError(
            f"unknown architecture {name!r}; known: {', '.join(_ENCODER_ARCH)}"
        )
    return VJEPA2Config(**{**_ENCODER_ARCH[name], **overrides})


DEMO_NAME = "demo"
DEMO_DIR = Path(__file__).parent / "assets" / "demo"
"""The bundled demo classifier (HF format): a small encoder pretrained by ``vjepa2 pretrain`` on
the synthetic motion benchmark, with a probe trained by ``vjepa2 train-probe``."""


def _torch_hub_checkpoints() -> Path:
    torch_home = os.environ.get("TORCH_HOME") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "torch"
    )
    return Path(torch_home) / "hub" / "checkpoints"


def get_preset(name: str) -> Preset:
    """Look a preset up by name or Hub id."""
    if name in PRESETS:
        return PRESETS[name]
    for preset in PRESETS.values():
        if preset.hub_id and preset.hub_id == name:
            return preset
    raise UnknownPresetError(f"unknown preset {name!r}; known: {', '.join(PRESETS)}")


def preset_for_original_file(filename: str, model_type: str = "vjepa2") -> Preset | None:
    """The ``model_type`` encoder preset whose released ``.pt`` file has this basename (e.g.
    ``vitg-384.pt``; ``vjepa2_1_vitl_dist_vitG_384.pt`` with ``model_type="vjepa2_1"``)."""
    for preset in PRESETS.values():
        if preset.original_file == filename and preset.model_type == model_type:
            return preset
    return None


def _block(dim: int, hidden: int) -> int:
    """Parameters of one pre-norm ViT block (two LayerNorms, qkv, proj, MLP)."""
    return 4 * dim + (dim * 3 * dim + 3 * dim) + (dim * dim + dim) + 2 * dim * hidden + hidden + dim


def count_parameters(config: Any, predictor: bool = False) -> int:
    """Parameters of the encoder (+ predictor, + classifier head when the config has labels),
    for a V-JEPA 2 or 2.1 config."""
    if config.model_type == V21_MODEL_TYPE:
        total = _count_v21(config, predictor)
        return total + (_count_head(config) if config.is_classifier else 0)
    d = config.hidden_size
    patch = config.in_chans * config.tubelet_size * config.patch_size**2
    total = d * patch + d + config.num_hidden_layers * _block(d, int(d * config.mlp_ratio)) + 2 * d
    if predictor:
        p = config.pred_hidden_size
        total += d * p + p + config.pred_num_mask_tokens * p
        total += config.pred_num_hidden_layers * _block(p, int(p * config.pred_mlp_ratio))
        total += 2 * p + p * d + d
    if config.is_classifier:
        total += _count_head(config)
    return total


def _count_head(config: Any) -> int:
    """The attentive classifier head: queries, self-attention blocks, cross-attention, linear."""
    d = config.hidden_size
    hidden = 4 * d
    cross = 4 * d + (d * d + d) + (2 * d * d + 2 * d) + 2 * d * hidden + hidden + d
    total = config.classifier_num_queries * d + config.num_pooler_layers * _block(d, hidden)
    return total + cross + config.num_labels * d + config.num_labels


def _count_v21(config: Any, predictor: bool) -> int:
    """A V-JEPA 2.1 encoder (video and image patch embeddings, two modality embeddings, one
    norm per level) and its predictor (level MLP or Linear input, mask tokens, two output
    projections)."""
    d, c, p = config.hidden_size, config.in_chans, config.patch_size
    total = d * c * p * p * (config.tubelet_size + 1) + 2 * d + 2 * d
    total += config.num_hidden_layers * _block(d, int(d * config.mlp_ratio))
    total += 2 * d * len(config.hierarchical_layers)
    if predictor:
        q, levels = config.pred_hidden_size, config.pred_num_levels
        embed = (levels * d * d + d + d * q + q) if levels > 1 else d * q + q
        total += embed + 2 * q + config.pred_num_mask_tokens * q
        total += config.pred_num_hidden_layers * _block(q, int(q * config.pred_mlp_ratio))
        total += 2 * q + 2 * (q * levels * config.pred_output_dim + levels * config.pred_output_dim)
    return total
