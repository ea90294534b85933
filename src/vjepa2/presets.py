"""Named model presets: the released V-JEPA 2 encoders and classifiers with their Hub ids.

A preset is architecture plus where the weights live; the architecture lives in the config so it
can be built without downloading anything (``vjepa2.build_model(preset.config())``).
"""

from __future__ import annotations

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


class UnknownPresetError(UsageError, KeyError):
    """A preset or architecture name that does not exist (the message lists the known ones)."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


@dataclass(frozen=True)
class Preset:
    """A released checkpoint: its name here, Hub id, original file and architecture.

    ``model_type`` is the network family (see :mod:`vjepa2.config`); a preset with ``num_labels``
    is that family's classifier.
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

    @property
    def is_classifier(self) -> bool:
        return self.num_labels > 0

    def config(self) -> VJEPA2Config:
        """The architecture as a config (classifier labels are placeholders until loaded)."""
        kwargs: dict[str, Any] = dict(_ENCODER_ARCH[self.arch])
        kwargs.update(model_type=self.model_type, crop_size=self.crop_size)
        kwargs.update(frames_per_clip=self.frames_per_clip)
        kwargs.update(self.overrides)
        if self.is_classifier:
            kwargs["id2label"] = {i: f"LABEL_{i}" for i in range(self.num_labels)}
        return VJEPA2Config(**kwargs)

    def num_parameters(self) -> int:
        """Parameter count of the architecture, computed from the config without building it."""
        return count_parameters(self.config())


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


def get_preset(name: str) -> Preset:
    """Look a preset up by name or Hub id."""
    if name in PRESETS:
        return PRESETS[name]
    for preset in PRESETS.values():
        if preset.hub_id == name:
            return preset
    raise UnknownPresetError(f"unknown preset {name!r}; known: {', '.join(PRESETS)}")


def preset_for_original_file(filename: str) -> Preset | None:
    """The encoder preset whose released ``.pt`` file has this basename (e.g. ``vitg-384.pt``)."""
    for preset in PRESETS.values():
        if preset.original_file and preset.original_file == filename:
            return preset
    return None


def count_parameters(config: VJEPA2Config, predictor: bool = False) -> int:
    """Parameters of the encoder (+ predictor, + classifier head when the config has labels)."""

    def block(dim: int, hidden: int) -> int:
        return (
            4 * dim
            + (dim * 3 * dim + 3 * dim)
            + (dim * dim + dim)
            + 2 * dim * hidden
            + hidden
            + dim
        )

    d = config.hidden_size
    patch = config.in_chans * config.tubelet_size * config.patch_size**2
    total = d * patch + d + config.num_hidden_layers * block(d, int(d * config.mlp_ratio)) + 2 * d
    if predictor:
        p = config.pred_hidden_size
        total += d * p + p + config.pred_num_mask_tokens * p
        total += config.pred_num_hidden_layers * block(p, int(p * config.pred_mlp_ratio))
        total += 2 * p + p * d + d
    if config.is_classifier:
        hidden = 4 * d
        cross = 4 * d + (d * d + d) + (2 * d * d + 2 * d) + 2 * d * hidden + hidden + d
        total += config.classifier_num_queries * d + config.num_pooler_layers * block(d, hidden)
        total += cross + config.num_labels * d + config.num_labels
    return total
