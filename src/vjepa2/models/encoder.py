"""The V-JEPA 2 video encoder: tubelet patch embedding, pre-norm blocks with 3D RoPE, final norm."""

from __future__ import annotations

import functools
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from vjepa2.config import VJEPA2Config
from vjepa2.models.blocks import Block, apply_block
from vjepa2.models.rope import RopeTables

IndexList = torch.Tensor | Sequence[torch.Tensor]


class PatchEmbed3D(nn.Module):
    """Tubelet embedding: a Conv3d with kernel = stride = (tubelet, patch, patch).

    [B, T, C, H, W] -> tokens [B, N, D] in (t, h, w) order. T, H and W must be multiples of
    the kernel (the encoder checks). In float32 it runs the Conv3d, as the reference does, so
    outputs match it to the last bits; in half precision (or under autocast) it runs
    `tubelet_product`, the same map as one matrix product, because the 3-D convolution is slow
    there: ~3 % of an H100's matrix rate in bf16, and 43× slower than the product on the CPU
    (docs/benchmarks.md).
    """

    def __init__(self, in_chans: int, dim: int, tubelet_size: int, patch_size: int) -> None:
        super().__init__()
        kernel = (tubelet_size, patch_size, patch_size)
        self.proj = nn.Conv3d(in_chans, dim, kernel_size=kernel, stride=kernel)

    def forward(self, video: torch.Tensor) -> torch.Tensor:
        if video.dtype == torch.float32 and not torch.is_autocast_enabled(video.device.type):
            x = self.proj(video.transpose(1, 2))  # [B, D, T', Hp, Wp]
            return x.flatten(2).transpose(1, 2).contiguous()
        return self.tubelet_product(video)

    def tubelet_product(self, video: torch.Tensor) -> torch.Tensor:
        """The Conv3d as one matrix product: the non-overlapping tubelets flattened in the
        weight's ``[D, C, kt, kh, kw]`` order. ``[B, T, C, H, W]`` -> ``[B, N, D]``."""
        b, t, c, h, w = video.shape
        kt, kh, kw = self.proj.kernel_size
        tubelets = video.reshape(b, t // kt, kt, c, h // kh, kh, w // kw, kw)
        tubelets = tubelets.permute(0, 1, 4, 6, 3, 2, 5, 7)  # [B, T', Hp, Wp, C, kt, kh, kw]
        weight = self.proj.weight.flatten(1)  # [D, C·kt·kh·kw], the same order
        return F.linear(tubelets.reshape(b, -1, weight.size(1)), weight, self.proj.bias)


def compute_dtype(x: torch.Tensor) -> torch.dtype:
    """The dtype q/k will have: the autocast dtype when autocast is on, else ``x.dtype``."""
    if torch.is_autocast_enabled(x.device.type):
        return torch.get_autocast_dtype(x.device.type)
    return x.dtype


def gather_tokens(x: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
    """``x`` [B, N, D] at ``idx`` [B, K] -> [B, K, D]."""
    return torch.gather(x, 1, idx.unsqueeze(-1).expand(-1, -1, x.size(-1)))


TARGET_LAYER_NORM_EPS = 1e-5


@torch.no_grad()
def target_features(encoder: nn.Module, clips: torch.Tensor) -> torch.Tensor:
    """The JEPA regression targets: an encoder's tokens of the whole clip, layer-normalised
    without affine parameters (float32). ``[B, T, C, H, W]`` -> ``[B, N, D]``."""
    tokens = encoder(clips)
    return torch.nn.functional.layer_norm(
        tokens.float(), tokens.shape[-1:], eps=TARGET_LAYER_NORM_EPS
    )


def sincos_positions(grid: tuple[int, int, int], dim: int) -> torch.Tensor:
    """Fixed sin-cos embeddings of the (t, h, w) cells of ``grid`` in the encoder's token order
    (t slowest), ``[T'·Hp·Wp, dim]``: each axis gets ``2·(dim // 6)`` channels, sines and
    cosines at frequencies 10000^(−i/n); the channels left over are zero."""
    per_axis = 2 * (dim // 6)
    half = per_axis // 2
    frequencies = 10000.0 ** (-torch.arange(half, dtype=torch.float64) / max(1, half))
    cells = torch.stack(
        torch.meshgrid(*(torch.arange(n, dtype=torch.float64) for n in grid), indexing="ij"), -1
    ).reshape(-1, 3)
    table = torch.zeros(len(cells), dim, dtype=torch.float64)
    for axis in range(3):
        angles = cells[:, axis : axis + 1] * frequencies
        table[:, axis * per_axis : (axis + 1) * per_axis] = torch.cat(
            [angles.sin(), angles.cos()], -1
        )
    return table.float()


@functools.lru_cache(maxsize=8)
def positions_on(
    grid: tuple[int, int, int], dim: int, device: torch.device, dtype: torch.dtype
) -> torch.Tensor:
    """:func:`sincos_positions` built once per grid, width, device and dtype (read-only)."""
    return sincos_positions(grid, dim).to(device, dtype)


def keep_tokens(x: torch.Tensor, masks: IndexList | None) -> tuple[torch.Tensor, torch.Tensor]:
    """The tokens ``x`` [B, N, D] that ``masks`` keep, and their flat positions for RoPE:
    all of them (``[N]``) without masks, else ``[M*B, K, D]`` and ``[M*B, K]``."""
    if masks is None:
        return x, torch.arange(x.size(1), device=x.device)
    idx = cat_indices(masks).to(x.device)
    if idx.dim() != 2 or idx.size(0) % x.size(0):
        raise ValueError(
            f"masks must be [B, K] index tensors with B = {x.size(0)}, got {tuple(idx.shape)}"
        )
    return gather_tokens(x.repeat(idx.size(0) // x.size(0), 1, 1), idx), idx


def cat_indices(masks: IndexList) -> torch.Tensor:
    """One index tensor [B, K] or a list of them -> [M*B, K] (stacked along the batch)."""
    if isinstance(masks, torch.Tensor):
        return masks.long()
    return torch.cat(list(masks), dim=0).long()


class VJEPA2Encoder(nn.Module):
    """Video ViT with 3D RoPE. Input ``[B, T, C, H, W]`` (transformers' layout), output tokens.

    Any T divisible by the tubelet size (T < tubelet repeats the frames), any H and W divisible by
    the patch size; RoPE positions come from the actual input grid.
    """

    def __init__(self, config: VJEPA2Config) -> None:
        super().__init__()
        self.config = config
        dim = config.hidden_size
        self.patch_embed = PatchEmbed3D(
            config.in_chans, dim, config.tubelet_size, config.patch_size
        )
        self.blocks = nn.ModuleList(
            Block(dim, config.num_attention_heads, config.mlp_ratio, config.qkv_bias,
                  config.layer_norm_eps)
            for _ in range(config.num_hidden_layers)
        )  # fmt: skip
        self.norm = nn.LayerNorm(dim, eps=config.layer_norm_eps)
        self.gradient_checkpointing = False

    @property
    def head_dim(self) -> int:
        return self.config.hidden_size // self.config.num_attention_heads

    def token_grid(self, video_shape: Sequence[int]) -> tuple[int, int, int]:
        """(T', Hp, Wp) token grid for an input of shape [B, T, C, H, W]; checks the shape."""
        c = self.config
        if len(video_shape) != 5:
            raise ValueError(f"expected video [B, T, C, H, W], got shape {tuple(video_shape)}")
        _, t, ch, h, w = video_shape
        if ch != c.in_chans:
            raise ValueError(
                f"expected {c.in_chans} channels at dim 2 of [B, T, C, H, W], got {ch}"
            )
        if h % c.patch_size or w % c.patch_size:
            raise ValueError(f"height {h} and width {w} must be divisible by {c.patch_size}")
        if t > c.tubelet_size and t % c.tubelet_size:
            raise ValueError(
                f"frame count {t} must be divisible by the tubelet size {c.tubelet_size}"
            )
        return max(t, c.tubelet_size) // c.tubelet_size, h // c.patch_size, w // c.patch_size

    def embed(self, video: torch.Tensor) -> tuple[torch.Tensor, tuple[int, int, int]]:
        """Patch-embed ``video`` [B, T, C, H, W] -> tokens [B, N, D] and the grid (T', Hp, Wp),
        with fixed sin-cos positions added when ``config.abs_positions``."""
        grid = self.token_grid(video.shape)
        t = video.size(1)
        if t < self.config.tubelet_size:
            video = video.repeat_interleave(self.config.tubelet_size // t, dim=1)
        x = self.patch_embed(video.to(self.patch_embed.proj.weight.dtype))
        if self.config.abs_positions:
            x = x + positions_on(grid, x.size(-1), x.device, x.dtype)
        return x, grid

    def forward(
        self,
        video: torch.Tensor,
        masks: IndexList | None = None,
        out_layers: Sequence[int] | None = None,
    ) -> torch.Tensor | list[torch.Tensor]:
        """Encode a clip.

        Args:
            video: ``[B, T, C, H, W]``, normalised pixels.
            masks: kept token indices ``[B, K]`` (or a list of them, stacked along the batch);
                only these tokens go through the blocks, with their own grid positions.
            out_layers: block indices whose outputs to return, each through the final norm.

        Returns:
            ``[B, N, D]`` (``[M*B, K, D]`` with masks), or a list of those for ``out_layers``.
        """
        x, (_, hp, wp) = self.embed(video)
        x, idx = keep_tokens(x, masks)
        rope = RopeTables.build(idx, (hp, wp), self.head_dim, compute_dtype(x))
        wanted = {i % len(self.blocks) for i in out_layers or ()}
        outs: dict[int, torch.Tensor] = {}
        for i, block in enumerate(self.blocks):
            x = apply_block(block, x, rope, self.gradient_checkpointing)
            if i in wanted:
                outs[i] = self.norm(x)
                if len(outs) == len(wanted):
                    break
        if out_layers is None:
            return self.norm(x)
        return [outs[i % len(self.blocks)] for i in out_layers]
