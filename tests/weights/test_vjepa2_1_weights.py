"""V-JEPA 2.1 checkpoints: Meta's layouts, our format, round trips, strictness, wrong families."""

import json

import pytest
import torch

import vjepa2
from tests.conftest import fixture_path, tiny_config
from tests.models.test_vjepa2_1 import random_model
from tests.models.test_vjepa2_1_parity import tiny_21_config
from vjepa2.models.vjepa2_1 import PRESETS_21, VJEPA21Model
from vjepa2.weights import CheckpointError
from vjepa2.weights import vjepa2_1 as v21


@pytest.fixture(scope="module")
def case():
    return torch.load(fixture_path("original", "tiny_21", "case.pt"), weights_only=True)


@pytest.fixture
def tiny_21_pt():
    return fixture_path("original", "tiny_21", "checkpoint.pt")


def assert_same_checkpoint(a, b):
    """Same top-level keys in order, same state-dict keys in order, bit-identical tensors."""
    assert list(a) == list(b)
    for key, value in a.items():
        if not isinstance(value, dict):
            assert value == b[key], key
            continue
        assert list(value) == list(b[key]), key
        for name, tensor in value.items():
            other = b[key][name]
            assert tensor.dtype == other.dtype and torch.equal(tensor, other), (key, name)


def test_meta_to_ours_to_meta_is_bit_identical(case, tiny_21_pt, tmp_path):
    ours = v21.convert_original(tiny_21_pt, tmp_path / "ours", config=tiny_21_config(case))
    assert json.loads((ours / "config.json").read_text())["model_type"] == "vjepa2_1"
    back = v21.convert_to_original(ours, tmp_path / "back.pt")
    original = torch.load(tiny_21_pt, weights_only=True)
    assert_same_checkpoint(original, torch.load(back, weights_only=True))


def test_our_format_loads_without_config_and_computes_the_same(case, tiny_21_pt, tmp_path):
    model = v21.load_v21(tiny_21_pt, config=tiny_21_config(case))
    again = v21.load_v21(v21.save_pretrained(model, tmp_path / "ours"))
    assert isinstance(again, VJEPA21Model) and again.config == model.config
    video = case["video"].transpose(1, 2)
    with torch.no_grad():
        assert torch.equal(again(video).last_hidden_state, model(video).last_hidden_state)
    meta = v21.to_original(again)
    assert "config" not in meta and list(meta) == list(torch.load(tiny_21_pt, weights_only=True))


def test_distilled_layout_with_other_prefixes_round_trips(tmp_path):
    """{ema_encoder, predictor, epoch}, keys wrapped in ``backbone.`` only, bf16 kept."""
    model = random_model(pred_num_levels=1, pred_teacher_dim=96)
    encoder, predictor = model.encoder.state_dict(), model.predictor.state_dict()
    meta = {
        "ema_encoder": {f"backbone.{k}": v.bfloat16() for k, v in encoder.items()},
        "predictor": {f"module.{k}": v.bfloat16() for k, v in predictor.items()},
        "epoch": 3,
    }
    torch.save(meta, tmp_path / "dist.pt")
    ours = v21.convert_original(tmp_path / "dist.pt", tmp_path / "ours", config=model.config)
    assert not (ours / v21.OTHER_ENCODERS).exists()
    back = v21.convert_to_original(ours, tmp_path / "back.pt")
    assert_same_checkpoint(meta, torch.load(back, weights_only=True))
    loaded = v21.load_v21(tmp_path / "dist.pt", config=model.config)
    assert loaded.predictor.predictor_proj.out_features == 96
    assert loaded.encoder.img_mod_embed.dtype == torch.float32


def test_training_layout_without_opt_and_scaler(case, tiny_21_pt, tmp_path):
    original = torch.load(tiny_21_pt, weights_only=True)
    slim = {k: original[k] for k in ("target_encoder", "predictor", "epoch")}
    torch.save(slim, tmp_path / "slim.pt")
    model = v21.load_v21(tmp_path / "slim.pt", config=tiny_21_config(case))
    with torch.no_grad():
        out = model(case["video"].transpose(1, 2)).last_hidden_state
    assert (out - case["video_out"]).abs().max() <= 1e-5
    assert list(v21.to_original(model)) == list(slim)


def test_a_fresh_model_writes_a_file_that_loads_back(tmp_path):
    for model in (random_model(), random_model(pred_num_levels=1)):
        path = v21.save_original(model, tmp_path / "fresh.pt")
        written = torch.load(path, weights_only=True)
        key = "ema_encoder" if model.config.pred_num_levels == 1 else "target_encoder"
        assert key in written and next(iter(written[key])).startswith("module.backbone.")
        again = v21.load_v21(path)
        assert again.config.to_dict().keys() >= model.config.to_dict().keys()
        assert all(torch.equal(a, b) for a, b in zip(
            model.state_dict().values(), again.state_dict().values(), strict=True))  # fmt: skip


def test_every_bad_key_is_listed(case, tiny_21_pt, tmp_path):
    checkpoint = torch.load(tiny_21_pt, weights_only=True)
    encoder = checkpoint["target_encoder"]
    del encoder["module.backbone.norms_block.2.bias"]
    encoder["module.backbone.pos_embed"] = torch.zeros(1)
    encoder["module.backbone.blocks.0.norm1.weight"] = torch.zeros(3)
    checkpoint["predictor"]["module.backbone.mask_tokens.8"] = torch.zeros(1, 1, 48)
    torch.save(checkpoint, tmp_path / "bad.pt")
    with pytest.raises(CheckpointError) as err:
        v21.load_v21(tmp_path / "bad.pt", config=tiny_21_config(case))
    message = str(err.value)
    for name in ("encoder.norms_block.2.bias", "encoder.pos_embed", "encoder.blocks.0.norm1",
                 "predictor.mask_tokens.8"):  # fmt: skip
        assert name in message


def test_missing_encoder_key_names_what_is_there(case, tiny_21_pt):
    with pytest.raises(CheckpointError, match=r"no 'ema_encoder'.*target_encoder"):
        v21.load_v21(tiny_21_pt, config=tiny_21_config(case), checkpoint_key="ema_encoder")


def test_pickled_code_is_refused(tmp_path):
    torch.save({"target_encoder": {"x": torch.zeros(1)}, "opt": object()}, tmp_path / "code.pt")
    with pytest.raises(ValueError, match="not a readable"):
        v21.load_v21(tmp_path / "code.pt")


# -- the wrong family ----------------------------------------------------------------------


def test_a_v2_checkpoint_is_not_loaded_as_v21():
    path = fixture_path("original", "tiny_square", "checkpoint.pt")
    assert not v21.is_v21_checkpoint(torch.load(path, weights_only=True))
    with pytest.raises(CheckpointError, match=r"not a V-JEPA 2.1 encoder.*vjepa2.load"):
        v21.load_v21(path)


def test_a_v2_directory_is_not_loaded_as_v21(tmp_path):
    vjepa2.save(vjepa2.build_model(tiny_config()), tmp_path)
    assert not v21.is_v21_dir(tmp_path)
    with pytest.raises(CheckpointError, match=r"'vjepa2'.*vjepa2.load"):
        v21.load_v21(tmp_path)


def test_a_v21_checkpoint_is_not_loaded_as_v2(tiny_21_pt, tmp_path):
    assert v21.is_v21_checkpoint(torch.load(tiny_21_pt, weights_only=True))
    config = tiny_config(hidden_size=64, num_hidden_layers=12, num_attention_heads=2)
    with pytest.raises(CheckpointError, match=r"V-JEPA 2\.1"):  # a 2.0 config for a 2.1 file
        vjepa2.load(tiny_21_pt, config=config)
    with pytest.raises(CheckpointError, match=r"pass config=VJEPA21Config"):  # not a release
        vjepa2.load(tiny_21_pt)  # (vjepa2.load of the fixture with its config: the parity tests)
    v21.save_pretrained(random_model(), tmp_path)
    assert v21.is_v21_dir(tmp_path)
    assert isinstance(vjepa2.load(tmp_path), VJEPA21Model)


# -- architectures from files --------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(PRESETS_21))
def test_released_architectures_are_inferred(name):
    """From the released file name, and from the weight shapes alone (meta tensors)."""
    preset = PRESETS_21[name]
    assert v21.infer_config({}, None, preset.original_file) == preset.config()
    with torch.device("meta"):
        model = VJEPA21Model(preset.config())
    inferred = v21.infer_config(
        model.encoder.state_dict(), model.predictor.state_dict(), "renamed.pt"
    )
    assert inferred == preset.config()


def test_unknown_width_asks_for_a_config(tiny_21_pt):
    with pytest.raises(CheckpointError, match=r"64-wide encoder.*config="):
        v21.load_v21(tiny_21_pt)
