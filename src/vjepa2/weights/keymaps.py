"""Explicit key maps between our state dicts, the original checkpoints and the Hugging Face format.

One :class:`KeyMap` per model family (:data:`VJEPA2_KEYS`, :data:`CLASSIFIER_KEYS`), used in both
directions. Our module names follow the original code, so an original checkpoint maps onto ours by
stripping its ``module.`` / ``backbone.`` wrappers and prefixing each part (``encoder``,
``predictor``, ``classifier``) with where it lives in our model. The Hugging Face format renames
modules, splits the fused ``qkv`` (and the probe's ``kv``) into separate projections and stacks the
predictor's mask tokens; the rule tables below spell every rule out.

Our top-level names: ``encoder.*`` and ``predictor.*`` for :class:`VJEPA2Model`;
``backbone.encoder.*``, ``backbone.predictor.*`` and ``head.*`` for the classifier.
"""

from __future__ import annotations

import functools
import re
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import torch

from vjepa2.weights.strict import CheckpointError

StateDict = dict[str, torch.Tensor]

# Keys of original checkpoints that V-JEPA 2 does not use (sincos tables unused with RoPE).
IGNORED_ORIGINAL_KEYS = ("pos_embed", "predictor_pos_embed")

_BLOCK_PARTS = r"norm1|norm2|mlp\.fc1|mlp\.fc2"


@dataclass(frozen=True)
class Rule:
    """``ours`` <-> ``hf``. Several HF names: the tensor is split along dim 0 in that order.
    ``stacked``: our ``{m}``-indexed tensors are stacked into one HF tensor."""

    ours: str
    hf: tuple[str, ...]
    stacked: bool = False


def _rule(ours: str, *hf: str, stacked: bool = False) -> Rule:
    return Rule(ours, hf, stacked)


def _blocks(ours_prefix: str, hf_prefix: str, attn: str, names: tuple[str, str, str, str]) -> list:
    q, k, v, proj = names
    return [
        _rule(f"{ours_prefix}.{{i}}.attn.qkv.{{p}}",
              *(f"{hf_prefix}.{{i}}.{attn}.{n}.{{p}}" for n in (q, k, v))),
        _rule(f"{ours_prefix}.{{i}}.attn.proj.{{p}}", f"{hf_prefix}.{{i}}.{attn}.{proj}.{{p}}"),
    ]  # fmt: skip


VJEPA2_RULES: list[Rule] = [
    _rule("encoder.patch_embed.proj.{p}", "encoder.embeddings.patch_embeddings.proj.{p}"),
    *_blocks("encoder.blocks", "encoder.layer", "attention", ("query", "key", "value", "proj")),
    _rule("encoder.blocks.{i}.{part}.{p}", "encoder.layer.{i}.{part}.{p}"),
    _rule("encoder.norm.{p}", "encoder.layernorm.{p}"),
    _rule("predictor.predictor_embed.{p}", "predictor.embeddings.predictor_embeddings.{p}"),
    _rule("predictor.mask_tokens.{m}", "predictor.embeddings.mask_tokens", stacked=True),
    *_blocks("predictor.predictor_blocks", "predictor.layer", "attention",
             ("query", "key", "value", "proj")),
    _rule("predictor.predictor_blocks.{i}.{part}.{p}", "predictor.layer.{i}.{part}.{p}"),
    _rule("predictor.predictor_norm.{p}", "predictor.layernorm.{p}"),
    _rule("predictor.predictor_proj.{p}", "predictor.proj.{p}"),
]  # fmt: skip

HEAD_RULES: list[Rule] = [
    _rule("head.pooler.query_tokens", "pooler.query_tokens"),
    *_blocks("head.pooler.blocks", "pooler.self_attention_layers", "self_attn",
             ("q_proj", "k_proj", "v_proj", "out_proj")),
    _rule("head.pooler.blocks.{i}.norm{n}.{p}",
          "pooler.self_attention_layers.{i}.layer_norm{n}.{p}"),
    _rule("head.pooler.blocks.{i}.mlp.{fc}.{p}", "pooler.self_attention_layers.{i}.mlp.{fc}.{p}"),
    _rule("head.pooler.cross_attention_block.norm{n}.{p}",
          "pooler.cross_attention_layer.layer_norm{n}.{p}"),
    _rule("head.pooler.cross_attention_block.xattn.q.{p}",
          "pooler.cross_attention_layer.cross_attn.q_proj.{p}"),
    _rule("head.pooler.cross_attention_block.xattn.kv.{p}",
          "pooler.cross_attention_layer.cross_attn.k_proj.{p}",
          "pooler.cross_attention_layer.cross_attn.v_proj.{p}"),
    _rule("head.pooler.cross_attention_block.mlp.{fc}.{p}",
          "pooler.cross_attention_layer.mlp.{fc}.{p}"),
    _rule("head.linear.{p}", "classifier.{p}"),
]  # fmt: skip

CLASSIFIER_RULES: list[Rule] = [
    Rule("backbone." + r.ours, tuple("vjepa2." + h for h in r.hf), r.stacked) for r in VJEPA2_RULES
] + HEAD_RULES

# The action-anticipation probe: the same pooler, one ``{task}_classifier`` per task (no HF
# model has it; these names keep our folder format in transformers' style).
ANTICIPATION_RULES: list[Rule] = [
    *CLASSIFIER_RULES[:-1],
    _rule("head.{task}_classifier.{p}", "{task}_classifier.{p}"),
]

# The prefix every key of an original state dict carries (DDP and MultiSeqWrapper), by part.
ORIGINAL_WRAPPERS = {
    "encoder": "module.backbone.",
    "predictor": "module.backbone.",
    "classifier": "module.",
}


@dataclass(frozen=True)
class KeyMap:
    """How one model family's state dict is named in the checkpoint formats.

    Attributes:
        hf: rules ours <-> Hugging Face names (empty: the family has no HF format).
        original: part of an original checkpoint (``encoder``, ``predictor``, ``classifier``)
            -> the prefix of its keys in our state dict.
    """

    hf: tuple[Rule, ...]
    original: Mapping[str, str] = field(default_factory=dict)


VJEPA2_KEYS = KeyMap(
    hf=tuple(VJEPA2_RULES), original={"encoder": "encoder.", "predictor": "predictor."}
)
_HEADED_PARTS = {
    "encoder": "backbone.encoder.",
    "predictor": "backbone.predictor.",
    "classifier": "head.",
}
CLASSIFIER_KEYS = KeyMap(hf=tuple(CLASSIFIER_RULES), original=_HEADED_PARTS)
ANTICIPATION_KEYS = KeyMap(hf=tuple(ANTICIPATION_RULES), original=_HEADED_PARTS)

_FIELDS = {
    "i": r"\d+",
    "m": r"\d+",
    "n": r"[12]",
    "p": r"weight|bias",
    "fc": r"fc1|fc2",
    "part": _BLOCK_PARTS,
    "task": r"[a-z][a-z0-9_]*",
}


@functools.cache
def _pattern(template: str) -> re.Pattern:
    regex = re.escape(template)
    for name, body in _FIELDS.items():
        regex = regex.replace(re.escape("{" + name + "}"), f"(?P<{name}>{body})")
    return re.compile(regex)


def _match(key: str, templates: tuple[str, ...]) -> tuple[int, dict[str, str]] | None:
    for j, template in enumerate(templates):
        found = _pattern(template).fullmatch(key)
        if found:
            return j, found.groupdict()
    return None


def _apply_ours(key: str, rules: Sequence[Rule]) -> tuple[Rule, dict[str, str]] | None:
    for rule in rules:
        hit = _match(key, (rule.ours,))
        if hit is not None:
            return rule, hit[1]
    return None


def _apply_hf(key: str, rules: Sequence[Rule]) -> tuple[Rule, int, dict[str, str]] | None:
    for rule in rules:
        hit = _match(key, rule.hf)
        if hit is not None:
            return rule, hit[0], hit[1]
    return None


def hf_name_to_ours(key: str, keys: KeyMap) -> str | None:
    """The parameter of ours a Hugging Face key feeds (``None`` when no rule maps it)."""
    hit = _apply_hf(key, keys.hf)
    if hit is None:
        return None
    rule, _, fields = hit
    return rule.ours.format(**fields, m="*") if rule.stacked else rule.ours.format(**fields)


def to_hf(state_dict: StateDict, keys: KeyMap) -> StateDict:
    """Our state dict -> Hugging Face names (qkv split, mask tokens stacked)."""
    out: StateDict = {}
    stacks: dict[str, dict[int, torch.Tensor]] = defaultdict(dict)
    unmapped = []
    for key, value in state_dict.items():
        hit = _apply_ours(key, keys.hf)
        if hit is None:
            unmapped.append(key)
            continue
        rule, fields = hit
        if rule.stacked:
            stacks[rule.hf[0].format(**fields)][int(fields["m"])] = value
        else:
            for name, part in zip(rule.hf, value.chunk(len(rule.hf), dim=0), strict=True):
                out[name.format(**fields)] = part.clone() if len(rule.hf) > 1 else part
    if unmapped:
        raise CheckpointError(f"no Hugging Face name for: {', '.join(unmapped)}")
    for name, parts in stacks.items():
        out[name] = torch.stack([parts[m] for m in sorted(parts)])
    return out


def from_hf(state_dict: StateDict, keys: KeyMap) -> StateDict:
    """Hugging Face names -> ours (q/k/v fused, mask tokens unstacked).

    Raises :class:`CheckpointError` listing every key no rule maps and every fused projection
    with a part missing.
    """
    out: StateDict = {}
    fused: dict[str, dict[int, torch.Tensor]] = defaultdict(dict)
    sizes: dict[str, int] = {}
    unmapped = []
    for key, value in state_dict.items():
        hit = _apply_hf(key, keys.hf)
        if hit is None:
            unmapped.append(key)
            continue
        rule, j, fields = hit
        if rule.stacked:
            for m, token in enumerate(value):
                out[rule.ours.format(**fields, m=m)] = token
        elif len(rule.hf) == 1:
            out[rule.ours.format(**fields)] = value
        else:
            name = rule.ours.format(**fields)
            fused[name][j] = value
            sizes[name] = len(rule.hf)
    problems = []
    if unmapped:
        problems.append(f"unexpected keys (no rule maps them): {', '.join(sorted(unmapped))}")
    incomplete = sorted(n for n, parts in fused.items() if len(parts) != sizes[n])
    if incomplete:
        problems.append(f"missing parts of fused projections: {', '.join(incomplete)}")
    if problems:
        raise CheckpointError("; ".join(problems))
    for name, parts in fused.items():
        out[name] = torch.cat([parts[j] for j in range(sizes[name])], dim=0)
    return out


def strip_wrappers(state_dict: StateDict) -> StateDict:
    """Remove DDP / MultiSeqWrapper prefixes (``module.``, ``backbone.``) from every key."""
    return {unwrap(key): value for key, value in state_dict.items()}


def unwrap(key: str) -> str:
    """A key without its ``module.`` / ``backbone.`` wrappers."""
    while key.startswith(("module.", "backbone.")):
        key = key.split(".", 1)[1]
    return key


def from_original(parts: Mapping[str, StateDict | None], keys: KeyMap) -> StateDict:
    """Original state dicts by part (``encoder``, ``predictor``, ``classifier``) -> one state
    dict of ours. Keys in :data:`IGNORED_ORIGINAL_KEYS` are dropped; everything else must match
    the model."""
    out: StateDict = {}
    for part, state in parts.items():
        if part not in keys.original:
            raise CheckpointError(f"this model family has no {part!r} part")
        for key, value in strip_wrappers(state or {}).items():
            if key not in IGNORED_ORIGINAL_KEYS:
                out[keys.original[part] + key] = value
    return out


def to_original(state_dict: StateDict, keys: KeyMap) -> dict[str, StateDict]:
    """One state dict of ours -> ``{"encoder", "predictor", "classifier"}`` in the original
    layout (``module.backbone.`` on encoder and predictor keys, ``module.`` on probe keys)."""
    parts: dict[str, StateDict] = defaultdict(dict)
    for key, value in state_dict.items():
        part = next((p for p, prefix in keys.original.items() if key.startswith(prefix)), None)
        if part is None:
            raise CheckpointError(f"{key}: no part of the original layout holds it")
        rest = key.removeprefix(keys.original[part])
        parts[part][ORIGINAL_WRAPPERS[part] + rest] = value
    return dict(parts)
