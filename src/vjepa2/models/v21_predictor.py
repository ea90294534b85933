"""The V-JEPA 2.1 predictor: predicts every level of the target tokens and of the context tokens.

Differences from V-JEPA 2's predictor: the input projection reads L encoder levels (``L*D -> D ->
GELU -> P``, one Linear when L = 1); a modality embedding goes on every token after the sort;
8 mask tokens; RoPE is V-JEPA 2.1's interleaved form on the predictor's own square grid
(``crop_size // patch_size`` per side, as the reference, which never passes the input's grid),
scaled to the pretraining grid only when ``pred_interpolate_rope`` is on (the Hub leaves it off);
two output heads, ``predictor_proj`` for the targets and ``predictor_proj_context`` for the
context tokens, each ``P -> L * out`` (out = the teacher's width, else D) and not normalised.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import nn

from vjepa2.models.blocks import Block, apply_block
from vjepa2.models.encoder import IndexList, cat_indices, compute_dtype, gather_tokens
from vjepa2.models.v21_config import VJEPA21Config
from vjepa2.models.v21_encoder import IMAGE, VIDEO
from vjepa2.models.v21_rope import interleaved_rope


class PredictorOutput(NamedTuple):
    """What :class:`VJEPA21Predictor` returns (a tuple ``(target, context)``, as the reference).

    Attributes:
        target: predictions at the target tokens ``[B, Nt, L*out]``.
        context: predictions at the context tokens ``[B, Nc, L*out]``.
    """

    target: torch.Tensor
    context: torch.Tensor


def _input_projection(levels: int, dim: int, pdim: int) -> nn.Module:
    if levels == 1:
        return nn.Linear(dim, pdim)
    return nn.Sequential(nn.Linear(levels * dim, dim), nn.GELU(), nn.Linear(dim, pdim))


class VJEPA21Predictor(nn.Module):
    """Narrow transformer over [context tokens; mask tokens at the target positions], sorted by
    position; outputs split back into targets and context after the blocks."""

    def __init__(self, config: VJEPA21Config) -> None:
        super().__init__()
        self.config = config
        dim, pdim, levels = config.hidden_size, config.pred_hidden_size, config.pred_num_levels
        self.video_mod_embed = nn.Parameter(torch.zeros(1, 1, pdim))
        self.img_mod_embed = nn.Parameter(torch.zeros(1, 1, pdim))
        self.predictor_embed = _input_projection(levels, dim, pdim)
        self.mask_tokens = nn.ParameterList(
            nn.Parameter(torch.zeros(1, 1, pdim)) for _ in range(config.pred_num_mask_tokens)
        )
        self.predictor_blocks = nn.ModuleList(
            Block(pdim, config.pred_num_attention_heads, config.pred_mlp_ratio, config.qkv_bias,
                  config.layer_norm_eps)
            for _ in range(config.pred_num_hidden_layers)
        )  # fmt: skip
        self.predictor_norm = nn.LayerNorm(pdim, eps=config.layer_norm_eps)
        out = levels * config.pred_output_dim
        self.predictor_proj = nn.Linear(pdim, out)
        self.predictor_proj_context = nn.Linear(pdim, out)
        self.gradient_checkpointing = False

    def _indices(
        self, context: torch.Tensor, context_idx: IndexList, target_idx: IndexList
    ) -> tuple[torch.Tensor, torch.Tensor]:
        cidx = cat_indices(context_idx).to(context.device)
        tidx = cat_indices(target_idx).to(context.device)
        if not (context.size(0) == cidx.size(0) == tidx.size(0)) or cidx.dim() != 2:
            raise ValueError(
                f"batch mismatch: context {tuple(context.shape)}, context_idx "
                f"{tuple(cidx.shape)}, target_idx {tuple(tidx.shape)}"
            )
        if context.size(1) != cidx.size(1):
            raise ValueError(
                f"context has {context.size(1)} tokens but context_idx has {cidx.size(1)}"
            )
        width = self.config.pred_num_levels * self.config.hidden_size
        if context.size(-1) != width:
            raise ValueError(
                f"context must be {self.config.pred_num_levels} encoder level(s) wide "
                f"({width}), got {context.size(-1)}"
            )
        return cidx, tidx

    def forward(
        self,
        context: torch.Tensor,
        context_idx: IndexList,
        target_idx: IndexList,
        mask_index: int = 1,
        modality: str = VIDEO,
    ) -> PredictorOutput:
        """Predict the target tokens' and the context tokens' features.

        Args:
            context: the encoder's last ``pred_num_levels`` levels on the context tokens,
                concatenated: ``[B, Nc, L*D]`` (the hierarchical output for L = 4; the plain
                output for L = 1).
            context_idx: flat token indices of ``context`` ``[B, Nc]`` (or a list, stacked).
            target_idx: flat token indices to predict ``[B, Nt]`` (or a list, stacked).
            mask_index: which mask token (modulo their count); the reference's default is 1.
            modality: ``"video"`` or ``"image"``: which modality embedding (not inferred).

        Returns:
            :class:`PredictorOutput` ``(target [B, Nt, L*out], context [B, Nc, L*out])``.
        """
        if modality not in (IMAGE, VIDEO):
            raise ValueError(f"modality must be {IMAGE!r} or {VIDEO!r}, got {modality!r}")
        cidx, tidx = self._indices(context, context_idx, target_idx)
        x = self.predictor_embed(context)
        token = self.mask_tokens[mask_index % len(self.mask_tokens)]
        x = torch.cat([x, token.to(x.dtype).expand(x.size(0), tidx.size(1), -1)], dim=1)
        positions = torch.cat([cidx, tidx], dim=1)
        order = torch.argsort(positions, dim=1)
        x = gather_tokens(x, order)
        x = x + (self.img_mod_embed if modality == IMAGE else self.video_mod_embed).to(x.dtype)
        rope = self._rope(torch.gather(positions, 1, order), x)
        for block in self.predictor_blocks:
            x = apply_block(block, x, rope, self.gradient_checkpointing)
        x = gather_tokens(self.predictor_norm(x), torch.argsort(order, dim=1))
        n_ctx = cidx.size(1)
        return PredictorOutput(
            self.predictor_proj(x[:, n_ctx:]), self.predictor_proj_context(x[:, :n_ctx])
        )

    def _rope(self, positions: torch.Tensor, x: torch.Tensor):
        c = self.config
        target = c.pretrained_grid if c.pred_interpolate_rope else None
        grid = (c.grid_size, c.grid_size)
        return interleaved_rope(positions, grid, c.pred_head_dim, compute_dtype(x), target)
