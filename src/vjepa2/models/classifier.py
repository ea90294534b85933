"""The attentive probe: self-attention blocks, a cross-attention pooling block, a linear head.

Names follow the original probe checkpoints (``pooler.blocks.{i}``,
``pooler.cross_attention_block.{norm1,xattn.q,xattn.kv,norm2,mlp}``, ``linear``).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from vjepa2.models.blocks import MLP, Block, init_weights


class CrossAttention(nn.Module):
    """Queries attend to tokens; q and kv projections, no output projection (as released)."""

    def __init__(self, dim: int, num_heads: int) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.q = nn.Linear(dim, dim)
        self.kv = nn.Linear(dim, 2 * dim)

    def forward(self, queries: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
        """``queries`` [B, Q, D], ``tokens`` [B, N, D] -> [B, Q, D]."""
        b, nq, d = queries.shape
        hd = d // self.num_heads
        q = self.q(queries).view(b, nq, self.num_heads, hd).transpose(1, 2)
        kv = self.kv(tokens).view(b, tokens.size(1), 2, self.num_heads, hd).permute(2, 0, 3, 1, 4)
        out = F.scaled_dot_product_attention(q, kv[0], kv[1])
        return out.transpose(1, 2).reshape(b, nq, d)


class CrossAttentionBlock(nn.Module):
    """``q + xattn(q, norm1(x))`` (queries not normalised), then ``q + mlp(norm2(q))``."""

    def __init__(self, dim: int, num_heads: int, mlp_ratio: float, eps: float) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=eps)
        self.xattn = CrossAttention(dim, num_heads)
        self.norm2 = nn.LayerNorm(dim, eps=eps)
        self.mlp = MLP(dim, int(dim * mlp_ratio))

    def forward(self, queries: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
        q = queries + self.xattn(queries, self.norm1(tokens))
        return q + self.mlp(self.norm2(q))


class AttentivePooler(nn.Module):
    """``num_self_blocks`` self-attention blocks (no RoPE), then cross-attention from learned
    queries: tokens ``[B, N, D]`` -> pooled ``[B, Q, D]``."""

    def __init__(
        self,
        dim: int,
        num_heads: int,
        num_self_blocks: int = 3,
        num_queries: int = 1,
        mlp_ratio: float = 4.0,
        eps: float = 1e-5,
    ) -> None:
        super().__init__()
        self.query_tokens = nn.Parameter(torch.zeros(1, num_queries, dim))
        self.blocks = nn.ModuleList(
            Block(dim, num_heads, mlp_ratio, qkv_bias=True, eps=eps) for _ in range(num_self_blocks)
        )
        self.cross_attention_block = CrossAttentionBlock(dim, num_heads, mlp_ratio, eps)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        for block in self.blocks:
            tokens = block(tokens)
        queries = self.query_tokens.expand(tokens.size(0), -1, -1)
        return self.cross_attention_block(queries, tokens)


class AttentiveClassifier(nn.Module):
    """Attentive pooler + linear layer: tokens ``[B, N, D]`` -> logits ``[B, num_classes]``.

    Original probes use 16 heads and LayerNorm eps 1e-5 for every model; transformers checkpoints
    use the encoder's head count and eps 1e-6. Both are explicit here: the weight shapes are the
    same, so a wrong head count would otherwise load silently.
    """

    def __init__(
        self,
        dim: int,
        num_classes: int,
        num_heads: int = 16,
        num_self_blocks: int = 3,
        num_queries: int = 1,
        eps: float = 1e-5,
    ) -> None:
        super().__init__()
        self.pooler = AttentivePooler(dim, num_heads, num_self_blocks, num_queries, eps=eps)
        self.linear = nn.Linear(dim, num_classes)

    @classmethod
    def from_config(cls, config) -> AttentiveClassifier:
        """The head a classifier config describes (either family: ``hidden_size``,
        ``num_labels``, ``pooler_num_heads``, ``num_pooler_layers``, ``classifier_num_queries``,
        ``pooler_layer_norm_eps``)."""
        return cls(
            config.hidden_size,
            config.num_labels,
            num_heads=config.pooler_num_heads,
            num_self_blocks=config.num_pooler_layers,
            num_queries=config.classifier_num_queries,
            eps=config.pooler_layer_norm_eps,
        )

    def reset_parameters(self, std: float = 0.02) -> None:
        """Training init: truncated normal weights, zero biases, queries ~ N(0, std)."""
        init_weights(self, std)
        nn.init.trunc_normal_(self.pooler.query_tokens, std=std)

    def pool(self, tokens: torch.Tensor) -> torch.Tensor:
        """Pooled features ``[B, D]`` (``[B, Q, D]`` with several queries)."""
        pooled = self.pooler(tokens)
        return pooled.squeeze(1) if pooled.size(1) == 1 else pooled

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        """Logits ``[B, num_classes]`` (``[B, Q, num_classes]`` with several queries)."""
        return self.linear(self.pool(tokens))


class MultiTaskClassifier(nn.Module):
    """The action-anticipation probe (EK100): one attentive pooler with a query per task, then a
    linear head per task on its own query. Heads are named ``{task}_classifier`` (``verb``,
    ``noun``, ``action``), as in the original files.

    tokens ``[B, N, D]`` -> ``{task: logits [B, C_task]}``.
    """

    def __init__(
        self,
        dim: int,
        tasks: Sequence[tuple[str, int]],
        num_heads: int = 16,
        num_self_blocks: int = 3,
        eps: float = 1e-5,
    ) -> None:
        super().__init__()
        self.tasks = tuple(name for name, _ in tasks)
        self.pooler = AttentivePooler(dim, num_heads, num_self_blocks, len(self.tasks), eps=eps)
        for name, classes in tasks:
            self.add_module(f"{name}_classifier", nn.Linear(dim, classes))

    def head(self, task: str) -> nn.Linear:
        return getattr(self, f"{task}_classifier")

    def pool(self, tokens: torch.Tensor) -> torch.Tensor:
        """Pooled features ``[B, Q, D]``, query ``i`` for task ``i``."""
        return self.pooler(tokens)

    def logits(self, pooled: torch.Tensor) -> dict[str, torch.Tensor]:
        """``{task: [B, C_task]}`` from pooled ``[B, Q, D]``."""
        return {task: self.head(task)(pooled[:, i]) for i, task in enumerate(self.tasks)}

    def forward(self, tokens: torch.Tensor) -> dict[str, torch.Tensor]:
        return self.logits(self.pool(tokens))
