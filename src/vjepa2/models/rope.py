"""3D rotary position embedding (RoPE) exactly as the released V-JEPA 2 weights expect it.

Each head dimension is split into [time | height | width | rest]; the first three slices have
``a = 2 * ((head_dim // 3) // 2)`` dims each and the rest is left unrotated. Within a slice of
``a`` dims, element ``k`` is paired with its neighbour (``2i`` with ``2i + 1``) but takes the angle
``pos * omega[k mod a/2]``: the sin/cos tables are *tiled*, not interleaved. The two members of a
pair therefore rotate with different frequencies. That is not a proper rotation, but the released
2.0 weights were trained with it, so we reproduce it (V-JEPA 2.1 fixes it).

The tables are built once per forward pass (``RopeTables.build``) and shared by every block,
rather than recomputed in every layer. Positions are raw integer grid indices: the tubelet index
in time, the patch row and column in space, taken from the actual input grid.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


def rope_axis_dim(head_dim: int) -> int:
    """Dims rotated per axis (time, height, width) for a given head dim."""
    return 2 * ((head_dim // 3) // 2)


def grid_positions(
    token_idx: torch.Tensor, grid_hw: tuple[int, int]
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Split flat token indices ``n = t*Hp*Wp + h*Wp + w`` into (t, h, w).

    ``token_idx``: any integer tensor, e.g. ``arange(N)`` or kept indices ``[B, K]``.
    """
    hp, wp = grid_hw
    per_frame = hp * wp
    t = token_idx // per_frame
    rem = token_idx - t * per_frame
    h = rem // wp
    w = rem - h * wp
    return t, h, w


def _axis_angles(pos: torch.Tensor, dim: int, dtype: torch.dtype) -> torch.Tensor:
    """Angles ``pos * omega`` for one axis, tiled to ``[..., N, dim]``.

    The frequencies are computed in ``dtype`` (q/k's dtype, bf16 under autocast), in the same
    order of operations as the reference, so the rounding matches.
    """
    half = dim // 2
    omega = torch.arange(half, dtype=dtype, device=pos.device)
    omega /= half
    omega = 1.0 / 10000**omega
    angles = pos.unsqueeze(-1) * omega  # [..., N, half]
    return angles.repeat(*([1] * (angles.dim() - 1)), 2)  # tiled: [θ_0..θ_{h-1}, θ_0..θ_{h-1}]


@dataclass
class RopeTables:
    """cos and signed-sin tables over the whole head dim, broadcastable to q/k ``[B, H, N, hd]``.

    Unrotated trailing dims carry cos = 1 and sin = 0, so applying the tables needs no slicing or
    concatenation: ``x * cos + swap_pairs(x) * sin``. The sign of the pair rotation
    (``(x0, x1) -> (-x1, x0)``) is folded into ``sin``.
    """

    cos: torch.Tensor  # [B or 1, 1, N, head_dim]
    sin: torch.Tensor  # [B or 1, 1, N, head_dim]

    @classmethod
    def build(
        cls,
        token_idx: torch.Tensor,
        grid_hw: tuple[int, int],
        head_dim: int,
        dtype: torch.dtype,
    ) -> RopeTables:
        """Tables for tokens at flat indices ``token_idx`` ([N] or [B, N]) of a (T', Hp, Wp)
        grid."""
        a = rope_axis_dim(head_dim)
        angles = torch.cat(
            [_axis_angles(p, a, dtype) for p in grid_positions(token_idx, grid_hw)], dim=-1
        )  # [..., N, 3a]
        cos, sin = angles.cos(), angles.sin()
        sign = torch.ones(head_dim, dtype=dtype, device=token_idx.device)
        sign[0::2] = -1
        rest = head_dim - 3 * a
        if rest:
            cos = torch.cat([cos, cos.new_ones((*cos.shape[:-1], rest))], dim=-1)
            sin = torch.cat([sin, sin.new_zeros((*sin.shape[:-1], rest))], dim=-1)
        sin = sin * sign
        if token_idx.dim() == 1:
            return cls(cos[None, None], sin[None, None])
        return cls(cos[:, None], sin[:, None])

    def apply(self, x: torch.Tensor) -> torch.Tensor:
        """Rotate ``x`` ``[..., B, H, N, hd]`` (q, k, or both stacked in front); returns a new
        tensor."""
        swapped = x.unflatten(-1, (-1, 2)).flip(-1).flatten(-2)  # a fresh tensor: reuse it
        return swapped.mul_(self.sin).addcmul_(x, self.cos)
