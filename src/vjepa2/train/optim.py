"""Optimiser pieces shared by probe training and pretraining: parameter groups and schedules."""

from __future__ import annotations

import math
from collections.abc import Iterable

import torch
from torch import nn


def param_groups(
    modules: Iterable[nn.Module], weight_decay: float, lr_scale: float = 1.0
) -> list[dict]:
    """Two groups: weights with ``weight_decay``; biases and other 1-D parameters (norms,
    scalar gains) without, as the original recipe does."""
    decay, no_decay = [], []
    for module in modules:
        for param in module.parameters():
            if not param.requires_grad:
                continue
            (no_decay if param.ndim <= 1 else decay).append(param)
    groups = [
        {"params": decay, "weight_decay": weight_decay, "lr_scale": lr_scale},
        {"params": no_decay, "weight_decay": 0.0, "lr_scale": lr_scale, "no_decay": True},
    ]
    return [g for g in groups if g["params"]]


def warmup_cosine(
    step: int, warmup: int, total: int, ref: float, start: float = 0.0, final: float = 0.0
) -> float:
    """Linear warmup from ``start`` to ``ref`` over ``warmup`` steps, then cosine to ``final``
    at ``total`` (``final == ref`` gives warmup-then-constant)."""
    if step < warmup:
        return start + (ref - start) * step / max(1, warmup)
    progress = min(1.0, (step - warmup) / max(1, total - warmup))
    return final + (ref - final) * 0.5 * (1.0 + math.cos(math.pi * progress))


def linear(step: int, total: int, start: float, end: float) -> float:
    """Linear from ``start`` at step 0 to ``end`` at ``total`` (held after)."""
    return start + (end - start) * min(1.0, step / max(1, total))


def set_lr(optimizer: torch.optim.Optimizer, lr: float, weight_decay: float | None = None) -> None:
    """Apply ``lr`` (times each group's ``lr_scale``) and, if given, the weight decay of the
    groups that decay."""
    for group in optimizer.param_groups:
        group["lr"] = lr * group.get("lr_scale", 1.0)
        if weight_decay is not None and not group.get("no_decay"):
            group["weight_decay"] = weight_decay
