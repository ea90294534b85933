"""V-JEPA 2.1 model pieces on random weights: RoPE, shapes, input checks, config, presets."""

import math

import pytest
import torch

from vjepa2.models.v21_rope import interleaved_rope, token_positions
from vjepa2.models.vjepa2_1 import (
    PRESETS_21,
    VJEPA21Config,
    VJEPA21Model,
    preset_for_file,
)


def small_config(**changes) -> VJEPA21Config:
    """12 blocks (the smallest depth with standard levels), 64 wide, 64 px, 4 frames."""
    kwargs = dict(
        crop_size=64, frames_per_clip=4, hidden_size=64, num_hidden_layers=12,
        num_attention_heads=2, pred_hidden_size=48, pred_num_hidden_layers=2,
        pred_num_attention_heads=2,
    )  # fmt: skip
    kwargs.update(changes)
    return VJEPA21Config(**kwargs)


def random_model(**changes) -> VJEPA21Model:
    model = VJEPA21Model(small_config(**changes)).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.normal_(0, 0.05)
    return model


# -- RoPE ----------------------------------------------------------------------------------


def rotate_by_formula(x, pos, dim):
    """out_2i = x_2i cos θ_i − x_2i+1 sin θ_i, out_2i+1 = x_2i+1 cos θ_i + x_2i sin θ_i."""
    out = x.clone()
    half = dim // 2
    for i in range(half):
        theta = pos * (1.0 / 10000 ** (i / half))
        c, s = math.cos(theta), math.sin(theta)
        out[2 * i] = x[2 * i] * c - x[2 * i + 1] * s
        out[2 * i + 1] = x[2 * i + 1] * c + x[2 * i] * s
    return out


@pytest.mark.parametrize("head_dim", [32, 24, 64])
def test_rope_is_a_pairwise_rotation(head_dim):
    a = 2 * ((head_dim // 3) // 2)
    grid = (3, 5)
    idx = torch.tensor([0, 7, 23, 29])  # t, h, w of 23: (1, 1, 3)
    x = torch.randn(1, 1, 4, head_dim, dtype=torch.float64)
    out = interleaved_rope(idx, grid, head_dim, torch.float64).apply(x)[0, 0]
    for n, flat in enumerate(idx.tolist()):
        t, rem = divmod(flat, 15)
        h, w = divmod(rem, 5)
        want = torch.cat([
            rotate_by_formula(x[0, 0, n, i * a:(i + 1) * a], p, a)
            for i, p in enumerate((t, h, w))
        ] + [x[0, 0, n, 3 * a:]])  # fmt: skip
        torch.testing.assert_close(out[n], want)


def test_rope_scores_depend_on_offsets_only():
    """A true rotation: q·k is the same for the same (t, h, w) offset anywhere on the grid."""
    q, k = torch.randn(2, 1, 1, 1, 32)
    grid = (8, 8)

    def score(i, j):
        rope = interleaved_rope(torch.tensor([i, j]), grid, 32, torch.float64)
        qq = rope.apply(q.double().expand(1, 1, 2, 32))[0, 0, 0]
        kk = rope.apply(k.double().expand(1, 1, 2, 32))[0, 0, 1]
        return (qq * kk).sum()

    torch.testing.assert_close(score(0, 9), score(64 + 18, 64 + 27))


def test_rope_interpolation_scales_height_and_width_not_time():
    idx = torch.arange(2 * 24 * 24)
    t, h, w = token_positions(idx, (24, 24), interpolate_to=16)
    assert t.max() == 1 and h.max() == 15 and w.max() == 15
    assert h[24] == pytest.approx(15 / 23)
    scaled = token_positions(idx[:256], (16, 16), interpolate_to=16)
    raw = token_positions(idx[:256], (16, 16))
    assert all(torch.equal(a, b) for a, b in zip(scaled, raw, strict=True))


def test_rope_interpolation_refuses_a_one_patch_side():
    with pytest.raises(ValueError, match="at least 2 patches per side"):
        token_positions(torch.arange(4), (1, 4), interpolate_to=16)


# -- encoder and model ---------------------------------------------------------------------


@torch.no_grad()
def test_non_square_video_and_image_shapes():
    model = random_model()
    out = model(torch.randn(2, 6, 3, 48, 96), hierarchical=True)
    assert out.last_hidden_state.shape == (2, 3 * 3 * 6, 64)
    assert out.hierarchical_hidden_state.shape == (2, 54, 256)
    torch.testing.assert_close(out.hierarchical_hidden_state[..., -64:], out.last_hidden_state)
    image = model(torch.randn(1, 3, 32, 80)).last_hidden_state
    assert image.shape == (1, 10, 64) and image.isfinite().all()


@torch.no_grad()
def test_one_patch_side_is_an_error_with_interpolation_and_runs_without():
    clip = torch.randn(1, 2, 3, 16, 64)
    with pytest.raises(ValueError, match="interpolate_rope"):
        random_model()(clip)
    assert random_model(interpolate_rope=False)(clip).last_hidden_state.isfinite().all()


@torch.no_grad()
def test_head_dim_64_and_the_one_level_distilled_layout():
    """ViT-B/L's shape: 4-level encoder, 1-level predictor fed the plain output, teacher width."""
    model = random_model(hidden_size=128, pred_num_levels=1, pred_teacher_dim=96)
    assert model.encoder.blocks[0].attn.head_dim == 64
    assert set(model.predictor.state_dict()) >= {"predictor_embed.weight", "predictor_embed.bias"}
    video = torch.randn(2, 4, 3, 64, 64)
    ctx, tgt = torch.arange(0, 32, 2).expand(2, 16), torch.arange(1, 32, 2).expand(2, 16)
    out = model(video, context_idx=ctx, target_idx=tgt)
    assert out.predictor_output.shape == (2, 16, 96)
    assert out.predictor_context_output.shape == (2, 16, 96)
    alone = model.predictor(out.masked_hidden_state, ctx, tgt)
    torch.testing.assert_close(alone.target, out.predictor_output)


@torch.no_grad()
def test_a_one_level_encoder():
    model = random_model(hierarchical_layers=[11], pred_num_levels=1)
    assert len(model.encoder.norms_block) == 1
    out = model(torch.randn(1, 2, 3, 32, 32), target_idx=torch.tensor([[0, 1]]), hierarchical=True)
    assert out.hierarchical_hidden_state.shape == (1, 4, 64)
    assert out.predictor_output.shape == (1, 2, 64) and out.predictor_output.isfinite().all()


@torch.no_grad()
def test_out_layers_are_the_hierarchical_levels():
    model = random_model()
    video = torch.randn(1, 2, 3, 32, 32)
    hier = model.encoder(video, hierarchical=True)
    levels = model.encoder(video, out_layers=[5, -1])
    torch.testing.assert_close(levels[0], hier[..., 64:128])
    torch.testing.assert_close(levels[1], hier[..., 192:])
    with pytest.raises(ValueError, match="hierarchical layers are"):
        model.encoder(video, out_layers=[4])


@torch.no_grad()
def test_stacked_masks_and_whole_clip_context():
    model = random_model()
    video = torch.randn(2, 4, 3, 64, 64)
    a, b = torch.arange(10).expand(2, 10), torch.arange(10, 20).expand(2, 10)
    both = model(video, context_idx=[a, b]).masked_hidden_state
    assert both.shape == (4, 10, 64)
    torch.testing.assert_close(both[2:], model(video, context_idx=b).masked_hidden_state)
    out = model(video, target_idx=torch.arange(5).expand(2, 5))
    assert out.last_hidden_state.shape == (2, 32, 64)
    assert out.predictor_context_output.shape == (2, 32, 256)


@pytest.mark.parametrize(
    ("shape", "message"),
    [
        ((1, 3, 3, 32, 32), "multiple of the tubelet"),
        ((1, 2, 4, 32, 32), "channels"),
        ((1, 2, 3, 30, 32), "multiples of 16"),
        ((2, 3, 32), "expected a clip"),
    ],
)
def test_bad_inputs_are_clear_errors(shape, message):
    with pytest.raises(ValueError, match=message):
        random_model()(torch.randn(*shape))


def test_predictor_input_checks():
    model = random_model()
    with pytest.raises(ValueError, match="level"):
        model.predictor(torch.randn(1, 4, 64), torch.arange(4)[None], torch.tensor([[5]]))
    with pytest.raises(ValueError, match="modality"):
        model.predictor(torch.randn(1, 4, 256), torch.arange(4)[None], torch.tensor([[5]]), 0,
                        "audio")  # fmt: skip


def test_training_init_and_gradients():
    model = random_model()
    model.reset_parameters()
    assert all(torch.equal(t, torch.zeros_like(t)) for t in model.predictor.mask_tokens)
    assert 0 < model.encoder.video_mod_embed.abs().max() < 1e-4
    model.train()
    out = model(torch.randn(1, 2, 3, 32, 32), target_idx=torch.tensor([[0, 1]]))
    out.predictor_output.sum().backward()
    assert model.encoder.patch_embed.proj.weight.grad is not None


# -- config and presets --------------------------------------------------------------------


def test_config_round_trip_and_checks(tmp_path):
    config = small_config(extra={"note": "kept"})
    assert VJEPA21Config.from_json_file(config.save(tmp_path)) == config
    assert config.replace(num_hidden_layers=24).hierarchical_layers == [5, 11, 17, 23]
    with pytest.raises(ValueError, match="hierarchical_layers"):
        small_config(num_hidden_layers=6)
    with pytest.raises(ValueError, match="pred_num_levels"):
        small_config(hierarchical_layers=[11], pred_num_levels=4)
    with pytest.raises(ValueError, match="not 'vjepa2_1'"):
        VJEPA21Config.from_dict({"model_type": "vjepa2"})


@pytest.mark.parametrize(
    ("name", "params", "pred_params", "out", "key"),
    [
        ("vitb-2.1", 86_833_152, 22_874_752, 1664, "ema_encoder"),
        ("vitl-2.1", 304_680_960, 22_973_056, 1664, "ema_encoder"),
        ("vitg-2.1", 1_013_267_968, 55_400_704, 4 * 1408, "target_encoder"),
        ("vitG-2.1", 1_845_216_768, 59_433_472, 4 * 1664, "target_encoder"),
    ],
)
def test_presets(name, params, pred_params, out, key):
    preset = PRESETS_21[name]
    assert preset.checkpoint_key == key and preset_for_file(preset.original_file) is preset
    config = preset.config()
    assert config.crop_size == 384 and config.pred_num_mask_tokens == 8
    with torch.device("meta"):
        model = VJEPA21Model(config)
    assert sum(p.numel() for p in model.encoder.parameters()) == params
    assert sum(p.numel() for p in model.predictor.parameters()) == pred_params
    assert model.predictor.predictor_proj.out_features == out
    assert model.encoder.blocks[0].mlp.fc1.out_features in (3072, 4096, 6144, 8192)
