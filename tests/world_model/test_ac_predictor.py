"""The AC predictor on other shapes: head dims, more steps, longer rollouts, causality, RoPE."""

import pytest
import torch

from tests.world_model.conftest import random_world_model
from vjepa2.models.ac_predictor import ac_rope_tables, block_causal_mask
from vjepa2.models.rope import RopeTables, rope_axis_dim

N = 16  # tokens per frame of the tiny 64 px encoder


def inputs(wm, batch=2, frames=3):
    c = wm.config.predictor
    h = torch.randn(batch, frames * N, wm.config.encoder.hidden_size)
    return h, torch.randn(batch, frames, c.action_dim), torch.randn(batch, frames, c.state_dim)


@pytest.mark.parametrize("heads", [1, 2, 4, 8])
@pytest.mark.parametrize("use_extrinsics", [False, True])
def test_other_head_dims_and_extrinsics(heads, use_extrinsics):
    wm = random_world_model(num_attention_heads=heads, use_extrinsics=use_extrinsics)
    h, actions, states = inputs(wm)
    extrinsics = torch.randn(2, 3, 6) if use_extrinsics else None
    with torch.no_grad():
        z = wm.predictor(h, actions, states, extrinsics)
    assert z.shape == h.shape and torch.isfinite(z).all()
    if use_extrinsics:
        with torch.no_grad():
            other = wm.predictor(h, actions, states, extrinsics + 1)
        assert not torch.allclose(z, other)
        with pytest.raises(ValueError, match="extrinsics"):
            wm.predictor(h, actions, states)


@pytest.mark.parametrize("causal", [True, False])
def test_later_steps_do_not_change_earlier_predictions(causal):
    wm = random_world_model(is_frame_causal=causal)
    h, actions, states = inputs(wm, frames=5)
    with torch.no_grad():
        base = wm.predictor(h, actions, states)
        actions2, states2, h2 = actions.clone(), states.clone(), h.clone()
        actions2[:, 3] += 1.0
        states2[:, 3] -= 1.0
        h2[:, 3 * N :] += 1.0
        changed = wm.predictor(h2, actions2, states2)
    earlier, later = slice(0, 3 * N), slice(3 * N, None)
    assert not torch.allclose(base[:, later], changed[:, later], atol=1e-4)
    if causal:
        assert torch.allclose(base[:, earlier], changed[:, earlier], atol=1e-6, rtol=0)
    else:
        assert not torch.allclose(base[:, earlier], changed[:, earlier], atol=1e-4)


def test_more_steps_and_longer_rollouts():
    wm = random_world_model(num_attention_heads=2)
    frames = 6
    h, actions, states = inputs(wm, frames=frames)
    actions = actions[:, :-1]
    with torch.no_grad():
        z_tf = wm.teacher_forcing(h, actions, states)
        assert z_tf.shape == (2, (frames - 1) * N, 96)
        for steps in range(1, frames):
            z_ar = wm.rollout(h, actions, states, steps, z_tf=z_tf)
            assert z_ar.shape == (2, steps * N, 96)
            assert torch.equal(z_ar[:, :N], z_tf[:, :N])  # frame 1 is teacher-forced
        tf, ar = wm.losses(h, actions, states, rollout_steps=frames - 1)
        # A rollout of 3 steps is the first 3 frames of a rollout of 5 (causality).
        long, short = wm.rollout(h, actions, states, 5), wm.rollout(h, actions, states, 3)
    assert torch.allclose(long[:, : 3 * N], short, atol=1e-6, rtol=0)
    assert tf.ndim == ar.ndim == 0 and tf > 0 and ar > 0
    with pytest.raises(ValueError, match=r"rollout steps must be in 1\.\.5"):
        wm.rollout(h, actions, states, 6)


def test_rollout_uses_its_own_predictions():
    wm = random_world_model()
    h, actions, states = inputs(wm, frames=4)
    actions = actions[:, :-1]
    with torch.no_grad():
        z_ar = wm.rollout(h, actions, states, 3)
        h2 = h.clone()
        h2[:, 2 * N :] += 1.0  # true frames 2, 3 are never fed to a 3-step rollout
        assert torch.equal(wm.rollout(h2, actions, states, 3), z_ar)
        assert not torch.allclose(wm.teacher_forcing(h2, actions, states), wm.teacher_forcing(
            h, actions, states
        ))  # fmt: skip


def test_losses_train_the_predictor_only():
    wm = random_world_model()
    h, actions, states = inputs(wm, frames=3)
    tf, ar = wm.losses(h, actions[:, :-1], states)
    (tf + ar).backward()
    assert all(p.grad is None for p in wm.encoder.parameters())
    unused = {"extrinsics_encoder.weight", "extrinsics_encoder.bias"}  # no use_extrinsics
    for name, p in wm.predictor.named_parameters():
        assert (p.grad is None) == (name in unused), name
    assert wm.predictor.action_encoder.weight.grad.abs().sum() > 0


def test_shape_errors():
    wm = random_world_model()
    h, actions, states = inputs(wm, frames=3)
    with pytest.raises(ValueError, match="actions must be"):
        wm.predictor(h, actions[:, :2], states)
    with pytest.raises(ValueError, match="states must be"):
        wm.predictor(h, actions, states[..., :3])
    with pytest.raises(ValueError, match="whole number"):
        wm.predictor(h[:, :20], actions, states)
    with pytest.raises(ValueError, match="3 frames need 2 actions"):
        wm.losses(h, actions, states)
    with pytest.raises(ValueError, match="token grid"):
        wm.encode_frames(torch.randn(1, 2, 3, 32, 32))


def test_block_causal_mask_matches_the_original_construction():
    steps, per_step = 4, 3
    expected = torch.zeros(steps * per_step, steps * per_step, dtype=torch.bool)
    for t1 in range(steps):
        for t2 in range(t1 + 1):
            expected[t1 * per_step : (t1 + 1) * per_step, t2 * per_step : (t2 + 1) * per_step] = 1
    assert torch.equal(block_causal_mask(steps, per_step, torch.device("cpu")), expected)


@pytest.mark.parametrize("head_dim", [16, 64])
def test_rope_tables(head_dim):
    steps, cond, grid = 3, 2, (4, 4)
    a = rope_axis_dim(head_dim)
    tables = ac_rope_tables(steps, cond, grid, head_dim, torch.float32, torch.device("cpu"))
    cos, sin = tables.cos[0, 0].view(steps, cond + 16, head_dim), tables.sin[0, 0].view(
        steps, cond + 16, head_dim
    )  # fmt: skip
    # Frame tokens: the encoder's 3D RoPE at their (step, row, column).
    frames = RopeTables.build(torch.arange(steps * 16), grid, head_dim, torch.float32)
    assert torch.equal(cos[:, cond:].flatten(0, 1), frames.cos[0, 0])
    assert torch.equal(sin[:, cond:].flatten(0, 1), frames.sin[0, 0])
    # Conditioning tokens: the time slice only, with the frame tokens' time angles.
    for c in range(cond):
        assert torch.equal(cos[:, c, :a], cos[:, cond, :a])
        assert torch.equal(sin[:, c, :a], sin[:, cond, :a])
        assert torch.equal(cos[:, c, a:], torch.ones(steps, head_dim - a))
        assert torch.equal(sin[:, c, a:], torch.zeros(steps, head_dim - a))
    assert not torch.equal(cos[1, 0, :a], cos[0, 0, :a])
