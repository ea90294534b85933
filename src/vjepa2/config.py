"""Model configuration, read from and written to transformers' ``config.json``
(model_type "vjepa2").

The field names are transformers' own, so a directory we save loads in ``transformers`` and a Hub
checkpoint loads here unchanged. Three settings of the attentive classifier are ours
(``classifier_num_heads``, ``classifier_layer_norm_eps``, ``classifier_num_queries``): transformers
takes the pooler's heads and LayerNorm eps from the encoder, while the original probes use 16 heads
and eps 1e-5 for every model. When unset they follow transformers, so Hub checkpoints load as
transformers runs them.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

CONFIG_NAME = "config.json"


@dataclass
class VJEPA2Config:
    """Hyper-parameters of a V-JEPA 2 encoder, its predictor and (optionally) a classifier head."""

    patch_size: int = 16
    crop_size: int = 256
    frames_per_clip: int = 64
    tubelet_size: int = 2
    hidden_size: int = 1024
    in_chans: int = 3
    num_attention_heads: int = 16
    num_hidden_layers: int = 24
    drop_path_rate: float = 0.0
    mlp_ratio: float = 4.0
    layer_norm_eps: float = 1e-6
    qkv_bias: bool = True
    attention_probs_dropout_prob: float = 0.0
    hidden_act: str = "gelu"
    initializer_range: float = 0.02
    attention_dropout: float = 0.0
    num_pooler_layers: int = 3
    pred_hidden_size: int = 384
    pred_num_attention_heads: int = 12
    pred_num_hidden_layers: int = 12
    pred_num_mask_tokens: int = 10
    pred_zero_init_mask_tokens: bool = True
    pred_mlp_ratio: float = 4.0
    # Classifier head (present when id2label is set).
    id2label: dict[int, str] | None = None
    classifier_num_heads: int | None = None
    classifier_layer_norm_eps: float | None = None
    classifier_num_queries: int = 1
    architectures: list[str] | None = None
    # Keys of config.json we do not interpret, kept so that read -> write loses nothing.
    extra: dict[str, Any] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        if self.id2label is not None:
            self.id2label = {int(k): str(v) for k, v in self.id2label.items()}
        self.validate()

    def validate(self) -> None:
        """Raise ``ValueError`` for settings the model cannot be built with."""
        problems = []
        if self.hidden_size % self.num_attention_heads:
            problems.append(
                f"hidden_size {self.hidden_size} is not divisible by "
                f"num_attention_heads {self.num_attention_heads}"
            )
        if self.pred_hidden_size % self.pred_num_attention_heads:
            problems.append(
                f"pred_hidden_size {self.pred_hidden_size} is not divisible by "
                f"pred_num_attention_heads {self.pred_num_attention_heads}"
            )
        if self.hidden_size % self.pooler_num_heads:
            problems.append(
                f"hidden_size {self.hidden_size} is not divisible by "
                f"classifier_num_heads {self.pooler_num_heads}"
            )
        if self.hidden_act != "gelu":
            problems.append(f"hidden_act {self.hidden_act!r} is not supported (only 'gelu')")
        if self.crop_size % self.patch_size:
            problems.append(
                f"crop_size {self.crop_size} is not divisible by patch_size {self.patch_size}"
            )
        if problems:
            raise ValueError("invalid V-JEPA 2 config: " + "; ".join(problems))

    # -- derived values -------------------------------------------------------------------

    @property
    def head_dim(self) -> int:
        return self.hidden_size // self.num_attention_heads

    @property
    def grid_size(self) -> int:
        """Tokens per side at ``crop_size`` (the predictor's RoPE grid)."""
        return self.crop_size // self.patch_size

    @property
    def num_labels(self) -> int:
        return len(self.id2label) if self.id2label else 0

    @property
    def label2id(self) -> dict[str, int]:
        return {v: k for k, v in (self.id2label or {}).items()}

    @property
    def pooler_num_heads(self) -> int:
        return self.classifier_num_heads or self.num_attention_heads

    @property
    def pooler_layer_norm_eps(self) -> float:
        if self.classifier_layer_norm_eps is None:
            return self.layer_norm_eps
        return self.classifier_layer_norm_eps

    @property
    def is_classifier(self) -> bool:
        return self.id2label is not None

    def replace(self, **changes: Any) -> VJEPA2Config:
        """A copy with some fields changed."""
        return dataclasses.replace(self, **changes)

    # -- serialisation --------------------------------------------------------------------

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> VJEPA2Config:
        data = dict(data)
        model_type = data.pop("model_type", "vjepa2")
        if model_type != "vjepa2":
            raise ValueError(f"config model_type is {model_type!r}, expected 'vjepa2'")
        known = {f.name for f in dataclasses.fields(cls)} - {"extra"}
        kwargs = {k: data.pop(k) for k in list(data) if k in known}
        label2id = data.pop("label2id", None)
        num_labels = data.pop("num_labels", None)
        if kwargs.get("id2label") is None and label2id:
            kwargs["id2label"] = {int(v): k for k, v in label2id.items()}
        if kwargs.get("id2label") is None and num_labels:
            kwargs["id2label"] = {i: f"LABEL_{i}" for i in range(int(num_labels))}
        if not _is_classifier_architecture(kwargs.get("architectures")) and _is_default_labels(
            kwargs.get("id2label")
        ):
            # transformers writes its placeholder {0: LABEL_0, 1: LABEL_1} into every config.
            data["id2label"] = kwargs.pop("id2label")
            if label2id is not None:
                data["label2id"] = label2id
        return cls(**kwargs, extra=data)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = dict(self.extra)
        for f in dataclasses.fields(self):
            if f.name in ("extra", "id2label"):
                continue
            value = getattr(self, f.name)
            if f.name.startswith("classifier_") and value is None:
                continue
            out[f.name] = value
        if self.id2label is not None:
            out["id2label"] = {str(k): v for k, v in self.id2label.items()}
            out["label2id"] = self.label2id
            out["num_labels"] = self.num_labels
        out["architectures"] = self.architectures or [
            "VJEPA2ForVideoClassification" if self.is_classifier else "VJEPA2Model"
        ]
        out["model_type"] = "vjepa2"
        return out

    @classmethod
    def from_json_file(cls, path: str | Path) -> VJEPA2Config:
        path = Path(path)
        try:
            data = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError) as err:
            raise ValueError(f"cannot read config {path}: {err}") from err
        return cls.from_dict(data)

    def save(self, directory: str | Path) -> Path:
        """Write ``config.json`` into ``directory`` and return its path."""
        path = Path(directory) / CONFIG_NAME
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n")
        return path


def _is_classifier_architecture(architectures: list[str] | None) -> bool:
    return bool(architectures) and any("Classification" in a for a in architectures)


def _is_default_labels(id2label: dict | None) -> bool:
    return id2label is not None and {int(k): v for k, v in id2label.items()} == {
        0: "LABEL_0",
        1: "LABEL_1",
    }
