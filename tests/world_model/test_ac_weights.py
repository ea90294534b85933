"""V-JEPA 2-AC checkpoints: Meta's .pt layout <-> our format, strict errors, configs."""

import json

import pytest
import torch

from tests.conftest import fixture_path
from tests.world_model.conftest import random_world_model, tiny_ac_config
from vjepa2.models.ac_predictor import VJEPA2ACConfig, VJEPA2ACModel
from vjepa2.weights import CheckpointError, ac
from vjepa2.world_model import WorldModel, load_world_model, vitg_ac_config


def assert_same_checkpoint(a: dict, b: dict) -> None:
    """Same top-level keys, same state-dict keys in the same order, bit-identical tensors."""
    assert list(a) == list(b)
    for part in a:
        assert list(a[part]) == list(b[part]), part
        for key, value in a[part].items():
            other = b[part][key]
            assert value.dtype == other.dtype and value.shape == other.shape, key
            assert torch.equal(value, other), key


def test_ac_pt_to_ours_to_ac_pt_is_bit_identical(tiny_ac_pt, tmp_path):
    config = tiny_ac_config()
    wm = load_world_model(tiny_ac_pt, config=config)
    ours = wm.save_pretrained(tmp_path / "ours")
    assert json.loads((ours / "config.json").read_text())["model_type"] == "vjepa2_ac"
    back = load_world_model(ours).save_original(tmp_path / "back.pt")
    original = torch.load(tiny_ac_pt, weights_only=True)
    assert_same_checkpoint(original, torch.load(back, weights_only=True))


def test_round_trip_keeps_other_dtypes(tiny_ac_pt, tmp_path):
    original = torch.load(tiny_ac_pt, weights_only=True)
    half = {p: {k: v.bfloat16() for k, v in sd.items()} for p, sd in original.items()}
    torch.save(half, tmp_path / "bf16.pt")
    model = ac.load_ac(tmp_path / "bf16.pt", config=tiny_ac_config(), dtype=None)
    ac.save_ac_pretrained(model, tmp_path / "ours")
    back = ac.save_ac_original(ac.load_ac(tmp_path / "ours", dtype=None), tmp_path / "back.pt")
    assert_same_checkpoint(half, torch.load(back, weights_only=True))


def test_our_format_loads_without_config_and_computes_the_same(tiny_ac_pt, tmp_path):
    wm = load_world_model(tiny_ac_pt, config=tiny_ac_config())
    again = load_world_model(wm.save_pretrained(tmp_path / "ours"))
    assert isinstance(again, WorldModel) and again.config == wm.config
    h = torch.randn(1, 2 * wm.tokens_per_frame, 96)
    actions, states = torch.randn(1, 2, 7), torch.randn(1, 2, 7)
    with torch.no_grad():
        assert torch.equal(wm.predictor(h, actions, states), again.predictor(h, actions, states))


def test_config_forms(tiny_ac_pt, tmp_path):
    config = tiny_ac_config(use_extrinsics=True, action_dim=4, state_dim=5, extrinsics_dim=3)
    path = config.save(tmp_path)
    assert VJEPA2ACConfig.from_json_file(path) == config
    assert ac.resolve_config(path) == ac.resolve_config(tmp_path) == config
    assert ac.resolve_config(config.to_dict()) == config
    with pytest.raises(ValueError, match="model_type"):
        VJEPA2ACConfig.from_dict({**config.to_dict(), "model_type": "vjepa2"})
    with pytest.raises(ValueError, match="unknown AC predictor config keys: bogus"):
        VJEPA2ACConfig.from_dict({**config.to_dict(), "predictor": {"bogus": 1}})
    wm = load_world_model(tiny_ac_pt, config=str(tiny_ac_config().save(tmp_path / "c")))
    assert wm.config == tiny_ac_config()


def test_pt_with_stored_config_needs_no_config(tiny_ac_pt, tmp_path):
    wm = load_world_model(tiny_ac_pt, config=tiny_ac_config())
    path = wm.save_original(tmp_path / "with_config.pt", with_config=True)
    assert load_world_model(path).config == wm.config
    assert "config" not in torch.load(wm.save_original(tmp_path / "plain.pt"), weights_only=True)


def test_pt_of_unknown_size_without_config_says_to_pass_one(tiny_ac_pt):
    with pytest.raises(CheckpointError, match="pass config="):
        load_world_model(tiny_ac_pt)
    with pytest.raises(CheckpointError, match="pass config="):
        ac.load_ac(tiny_ac_pt)


def test_every_bad_key_is_listed(tiny_ac_pt, tmp_path):
    checkpoint = torch.load(tiny_ac_pt, weights_only=True)
    predictor = checkpoint["predictor"]
    del predictor["module.backbone.action_encoder.weight"]
    predictor["module.backbone.bogus.weight"] = torch.zeros(1)
    predictor["module.backbone.state_encoder.weight"] = torch.zeros(64, 3)
    torch.save(checkpoint, tmp_path / "bad.pt")
    with pytest.raises(CheckpointError) as err:
        load_world_model(tmp_path / "bad.pt", config=tiny_ac_config())
    message = str(err.value)
    assert "(3 keys)" in message
    assert "missing: predictor.action_encoder.weight" in message
    assert "unexpected: predictor.bogus.weight" in message
    assert "wrong shape: predictor.state_encoder.weight: checkpoint [64, 3] vs model [64, 7]" in (
        message
    )


def test_wrong_config_lists_every_key(tiny_ac_pt):
    with pytest.raises(CheckpointError) as err:
        load_world_model(tiny_ac_pt, config=tiny_ac_config(num_hidden_layers=3))
    lines = [line for line in str(err.value).splitlines() if "missing:" in line]
    assert len(lines) == 12  # every tensor of predictor_blocks.2, none elided
    assert all("predictor.predictor_blocks.2." in line for line in lines)


def test_pretraining_checkpoint_is_not_an_ac_checkpoint(tmp_path):
    path = fixture_path("original", "tiny_square", "checkpoint.pt")
    checkpoint = torch.load(path, weights_only=True)
    assert not ac.is_ac_checkpoint(checkpoint)
    with pytest.raises(CheckpointError) as err:
        load_world_model(path, config=tiny_ac_config())
    message = str(err.value)
    assert "missing: predictor.action_encoder.weight" in message
    assert "unexpected: predictor.mask_tokens.0" in message
    torch.save({"encoder": checkpoint["encoder"]}, tmp_path / "encoder_only.pt")
    with pytest.raises(CheckpointError, match="no 'predictor' state dict"):
        load_world_model(tmp_path / "encoder_only.pt", config=tiny_ac_config())


def test_detection_predicates(tiny_ac_pt, tmp_path):
    assert ac.is_ac_checkpoint(torch.load(tiny_ac_pt, weights_only=True))
    wm = random_world_model()
    assert not ac.is_ac_dir(tmp_path)
    assert ac.is_ac_dir(wm.save_pretrained(tmp_path / "ours"))
    (tmp_path / "hf").mkdir()
    (tmp_path / "hf" / "config.json").write_text('{"model_type": "vjepa2"}')
    assert not ac.is_ac_dir(tmp_path / "hf")


def test_the_released_size_is_recognised_by_its_shapes():
    config = vitg_ac_config()
    assert config.encoder.hidden_size == 1408 and config.encoder.num_attention_heads == 22
    p = config.predictor
    assert (p.hidden_size, p.num_hidden_layers, p.num_attention_heads, p.action_dim) == (
        1024, 24, 16, 7,
    )  # fmt: skip
    with torch.device("meta"):
        model = VJEPA2ACModel(config)
    state = model.state_dict()
    assert ac.config_fits(config, state)
    assert not ac.config_fits(tiny_ac_config(), state)
    predictor_params = sum(p.numel() for p in model.predictor.parameters())
    assert 300e6 < predictor_params < 310e6  # "about 305M"
