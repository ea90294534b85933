"""``vjepa2 convert`` on the original fixture checkpoint, both directions, checked numerically."""

import json

import pytest
import torch
from typer.testing import CliRunner

import vjepa2
from tests.conftest import fixture_path
from tests.models.test_original_fixture import case, config, video  # noqa: F401 (fixtures)
from vjepa2.cli import app

TOL = 1e-5
runner = CliRunner()


def run(*args):
    result = runner.invoke(app, [str(a) for a in args])
    assert result.exit_code == 0, result.output
    return result.output


@pytest.fixture
def config_json(tmp_path, config):  # noqa: F811
    path = tmp_path / "tiny.json"
    path.write_text(json.dumps(config.to_dict()))
    return path


@torch.no_grad()
def test_original_to_hf_loads_in_both(tmp_path, case, config_json, video):  # noqa: F811
    transformers = pytest.importorskip("transformers")
    src = fixture_path("original", "tiny_square", "checkpoint.pt")
    out = tmp_path / "hf"
    assert "encoder + predictor" in run("convert", src, out, "--config", config_json)
    ours = vjepa2.load(out)
    assert (ours(video).last_hidden_state - case["encoder_out"]).abs().max() <= TOL
    theirs = transformers.VJEPA2Model.from_pretrained(out).eval()
    assert (theirs.get_vision_features(video) - case["encoder_out"]).abs().max() <= TOL


@torch.no_grad()
def test_original_with_probe_to_hf_and_back(tmp_path, case, config_json, video):  # noqa: F811
    labels = tmp_path / "labels.txt"
    labels.write_text("\n".join(f"action {i}" for i in range(7)) + "\n")
    out = tmp_path / "hf-classifier"
    with pytest.warns(UserWarning, match="transformers"):
        run(
            "convert", fixture_path("original", "tiny_square", "checkpoint.pt"), out,
            "--config", config_json, "--classifier-heads", "4", "--labels", labels,
            "--classifier", fixture_path("original", "tiny_square", "classifier.pt"),
        )  # fmt: skip
    model = vjepa2.load(out)
    assert model.id2label[6] == "action 6"
    assert (model(video).logits - case["classifier_logits"]).abs().max() <= TOL
    # ... and back to the original layout, then in again.
    pt = tmp_path / "again.pt"
    run("convert", out, pt)
    checkpoint = torch.load(pt, weights_only=True)
    assert {"encoder", "target_encoder", "predictor", "classifiers"} <= set(checkpoint)
    again = vjepa2.load(
        pt, config=model.config.replace(id2label=None), classifier=pt, classifier_heads=4
    )
    assert torch.equal(again(video).logits, model(video).logits)


def test_bad_labels_file(tmp_path, config_json):
    labels = tmp_path / "labels.txt"
    labels.write_text("only\ntwo\n")
    result = runner.invoke(
        app,
        ["convert", str(fixture_path("original", "tiny_square", "checkpoint.pt")),
         str(tmp_path / "x"), "--config", str(config_json), "--labels", str(labels)],
    )  # fmt: skip
    assert result.exit_code != 0
