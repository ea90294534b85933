"""``vjepa2 models``, ``info`` and ``doctor``."""

import json
import re

import pytest
from typer.testing import CliRunner

import vjepa2
from tests.conftest import fixture_path
from tests.weights.test_loading import random_model
from vjepa2.cli import app
from vjepa2.weights import CheckpointError
from vjepa2.weights.describe import describe

runner = CliRunner()


def invoke(*args):
    result = runner.invoke(app, [str(a) for a in args])
    assert result.exit_code == 0, result.output
    return result.output


def test_models_lists_every_preset_with_its_hub_id():
    rows = [json.loads(line) for line in invoke("models", "--json").splitlines()]
    assert {r["name"] for r in rows} >= {"vitl", "vith", "vitg", "vitg-384", "vitl-ssv2"}
    vitl = next(r for r in rows if r["name"] == "vitl")
    assert vitl["hub_id"] == "facebook/vjepa2-vitl-fpc64-256" and vitl["params_m"] == 303.9
    demo = next(r for r in rows if r["name"] == "demo")
    assert demo["task"] == "motion demo (6)" and demo["crop_size"] == 64
    assert "demo" in invoke("models")


def test_models_info_doctor_help_has_examples():
    for verb, example in (
        ("models", "vjepa2 models --json"),
        ("info", "vjepa2 info vitl"),
        ("doctor", "vjepa2 doctor"),
    ):
        out = invoke(verb, "--help")
        assert "Examples" in out and example in out, verb


def test_info_on_each_format(tmp_path):
    data = json.loads(
        invoke("info", fixture_path("original", "tiny_square", "checkpoint.pt"), "--json")
    )
    assert data["format"] == "original (.pt)" and data["epoch"] == 7
    assert data["parts"]["predictor"]["tensors"] == 40
    model = random_model(classifier=True)
    vjepa2.save(model, tmp_path)
    data = json.loads(invoke("info", tmp_path, "--json"))
    assert data["format"] == "huggingface"
    assert data["parameters"] == model.num_parameters()
    assert "left" in invoke("info", tmp_path)
    result = runner.invoke(app, ["info", str(tmp_path / "missing.pt")])
    unwrapped = re.sub(r"[\s│]", "", result.output)  # rich wraps long paths inside its box
    assert result.exit_code == 2 and "missing.pt:nosuchfile" in unwrapped
    data = json.loads(invoke("info", "demo", "--json"))
    assert data["format"] == "huggingface (bundled demo)" and data["config"]["num_labels"] == 6


def test_describe_lives_in_weights_and_reports_broken_files(tmp_path):
    (tmp_path / "x.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match=r"x\.pt: not a readable PyTorch checkpoint"):
        describe(str(tmp_path / "x.pt"))
    vjepa2.save(random_model(), tmp_path / "hf")
    (tmp_path / "hf" / "model.safetensors").write_bytes(b"\x00" * 10)
    with pytest.raises(CheckpointError, match="not a readable safetensors file"):
        describe(str(tmp_path / "hf"))
    assert describe("vitl")["hub_id"] == "facebook/vjepa2-vitl-fpc64-256"
    result = runner.invoke(app, ["info", str(tmp_path / "x.pt")])
    unwrapped = re.sub(r"[\s│]", "", result.output)
    assert result.exit_code == 2 and "x.pt:notareadablePyTorchcheckpoint" in unwrapped


def test_doctor():
    out = invoke("doctor")
    assert "torch" in out and "video decoders" in out and "pyav" in out
