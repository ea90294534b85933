"""The attention mask of ``Attention`` / ``Block`` (the AC predictor's block-causal mask)."""

import torch

from vjepa2.models.blocks import Block, apply_block
from vjepa2.models.rope import RopeTables


def block_and_tokens(steps: int = 3, per_step: int = 4, dim: int = 48):
    torch.manual_seed(0)
    block = Block(dim, num_heads=3).eval()
    with torch.no_grad():
        for p in block.parameters():
            p.add_(torch.randn_like(p) * 0.05)
    n = steps * per_step
    rope = RopeTables.build(torch.arange(n), (2, 2), dim // 3, torch.float32)
    return block, torch.randn(2, n, dim), rope


def block_causal(steps: int, per_step: int) -> torch.Tensor:
    """[N, N] bool, True = may attend: tokens of step t see every token of steps <= t."""
    step = torch.arange(steps * per_step) // per_step
    return step[:, None] >= step[None, :]


@torch.no_grad()
def test_all_true_mask_equals_the_unmasked_path():
    block, x, rope = block_and_tokens()
    everything = torch.ones(x.size(1), x.size(1), dtype=torch.bool)
    unmasked = block(x, rope)
    assert (block(x, rope, everything) - unmasked).abs().max() <= 1e-6
    per_batch = everything.expand(2, 1, -1, -1)  # [B, heads, N, N] broadcasting
    assert (block(x, rope, per_batch) - unmasked).abs().max() <= 1e-6
    assert (block.attn(x, rope, everything) - block.attn(x, rope)).abs().max() <= 1e-6


@torch.no_grad()
def test_block_causal_mask_hides_later_steps():
    block, x, rope = block_and_tokens(steps=3, per_step=4)
    mask = block_causal(3, 4)
    out = block(x, rope, mask)
    changed = x.clone()
    changed[:, 4:] = torch.randn_like(changed[:, 4:])  # every token after step 0
    again = block(changed, rope, mask)
    assert torch.equal(out[:, :4], again[:, :4])  # step 0 sees only itself
    assert not torch.allclose(out[:, 4:], again[:, 4:])
    # Without the mask, step 0 does see the later tokens.
    assert not torch.allclose(block(x, rope)[:, :4], block(changed, rope)[:, :4])


def test_mask_under_gradients_and_checkpointing():
    block, x, rope = block_and_tokens(steps=2, per_step=3)
    mask = block_causal(2, 3)
    x.requires_grad_(True)
    checkpointed = apply_block(block, x, rope, checkpointing=True, attn_mask=mask)
    assert torch.equal(checkpointed, block(x, rope, mask))
    checkpointed[:, :3].sum().backward()
    assert x.grad[:, 3:].abs().max() == 0  # no gradient flows from step 1 into step 0's output
    assert x.grad[:, :3].abs().max() > 0
