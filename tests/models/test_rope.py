"""RoPE against a literal, element-by-element reading of the reference formula (spec §2)."""

import math

import pytest
import torch

from vjepa2.models.rope import RopeTables, grid_positions, rope_axis_dim


def reference_rope(x: torch.Tensor, t: int, h: int, w: int) -> torch.Tensor:
    """Rotate one vector ``x`` [hd] of the token at grid position (t, h, w), scalar by scalar.

    Axis slice j (time, height, width) covers dims [j*a, (j+1)*a); element k of a slice uses the
    angle pos * omega[k mod a/2] and is paired with its neighbour; the rest is left alone.
    """
    hd = x.numel()
    a = 2 * ((hd // 3) // 2)
    half = a // 2
    out = x.clone()
    for j, pos in enumerate((t, h, w)):
        for k in range(0, a, 2):
            i0, i1 = j * a + k, j * a + k + 1
            th0 = pos / 10000 ** ((k % half) / half)
            th1 = pos / 10000 ** (((k + 1) % half) / half)
            out[i0] = x[i0] * math.cos(th0) - x[i1] * math.sin(th0)
            out[i1] = x[i1] * math.cos(th1) + x[i0] * math.sin(th1)
    return out


@pytest.mark.parametrize("head_dim", [32, 64, 80, 88])
@pytest.mark.parametrize("grid", [(2, 3, 5), (1, 4, 4), (3, 2, 1)])
def test_tables_match_reference_formula(head_dim, grid):
    tp, hp, wp = grid
    n = tp * hp * wp
    x = torch.randn(1, 1, n, head_dim, dtype=torch.float64)
    rope = RopeTables.build(torch.arange(n), (hp, wp), head_dim, torch.float64)
    got = rope.apply(x)[0, 0]
    for idx in range(n):
        t, r = divmod(idx, hp * wp)
        h, w = divmod(r, wp)
        torch.testing.assert_close(got[idx], reference_rope(x[0, 0, idx], t, h, w))


def test_unrotated_remainder_and_axis_split():
    assert rope_axis_dim(64) == 20 and rope_axis_dim(80) == 26 and rope_axis_dim(32) == 10
    x = torch.randn(1, 1, 6, 80)
    rope = RopeTables.build(torch.arange(6), (2, 3), 80, torch.float32)
    out = rope.apply(x)
    torch.testing.assert_close(out[..., 78:], x[..., 78:], rtol=0, atol=0)
    assert not torch.allclose(out[..., :78], x[..., :78])


def test_batched_indices_use_their_own_positions():
    idx = torch.tensor([[0, 5, 7], [3, 4, 11]])
    rope = RopeTables.build(idx, (2, 3), 64, torch.float32)
    full = RopeTables.build(torch.arange(12), (2, 3), 64, torch.float32)
    for b in range(2):
        torch.testing.assert_close(rope.cos[b, 0], full.cos[0, 0, idx[b]])
        torch.testing.assert_close(rope.sin[b, 0], full.sin[0, 0, idx[b]])


def test_grid_positions_non_square():
    t, h, w = grid_positions(torch.arange(2 * 3 * 5), (3, 5))
    assert t.tolist() == [0] * 15 + [1] * 15
    assert h.tolist()[:15] == [0] * 5 + [1] * 5 + [2] * 5
    assert w.tolist()[:6] == [0, 1, 2, 3, 4, 0]


def test_frequencies_follow_the_compute_dtype():
    idx = torch.arange(40)
    bf16 = RopeTables.build(idx, (4, 5), 64, torch.bfloat16)
    fp32 = RopeTables.build(idx, (4, 5), 64, torch.float32)
    assert bf16.cos.dtype == torch.bfloat16
    assert (bf16.cos.float() - fp32.cos).abs().max() > 0  # angles rounded in bf16, as the original
