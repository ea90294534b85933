"""Multi-level features: which encoder blocks to tap, and their normed outputs.

The original "multilevel" probes (Diving48, Jester) read four blocks of the frozen encoder,
each through the encoder's final norm, concatenated along the token axis (4x the tokens, still
D wide): ViT-L blocks 17, 19, 21, 23 and ViT-g blocks 24, 29, 34, 39. A V-JEPA 2.1 encoder has
its own levels: the hierarchical blocks, each with its own norm.

A level request is a count (``4``: the paper's four taps for ViT-L and ViT-g, else ``n`` blocks
spaced ``depth // (2n)`` apart ending at the last one) or explicit block indices.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from vjepa2.errors import UsageError

# The blocks the released 4-level probes read, by encoder depth (ViT-L 24, ViT-g 40).
PAPER_LEVELS: dict[int, tuple[int, ...]] = {24: (17, 19, 21, 23), 40: (24, 29, 34, 39)}

Levels = int | Sequence[int]


def parse_levels(text: str) -> Levels:
    """``"4"`` -> ``4`` (a count); ``"17,19,21,23"`` -> ``(17, 19, 21, 23)`` (block indices)."""
    parts = [p.strip() for p in text.split(",") if p.strip()]
    try:
        values = tuple(int(p) for p in parts)
    except ValueError:
        raise UsageError(
            f"--layers {text!r}: a count (4) or comma-separated block indices (17,19,21,23)"
        ) from None
    if not values:
        raise UsageError("--layers: give a count (4) or block indices (17,19,21,23)")
    return values[0] if len(values) == 1 and "," not in text else values


def _hierarchical(config) -> tuple[int, ...] | None:
    layers = getattr(config, "hierarchical_layers", None)
    return tuple(layers) if layers is not None else None


def resolve_levels(config, levels: Levels) -> tuple[int, ...]:
    """Block indices (non-negative, as asked) for a level request on the encoder of ``config``.

    V-JEPA 2: any blocks; a count 4 of a 24- or 40-block encoder gives :data:`PAPER_LEVELS`.
    V-JEPA 2.1 (``config.hierarchical_layers``): its hierarchical blocks only; a count ``n``
    gives the deepest ``n`` of them. Raises :class:`UsageError` naming what is possible.
    """
    depth = config.num_hidden_layers
    hierarchical = _hierarchical(config)
    if isinstance(levels, bool):
        raise UsageError(f"layers must be a count or block indices, got {levels!r}")
    if isinstance(levels, int):
        return _count(levels, depth, hierarchical)
    blocks = tuple(int(v) for v in levels)
    bad = [v for v in blocks if not -depth <= v < depth]
    if not blocks or bad:
        raise UsageError(
            f"layers {list(blocks)}: not block indices of a {depth}-block encoder "
            f"(0 to {depth - 1}, negative from the end)"
        )
    blocks = tuple(v % depth for v in blocks)
    if hierarchical is not None and not set(blocks) <= set(hierarchical):
        raise UsageError(
            f"layers {list(blocks)}: a V-JEPA 2.1 encoder gives its hierarchical blocks only "
            f"({', '.join(map(str, hierarchical))}); ask for a count 1 to {len(hierarchical)}"
        )
    return blocks


def _count(n: int, depth: int, hierarchical: tuple[int, ...] | None) -> tuple[int, ...]:
    limit = len(hierarchical) if hierarchical is not None else depth
    if not 1 <= n <= limit:
        what = "hierarchical levels" if hierarchical is not None else "blocks"
        raise UsageError(f"layers {n}: this encoder has {limit} {what} (ask for 1 to {limit})")
    if hierarchical is not None:
        return hierarchical[limit - n :]
    if n == 4 and depth in PAPER_LEVELS:
        return PAPER_LEVELS[depth]
    step = max(1, depth // (2 * n))
    return tuple(depth - 1 - step * (n - 1 - k) for k in range(n))


def encode_levels(encoder: nn.Module, pixels: torch.Tensor, blocks: Sequence[int]) -> torch.Tensor:
    """The normed outputs of ``blocks``: pixels ``[B, T, C, H, W]`` -> ``[B, L, N, D]``.

    A V-JEPA 2 encoder puts each block through its final norm; a V-JEPA 2.1 encoder through
    the norm of that hierarchical level.
    """
    if hasattr(encoder, "forward_levels"):  # V-JEPA 2.1
        outs = encoder.forward_levels(pixels, None, list(blocks))
    else:
        outs = encoder(pixels, out_layers=list(blocks))
    return torch.stack(outs, dim=1)


def probe_tokens(
    encoder: nn.Module, pixels: torch.Tensor, blocks: Sequence[int] | None
) -> torch.Tensor:
    """What a probe reads: the last block's tokens ``[B, N, D]``, or with ``blocks`` their
    normed outputs concatenated along the token axis ``[B, L*N, D]`` (level-major)."""
    if not blocks:
        return encoder(pixels)
    return encode_levels(encoder, pixels, blocks).flatten(1, 2)
