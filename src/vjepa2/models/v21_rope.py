"""V-JEPA 2.1's 3D RoPE: a true pairwise rotation, with optional interpolation of the positions.

The head dim is split as in V-JEPA 2 (``a = 2 * ((head_dim // 3) // 2)`` dims each for time,
height and width, the rest unrotated), but each pair ``(x_2i, x_2i+1)`` now rotates by one angle
``pos * omega_i`` (the sin/cos tables are interleaved, where 2.0's are tiled).

With interpolation the height and width positions are rescaled to the pretraining grid G
(16 for patch 16): ``h * (G - 1) / (Hp - 1)``, so a 384-px input (24 patches) sees the positions
of the 256-px grid it was pretrained on. Time is never scaled.

The result is a :class:`~vjepa2.models.rope.RopeTables`, so V-JEPA 2's blocks apply it unchanged.
"""

from __future__ import annotations

import torch

from vjepa2.models.rope import RopeTables, grid_positions, rope_axis_dim


def _interleaved_angles(pos: torch.Tensor, dim: int, dtype: torch.dtype) -> torch.Tensor:
    """Angles ``pos * omega_i``, each repeated for its pair: float32 pos ``[..., N]`` ->
    ``[..., N, dim]``. The frequencies are built in ``dtype`` (q/k's), as the reference does."""
    half = dim // 2
    omega = torch.arange(half, dtype=dtype, device=pos.device)
    omega /= half
    omega = 1.0 / 10000**omega
    return (pos.unsqueeze(-1) * omega).repeat_interleave(2, dim=-1)


def token_positions(
    token_idx: torch.Tensor, grid_hw: tuple[int, int], interpolate_to: int | None = None
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Float32 (t, h, w) positions of flat token indices on a (T', Hp, Wp) grid.

    ``interpolate_to``: the pretraining grid G to scale h and w to (None: raw indices).

    Raises:
        ValueError: interpolation asked for while a side is one patch (its scale would be 0/0).
    """
    t, h, w = (p.float() for p in grid_positions(token_idx, grid_hw))
    if interpolate_to is None:
        return t, h, w
    hp, wp = grid_hw
    if hp < 2 or wp < 2:
        raise ValueError(
            f"RoPE interpolation needs at least 2 patches per side, the token grid is "
            f"{hp}x{wp} (height x width): use a larger input or turn interpolate_rope off"
        )
    return t, (h * (interpolate_to - 1)) / (hp - 1), (w * (interpolate_to - 1)) / (wp - 1)


def interleaved_rope(
    token_idx: torch.Tensor,
    grid_hw: tuple[int, int],
    head_dim: int,
    dtype: torch.dtype,
    interpolate_to: int | None = None,
) -> RopeTables:
    """cos / signed-sin tables ``[B or 1, 1, N, head_dim]`` for tokens at flat indices
    ``token_idx`` (``[N]`` or ``[B, N]``) of a (T', Hp, Wp) grid."""
    a = rope_axis_dim(head_dim)
    positions = token_positions(token_idx, grid_hw, interpolate_to)
    angles = torch.cat([_interleaved_angles(p, a, dtype) for p in positions], dim=-1)
    cos, sin = angles.cos(), angles.sin()  # [..., N, 3a]
    rest = head_dim - 3 * a
    if rest:
        cos = torch.cat([cos, cos.new_ones((*cos.shape[:-1], rest))], dim=-1)
        sin = torch.cat([sin, sin.new_zeros((*sin.shape[:-1], rest))], dim=-1)
    sign = torch.ones(head_dim, dtype=sin.dtype, device=sin.device)
    sign[0::2] = -1  # (x_2i, x_2i+1) -> (-x_2i+1, x_2i): the rotation's sign, folded into sin
    cos, sin = cos.to(dtype), (sin * sign).to(dtype)
    if token_idx.dim() == 1:
        return RopeTables(cos[None, None], sin[None, None])
    return RopeTables(cos[:, None], sin[:, None])
