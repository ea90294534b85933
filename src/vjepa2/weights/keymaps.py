"""Explicit key maps between our state dicts, the original checkpoints and the Hugging Face format.

Our module names follow the original code, so an original checkpoint maps onto ours by stripping
its ``module.`` / ``backbone.`` wrappers. The Hugging Face format renames modules, splits the fused
``qkv`` (and the probe's ``kv``) into separate projections and stacks the predictor's mask tokens;
the table below spells every rule out, both directions are derived from it.

Our top-level names: ``encoder.*`` and ``predictor.*`` for :class:`VJEPA2Model`;
``backbone.encoder.*``, ``backbone.predictor.*`` and ``head.*`` for the classifier.
"""

from __future__ import annotations

import functools
import re
from collections import defaultdict
from dataclasses import dataclass

import torch

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


MODEL_RULES: list[Rule] = [
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

_CLASSIFIER_RULES: list[Rule] = [
    Rule("backbone." + r.ours, tuple("vjepa2." + h for h in r.hf), r.stacked) for r in MODEL_RULES
] + HEAD_RULES

_FIELDS = {
    "i": r"\d+",
    "m": r"\d+",
    "n": r"[12]",
    "p": r"weight|bias",
    "fc": r"fc1|fc2",
    "part": _BLOCK_PARTS,
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


class KeyMapError(ValueError):
    """State-dict keys that no rule maps."""


def to_hf(state_dict: StateDict, classifier: bool) -> StateDict:
    """Our state dict -> Hugging Face names (qkv split, mask tokens stacked)."""
    rules = _CLASSIFIER_RULES if classifier else MODEL_RULES
    out: StateDict = {}
    stacks: dict[str, dict[int, torch.Tensor]] = defaultdict(dict)
    unmapped = []
    for key, value in state_dict.items():
        for rule in rules:
            hit = _match(key, (rule.ours,))
            if hit is None:
                continue
            fields = hit[1]
            if rule.stacked:
                stacks[rule.hf[0].format(**fields)][int(fields["m"])] = value
            else:
                for name, part in zip(rule.hf, value.chunk(len(rule.hf), dim=0), strict=True):
                    out[name.format(**fields)] = part.clone() if len(rule.hf) > 1 else part
            break
        else:
            unmapped.append(key)
    if unmapped:
        raise KeyMapError(f"no Hugging Face name for: {', '.join(unmapped)}")
    for name, parts in stacks.items():
        out[name] = torch.stack([parts[m] for m in sorted(parts)])
    return out


def from_hf(state_dict: StateDict, classifier: bool) -> StateDict:
    """Hugging Face names -> ours (q/k/v fused, mask tokens unstacked)."""
    rules = _CLASSIFIER_RULES if classifier else MODEL_RULES
    out: StateDict = {}
    fused: dict[str, dict[int, torch.Tensor]] = defaultdict(dict)
    sizes: dict[str, int] = {}
    unmapped = []
    for key, value in state_dict.items():
        for rule in rules:
            hit = _match(key, rule.hf)
            if hit is None:
                continue
            j, fields = hit
            if rule.stacked:
                for m, token in enumerate(value):
                    out[rule.ours.format(**fields, m=m)] = token
            elif len(rule.hf) == 1:
                out[rule.ours.format(**fields)] = value
            else:
                name = rule.ours.format(**fields)
                fused[name][j] = value
                sizes[name] = len(rule.hf)
            break
        else:
            unmapped.append(key)
    if unmapped:
        raise KeyMapError(f"unexpected keys (no rule maps them): {', '.join(unmapped)}")
    incomplete = [n for n, parts in fused.items() if len(parts) != sizes[n]]
    if incomplete:
        raise KeyMapError(f"missing parts of fused projections: {', '.join(incomplete)}")
    for name, parts in fused.items():
        out[name] = torch.cat([parts[j] for j in range(sizes[name])], dim=0)
    return out


def strip_wrappers(state_dict: StateDict) -> StateDict:
    """Remove DDP / MultiSeqWrapper prefixes (``module.``, ``backbone.``) from every key."""
    out = {}
    for key, value in state_dict.items():
        while key.startswith(("module.", "backbone.")):
            key = key.split(".", 1)[1]
        out[key] = value
    return out


def from_original(
    encoder: StateDict,
    predictor: StateDict | None = None,
    classifier: StateDict | None = None,
) -> StateDict:
    """Original encoder / predictor / probe state dicts -> one state dict of ours.

    Keys in :data:`IGNORED_ORIGINAL_KEYS` are dropped; everything else must match the model.
    """
    prefix = "backbone." if classifier is not None else ""
    out: StateDict = {}
    for name, part in (("encoder", encoder), ("predictor", predictor)):
        for key, value in strip_wrappers(part or {}).items():
            if key not in IGNORED_ORIGINAL_KEYS:
                out[f"{prefix}{name}.{key}"] = value
    for key, value in strip_wrappers(classifier or {}).items():
        out[f"head.{key}"] = value
    return out


def to_original(state_dict: StateDict) -> dict[str, StateDict]:
    """One state dict of ours -> ``{"encoder", "predictor", "classifier"}`` in the original layout
    (``module.backbone.`` on encoder and predictor keys, ``module.`` on probe keys)."""
    parts: dict[str, StateDict] = defaultdict(dict)
    for key, value in state_dict.items():
        key = key.removeprefix("backbone.")
        name, rest = key.split(".", 1)
        if name == "head":
            parts["classifier"]["module." + rest] = value
        else:
            parts[name]["module.backbone." + rest] = value
    return dict(parts)
