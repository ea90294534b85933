"""``vjepa2.load`` and ``vjepa2.save``: one entry point each for HF directories, Hub ids, presets
and original ``.pt`` files.

The model family comes from what the checkpoint holds (:mod:`vjepa2.weights.families`): an HF
directory's ``config.json``, an original file's parts. Loading is strict: a checkpoint whose keys
or shapes differ from the model raises :class:`CheckpointError` listing every unexpected, missing
and mis-shaped key, named as the file names them. The model is built on the ``meta`` device and
the checkpoint tensors are assigned into it, so nothing is initialised only to be overwritten.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

from vjepa2.config import ConfigError, VJEPA2Config
from vjepa2.errors import UsageError
from vjepa2.files import atomic_write
from vjepa2.models.levels import Levels, resolve_levels
from vjepa2.presets import DEMO_DIR, DEMO_NAME, PRESETS, UnknownPresetError, get_preset
from vjepa2.weights import hf, original
from vjepa2.weights.families import (
    ModelFamily,
    OwnFormat,
    build_model,
    family_for_config,
    family_for_original,
    own_format_for_checkpoint,
    own_format_for_dir,
    own_format_for_model,
)
from vjepa2.weights.keymaps import (
    IGNORED_ORIGINAL_KEYS,
    StateDict,
    from_hf,
    from_original,
    hf_name_to_ours,
    to_hf,
    to_original,
    unwrap,
)
from vjepa2.weights.strict import CheckpointError, CheckpointNotFoundError, check_keys, shapes_of


def _build_on_meta(config: VJEPA2Config, with_predictor: bool) -> nn.Module:
    with torch.device("meta"):
        return build_model(config, with_predictor=with_predictor)


def _is_predictor(name: str) -> bool:
    return ".predictor." in f".{name}"


def _assign(
    model: nn.Module, state_dict: StateDict, dtype: torch.dtype, device: str | torch.device
) -> nn.Module:
    state_dict = {
        k: v.to(device=device, dtype=dtype if v.is_floating_point() else v.dtype)
        for k, v in state_dict.items()
    }
    model.load_state_dict(state_dict, strict=True, assign=True)
    return model.eval()


def from_hf_state(
    family: ModelFamily,
    config: VJEPA2Config,
    state_dict: StateDict,
    source: str,
    dtype: torch.dtype = torch.float32,
    device: str | torch.device = "cpu",
) -> nn.Module:
    """The model of ``family`` holding an HF-named state dict, checked key by key in the
    file's names. A predictor is part of the model when the checkpoint has any of it."""
    if not family.keys.hf:
        raise CheckpointError(f"{source}: {family.name} models have no Hugging Face format")
    ours = {k: hf_name_to_ours(k, family.keys) for k in state_dict}
    model = _build_on_meta(config, any(_is_predictor(n) for n in ours.values() if n))
    expected = to_hf(model.state_dict(), family.keys)

    def describe(key: str) -> str:
        name = ours.get(key) or hf_name_to_ours(key, family.keys)
        return key if name in (None, key) else f"{key} (model: {name})"

    check_keys(shapes_of(expected), shapes_of(state_dict), source, describe)
    return _assign(model, from_hf(state_dict, family.keys), dtype, device)


def from_original_parts(
    family: ModelFamily,
    config: VJEPA2Config,
    parts: Mapping[str, StateDict],
    source: str,
    dtype: torch.dtype = torch.float32,
    device: str | torch.device = "cpu",
) -> nn.Module:
    """The model of ``family`` holding original state dicts by part, checked key by key; keys
    are shown as the file names them, ``part[key]``, with the model's name beside."""
    prefixes = family.keys.original
    found: dict[str, list[int]] = {}
    shown: dict[str, str] = {}
    for part, state in parts.items():
        if part not in prefixes:
            raise CheckpointError(f"{source}: {family.name} models have no {part!r} part")
        for key, value in state.items():
            if unwrap(key) not in IGNORED_ORIGINAL_KEYS:
                found[prefixes[part] + unwrap(key)] = list(value.shape)
                shown[prefixes[part] + unwrap(key)] = f"{part}[{key}]"

    def describe(name: str) -> str:
        if name not in shown:  # a missing key: named as this file would name it, unwrapped
            part = next(p for p, prefix in prefixes.items() if name.startswith(prefix))
            shown[name] = f"{part}[{name.removeprefix(prefixes[part])}]"
        return f"{shown[name]} (model: {name})"

    model = _build_on_meta(config, bool(parts.get("predictor")))
    check_keys(shapes_of(model.state_dict()), found, source, describe)
    return _assign(model, from_original(parts, family.keys), dtype, device)


def resolve_source(
    source: str | os.PathLike, revision: str | None = None, cache_dir: Any = None
) -> Path:
    """A local path for a file, directory, preset name or Hub id (downloading if needed)."""
    path = Path(source)
    if path.exists():
        return path
    name = str(source)
    if name == DEMO_NAME:
        if not (DEMO_DIR / "config.json").exists():
            raise CheckpointNotFoundError(
                f"the demo model is missing from this installation ({DEMO_DIR})"
            )
        return DEMO_DIR
    if name in PRESETS and not get_preset(name).hub_id:  # no Hub mirror (V-JEPA 2.1)
        return get_preset(name).find_file()
    if name in PRESETS:
        name = get_preset(name).hub_id
    if name.count("/") == 1 and not name.startswith((".", "/")):
        return hf.download(name, revision=revision, cache_dir=cache_dir)
    raise CheckpointNotFoundError(
        f"{source}: no such file or directory, and not a preset ({', '.join(PRESETS)}, "
        f"{DEMO_NAME}) or a Hub id (org/name)"
    )


def load(
    source: str | os.PathLike,
    *,
    checkpoint_key: str = "encoder",
    classifier: str | os.PathLike | None = None,
    classifier_heads: int | None = None,
    classifier_index: int = 0,
    id2label: Mapping[int, str] | None = None,
    layers: Levels | None = None,
    config: VJEPA2Config | None = None,
    preset: str | None = None,
    revision: str | None = None,
    cache_dir: str | os.PathLike | None = None,
    dtype: torch.dtype = torch.float32,
    device: str | torch.device = "cpu",
) -> nn.Module:
    """Load a V-JEPA 2 model.

    Args:
        source: an HF-format directory, a Hub id (``facebook/vjepa2-vitl-fpc64-256``), a preset
            name (``vitl``, ``vitl-ssv2``, ... see ``vjepa2 models``) or an original ``.pt``.
        checkpoint_key: for ``.pt`` files, which encoder: ``encoder`` (as the Hub and
            transformers) or ``target_encoder`` (the EMA teacher, as the original evals).
        classifier: an original probe ``.pt`` to put on top of a ``.pt`` encoder.
        classifier_heads: the probe's attention heads (default: those a file of ours stores,
            else 16, as every released probe).
        classifier_index: which of the probe file's ``classifiers`` to take.
        id2label: class names for an original probe (default ``LABEL_i``).
        layers: multi-level features: a count (``4``: the paper's four taps, ViT-L blocks
            17, 19, 21, 23 and ViT-g 24, 29, 34, 39) or block indices. A model then also
            returns ``level_hidden_states`` ``[B, L, N, D]`` (each block through the final
            norm); for a classifier they are what its probe reads (concatenated along the
            token axis), so they must match its probe: a released probe file's levels come
            from its name (Diving48: 4 levels), other probes read the last block unless told.
        config / preset: the architecture of a ``.pt`` file, when its file name and widths do
            not tell it.
        revision / cache_dir: Hub revision and cache (``HF_HUB_OFFLINE=1`` works as usual).
        dtype / device: where the weights go.

    Returns:
        The model of the checkpoint's family, in eval mode: :class:`VJEPA2Model`, or
        :class:`VJEPA2ForVideoClassification` when the checkpoint has a classifier.

    Raises:
        CheckpointError: a checkpoint that is missing, unreadable or does not match the model
            (every problem listed); ``ConfigError`` for an impossible architecture.
    """
    path = resolve_source(source, revision, cache_dir)
    own = own_format_of(path)
    if own is not None:
        if classifier is not None:
            raise CheckpointError(f"{path}: a {own.model_type} model takes no classifier=")
        if layers is not None:
            raise UsageError(
                f"{path}: layers= is for V-JEPA 2 models; a {own.model_type} model gives its "
                "levels itself (V-JEPA 2.1: model(x, hierarchical=True))"
            )
        if config is None and preset:
            config = get_preset(preset).config()
        return own.load(path, config=config, dtype=dtype, device=device)
    if path.is_dir():
        if classifier is not None:
            raise CheckpointError("classifier= combines with an original .pt encoder only")
        if not hf.is_hf_dir(path):
            raise CheckpointNotFoundError(
                f"{path}: no config.json (not a Hugging Face model directory)"
            )
        cfg, hf_state = hf.read_hf_dir(path)
        cfg = with_levels(config or _preset_levels(source, cfg), layers, str(path))
        return from_hf_state(family_for_config(cfg), cfg, hf_state, str(path), dtype, device)

    return _load_original(
        path, checkpoint_key, classifier, classifier_index, classifier_heads, id2label, layers,
        config, preset, dtype, device,
    )  # fmt: skip


def _load_original(
    path: Path, checkpoint_key: str, classifier: str | os.PathLike | None,
    classifier_index: int, classifier_heads: int | None, id2label: Mapping[int, str] | None,
    layers: Levels | None, config: VJEPA2Config | None, preset: str | None,
    dtype: torch.dtype, device: str | torch.device,
) -> nn.Module:  # fmt: skip
    """:func:`load` of an original ``.pt`` (and a probe file on top of it)."""
    checkpoint = original.read_checkpoint(path)
    parts = {"encoder": original.select_encoder(checkpoint, checkpoint_key, str(path))}
    if parts["encoder"] is not checkpoint:
        predictor = original.select_predictor(checkpoint, str(path))
        if predictor is not None:
            parts["predictor"] = predictor
    probe_file: dict[str, Any] = {}
    if classifier is not None:
        probe_file = original.read_checkpoint(classifier)
        parts["classifier"] = original.select_classifier(
            probe_file, classifier_index, str(classifier)
        )
    source_name = f"{path} [{checkpoint_key}]" + (f" + {classifier}" if classifier else "")
    cfg = _original_config(checkpoint, parts, path.name, config, preset, source_name)
    probe_levels = None
    if classifier is not None:
        probe_levels = original.probe_levels(probe_file, Path(classifier).name)
        cfg = _with_probe(cfg, parts, probe_file, probe_levels, classifier_heads, source_name,
                          str(classifier))  # fmt: skip
        if id2label is not None:
            cfg = cfg.replace(id2label=dict(id2label))
    elif cfg.is_classifier or cfg.classifier_tasks:
        cfg = cfg.replace(id2label=None, classifier_tasks=None, classifier_num_queries=1)
    cfg = with_levels(cfg, layers, source_name, probe_levels is not original.UNKNOWN_LEVELS)
    return from_original_parts(family_for_config(cfg), cfg, parts, source_name, dtype, device)


def _with_probe(
    cfg: VJEPA2Config,
    parts: Mapping[str, StateDict],
    probe_file: dict[str, Any],
    levels: Any,
    heads: int | None,
    source: str,
    probe: str,
) -> VJEPA2Config:
    """``cfg`` with the head of a probe file (one linear head, or per-task heads: the
    anticipation probe, which needs the predictor) and the levels it reads; its heads as
    given, else as a file of ours stores them, else 16 (every released probe)."""
    settings = original.classifier_settings(parts["classifier"], heads or 16)
    width = original.probe_width(parts["classifier"])
    if width != cfg.hidden_size:
        raise CheckpointError(
            f"{probe}: a probe of {width}-wide tokens cannot read a {cfg.hidden_size}-wide "
            f"encoder ({source}); it belongs to another model size"
        )
    if heads is None:
        settings.update(original.stored_probe_settings(probe_file))
    if settings["classifier_tasks"] and "predictor" not in parts:
        tasks = ", ".join(t for t, _ in settings["classifier_tasks"])
        raise CheckpointError(
            f"{probe}: an action-anticipation probe ({tasks} heads) reads encoder and "
            f"predictor tokens, and {source} holds no predictor"
        )
    layers = None if levels is original.UNKNOWN_LEVELS else levels
    try:
        return cfg.replace(**settings, out_layers=layers)
    except ConfigError as err:
        raise CheckpointError(
            f"{probe}: this probe reads encoder blocks {layers}, which a "
            f"{cfg.num_hidden_layers}-block encoder does not have"
        ) from err


def _preset_levels(source: str | os.PathLike, cfg: VJEPA2Config) -> VJEPA2Config:
    """A released classifier whose probe reads several blocks (the Diving48 presets): its Hub
    config.json does not say so, the preset does (``out_layers``)."""
    try:
        layers = get_preset(str(source)).overrides.get("out_layers")
    except UnknownPresetError:
        return cfg
    if layers and cfg.is_classifier and not cfg.out_layers:
        return cfg.replace(out_layers=list(layers))
    return cfg


def with_levels(
    cfg: VJEPA2Config, layers: Levels | None, source: str, probe_known: bool = True
) -> VJEPA2Config:
    """``cfg`` giving the levels ``layers`` asks for (unchanged for None). A classifier's
    levels are its probe's input: where the file tells them (``probe_known``), asking for others
    is a :class:`CheckpointError`; where it does not, ``layers`` says what the probe reads."""
    if layers is None:
        return cfg
    blocks = list(resolve_levels(cfg, layers))
    if cfg.classifier_tasks:
        raise CheckpointError(
            f"{source}: the anticipation probe reads the last block and the predictor; it "
            f"takes no layers= (asked for blocks {blocks})"
        )
    if cfg.is_classifier and probe_known:
        depth = cfg.num_hidden_layers
        reads = [v % depth for v in cfg.out_layers or [depth - 1]]
        if reads != blocks:
            raise CheckpointError(
                f"{source}: this classifier's probe reads encoder blocks {reads}; layers= asks "
                f"for blocks {blocks}, which would feed it other tokens"
            )
        return cfg
    return cfg.replace(out_layers=blocks)


def own_format_of(path: Path) -> OwnFormat | None:
    """The own-format family (V-JEPA 2-AC, 2.1) of a local file or folder, if it is one."""
    return own_format_for_dir(path) if path.is_dir() else own_format_for_checkpoint(_peek(path))


def _peek(path: Path) -> Mapping[str, Any]:
    """The top level of a ``.pt`` without reading its tensors (memory-mapped), to tell its
    family; an empty dict when it cannot be mapped (the full read then reports why)."""
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except Exception:  # an old-format, torn or foreign file: the full read names the problem
        return {}
    return checkpoint if isinstance(checkpoint, dict) else {}


def _original_config(
    checkpoint: dict[str, Any],
    parts: Mapping[str, StateDict],
    filename: str,
    config: VJEPA2Config | None,
    preset: str | None,
    source: str,
) -> VJEPA2Config:
    """The architecture of an original file: given, a preset, stored by our pretraining or
    :func:`save_original`, or else inferred for the family its parts show (by default from the
    released file name, then the weight shapes)."""
    if config is not None:
        return config
    if preset:
        return get_preset(preset).config()
    if isinstance(checkpoint.get("config"), dict):
        return VJEPA2Config.from_dict(checkpoint["config"])
    keys = {part: {unwrap(k) for k in state} for part, state in parts.items()}
    family = family_for_original(keys, source)
    if family.infer_config is not None:
        return family.infer_config(parts, filename)
    inferred = original.infer_config(parts["encoder"], parts.get("predictor"), filename)
    return inferred.replace(model_type=family.model_type)


def save_original(model: nn.Module, path: str | os.PathLike) -> Path:
    """Write ``model`` in the original layout: ``{"encoder", "predictor", "classifiers"}``.

    The encoder is also written as ``target_encoder`` so evaluation code that reads the EMA
    teacher finds it, and the architecture as ``config`` (original code ignores the extra key;
    :func:`load` uses it, so the file needs no ``config=``). Written atomically.
    """
    keys = family_for_config(model.config).keys
    parts = to_original({k: v.detach().cpu() for k, v in model.state_dict().items()}, keys)
    checkpoint: dict[str, Any] = {
        "encoder": parts["encoder"],
        "target_encoder": parts["encoder"],
        "config": model.config.replace(id2label=None).to_dict(),
    }
    if "predictor" in parts:
        checkpoint["predictor"] = parts["predictor"]
    if "classifier" in parts:
        checkpoint["classifiers"] = [parts["classifier"]]
    path = Path(path)
    with atomic_write(path) as tmp:
        torch.save(checkpoint, tmp)
    return path


def save(model: nn.Module, path: str | os.PathLike, max_shard_size: str = "5GB") -> Path:
    """Write ``model``: a ``.pt`` / ``.pth`` path gets the original layout
    (:func:`save_original`), anything else is a folder in the Hugging Face format (loads in
    transformers; sharded above ``max_shard_size``). An existing model there is replaced only
    once the new one is completely written."""
    path = Path(path)
    own = own_format_for_model(model)
    if own is not None:
        return own.save(model, path)
    if path.suffix in (".pt", ".pth"):
        return save_original(model, path)
    return hf.save_pretrained(model, path, max_shard_size=max_shard_size)
