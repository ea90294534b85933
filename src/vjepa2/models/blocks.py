"""Transformer building blocks shared by the encoder, the predictor and the attentive probe.

State-dict names follow the original code (``norm1``, ``attn.qkv``, ``attn.proj``, ``norm2``,
``mlp.fc1``, ``mlp.fc2``), so original checkpoints load without renaming.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
import torch.utils.checkpoint
from torch import nn

from vjepa2.models.rope import RopeTables

# Token rows per MLP chunk at inference. On the CPU, 1024 rows keep the hidden activation of a
# ViT-L (4096 wide) at 16 MiB: it is reused from the heap instead of being a fresh multi-MB
# allocation whose pages the kernel must fault in and zero on every layer.
_MLP_ROWS = {"cpu": 1024}
_MLP_ROWS_DEFAULT = 16384


class MLP(nn.Module):
    """Linear -> exact (erf) GELU -> Linear."""

    def __init__(self, dim: int, hidden: int) -> None:
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(F.gelu(self.fc1(x)))

    def add_into_(self, x: torch.Tensor, norm: nn.Module) -> torch.Tensor:
        """``x += mlp(norm(x))`` in place, a chunk of tokens at a time (inference only: ``x``
        [B, N, D] must be contiguous and owned by the caller). Peak memory is one chunk's
        hidden activation instead of [B, N, hidden]."""
        rows = x.view(-1, x.shape[-1])
        step = _MLP_ROWS.get(x.device.type, _MLP_ROWS_DEFAULT)
        for chunk in rows.split(step):
            hidden = F.gelu(self.fc1(norm(chunk)))
            chunk.add_(self.fc2(hidden))
        return x


class Attention(nn.Module):
    """Multi-head self-attention with one fused qkv projection and optional 3D RoPE on q and k.

    The qkv output is laid out as contiguous [q | k | v] row blocks, heads split afterwards.
    """

    def __init__(self, dim: int, num_heads: int, qkv_bias: bool = True) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.head_dim = dim // num_heads
        self.qkv = nn.Linear(dim, 3 * dim, bias=qkv_bias)
        self.proj = nn.Linear(dim, dim)

    def forward(
        self,
        x: torch.Tensor,
        rope: RopeTables | None = None,
        attn_mask: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """``x``: [B, N, D] -> [B, N, D].

        ``attn_mask``: None (every token attends to every token, SDPA's fast path) or a bool
        tensor broadcastable to [B, heads, N, N], True where a query may attend to a key (e.g.
        the block-causal mask of the action-conditioned predictor).
        """
        b, n, d = x.shape
        qkv = self.qkv(x).view(b, n, 3, self.num_heads, self.head_dim).permute(2, 0, 3, 1, 4)
        if rope is None:
            q, k = qkv[0], qkv[1]
        else:
            q, k = rope.apply(qkv[:2]).unbind(0)
        # SDPA's CPU kernels run markedly slower on the strided slice than the copy costs.
        v = qkv[2].contiguous()
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask)  # [B, H, N, hd]
        return self.proj(out.transpose(1, 2).reshape(b, n, d))


class Block(nn.Module):
    """Pre-norm transformer block: ``x + attn(norm1(x))`` then ``x + mlp(norm2(x))``."""

    def __init__(
        self,
        dim: int,
        num_heads: int,
        mlp_ratio: float = 4.0,
        qkv_bias: bool = True,
        eps: float = 1e-6,
    ) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=eps)
        self.attn = Attention(dim, num_heads, qkv_bias)
        self.norm2 = nn.LayerNorm(dim, eps=eps)
        self.mlp = MLP(dim, int(dim * mlp_ratio))

    def forward(
        self,
        x: torch.Tensor,
        rope: RopeTables | None = None,
        attn_mask: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """``x`` [B, N, D] -> [B, N, D]; ``attn_mask`` as in :meth:`Attention.forward`."""
        x = x + self.attn(self.norm1(x), rope, attn_mask)
        if torch.is_grad_enabled():
            return x + self.mlp(self.norm2(x))
        # Inference: `x` is now a fresh tensor of this block's own, so the MLP adds into it.
        return self.mlp.add_into_(x, self.norm2)


def apply_block(
    block: Block,
    x: torch.Tensor,
    rope: RopeTables | None,
    checkpointing: bool = False,
    attn_mask: torch.Tensor | None = None,
) -> torch.Tensor:
    """``block(x, rope, attn_mask)``, through activation checkpointing when asked to and grads
    are on."""
    if checkpointing and torch.is_grad_enabled():
        return torch.utils.checkpoint.checkpoint(block, x, rope, attn_mask, use_reentrant=False)
    return block(x, rope, attn_mask)


def init_weights(module: nn.Module, std: float = 0.02) -> None:
    """The original training init: truncated normal (±2 absolute) on Linear/Conv, zero biases,
    unit LayerNorms, and ``attn.proj`` / ``mlp.fc2`` of block i (1-based) scaled by 1/sqrt(2i)."""
    for m in module.modules():
        if isinstance(m, (nn.Linear, nn.Conv3d)):
            nn.init.trunc_normal_(m.weight, std=std, a=-2.0, b=2.0)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.LayerNorm):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
    blocks = [m for m in module.modules() if isinstance(m, Block)]
    for i, block in enumerate(blocks, start=1):
        with torch.no_grad():
            block.attn.proj.weight.div_((2.0 * i) ** 0.5)
            block.mlp.fc2.weight.div_((2.0 * i) ** 0.5)
