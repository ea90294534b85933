"""Model configuration, read from and written to transformers' ``config.json``.

``model_type`` names the network family, as in transformers: ``"vjepa2"`` (the V-JEPA 2 encoder
and predictor); ``"vjepa2_ac"`` (the action-conditioned predictor) and ``"vjepa2_1"`` (V-JEPA 2.1)
are the names kept for the families to come. A classifier is the same family with a head: it is
the config's ``id2label`` (as in transformers), not another ``model_type``. Which model class a
family and head build, and how its checkpoints are named, is :mod:`vjepa2.weights.families`.

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

from vjepa2.errors import UsageError
from vjepa2.files import write_text_atomic

CONFIG_NAME = "config.json"

# Sane ranges, checked before anything is built: a config.json asking for a billion layers or a
# million-pixel crop is refused with the field named instead of allocating until killed.
_INT_RANGES: dict[str, tuple[int, int]] = {
    "patch_size": (1, 256),
    "crop_size": (1, 4096),
    "frames_per_clip": (1, 4096),
    "tubelet_size": (1, 64),
    "hidden_size": (1, 16384),
    "in_chans": (1, 64),
    "num_attention_heads": (1, 1024),
    "num_hidden_layers": (1, 512),
    "num_pooler_layers": (0, 64),
    "pred_hidden_size": (1, 16384),
    "pred_num_attention_heads": (1, 1024),
    "pred_num_hidden_layers": (1, 512),
    "pred_num_mask_tokens": (1, 1024),
    "classifier_num_heads": (1, 1024),
    "classifier_num_queries": (1, 1024),
}
# (low, high, low inclusive): ratios and rates.
_FLOAT_RANGES: dict[str, tuple[float, float, bool]] = {
    "mlp_ratio": (0.0, 64.0, False),
    "pred_mlp_ratio": (0.0, 64.0, False),
    "layer_norm_eps": (0.0, 1.0, False),
    "classifier_layer_norm_eps": (0.0, 1.0, False),
    "initializer_range": (0.0, 10.0, False),
    "drop_path_rate": (0.0, 1.0, True),
    "attention_probs_dropout_prob": (0.0, 1.0, True),
    "attention_dropout": (0.0, 1.0, True),
}
_BOOLS = (
    "qkv_bias",
    "pred_zero_init_mask_tokens",
    "pred_time_positions",
    "abs_positions",
    "pred_abs_positions",
)
_OPTIONAL = ("classifier_num_heads", "classifier_layer_norm_eps")
# Parameters of one network (encoder or predictor): 10 billion is 40 GB in float32.
_MAX_PARAMETERS = 10_000_000_000


class ConfigError(UsageError, ValueError):
    """A config that names an impossible or absurd model (the message names field and value)."""


@dataclass
class VJEPA2Config:
    """Hyper-parameters of a V-JEPA 2 encoder, its predictor and (optionally) a classifier head."""

    model_type: str = "vjepa2"
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
    # Ours, for pretraining experiments: False gives the predictor's RoPE no time axis (every
    # token at time 0), so only the encoder's features can tell it which way things move. Written
    # to config.json only when False; released checkpoints have it True.
    pred_time_positions: bool = True
    # Ours, for pretraining experiments: True adds fixed 3-D sin-cos positions to the encoder's
    # patch embeddings (as V-JEPA 1 did), so its residual stream holds where and when each token
    # is, not only RoPE's relative positions. Written to config.json only when True; released
    # V-JEPA 2 checkpoints have it False.
    abs_positions: bool = False
    # Ours, for pretraining experiments: True adds the same fixed sin-cos positions to the
    # predictor's tokens (context and mask tokens, as V-JEPA 1's predictor had), so a mask token
    # knows where and when it is; the encoder stays RoPE-only. Written only when True.
    pred_abs_positions: bool = False
    # Classifier head (present when id2label is set).
    id2label: dict[int, str] | None = None
    classifier_num_heads: int | None = None
    classifier_layer_norm_eps: float | None = None
    classifier_num_queries: int = 1
    # Encoder blocks whose normed outputs the model gives as its levels (a probe reads them
    # concatenated along the token axis, as the original "multilevel" probes); None: the last.
    out_layers: list[int] | None = None
    # A multi-task probe (EK100 action anticipation): (task, class count) per query, in query
    # order; its heads are ``{task}_classifier``.
    classifier_tasks: list[tuple[str, int]] | None = None
    architectures: list[str] | None = None
    # Keys of config.json we do not interpret, kept so that read -> write loses nothing.
    extra: dict[str, Any] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        if self.id2label is not None:
            try:
                self.id2label = {int(k): str(v) for k, v in dict(self.id2label).items()}
            except (TypeError, ValueError) as err:
                raise ConfigError(
                    f"invalid V-JEPA 2 config: id2label must map class indices to names ({err})"
                ) from err
        if self.out_layers is not None and isinstance(self.out_layers, (list, tuple)):
            self.out_layers = list(self.out_layers)
        if isinstance(self.classifier_tasks, (list, tuple)):
            self.classifier_tasks = [
                tuple(t) if isinstance(t, (list, tuple)) else t for t in self.classifier_tasks
            ]
        self.validate()

    def validate(self) -> None:
        """Raise :class:`ConfigError` naming every field that has a wrong type, is out of its
        sane range, or does not fit the others (e.g. heads that do not divide the width)."""
        problems = _type_and_range_problems(self)
        if not problems:
            problems = self._consistency_problems()
        if problems:
            raise ConfigError("invalid V-JEPA 2 config: " + "; ".join(problems))

    def _consistency_problems(self) -> list[str]:
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
        problems += _level_problems(self) + _task_problems(self)
        if self.hidden_act != "gelu":
            problems.append(f"hidden_act {self.hidden_act!r} is not supported (only 'gelu')")
        if self.crop_size % self.patch_size:
            problems.append(
                f"crop_size {self.crop_size} is not divisible by patch_size {self.patch_size}"
            )
        for name, layers, width, ratio in (
            ("encoder", self.num_hidden_layers, self.hidden_size, self.mlp_ratio),
            ("predictor", self.pred_num_hidden_layers, self.pred_hidden_size, self.pred_mlp_ratio),
        ):
            size = layers * width * width * (4 + 2 * ratio)
            if size > _MAX_PARAMETERS:
                problems.append(
                    f"the {name} would have about {size / 1e9:.0f}B parameters (at most "
                    f"{_MAX_PARAMETERS / 1e9:.0f}B): check its depth and width"
                )
        return problems

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

    @property
    def architecture(self) -> str:
        """The model class this config builds (transformers' ``architectures`` entry)."""
        if self.classifier_tasks:
            return "VJEPA2ForActionAnticipation"
        return "VJEPA2ForVideoClassification" if self.is_classifier else "VJEPA2Model"

    def replace(self, **changes: Any) -> VJEPA2Config:
        """A copy with some fields changed."""
        return dataclasses.replace(self, **changes)

    # -- serialisation --------------------------------------------------------------------

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> VJEPA2Config:
        if not isinstance(data, dict):
            raise ConfigError(f"a config is a JSON object, got {type(data).__name__}")
        data = dict(data)
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
            if (f.name.startswith("classifier_") or f.name == "out_layers") and value is None:
                continue
            if (f.name == "pred_time_positions" and value) or (
                f.name in ("abs_positions", "pred_abs_positions") and not value
            ):
                continue
            out[f.name] = [list(t) for t in value] if f.name == "classifier_tasks" else value
        if self.id2label is not None:
            out["id2label"] = {str(k): v for k, v in self.id2label.items()}
            out["label2id"] = self.label2id
            out["num_labels"] = self.num_labels
        out["architectures"] = self.architectures or [self.architecture]
        return out

    @classmethod
    def from_json_file(cls, path: str | Path) -> VJEPA2Config:
        data = read_config_json(path)
        try:
            return cls.from_dict(data)
        except ConfigError as err:
            raise ConfigError(f"{path}: {err}") from err

    def save(self, directory: str | Path) -> Path:
        """Write ``config.json`` into ``directory`` and return its path."""
        return write_config_json(self.to_dict(), directory)


def write_config_json(data: dict[str, Any], directory: str | Path) -> Path:
    """Write ``data`` as ``directory/config.json`` (atomically) and return its path."""
    path = Path(directory) / CONFIG_NAME
    path.parent.mkdir(parents=True, exist_ok=True)
    return write_text_atomic(path, json.dumps(data, indent=2, sort_keys=True) + "\n")


def read_config_json(path: str | Path) -> dict[str, Any]:
    """The JSON object of a ``config.json``; :class:`ConfigError` if it cannot be read."""
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ConfigError(f"cannot read config {path}: {err}") from err
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: a config is a JSON object, got {type(data).__name__}")
    return data


def _type_and_range_problems(config: VJEPA2Config) -> list[str]:
    problems = []
    for name, (low, high) in _INT_RANGES.items():
        value = getattr(config, name)
        if value is None and name in _OPTIONAL:
            continue
        if isinstance(value, bool) or not isinstance(value, int):
            problems.append(f"{name} must be an integer, got {value!r}")
        elif not low <= value <= high:
            problems.append(f"{name} = {value} is out of range ({low} to {high})")
    for name, (low, high, inclusive) in _FLOAT_RANGES.items():
        value = getattr(config, name)
        if value is None and name in _OPTIONAL:
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            problems.append(f"{name} must be a number, got {value!r}")
        elif not ((low <= value if inclusive else low < value) and value <= high):
            bracket = "[" if inclusive else "("
            problems.append(f"{name} = {value} is out of range {bracket}{low:g}, {high:g}]")
    for name in _BOOLS:
        if not isinstance(getattr(config, name), bool):
            problems.append(f"{name} must be true or false, got {getattr(config, name)!r}")
    if not isinstance(config.model_type, str) or not config.model_type:
        problems.append(f"model_type must be a name, got {config.model_type!r}")
    if not isinstance(config.hidden_act, str):
        problems.append(f"hidden_act must be a name, got {config.hidden_act!r}")
    return problems


def _level_problems(config: VJEPA2Config) -> list[str]:
    layers, depth = config.out_layers, config.num_hidden_layers
    if layers is None:
        return []
    if not isinstance(layers, list) or not layers:
        return [f"out_layers must be a non-empty list of block indices, got {layers!r}"]
    bad = [v for v in layers if isinstance(v, bool) or not isinstance(v, int)
           or not -depth <= v < depth]  # fmt: skip
    if bad:
        return [f"out_layers {layers}: {bad} not block indices of a {depth}-block encoder "
                f"(0 to {depth - 1}, or negative from the end)"]  # fmt: skip
    return []


def _task_problems(config: VJEPA2Config) -> list[str]:
    tasks = config.classifier_tasks
    if tasks is None:
        return []
    well_formed = isinstance(tasks, list) and tasks and all(
        isinstance(t, tuple) and len(t) == 2 and isinstance(t[0], str) and t[0].isidentifier()
        and isinstance(t[1], int) and not isinstance(t[1], bool) and t[1] > 0 for t in tasks
    )  # fmt: skip
    if not well_formed:
        return [f"classifier_tasks must be [name, class count] pairs, got {tasks!r}"]
    problems = []
    if config.id2label is not None:
        problems.append("a config has either id2label (one head) or classifier_tasks, not both")
    if config.classifier_num_queries != len(tasks):
        problems.append(f"classifier_tasks has {len(tasks)} tasks but classifier_num_queries is "
                        f"{config.classifier_num_queries} (one query per task)")  # fmt: skip
    return problems


def _is_classifier_architecture(architectures: list[str] | None) -> bool:
    return bool(architectures) and any("Classification" in a for a in architectures)


def _is_default_labels(id2label: dict | None) -> bool:
    return id2label is not None and {int(k): v for k, v in id2label.items()} == {
        0: "LABEL_0",
        1: "LABEL_1",
    }
