"""The V-JEPA 2.1 encoder: video and image patch embeddings, modality embeddings, V-JEPA 2
blocks with interleaved RoPE, and hierarchical output norms (no single final norm).

Input is ``[B, T, C, H, W]`` (transformers' layout, as the 2.0 encoder). T = 1 is an image: it
goes through ``patch_embed_img`` (a tubelet-1 Conv3d) and gets ``img_mod_embed``; a plain image
``[B, C, H, W]`` is taken as T = 1. Any other T must be a multiple of the tubelet size and goes
through ``patch_embed`` with ``video_mod_embed``. The modality embedding is added to every token
before masking; there is no position embedding (RoPE gives positions).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from vjepa2.models.blocks import Block, apply_block
from vjepa2.models.encoder import IndexList, PatchEmbed3D, compute_dtype, keep_tokens
from vjepa2.models.rope import RopeTables
from vjepa2.models.v21_config import VJEPA21Config
from vjepa2.models.v21_rope import interleaved_rope

IMAGE, VIDEO = "image", "video"


def as_video(pixels: torch.Tensor) -> torch.Tensor:
    """A plain image ``[B, C, H, W]`` -> ``[B, 1, C, H, W]``; a clip ``[B, T, C, H, W]`` as is."""
    if pixels.dim() == 4:
        return pixels.unsqueeze(1)
    if pixels.dim() != 5:
        raise ValueError(
            f"expected a clip [B, T, C, H, W] or an image [B, C, H, W], got shape "
            f"{tuple(pixels.shape)}"
        )
    return pixels


def modality_of(video: torch.Tensor) -> str:
    """``image`` for ``[B, 1, C, H, W]`` (and ``[B, C, H, W]``), else ``video``."""
    return IMAGE if as_video(video).size(1) == 1 else VIDEO


class VJEPA21Encoder(nn.Module):
    """V-JEPA 2.1 ViT. ``forward`` gives the last level ``[B, N, D]``, all levels concatenated
    ``[B, N, L*D]`` with ``hierarchical=True``, or chosen blocks' normed outputs."""

    def __init__(self, config: VJEPA21Config) -> None:
        super().__init__()
        self.config = config
        dim = config.hidden_size
        self.img_mod_embed = nn.Parameter(torch.zeros(1, 1, dim))
        self.video_mod_embed = nn.Parameter(torch.zeros(1, 1, dim))
        self.patch_embed = PatchEmbed3D(
            config.in_chans, dim, config.tubelet_size, config.patch_size
        )
        self.patch_embed_img = PatchEmbed3D(config.in_chans, dim, 1, config.patch_size)
        self.blocks = nn.ModuleList(
            Block(dim, config.num_attention_heads, config.mlp_ratio, config.qkv_bias,
                  config.layer_norm_eps)
            for _ in range(config.num_hidden_layers)
        )  # fmt: skip
        self.norms_block = nn.ModuleList(
            nn.LayerNorm(dim, eps=config.layer_norm_eps) for _ in config.hierarchical_layers
        )
        self.gradient_checkpointing = False

    def token_grid(self, shape: Sequence[int]) -> tuple[int, int, int]:
        """(T', Hp, Wp) for an input ``[B, T, C, H, W]`` (T = 1: an image); checks the shape."""
        c = self.config
        _, t, ch, h, w = shape
        if ch != c.in_chans:
            raise ValueError(
                f"expected {c.in_chans} channels at dim 2 of [B, T, C, H, W], got {ch}"
            )
        if h % c.patch_size or w % c.patch_size or h == 0 or w == 0:
            raise ValueError(f"height {h} and width {w} must be multiples of {c.patch_size}")
        if t != 1 and (t == 0 or t % c.tubelet_size):
            raise ValueError(
                f"frame count {t} must be 1 (an image) or a multiple of the tubelet size "
                f"{c.tubelet_size}"
            )
        return max(t // c.tubelet_size, 1), h // c.patch_size, w // c.patch_size

    def embed(self, pixels: torch.Tensor) -> tuple[torch.Tensor, tuple[int, int, int]]:
        """Patch + modality embedding: ``[B, T, C, H, W]`` or ``[B, C, H, W]`` -> tokens
        ``[B, N, D]`` in (t, h, w) order, and the grid (T', Hp, Wp)."""
        video = as_video(pixels)
        grid = self.token_grid(video.shape)
        video = video.to(self.patch_embed.proj.weight.dtype)
        if video.size(1) == 1:
            return self.patch_embed_img(video) + self.img_mod_embed, grid
        return self.patch_embed(video) + self.video_mod_embed, grid

    def rope(self, idx: torch.Tensor, grid_hw: tuple[int, int], x: torch.Tensor) -> RopeTables:
        """RoPE tables for tokens at flat indices ``idx`` of the input's (Hp, Wp) grid."""
        c = self.config
        target = c.pretrained_grid if c.interpolate_rope else None
        return interleaved_rope(idx, grid_hw, c.head_dim, compute_dtype(x), target)

    def _level_of(self, layer: int) -> int:
        layers = self.config.hierarchical_layers
        block = layer % len(self.blocks)
        if block not in layers:
            raise ValueError(
                f"block {layer} has no output norm; the hierarchical layers are {layers}"
            )
        return layers.index(block)

    def forward_levels(
        self,
        pixels: torch.Tensor,
        masks: IndexList | None = None,
        layers: Sequence[int] | None = None,
    ) -> list[torch.Tensor]:
        """Normed outputs of hierarchical blocks (default: all of them, shallow -> deep).

        Args:
            pixels: ``[B, T, C, H, W]`` or an image ``[B, C, H, W]``.
            masks: kept token indices ``[B, K]`` (or a list, stacked along the batch); only
                these tokens go through the blocks, with their own positions.
            layers: block indices, each one of ``config.hierarchical_layers`` (negative ok).

        Returns:
            one ``[B, N, D]`` (``[M*B, K, D]`` with masks) per requested block.
        """
        if layers is None:
            levels = list(range(len(self.norms_block)))
        else:
            levels = [self._level_of(i) for i in layers]
            if not levels:
                return []
        x, (_, hp, wp) = self.embed(pixels)
        x, idx = keep_tokens(x, masks)
        rope = self.rope(idx, (hp, wp), x)
        wanted = {self.config.hierarchical_layers[k]: k for k in levels}
        outs: dict[int, torch.Tensor] = {}
        for i, block in enumerate(self.blocks[: max(wanted) + 1]):
            x = apply_block(block, x, rope, self.gradient_checkpointing)
            if i in wanted:
                outs[wanted[i]] = self.norms_block[wanted[i]](x)
        return [outs[k] for k in levels]

    def forward(
        self,
        pixels: torch.Tensor,
        masks: IndexList | None = None,
        hierarchical: bool = False,
        out_layers: Sequence[int] | None = None,
    ) -> torch.Tensor | list[torch.Tensor]:
        """Encode a clip or an image.

        Args:
            pixels: ``[B, T, C, H, W]`` normalised pixels (T = 1: the image path), or an image
                ``[B, C, H, W]``.
            masks: kept token indices ``[B, K]`` (see :meth:`forward_levels`).
            hierarchical: return every level, normed, concatenated on channels (shallow first).
            out_layers: return a list of these blocks' normed outputs instead.

        Returns:
            ``[B, N, D]`` (the last level), ``[B, N, L*D]`` with ``hierarchical``, or a list of
            ``[B, N, D]`` for ``out_layers``; N is K with masks.
        """
        if out_layers is not None:
            return self.forward_levels(pixels, masks, out_layers)
        if hierarchical:
            return torch.cat(self.forward_levels(pixels, masks), dim=-1)
        return self.forward_levels(pixels, masks, [-1])[0]
