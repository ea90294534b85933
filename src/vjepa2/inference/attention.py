"""Where an attentive probe looks: its query's cross-attention weights over the clip's tokens.

The classifier's pooler runs its self-attention blocks over the encoder tokens, then learned
queries cross-attend to them; the softmax weights of that cross-attention (averaged over heads)
say which tubelets the pooled feature, and so the class, is made of. They are painted as a heat
map over the frames, beside the input.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from torch import nn

from vjepa2.data.clip_pipeline import ClipSpec, read_clips
from vjepa2.errors import UsageError
from vjepa2.inference.pca import colour_grid, unnormalise
from vjepa2.models.classifier import AttentiveClassifier
from vjepa2.video.writer import encode_image, encode_video

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


def probe_head(model: nn.Module) -> AttentiveClassifier:
    """The classifier's attentive probe (a `UsageError` for a model without one)."""
    head = getattr(model, "head", None)
    if not isinstance(head, AttentiveClassifier):
        raise UsageError("attention maps need a classifier (a model with an attentive probe)")
    return head


def attention_video(
    path: str | os.PathLike, model: nn.Module, spec: ClipSpec, max_clips: int = 32
) -> tuple[np.ndarray, list[str]]:
    """The input frames and the probe's attention heat map (heads and queries averaged, scaled
    per clip) side by side, uint8 ``[N, H, 2W, 3]``, and the predicted label of each clip: the
    first ``max_clips`` consecutive clips of ``spec``'s length."""
    probe_head(model)
    spec = spec.with_(stride=spec.frames * spec.frame_step, segments=1, views=1)
    pixels = read_clips(path, spec, select=slice(0, max_clips)).pixels[:, 0]
    pictures, labels, _ = attention_pictures(model, pixels)
    return pictures, labels


def attention_pictures(model: nn.Module, pixels: torch.Tensor) -> tuple[np.ndarray, list[str], int]:
    """`attention_video` of clips already read: pixels ``[S, T, 3, H, W]`` (normalised) ->
    ``[S*T, H, 2W, 3]`` uint8, the label predicted for each clip and the index of the frame
    that holds the most attended tubelet of all."""
    head = probe_head(model)
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
    clip, token = divmod(int(weights.argmax()), weights.size(1))
    peak = clip * pixels.size(1) + token // (grid[1] * grid[2]) * (pixels.size(1) // grid[0])
    pictures = torch.cat([frames, blend], dim=2).numpy()
    return pictures, [names.get(i, str(i)) for i in labels], peak


def explain_names(paths: Sequence[str | os.PathLike]) -> list[str]:
    """A file name stem per input for its explanation: the input's stem, ``-2``, ``-3``, ...
    appended to repeats (``a/clip.mp4`` and ``b/clip.mp4`` -> ``clip``, ``clip-2``)."""
    seen: dict[str, int] = {}
    names = []
    for path in paths:
        stem = Path(path).stem
        seen[stem] = seen.get(stem, 0) + 1
        names.append(stem if seen[stem] == 1 else f"{stem}-{seen[stem]}")
    return names


def explain_video(
    path: str | os.PathLike, model: nn.Module, spec: ClipSpec, out: str | os.PathLike,
    fps: float = 8.0,
) -> tuple[Path, Path]:  # fmt: skip
    """Write the attention maps of the clips ``spec`` classifies (every segment, its first view)
    as ``out.mp4`` (frames beside their heat maps, clip after clip) and the frame holding the
    most attended tubelet as ``out.png``; returns both paths."""
    pixels = read_clips(path, spec).pixels[:, 0]
    pictures, _, peak = attention_pictures(model, pixels)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    video = encode_video(out.with_name(out.name + ".mp4"), pictures, fps=fps)
    image = encode_image(out.with_name(out.name + ".png"), pictures[peak])
    return Path(video), image
