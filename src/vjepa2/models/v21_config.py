"""Configuration of a V-JEPA 2.1 model (``model_type`` "vjepa2_1"), and the released presets.

V-JEPA 2.1 keeps V-JEPA 2's ViT blocks but changes the rest around them (see docs/vjepa2_1.md):
interleaved RoPE with optional interpolation to the pretrained grid, an image patch embedding,
modality embeddings, four hierarchical output norms instead of one final norm, and a predictor that
reads several levels and also predicts the context tokens. The config is its own dataclass, saved
as ``config.json``; transformers has no V-JEPA 2.1 yet, so nothing here is transformers' format.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vjepa2.config import read_config_json, write_config_json
from vjepa2.presets import (
    PRESETS,
    V21_MODEL_TYPE,
    Preset,
    preset_for_original_file,
    register_config_class,
)

MODEL_TYPE = V21_MODEL_TYPE

# Blocks whose outputs the hierarchical norms take, by encoder depth (Meta's table; 48 is uneven).
HIERARCHICAL_LAYERS = {
    12: (2, 5, 8, 11),
    24: (5, 11, 17, 23),
    40: (9, 19, 29, 39),
    48: (11, 23, 37, 47),
}
# The grid (patches per side) the released models were pretrained on, by patch size: 256/16 and
# 252/14. RoPE interpolation scales positions to it; other patch sizes have none.
PRETRAINED_GRID = {16: 16, 14: 18}


_CLASSIFIER_FIELDS = ("id2label", "num_pooler_layers", "classifier_num_heads",
                      "classifier_layer_norm_eps", "classifier_num_queries")  # fmt: skip


@dataclass
class VJEPA21Config:
    """Hyper-parameters of a V-JEPA 2.1 encoder and its predictor.

    ``hierarchical_layers`` defaults to Meta's table for depths 12/24/40/48; other depths must
    name it. ``pred_num_levels`` (Meta's ``n_output_distillation``) is how many encoder levels
    the predictor reads and predicts: 4 for g/G, 1 for the distilled B/L. ``pred_teacher_dim``
    sets the predictor's output width per level (the teacher's, 1664 for B/L); None means the
    encoder's own width.

    A classifier (:class:`~vjepa2.models.vjepa2_1.VJEPA21ForVideoClassification`, the attentive
    probe over the last level's tokens) is the config with ``id2label``, as in V-JEPA 2: the
    pooler has ``num_pooler_layers`` self-attention blocks, ``classifier_num_heads`` heads and
    LayerNorm eps ``classifier_layer_norm_eps`` (None: the encoder's).
    """

    patch_size: int = 16
    crop_size: int = 384
    frames_per_clip: int = 64
    tubelet_size: int = 2
    in_chans: int = 3
    hidden_size: int = 1024
    num_attention_heads: int = 16
    num_hidden_layers: int = 24
    mlp_ratio: float = 4.0
    layer_norm_eps: float = 1e-6
    qkv_bias: bool = True
    initializer_range: float = 0.02
    hierarchical_layers: list[int] | None = None
    interpolate_rope: bool = True
    pred_hidden_size: int = 384
    pred_num_attention_heads: int = 12
    pred_num_hidden_layers: int = 24
    pred_mlp_ratio: float = 4.0
    pred_num_mask_tokens: int = 8
    pred_num_levels: int = 4
    pred_teacher_dim: int | None = None
    pred_interpolate_rope: bool = False
    id2label: dict[int, str] | None = None
    num_pooler_layers: int = 3
    classifier_num_heads: int | None = None
    classifier_layer_norm_eps: float | None = None
    classifier_num_queries: int = 1
    model_type: str = MODEL_TYPE
    # Keys of config.json we do not interpret, kept so that read -> write loses nothing.
    extra: dict[str, Any] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        if self.id2label is not None:  # JSON keys are strings
            self.id2label = {int(k): str(v) for k, v in dict(self.id2label).items()}
        if self.hierarchical_layers is None:
            self.hierarchical_layers = list(HIERARCHICAL_LAYERS.get(self.num_hidden_layers, ()))
        self.hierarchical_layers = [int(i) for i in self.hierarchical_layers]
        self.validate()

    def validate(self) -> None:
        """Raise ``ValueError`` naming every setting the model cannot be built with."""
        problems = []
        if self.model_type != MODEL_TYPE:
            problems.append(f"model_type is {self.model_type!r}, expected {MODEL_TYPE!r}")
        for width, heads, name in (
            (self.hidden_size, self.num_attention_heads, "hidden_size"),
            (self.pred_hidden_size, self.pred_num_attention_heads, "pred_hidden_size"),
        ):
            if heads < 1 or width % heads:
                problems.append(f"{name} {width} is not divisible by {heads} heads")
        if self.is_classifier and (self.pooler_num_heads < 1
                                   or self.hidden_size % self.pooler_num_heads):  # fmt: skip
            problems.append(
                f"classifier_num_heads {self.pooler_num_heads} does not divide hidden_size "
                f"{self.hidden_size}"
            )
        problems += self._level_problems()
        if self.crop_size % self.patch_size:
            problems.append(f"crop_size {self.crop_size} is not divisible by {self.patch_size}")
        if (self.interpolate_rope or self.pred_interpolate_rope) and (
            self.patch_size not in PRETRAINED_GRID
        ):
            problems.append(
                f"RoPE interpolation needs patch size 16 or 14 (a pretrained grid), "
                f"got {self.patch_size}"
            )
        if problems:
            raise ValueError("invalid V-JEPA 2.1 config: " + "; ".join(problems))

    def _level_problems(self) -> list[str]:
        layers, depth = self.hierarchical_layers, self.num_hidden_layers
        if not layers:
            return [
                f"depth {depth} has no standard hierarchical layers "
                f"({sorted(HIERARCHICAL_LAYERS)}); pass hierarchical_layers=[...]"
            ]
        problems = []
        if layers != sorted(set(layers)) or layers[0] < 0 or layers[-1] != depth - 1:
            problems.append(
                f"hierarchical_layers {layers} must be increasing block indices ending at the "
                f"last block ({depth - 1})"
            )
        if not 1 <= self.pred_num_levels <= len(layers):
            problems.append(
                f"pred_num_levels {self.pred_num_levels} must be 1..{len(layers)} (the encoder's "
                f"levels)"
            )
        return problems

    # -- derived values -------------------------------------------------------------------

    @property
    def head_dim(self) -> int:
        return self.hidden_size // self.num_attention_heads

    @property
    def pred_head_dim(self) -> int:
        return self.pred_hidden_size // self.pred_num_attention_heads

    @property
    def grid_size(self) -> int:
        """Tokens per side at ``crop_size``: the predictor's (square) RoPE grid."""
        return self.crop_size // self.patch_size

    @property
    def num_levels(self) -> int:
        """Hierarchical outputs of the encoder (``norms_block`` count)."""
        return len(self.hierarchical_layers)

    @property
    def pretrained_grid(self) -> int:
        """Patches per side of the pretraining grid RoPE interpolation scales to."""
        return PRETRAINED_GRID[self.patch_size]

    @property
    def is_classifier(self) -> bool:
        """Whether the config has labels (a classifier head over the encoder)."""
        return self.id2label is not None

    @property
    def num_labels(self) -> int:
        return len(self.id2label) if self.id2label else 0

    @property
    def pooler_num_heads(self) -> int:
        return self.classifier_num_heads or self.num_attention_heads

    @property
    def pooler_layer_norm_eps(self) -> float:
        if self.classifier_layer_norm_eps is None:
            return self.layer_norm_eps
        return self.classifier_layer_norm_eps

    @property
    def pred_output_dim(self) -> int:
        """Width of one predicted level (the teacher's width, else the encoder's)."""
        return self.pred_teacher_dim or self.hidden_size

    def replace(self, **changes: Any) -> VJEPA21Config:
        """A copy with some fields changed (``hierarchical_layers`` re-derived with the depth)."""
        if "num_hidden_layers" in changes and "hierarchical_layers" not in changes:
            changes["hierarchical_layers"] = None
        return dataclasses.replace(self, **changes)

    # -- serialisation --------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        out = dict(self.extra)
        out.update({f.name: getattr(self, f.name) for f in dataclasses.fields(self)})
        del out["extra"]
        if not self.is_classifier:  # an encoder's config.json names no head
            for name in _CLASSIFIER_FIELDS:
                del out[name]
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> VJEPA21Config:
        data = dict(data)
        model_type = data.get("model_type", MODEL_TYPE)
        if model_type != MODEL_TYPE:
            raise ValueError(
                f"config model_type is {model_type!r}, not {MODEL_TYPE!r} (V-JEPA 2.1); "
                f"a V-JEPA 2 model loads with vjepa2.load"
            )
        known = {f.name for f in dataclasses.fields(cls)} - {"extra"}
        kwargs = {k: data.pop(k) for k in list(data) if k in known}
        return cls(**kwargs, extra=data)

    @classmethod
    def from_json_file(cls, path: str | Path) -> VJEPA21Config:
        return cls.from_dict(read_config_json(path))

    def save(self, directory: str | Path) -> Path:
        """Write ``config.json`` into ``directory`` and return its path."""
        return write_config_json(self.to_dict(), directory)


# The released 2.1 presets live with the others in vjepa2.presets (Meta's file names, encoder
# keys); building one gives this config class.
register_config_class(MODEL_TYPE, VJEPA21Config)
V21Preset = Preset
PRESETS_21: dict[str, Preset] = {
    name: p for name, p in PRESETS.items() if p.model_type == MODEL_TYPE
}


def preset_for_file(filename: str) -> Preset | None:
    """The 2.1 preset whose released ``.pt`` has this basename, if any."""
    return preset_for_original_file(filename, MODEL_TYPE)
