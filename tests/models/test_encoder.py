"""Encoder and predictor behaviour beyond parity: shapes, errors, layers, masks, checkpointing."""

import pytest
import torch

import vjepa2
from tests.conftest import tiny_config
from vjepa2.models.rope import RopeTables
from vjepa2.presets import PRESETS, count_parameters


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    m = vjepa2.VJEPA2Model(tiny_config()).eval()
    m.reset_parameters()
    return m


@pytest.mark.parametrize("t,h,w", [(2, 32, 48), (4, 64, 32), (6, 48, 80), (1, 16, 16)])
def test_any_grid(model, t, h, w):
    out = model(torch.randn(2, t, 3, h, w)).last_hidden_state
    assert out.shape == (2, max(t, 2) // 2 * (h // 16) * (w // 16), 96)


@torch.no_grad()
def test_non_square_uses_the_input_grid(model):
    """Our blocks with tables built from the input's (Hp, Wp) = (2, 5) reproduce the forward."""
    x = torch.randn(1, 4, 3, 32, 80)
    tokens, grid = model.encoder.embed(x)
    assert grid == (2, 2, 5)
    rope = RopeTables.build(torch.arange(tokens.size(1)), (2, 5), 32, torch.float32)
    for block in model.encoder.blocks:
        tokens = block(tokens, rope)
    torch.testing.assert_close(model(x).last_hidden_state, model.encoder.norm(tokens))
    wrong = RopeTables.build(torch.arange(20), (4, 4), 32, torch.float32)  # a square grid
    assert not torch.allclose(
        model.encoder.blocks[0](tokens, wrong), model.encoder.blocks[0](tokens, rope)
    )


@pytest.mark.parametrize(
    "shape,match",
    [
        ((1, 3, 3, 32, 32), "divisible by the tubelet"),
        ((1, 2, 3, 30, 32), "divisible by 16"),
        ((1, 2, 4, 32, 32), "channels"),
        ((2, 3, 32, 32), r"\[B, T, C, H, W\]"),
    ],
)
def test_bad_shapes(model, shape, match):
    with pytest.raises(ValueError, match=match):
        model(torch.randn(*shape))


@torch.no_grad()
def test_intermediate_layers_go_through_the_final_norm(model):
    x = torch.randn(1, 2, 3, 32, 32)
    first, last = model.encoder(x, out_layers=[0, -1])
    torch.testing.assert_close(last, model(x).last_hidden_state)
    tokens, _ = model.encoder.embed(x)
    rope = RopeTables.build(torch.arange(tokens.size(1)), (2, 2), 32, torch.float32)
    torch.testing.assert_close(first, model.encoder.norm(model.encoder.blocks[0](tokens, rope)))


@torch.no_grad()
def test_several_masks_stack_along_the_batch(model):
    x = torch.randn(2, 4, 3, 32, 32)
    m1 = torch.tensor([[0, 1, 2, 5], [3, 4, 6, 7]])
    m2 = torch.tensor([[1, 2, 3, 4], [0, 2, 4, 6]])
    both = model.encoder(x, masks=[m1, m2])
    assert both.shape == (4, 4, 96)
    torch.testing.assert_close(both[:2], model.encoder(x, masks=m1))
    torch.testing.assert_close(both[2:], model.encoder(x, masks=m2))
    tgt = torch.tensor([[6, 7], [0, 1]])
    out = model(x, context_idx=[m1], target_idx=[tgt])
    assert out.predictor_output.shape == (2, 2, 96)


def test_gradient_checkpointing_is_numerically_neutral():
    torch.manual_seed(0)
    model = vjepa2.VJEPA2Model(tiny_config())
    x = torch.randn(2, 4, 3, 32, 32)
    grads = []
    for checkpointing in (False, True):
        model.zero_grad()
        model.encoder.gradient_checkpointing = checkpointing
        model.predictor.gradient_checkpointing = checkpointing
        out = model(x, context_idx=[torch.arange(5).expand(2, 5)],
                    target_idx=[torch.arange(5, 8).expand(2, 3)])  # fmt: skip
        out.predictor_output.square().mean().backward()
        grads.append([p.grad for p in model.parameters()])
    for a, b in zip(*grads, strict=True):
        assert (a is None) == (b is None)  # unused mask tokens get no gradient either way
        if a is not None:
            torch.testing.assert_close(a, b)


@torch.no_grad()
def test_bf16_autocast_builds_tables_in_bf16(model):
    x = torch.randn(1, 2, 3, 32, 32)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = model(x).last_hidden_state
    ref = model(x).last_hidden_state
    assert (out.float() - ref).abs().max() < 0.2


def test_predictor_checks_its_inputs(model):
    ctx = torch.randn(2, 4, 96)
    with pytest.raises(ValueError, match="context has 4 tokens"):
        model.predictor(
            ctx, torch.zeros(2, 3, dtype=torch.long), torch.zeros(2, 2, dtype=torch.long)
        )
    with pytest.raises(ValueError, match="batch mismatch"):
        model.predictor(
            ctx, torch.zeros(1, 4, dtype=torch.long), torch.zeros(2, 2, dtype=torch.long)
        )


@pytest.mark.parametrize(
    "name,millions", [("vitl", 303.9), ("vith", 631.6), ("vitg", 1012.2), ("vitg-384", 1012.2)]
)
def test_preset_sizes_match_the_released_models(name, millions):
    config = PRESETS[name].config()
    assert count_parameters(config) / 1e6 == pytest.approx(millions, abs=0.05)
    with torch.device("meta"):
        model = vjepa2.build_model(config, with_predictor=True)
    assert sum(p.numel() for p in model.encoder.parameters()) == count_parameters(config)
    assert model.num_parameters() == count_parameters(config, predictor=True)
    assert 22.0e6 < model.num_parameters() - count_parameters(config) < 22.5e6  # predictor


def test_classifier_preset_size():
    config = PRESETS["vitl-ssv2"].config()
    with torch.device("meta"):
        model = vjepa2.build_model(config)
    assert model.num_parameters() == count_parameters(config, predictor=True)
    head = sum(p.numel() for p in model.head.parameters())
    assert 49e6 < head < 50.5e6  # spec: probe ≈ 49.5M for SSv2 ViT-L


def test_inference_mlp_chunks_equal_the_autograd_path(monkeypatch):
    """At inference the MLP adds into the residual a chunk of tokens at a time; with several
    chunks (and a ragged last one) it matches the plain path the autograd uses."""
    from vjepa2.models import blocks

    monkeypatch.setitem(blocks._MLP_ROWS, "cpu", 100)
    block = blocks.Block(64, 4, mlp_ratio=48 / 11).eval()
    x = torch.randn(2, 333, 64)
    before = x.clone()
    expected = block(x)  # grads enabled: x + mlp(norm2(x)) on all tokens at once
    with torch.no_grad():
        got = block(x)
    assert expected.requires_grad and not got.requires_grad
    assert (got - expected).abs().max() <= 1e-5
    assert torch.equal(x, before)  # the caller's tensor is not modified in place


def test_predictor_without_time_positions_cannot_tell_time_apart():
    """pred_time_positions=False: mask tokens at one (h, w) but different times get the same
    prediction, and shuffling the context's time steps changes nothing; with it on, both do."""
    grid = 16  # 4 x 4 patches at 64 px
    ctx = torch.randn(1, 2 * grid, 96)
    cidx = torch.arange(2 * grid)[None]
    tidx = torch.arange(2 * grid, 4 * grid)[None]  # time steps 2 and 3
    swapped = torch.cat([ctx[:, grid:], ctx[:, :grid]], dim=1)  # time steps 0 and 1 exchanged
    for time_positions in (False, True):
        torch.manual_seed(0)
        config = tiny_config(frames_per_clip=8, pred_time_positions=time_positions)
        model = vjepa2.VJEPA2Model(config)
        for token in model.predictor.mask_tokens:
            torch.nn.init.normal_(token)
        with torch.no_grad():
            out = model.predictor(ctx, cidx, tidx)
            out_swapped = model.predictor(swapped, cidx, tidx)
        same_place = (out[:, :grid] - out[:, grid:]).abs().max().item()
        shuffled = (out - out_swapped).abs().max().item()
        if time_positions:
            assert same_place > 1e-3 and shuffled > 1e-3
        else:
            assert same_place == 0.0 and shuffled < 1e-5


def test_predictor_time_positions_is_written_only_when_off(tmp_path):
    assert "pred_time_positions" not in tiny_config().to_dict()
    config = tiny_config(pred_time_positions=False)
    assert config.to_dict()["pred_time_positions"] is False
    config.save(tmp_path)
    loaded = vjepa2.VJEPA2Config.from_json_file(tmp_path / "config.json")
    assert loaded.pred_time_positions is False
    assert loaded.to_dict() == config.to_dict()


def test_abs_positions_add_the_sincos_table_to_the_patch_embeddings():
    """abs_positions=True: the patch embeddings plus the fixed table (no new parameters), each
    token its own cell's row before the mask keeps some, and the outputs change with it."""
    from vjepa2.models.encoder import sincos_positions

    torch.manual_seed(0)
    video = torch.randn(2, 8, 3, 32, 48)
    off = vjepa2.VJEPA2Model(tiny_config(frames_per_clip=8)).encoder
    on = vjepa2.VJEPA2Model(tiny_config(frames_per_clip=8, abs_positions=True)).encoder
    on.load_state_dict(off.state_dict())
    x_off, grid = off.embed(video)
    x_on, _ = on.embed(video)
    assert grid == (4, 2, 3)
    torch.testing.assert_close(x_on - x_off, sincos_positions(grid, 96).expand_as(x_on))
    keep = torch.tensor([[0, 5, 7, 20], [1, 2, 3, 23]])
    with torch.no_grad():
        assert (on(video) - off(video)).abs().max() > 1e-2
        masked = on(video, masks=keep)
        off.embed = lambda v: (x_on, grid)  # the position-free encoder fed the same tokens
        assert torch.equal(masked, off(video, masks=keep))


def test_pred_abs_positions_add_each_tokens_row_of_the_sincos_table():
    """pred_abs_positions=True: the predictor's sorted tokens (context and mask tokens) get the
    sin-cos row of their own (t, h, w) cell, on grids the config's crop size does not give, and
    the predictions change with it; the encoder is untouched."""
    from vjepa2.models.encoder import sincos_positions

    torch.manual_seed(0)
    off = vjepa2.VJEPA2Model(tiny_config(frames_per_clip=8))
    on = vjepa2.VJEPA2Model(tiny_config(frames_per_clip=8, pred_abs_positions=True))
    on.load_state_dict(off.state_dict())
    grid_hw = (2, 3)
    cidx = torch.tensor([[0, 4, 7, 11], [1, 2, 3, 5]])  # 4 time steps of 2 x 3 cells
    tidx = torch.tensor([[19, 12, 23], [6, 22, 17]])
    ctx = torch.randn(2, 4, 96)
    x_off, positions, order = off.predictor.tokens(ctx, cidx, tidx, 0, grid_hw)
    x_on, positions_on, order_on = on.predictor.tokens(ctx, cidx, tidx, 0, grid_hw)
    assert torch.equal(positions, positions_on) and torch.equal(order, order_on)
    assert torch.equal(positions, torch.cat([cidx, tidx], 1).sort(1).values)
    table = sincos_positions((4, *grid_hw), on.config.pred_hidden_size)
    torch.testing.assert_close(x_on - x_off, table[positions])
    with torch.no_grad():
        out_on = on.predictor(ctx, cidx, tidx, grid_hw=grid_hw)
        out_off = off.predictor(ctx, cidx, tidx, grid_hw=grid_hw)
    assert out_on.shape == (2, 3, 96) and (out_on - out_off).abs().max() > 1e-3
    assert "pred_abs_positions" not in tiny_config().to_dict()
    assert on.config.to_dict()["pred_abs_positions"] is True
    video = torch.randn(1, 8, 3, 32, 48)
    with torch.no_grad():
        assert torch.equal(on.encoder(video), off.encoder(video))


def test_abs_positions_is_written_only_when_on(tmp_path):
    assert "abs_positions" not in tiny_config().to_dict()
    config = tiny_config(abs_positions=True)
    config.save(tmp_path)
    loaded = vjepa2.VJEPA2Config.from_json_file(tmp_path / "config.json")
    assert loaded.abs_positions is True and loaded.to_dict() == config.to_dict()


@pytest.mark.parametrize(
    "channels, dim, tubelet, patch, shape",
    [(3, 48, 2, 16, (2, 4, 32, 48)), (3, 32, 1, 8, (1, 1, 24, 16)), (1, 16, 2, 4, (3, 6, 8, 12))],
)
def test_patch_embedding_equals_the_strided_conv3d(channels, dim, tubelet, patch, shape):
    from vjepa2.models.encoder import PatchEmbed3D

    torch.manual_seed(0)
    embed = PatchEmbed3D(channels, dim, tubelet, patch)
    b, t, h, w = shape
    video = torch.randn(b, t, channels, h, w)
    conv = embed.proj(video.transpose(1, 2))  # the checkpoints' Conv3d: [B, D, T', Hp, Wp]
    expected = conv.flatten(2).transpose(1, 2)
    assert torch.equal(embed(video), expected)  # float32 runs the Conv3d itself
    got = embed.tubelet_product(video)  # what half precision runs
    assert got.shape == (b, (t // tubelet) * (h // patch) * (w // patch), dim)
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=0)
    half = embed.to(torch.bfloat16)(video.bfloat16())
    torch.testing.assert_close(half.float(), got, atol=0.05, rtol=0.02)
