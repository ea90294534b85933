"""Where an attentive probe looks: its query's cross-attention weights over the clip's tokens.

The classifier's pooler runs its self-attention blocks over the encoder tokens, then learned
queries cross-attend to them; the softmax weights of that cross-attention (averaged over heads)
say which tubelets the pooled feature, and so the class, is made of. They are painted as a heat
map over the frames, beside the input.
"""

from __future__ import annotations

import os

import numpy as np
import torch
from torch import nn

from vjepa2.data.clip_pipeline import ClipSpec, read_clips
from vjepa2.errors import UsageError
from vjepa2.inference.pca import colour_grid, unnormalise
from vjepa2.models.classifier import AttentiveClassifier

HEAT = torch.tensor([[0.0, 0.0, 0.3], [0.9, 0.1, 0.1], [1.0, 1.0, 0.2]])
"""The heat ramp: dark blue (no attention), red, yellow (the most attended token)."""


@torch.no_grad()
def probe_attention(head: AttentiveClassifier, tokens: torch.Tensor) -> torch.Tensor:
    """Cross-attention weights of the probe's queries over ``tokens`` [B, N, D], per head:
    ``[B, heads, Q, N]``, each row summing to 1 (the weights the pooler's SDPA applies)."""
    pooler = head.pooler
    x = tokens
    for block in pooler.blocks:
        x = block(x)
    cross = pooler.cross_attention_block
    b, n, d = x.shape
    heads = cross.xattn.num_heads
    queries = cross.xattn.q(pooler.query_tokens.to(x.dtype))
    q = queries.view(1, -1, heads, d // heads).transpose(1, 2)
    k = cross.xattn.kv(cross.norm1(x))[..., :d].view(b, n, heads, d // heads).transpose(1, 2)
    return torch.softmax(q @ k.transpose(-1, -2) / (d // heads) ** 0.5, dim=-1)


def heat_colours(weights: torch.Tensor) -> torch.Tensor:
    """Weights ``[..., N]`` scaled by their max -> RGB in [0, 1] along `HEAT`, ``[..., N, 3]``."""
    level = weights / weights.amax(dim=-1, keepdim=True).clamp_min(1e-12)
    position = level * (len(HEAT) - 1)
    low = position.floor().long().clamp(max=len(HEAT) - 2)
    frac = (position - low).unsqueeze(-1)
    return HEAT[low] * (1 - frac) + HEAT[low + 1] * frac


def attention_video(
    path: str | os.PathLike, model: nn.Module, spec: ClipSpec, max_clips: int = 32
) -> tuple[np.ndarray, list[str]]:
    """The input frames and the probe's attention heat map (heads and queries averaged, scaled
    per clip) side by side, uint8 ``[N, H, 2W, 3]``, and the predicted label of each clip."""
    head = getattr(model, "head", None)
    if not isinstance(head, AttentiveClassifier):
        raise UsageError("attention maps need a classifier (a model with an attentive probe)")
    spec = spec.with_(stride=spec.frames * spec.frame_step, segments=1, views=1)
    pixels = read_clips(path, spec, select=slice(0, max_clips)).pixels[:, 0]
    device = next(model.parameters()).device
    grid = model.encoder.token_grid(pixels.shape)
    features = getattr(model, "forward_features", model.encoder)  # all the levels a probe reads
    with torch.no_grad():
        tokens = features(pixels.to(device))  # [S, L*N, D]
        labels = head(tokens).reshape(len(pixels), -1).argmax(-1).tolist()
        weights = probe_attention(head, tokens).mean(dim=(1, 2)).float().cpu()  # [S, L*N]
    weights = weights.view(len(pixels), -1, int(np.prod(grid))).sum(dim=1)  # per place: [S, N]
    colours = heat_colours(weights).view(len(pixels), *grid, 3)
    frames = unnormalise(pixels.flatten(0, 1))
    heat = colour_grid(colours, max(1, pixels.size(1) // grid[0]), tuple(pixels.shape[-2:]))
    blend = (0.45 * frames.float() + 0.55 * heat.float()).round().to(torch.uint8)
    names = getattr(model, "id2label", {})
    return torch.cat([frames, blend], dim=2).numpy(), [names.get(i, str(i)) for i in labels]
