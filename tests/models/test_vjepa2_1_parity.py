"""Every tensor of ../shared/fixtures/original/tiny_21/case.pt, made by Meta's V-JEPA 2.1 code.

The fixture's inputs are [B, C, T, H, W] (Meta's layout); ours are [B, T, C, H, W].
"""

import pytest
import torch

import vjepa2
from tests.conftest import fixture_path
from vjepa2.models.vjepa2_1 import VJEPA21Config, VJEPA21Model
from vjepa2.weights.vjepa2_1 import load_v21

TOL = 1e-5


@pytest.fixture(scope="module")
def case():
    return torch.load(fixture_path("original", "tiny_21", "case.pt"), weights_only=True)


def tiny_21_config(case, **changes) -> VJEPA21Config:
    c = case["cfg"]
    config = VJEPA21Config(
        patch_size=c["patch"],
        crop_size=c["img"],
        frames_per_clip=c["frames"],
        tubelet_size=c["tubelet"],
        hidden_size=c["dim"],
        num_hidden_layers=c["depth"],
        num_attention_heads=c["heads"],
        mlp_ratio=c["mlp"],
        interpolate_rope=c["enc_interpolate_rope"],
        pred_hidden_size=c["pdim"],
        pred_num_hidden_layers=c["pdepth"],
        pred_num_attention_heads=c["pheads"],
        pred_num_mask_tokens=c["ntok"],
        pred_num_levels=c["n_output_distillation"],
        pred_teacher_dim=c["teacher_dim"],
        pred_interpolate_rope=c["pred_interpolate_rope"],
    )
    assert config.hierarchical_layers == c["enc_hierarchical_layers"]
    return config.replace(**changes)


def load_tiny_21(case, **changes):
    path = fixture_path("original", "tiny_21", "checkpoint.pt")
    model = vjepa2.load(path, config=tiny_21_config(case, **changes))  # found to be 2.1
    assert isinstance(model, VJEPA21Model)
    return model


@pytest.fixture(scope="module")
def model(case):
    return load_tiny_21(case)


@pytest.fixture(scope="module")
def flipped(case):
    """The same weights with both RoPE interpolation flags flipped (encoder off, predictor on)."""
    return load_tiny_21(case, interpolate_rope=False, pred_interpolate_rope=True)


def ours(x: torch.Tensor) -> torch.Tensor:
    return x.transpose(1, 2)  # [B, C, T, H, W] -> [B, T, C, H, W]


def assert_close(actual, expected):
    assert actual.shape == expected.shape
    assert (actual - expected).abs().max().item() <= TOL


@torch.no_grad()
@pytest.mark.parametrize("name", ["video", "image", "other"])
def test_encoder_outputs(case, model, name):
    out = model(ours(case[name]), hierarchical=True)
    assert_close(out.last_hidden_state, case[f"{name}_out"])
    assert_close(out.hierarchical_hidden_state, case[f"{name}_hier"])
    assert out.masked_hidden_state is None and out.predictor_output is None
    assert torch.equal(model(ours(case[name])).last_hidden_state, out.last_hidden_state)


@torch.no_grad()
def test_plain_image_is_the_image_path(case, model):
    image = case["image"][:, :, 0]  # [B, C, H, W]
    assert_close(model(image).last_hidden_state, case["image_out"])
    assert_close(model.encoder(image, hierarchical=True), case["image_hier"])


@torch.no_grad()
def test_encoder_without_rope_interpolation(case, flipped):
    assert_close(flipped(ours(case["video"])).last_hidden_state, case["video_out_interp_flipped"])


@torch.no_grad()
@pytest.mark.parametrize(("mask_index", "suffix"), [(0, ""), (1, "_mi1")])
def test_masked_encoder_and_predictor(case, model, mask_index, suffix):
    out = model(
        ours(case["pred_video"]),
        context_idx=[case["context_idx"]],
        target_idx=[case["target_idx"]],
        mask_index=mask_index,
        hierarchical=True,
    )
    assert out.last_hidden_state is None
    assert_close(out.masked_hidden_state, case["masked_out"])
    assert_close(out.hierarchical_hidden_state, case["masked_hier"])
    assert_close(out.predictor_output, case[f"pred_out{suffix}"])
    assert_close(out.predictor_context_output, case[f"pred_ctx_out{suffix}"])


@torch.no_grad()
@pytest.mark.parametrize(("mask_index", "suffix"), [(0, ""), (1, "_mi1")])
def test_predictor_alone(case, model, mask_index, suffix):
    target, context = model.predictor(
        case["pred_in"], [case["context_idx"]], [case["target_idx"]], mask_index=mask_index
    )
    assert_close(target, case[f"pred_out{suffix}"])
    assert_close(context, case[f"pred_ctx_out{suffix}"])


@torch.no_grad()
def test_predictor_with_rope_interpolation(case, flipped):
    pred = flipped.predictor(case["pred_in"], case["context_idx"], case["target_idx"], 0)
    assert_close(pred.target, case["pred_out_interp_flipped"])
    assert_close(pred.context, case["pred_ctx_out_interp_flipped"])


@torch.no_grad()
def test_image_masked_encoder_and_predictor(case, model):
    out = model(
        ours(case["pred_image"]),
        context_idx=case["img_context_idx"],
        target_idx=case["img_target_idx"],
        mask_index=0,
        hierarchical=True,
    )
    assert_close(out.masked_hidden_state, case["img_masked_out"])
    assert_close(out.hierarchical_hidden_state, case["img_masked_hier"])
    assert_close(out.predictor_output, case["img_pred_out"])
    assert_close(out.predictor_context_output, case["img_pred_ctx_out"])
    target, context = model.predictor(
        case["img_pred_in"], case["img_context_idx"], case["img_target_idx"], 0, modality="image"
    )
    assert_close(target, case["img_pred_out"])
    assert_close(context, case["img_pred_ctx_out"])


@torch.no_grad()
def test_the_modality_embedding_matters(case, model):
    """A test that could fail: the image predictor with the video embedding is wrong."""
    target, _ = model.predictor(
        case["img_pred_in"], case["img_context_idx"], case["img_target_idx"], 0, modality="video"
    )
    assert (target - case["img_pred_out"]).abs().max().item() > 1e-3


@torch.no_grad()
def test_online_encoder_is_another_network(case):
    path = fixture_path("original", "tiny_21", "checkpoint.pt")
    online = load_v21(path, config=tiny_21_config(case), checkpoint_key="encoder")
    diff = online(ours(case["video"])).last_hidden_state - case["video_out"]
    assert diff.abs().max().item() > 1e-2
