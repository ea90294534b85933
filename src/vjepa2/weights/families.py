"""The registry of model families: which class a config builds, how its checkpoints are named,
and how a checkpoint shows which family it holds.

A family is a :class:`ModelFamily`: its name, the ``model_type`` of its configs, whether it is
the classifier of that ``model_type``, its model class, its :class:`~vjepa2.weights.keymaps.KeyMap`
and a test on an original checkpoint's keys. :func:`vjepa2.load` takes the family from the
config a checkpoint holds (an HF folder's ``config.json``: ``model_type``, and labels for a
classifier; the ``config`` our ``.pt`` files carry), and for an original ``.pt`` without one from
the parts and keys it holds; :func:`build_model` builds the family of a config.

Adding a family takes a model class exposing ``.encoder``, a key map and one call, e.g. for
the action-conditioned predictor (its own config class, always with its predictor)::

    from vjepa2.weights.families import ModelFamily, register
    from vjepa2.weights.keymaps import KeyMap

    AC_KEYS = KeyMap(hf=(), original={"encoder": "encoder.", "predictor": "predictor."})
    register(ModelFamily(
        name="vjepa2_ac", model_type="vjepa2_ac", model_class=VJEPA2ACModel, keys=AC_KEYS,
        holds=lambda parts: "action_encoder.weight" in parts.get("predictor", ()),
        config_class=VJEPA2ACConfig, optional_predictor=False,
    ))

Families registered later are tried first, so a specific test (an AC predictor's
``action_encoder``) wins over the general one (any encoder). A family without Hugging Face rules
(``hf=()``) loads from and saves to original ``.pt`` files only.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from torch import nn

from vjepa2.config import CONFIG_NAME, ConfigError, VJEPA2Config, read_config_json
from vjepa2.models.model import (
    VJEPA2ForActionAnticipation,
    VJEPA2ForVideoClassification,
    VJEPA2Model,
)
from vjepa2.weights.keymaps import (
    ANTICIPATION_KEYS,
    CLASSIFIER_KEYS,
    VJEPA2_KEYS,
    KeyMap,
    StateDict,
)
from vjepa2.weights.strict import CheckpointError

# Keys of an original checkpoint by part ("encoder", "predictor", "classifier"), wrappers
# stripped: what a family's ``holds`` test looks at.
OriginalKeys = Mapping[str, Collection[str]]


@dataclass(frozen=True)
class ModelFamily:
    """One kind of model: its class, its key map, and how its checkpoints are recognised.

    Attributes:
        name: the registry name (``vjepa2``, ``vjepa2_classifier``, ...).
        model_type: the ``model_type`` of its configs (the network family in config.json).
        model_class: built as ``model_class(config, with_predictor=...)``; has ``.encoder``.
        keys: its checkpoint names in each format.
        holds: whether an original checkpoint (its keys by part) is of this family.
        classifier: True for the classifier of ``model_type`` (configs with ``id2label``).
        infer_config: the architecture of an original file that stores no config, from its
            state dicts by part and its file name; None: V-JEPA 2's rule (the released file
            name, else the weight shapes).
        config_class: what its config.json is read into (``from_dict``; has ``model_type``).
        optional_predictor: built as ``model_class(config, with_predictor=...)`` (a checkpoint
            without predictor weights gives a model without one); False: ``model_class(config)``.
        accepts: a further test on a config of its ``model_type`` (None: every config), e.g.
            the anticipation probe's ``classifier_tasks``.
    """

    name: str
    model_type: str
    model_class: Callable[..., nn.Module]
    keys: KeyMap
    holds: Callable[[OriginalKeys], bool]
    classifier: bool = False
    infer_config: Callable[[Mapping[str, StateDict], str], Any] | None = None
    config_class: Any = VJEPA2Config
    optional_predictor: bool = True
    accepts: Callable[[Any], bool] | None = None


_FAMILIES: dict[str, ModelFamily] = {}


def register(family: ModelFamily) -> ModelFamily:
    """Add (or replace) a family; later registrations are tried first when detecting."""
    _FAMILIES.pop(family.name, None)
    _FAMILIES[family.name] = family
    return family


def families() -> list[ModelFamily]:
    """The registered families, the most recently registered first."""
    return list(reversed(_FAMILIES.values()))


def family_for_config(config: Any) -> ModelFamily:
    """The family a config describes: its ``model_type``, classifier or not."""
    model_type = getattr(config, "model_type", None)
    classifier = getattr(config, "is_classifier", False)
    for family in families():
        if (
            family.model_type == model_type
            and family.classifier == classifier
            and (family.accepts is None or family.accepts(config))
        ):
            return family
    known = sorted({f.model_type for f in _FAMILIES.values()})
    head = "classifier" if classifier else "model"
    raise CheckpointError(
        f"no {head} of model_type {model_type!r} is known (known model types: {', '.join(known)})"
    )


def read_config(path: str | os.PathLike) -> Any:
    """A ``config.json`` read into the config class of its ``model_type``'s family."""
    data = read_config_json(path)
    model_type = data.get("model_type", "vjepa2")
    own = _OWN_FORMATS.get(model_type)
    config_class = (
        own.config_class
        if own
        else next((f.config_class for f in families() if f.model_type == model_type), VJEPA2Config)
    )
    try:
        return config_class.from_dict(data)
    except ConfigError as err:
        raise ConfigError(f"{path}: {err}") from err


def family_for_original(keys: OriginalKeys, source: str) -> ModelFamily:
    """The family of an original checkpoint, from the keys its parts hold."""
    for family in families():
        if family.holds(keys):
            return family
    raise CheckpointError(
        f"{source}: no known model family holds these parts ({', '.join(sorted(keys))})"
    )


@dataclass(frozen=True)
class OwnFormat:
    """A family read and written by functions of its own (its own config class and layouts):
    V-JEPA 2-AC (``weights/ac.py``; the world model's loader replaces ``load`` when
    ``vjepa2.world_model`` is imported) and V-JEPA 2.1 (``weights/vjepa2_1.py``).

    Attributes:
        model_type: the ``model_type`` its ``config.json`` carries.
        holds: whether the content of a ``.pt`` (the dict ``torch.load`` returns) is its.
        load: ``load(path, config=..., dtype=..., device=...)`` -> the model.
        model_class / config_class: what it builds and what its ``config.json`` is read into.
        save: ``save(model, path)``: Meta's layout for a ``.pt`` / ``.pth`` path, our folder
            format otherwise.
        convert: ``convert(src, out, config)``: a file or folder to the other format, the
            checkpoint's dtypes kept (``vjepa2 convert``).
    """

    model_type: str
    holds: Callable[[Mapping[str, Any]], bool]
    load: Callable[..., nn.Module]
    model_class: type
    config_class: Any
    save: Callable[[nn.Module, Path], Path]
    convert: Callable[[Path, Path, Any], Path]


_OWN_FORMATS: dict[str, OwnFormat] = {}


def register_own_format(own: OwnFormat) -> OwnFormat:
    """Add (or replace) a family with its own loader; :func:`vjepa2.load` tries these first."""
    _OWN_FORMATS[own.model_type] = own
    return own


def own_format_for_dir(path: str | os.PathLike) -> OwnFormat | None:
    """The own-format family of a model folder, from its ``config.json``'s ``model_type``."""
    config = Path(path) / CONFIG_NAME
    if not config.is_file():
        return None
    return _OWN_FORMATS.get(read_config_json(config).get("model_type", ""))


def own_format_for_model(model: nn.Module) -> OwnFormat | None:
    """The own-format family a model instance belongs to, if any."""
    return next((o for o in _OWN_FORMATS.values() if isinstance(model, o.model_class)), None)


def own_format_for_checkpoint(checkpoint: Mapping[str, Any]) -> OwnFormat | None:
    """The own-format family whose test the content of a ``.pt`` passes, if any."""
    return next((own for own in _OWN_FORMATS.values() if own.holds(checkpoint)), None)


def build_model(config: Any, with_predictor: bool = True) -> nn.Module:
    """The model the config describes (a classifier when it has labels), freshly initialised
    by PyTorch's defaults (``reset_parameters()`` gives the training init)."""
    family = family_for_config(config)
    if family.optional_predictor:
        return family.model_class(config, with_predictor=with_predictor)
    return family.model_class(config)


register(
    ModelFamily(
        name="vjepa2",
        model_type="vjepa2",
        model_class=VJEPA2Model,
        keys=VJEPA2_KEYS,
        holds=lambda keys: (
            "patch_embed.proj.weight" in keys.get("encoder", ()) and "classifier" not in keys
        ),
    )
)
register(
    ModelFamily(
        name="vjepa2_classifier",
        model_type="vjepa2",
        model_class=VJEPA2ForVideoClassification,
        keys=CLASSIFIER_KEYS,
        holds=lambda keys: (
            "patch_embed.proj.weight" in keys.get("encoder", ())
            and "linear.weight" in keys.get("classifier", ())
        ),
        classifier=True,
    )
)
register(
    ModelFamily(
        name="vjepa2_anticipation",
        model_type="vjepa2",
        model_class=VJEPA2ForActionAnticipation,
        keys=ANTICIPATION_KEYS,
        holds=lambda keys: (
            "patch_embed.proj.weight" in keys.get("encoder", ())
            and any(k.endswith("_classifier.weight") for k in keys.get("classifier", ()))
        ),
        accepts=lambda config: bool(getattr(config, "classifier_tasks", None)),
    )
)
