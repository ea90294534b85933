"""The masked-latent predictor: predicts target-token features from context-token features."""

from __future__ import annotations

import torch
from torch import nn

from vjepa2.config import VJEPA2Config
from vjepa2.models.blocks import Block, apply_block
from vjepa2.models.encoder import (
    IndexList,
    cat_indices,
    compute_dtype,
    gather_tokens,
    positions_on,
)
from vjepa2.models.rope import RopeTables


class VJEPA2Predictor(nn.Module):
    """Narrow transformer over [context tokens; mask tokens at the target positions].

    Tokens are sorted by position before the blocks and the targets picked out after, as in the
    original; RoPE positions come from the flat token indices on a (T', Hp, Wp) grid (with
    ``config.pred_time_positions`` False, every token's RoPE time is 0; with
    ``config.pred_abs_positions``, fixed sin-cos positions are also added to the tokens).
    """

    def __init__(self, config: VJEPA2Config) -> None:
        super().__init__()
        self.config = config
        dim, pdim = config.hidden_size, config.pred_hidden_size
        self.predictor_embed = nn.Linear(dim, pdim)
        self.mask_tokens = nn.ParameterList(
            nn.Parameter(torch.zeros(1, 1, pdim)) for _ in range(config.pred_num_mask_tokens)
        )
        self.predictor_blocks = nn.ModuleList(
            Block(pdim, config.pred_num_attention_heads, config.pred_mlp_ratio, config.qkv_bias,
                  config.layer_norm_eps)
            for _ in range(config.pred_num_hidden_layers)
        )  # fmt: skip
        self.predictor_norm = nn.LayerNorm(pdim, eps=config.layer_norm_eps)
        self.predictor_proj = nn.Linear(pdim, dim)
        self.gradient_checkpointing = False

    def forward(
        self,
        context: torch.Tensor,
        context_idx: IndexList,
        target_idx: IndexList,
        mask_index: int = 1,
        grid_hw: tuple[int, int] | None = None,
    ) -> torch.Tensor:
        """Predict the features of the target tokens.

        Args:
            context: encoder features of the context tokens ``[B, Nc, D]``.
            context_idx: flat token indices of ``context``, ``[B, Nc]`` (or a list, stacked).
            target_idx: flat token indices to predict, ``[B, Nt]`` (or a list, stacked).
            mask_index: which mask token to use (0 in pretraining, 1 at evaluation and in
                transformers).
            grid_hw: (Hp, Wp) of the token grid; defaults to the config's crop size, as in the
                original (pass the input's grid when it differs).

        Returns:
            ``[B, Nt, D]``.
        """
        cidx = cat_indices(context_idx).to(context.device)
        tidx = cat_indices(target_idx).to(context.device)
        if not (context.size(0) == cidx.size(0) == tidx.size(0)):
            raise ValueError(
                f"batch mismatch: context {tuple(context.shape)}, context_idx "
                f"{tuple(cidx.shape)}, target_idx {tuple(tidx.shape)}"
            )
        if context.size(1) != cidx.size(1):
            raise ValueError(
                f"context has {context.size(1)} tokens but context_idx has {cidx.size(1)}"
            )
        grid_hw = grid_hw or (self.config.grid_size, self.config.grid_size)
        x, positions, order = self.tokens(context, cidx, tidx, mask_index, grid_hw)
        head_dim = self.config.pred_hidden_size // self.config.pred_num_attention_heads
        rope = RopeTables.build(positions, grid_hw, head_dim, compute_dtype(x))
        for block in self.predictor_blocks:
            x = apply_block(block, x, rope, self.gradient_checkpointing)
        # Un-sort only the target slots (the norm is per token, so it can come after the pick).
        target_slots = torch.argsort(order, dim=1)[:, cidx.size(1) :]
        return self.predictor_proj(self.predictor_norm(gather_tokens(x, target_slots)))

    def tokens(
        self,
        context: torch.Tensor,
        cidx: torch.Tensor,
        tidx: torch.Tensor,
        mask_index: int,
        grid_hw: tuple[int, int],
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The blocks' input: embedded context tokens and mask tokens sorted by position
        ``[B, Nc+Nt, Dp]`` (plus fixed sin-cos positions with ``pred_abs_positions``), their
        RoPE positions ``[B, Nc+Nt]`` and the sorting ``order`` ``[B, Nc+Nt]``."""
        x = self.predictor_embed(context)
        token = self.mask_tokens[mask_index % len(self.mask_tokens)]
        targets = token.to(x.dtype).expand(x.size(0), tidx.size(1), -1)
        x = torch.cat([x, targets], dim=1)
        order = torch.argsort(torch.cat([cidx, tidx], dim=1), dim=1)
        x = gather_tokens(x, order)
        positions = torch.gather(torch.cat([cidx, tidx], dim=1), 1, order)
        if not self.config.pred_time_positions:
            positions = positions % (grid_hw[0] * grid_hw[1])
        if self.config.pred_abs_positions:
            steps = int(positions.max()) // (grid_hw[0] * grid_hw[1]) + 1
            x = x + positions_on((steps, *grid_hw), x.size(-1), x.device, x.dtype)[positions]
        return x, positions, order
