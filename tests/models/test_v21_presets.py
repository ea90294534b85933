"""The V-JEPA 2.1 presets in ``vjepa2.presets``: listed by ``vjepa2 models``, described by
``info``, and ``-m vitl-2.1`` finding Meta's file and loading it as a 2.1 model."""

import json

import pytest
import torch
from typer.testing import CliRunner

import vjepa2
from tests.models.test_vjepa2_1 import random_model, small_config
from vjepa2.cli import app
from vjepa2.models.vjepa2_1 import PRESETS_21, VJEPA21Config, VJEPA21Model
from vjepa2.presets import PRESETS, UnknownPresetError, count_parameters, get_preset
from vjepa2.weights.loader import resolve_source

NAMES = ("vitb-2.1", "vitl-2.1", "vitg-2.1", "vitG-2.1")


def test_the_2_1_presets_are_presets_of_the_2_1_family():
    assert set(PRESETS_21) == set(NAMES) and all(PRESETS[n] is PRESETS_21[n] for n in NAMES)
    for name in NAMES:
        preset = get_preset(name)
        config = preset.config()
        assert isinstance(config, VJEPA21Config) and config.crop_size == 384
        assert preset.model_type == "vjepa2_1" and preset.hub_id == ""  # no mirror known
        assert preset.original_file.startswith("vjepa2_1_") and preset.original_file.endswith(
            "_384.pt"
        )
        with torch.device("meta"):
            model = VJEPA21Model(config)
        encoder = sum(p.numel() for p in model.encoder.parameters())
        assert count_parameters(config) == encoder
        assert count_parameters(config, predictor=True) == model.num_parameters()


def test_models_lists_the_2_1_presets_and_info_describes_one():
    rows = [json.loads(line) for line in _invoke("models", "--json").splitlines()]
    by_name = {r["name"]: r for r in rows}
    assert by_name["vitl-2.1"]["original_file"] == "vjepa2_1_vitl_dist_vitG_384.pt"
    assert by_name["vitl-2.1"]["params_m"] == 304.7 and by_name["vitG-2.1"]["params_m"] == 1845.2
    assert by_name["vitg-2.1"]["crop_size"] == 384
    info = json.loads(_invoke("info", "vitl-2.1", "--json"))
    assert info["config"]["model_type"] == "vjepa2_1" and info["parameters"] == 327_654_016


def test_a_2_1_preset_loads_meta_file_from_the_torch_hub_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.chdir(tmp_path)
    with pytest.raises(UnknownPresetError, match=r"no Hub mirror.*vjepa2_1_vitl_dist_vitG_384"):
        resolve_source("vitl-2.1")
    folder = tmp_path / "torch" / "hub" / "checkpoints"
    folder.mkdir(parents=True)
    model = random_model(pred_num_levels=1)
    vjepa2.save(model, folder / "vjepa2_1_vitl_dist_vitG_384.pt")  # tiny, under Meta's name
    assert resolve_source("vitl-2.1") == folder / "vjepa2_1_vitl_dist_vitG_384.pt"
    loaded = vjepa2.load("vitl-2.1", config=small_config(pred_num_levels=1))
    assert isinstance(loaded, VJEPA21Model)
    video = torch.randn(1, 4, 3, 64, 64)
    assert torch.equal(loaded(video).last_hidden_state, model(video).last_hidden_state)


def test_a_missing_2_1_preset_file_is_a_one_line_cli_error(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    (tmp_path / "a.png").write_bytes(b"")
    result = CliRunner().invoke(app, ["embed", "a.png", "-m", "vitb-2.1", "-o", "out"])
    assert result.exit_code == 2 and "vjepa2_1_vitb_dist_vitG_384.pt" in result.output


def _invoke(*args: str) -> str:
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def test_preset_gives_the_architecture_of_a_renamed_2_1_file(tmp_path):
    model = random_model()
    path = tmp_path / "renamed.pt"
    torch.save(
        {
            "target_encoder": {
                f"module.backbone.{k}": v for k, v in model.encoder.state_dict().items()
            }
        },
        path,
    )
    with pytest.raises(vjepa2.CheckpointError, match="head count"):
        vjepa2.load(path)  # a 64-wide encoder: not a released width
    with pytest.raises(vjepa2.CheckpointError, match=r"vs model \[1024\]"):
        vjepa2.load(path, preset="vitl-2.1")  # the preset's architecture, checked strictly
