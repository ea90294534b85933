"""Quick frozen probes for judging pretrained features: encode a labelled set once, then fit a
logistic regression on mean-pooled tokens or a small attentive probe on all tokens (torch only).

These are cheap checks for pretraining runs (the periodic ``--probe-data`` monitor and
``vjepa2 pretrain-eval``), not the full attentive-probe protocol.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from vjepa2.data.clip_pipeline import ClipSpec, read_clips
from vjepa2.models.classifier import AttentiveClassifier
from vjepa2.models.encoder import VJEPA2Encoder
from vjepa2.runtime import autocast


def read_eval_clip(
    path: str | Path, frames: int, target_fps: float, crop_size: int
) -> torch.Tensor:
    """One evaluation clip: ``frames`` frames at about ``target_fps`` from the start, through the
    evaluation transform (the clip pipeline's eval mode). -> float ``[T, C, crop, crop]``.

    Raises ``VideoDecodeError`` for a file that cannot give the clip."""
    spec = ClipSpec(frames=frames, fps=target_fps, crop_size=crop_size)
    return read_clips(path, spec, decoder_threads=1).pixels[0, 0]


@torch.no_grad()
def encode_videos(
    encoder: VJEPA2Encoder,
    paths: Sequence[str | Path],
    frames: int,
    target_fps: float,
    crop_size: int,
    device: torch.device | str = "cpu",
    dtype: torch.dtype = torch.float32,
    batch_size: int = 16,
) -> torch.Tensor:
    """Frozen encoder tokens of each video, float32 on the CPU: ``[N, tokens, D]``."""
    device = torch.device(device)
    was_training = encoder.training
    encoder.eval()
    out = []
    for start in range(0, len(paths), batch_size):
        batch = [
            read_eval_clip(p, frames, target_fps, crop_size) for p in paths[start:][:batch_size]
        ]
        with autocast(device, dtype):
            out.append(encoder(torch.stack(batch).to(device)).float().cpu())
    encoder.train(was_training)
    return torch.cat(out)


def fit_logistic(
    features: torch.Tensor, labels: torch.Tensor, num_classes: int, l2: float = 1e-3
) -> nn.Module:
    """Multinomial logistic regression on standardised features ``[N, D]`` (L-BFGS, full
    batch). Returns a module mapping ``[N, D]`` features to logits."""
    mean, std = features.mean(0), features.std(0).clamp_min(1e-6)
    linear = nn.Linear(features.size(1), num_classes)
    nn.init.zeros_(linear.weight)
    nn.init.zeros_(linear.bias)
    x = (features - mean) / std
    optimizer = torch.optim.LBFGS(linear.parameters(), lr=1.0, max_iter=200, history_size=20,
                                  line_search_fn="strong_wolfe")  # fmt: skip

    def closure() -> torch.Tensor:
        optimizer.zero_grad()
        loss = F.cross_entropy(linear(x), labels) + l2 * linear.weight.square().sum()
        loss.backward()
        return loss

    optimizer.step(closure)
    return _Standardised(linear, mean, std)


class _Standardised(nn.Module):
    def __init__(self, head: nn.Module, mean: torch.Tensor, std: torch.Tensor) -> None:
        super().__init__()
        self.head = head
        self.register_buffer("mean", mean)
        self.register_buffer("std", std)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head((x - self.mean) / self.std)


def fit_attentive(
    tokens: torch.Tensor,
    labels: torch.Tensor,
    num_classes: int,
    epochs: int = 30,
    lr: float = 1e-3,
    weight_decay: float = 0.05,
    num_heads: int = 16,
    num_self_blocks: int = 1,
    batch_size: int = 64,
    seed: int = 0,
) -> AttentiveClassifier:
    """An attentive probe (self-attention blocks + cross-attention pooling + linear) trained on
    cached tokens ``[N, K, D]`` with AdamW and a cosine learning rate, on the tokens' device."""
    torch.manual_seed(seed)
    dim = tokens.size(-1)
    probe = AttentiveClassifier(dim, num_classes, num_heads=_heads(dim, num_heads),
                                num_self_blocks=num_self_blocks)  # fmt: skip
    probe.reset_parameters()
    probe.to(tokens.device)
    optimizer = torch.optim.AdamW(probe.parameters(), lr=lr, weight_decay=weight_decay)
    steps = epochs * math.ceil(len(tokens) / batch_size)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, steps)
    order = torch.Generator().manual_seed(seed)
    probe.train()
    for _ in range(epochs):
        for idx in torch.randperm(len(tokens), generator=order).split(batch_size):
            loss = F.cross_entropy(probe(tokens[idx]), labels[idx])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            schedule.step()
    return probe.eval()


def _heads(dim: int, wanted: int) -> int:
    """The largest head count ≤ ``wanted`` that divides ``dim``."""
    return next(h for h in range(min(wanted, dim), 0, -1) if dim % h == 0)


@torch.no_grad()
def head_accuracy(head: nn.Module, inputs: torch.Tensor, labels: torch.Tensor) -> float:
    """Top-1 accuracy of ``head`` on ``inputs`` (batched to bound memory)."""
    head.eval()
    batches = zip(inputs.split(256), labels.split(256), strict=True)
    correct = sum(int((head(x).argmax(-1) == y).sum()) for x, y in batches)
    return correct / max(1, len(labels))
