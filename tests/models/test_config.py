"""Config validation: absurd, zero, negative and wrong-typed values are refused before building."""

import json
import time

import pytest

import vjepa2
from tests.conftest import tiny_config
from vjepa2.config import ConfigError, VJEPA2Config
from vjepa2.errors import VJEPA2Error


@pytest.mark.parametrize(
    "field,value,message",
    [
        ("num_hidden_layers", 1_000_000_000, "num_hidden_layers = 1000000000 is out of range"),
        ("crop_size", 1_000_000, "crop_size = 1000000 is out of range"),
        ("hidden_size", 0, "hidden_size = 0 is out of range"),
        ("num_attention_heads", -3, "num_attention_heads = -3 is out of range"),
        ("frames_per_clip", 0, "frames_per_clip = 0 is out of range"),
        ("patch_size", "16", "patch_size must be an integer, got '16'"),
        ("num_hidden_layers", 2.5, "num_hidden_layers must be an integer, got 2.5"),
        ("tubelet_size", True, "tubelet_size must be an integer, got True"),
        ("mlp_ratio", 0, r"mlp_ratio = 0 is out of range \(0, 64\]"),
        ("mlp_ratio", "4", "mlp_ratio must be a number, got '4'"),
        ("layer_norm_eps", -1e-6, "layer_norm_eps = -1e-06 is out of range"),
        ("qkv_bias", "yes", "qkv_bias must be true or false, got 'yes'"),
        ("pred_num_mask_tokens", None, "pred_num_mask_tokens must be an integer, got None"),
        ("model_type", "", "model_type must be a name"),
    ],
)
def test_bad_values_name_the_field_and_value(field, value, message):
    with pytest.raises(ConfigError, match=message) as err:
        tiny_config(**{field: value})
    assert isinstance(err.value, VJEPA2Error) and isinstance(err.value, ValueError)


def test_every_problem_at_once_and_sizes_that_fit_no_memory():
    with pytest.raises(ConfigError) as err:
        tiny_config(hidden_size=-1, crop_size=0)
    assert "hidden_size = -1" in str(err.value) and "crop_size = 0" in str(err.value)
    with pytest.raises(ConfigError, match="the encoder would have about"):
        tiny_config(hidden_size=16384, num_attention_heads=16, num_hidden_layers=512)


def write_config(folder, **changes):
    data = tiny_config().to_dict() | changes
    (folder / "config.json").write_text(json.dumps(data))
    return folder


@pytest.mark.parametrize(
    "changes",
    [{"num_hidden_layers": 1_000_000_000}, {"crop_size": 1_000_000}, {"hidden_size": "96"}],
)
def test_load_refuses_absurd_config_json_at_once(tmp_path, changes):
    """Refused from config.json before any weight is read or any layer built."""
    folder = write_config(tmp_path, **changes)
    start = time.perf_counter()
    with pytest.raises(ConfigError) as err:
        vjepa2.load(folder)
    assert time.perf_counter() - start < 5
    field = next(iter(changes))
    assert str(folder / "config.json") in str(err.value) and field in str(err.value)


def test_unreadable_config_json(tmp_path):
    (tmp_path / "config.json").write_text("{not json")
    with pytest.raises(ConfigError, match="cannot read config"):
        VJEPA2Config.from_json_file(tmp_path / "config.json")
    (tmp_path / "config.json").write_text("[1, 2]")
    with pytest.raises(ConfigError, match="JSON object, got list"):
        VJEPA2Config.from_json_file(tmp_path / "config.json")


def test_model_type_round_trips():
    config = tiny_config()
    assert config.model_type == "vjepa2" and config.to_dict()["model_type"] == "vjepa2"
    assert VJEPA2Config.from_dict(config.to_dict()).to_dict() == config.to_dict()
    assert VJEPA2Config.from_dict(config.to_dict() | {"model_type": "vjepa2_ac"}).model_type == (
        "vjepa2_ac"
    )
    assert vjepa2.get_preset("vitl-ssv2").config().model_type == "vjepa2"
