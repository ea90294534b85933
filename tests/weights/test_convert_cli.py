"""``vjepa2 convert`` on the original fixture checkpoint, both directions, checked numerically."""

import json
import os

import pytest
import torch
from typer.testing import CliRunner

import vjepa2
from tests.conftest import fixture_path, tiny_config
from tests.models.test_original_fixture import case, config, video  # noqa: F401 (fixtures)
from tests.weights.test_loading import random_model
from vjepa2.cli import app
from vjepa2.errors import UsageError, VJEPA2Error
from vjepa2.weights import save_original
from vjepa2.weights.convert import convert

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


def broken_sources(tmp_path):
    """(name, source, extra convert options, expected message) for each way convert fails."""
    evil = tmp_path / "evil.pt"
    torch.save({"encoder": {"x": torch.ones(1)}, "payload": os.getcwd}, evil)
    no_weights = tmp_path / "no-weights"
    vjepa2.save(random_model(), no_weights)
    (no_weights / "model.safetensors").unlink()
    empty = tmp_path / "empty"
    empty.mkdir()
    bad_config = tmp_path / "bad.json"
    bad_config.write_text(json.dumps(tiny_config().to_dict() | {"num_hidden_layers": 10**9}))
    small = tmp_path / "small.json"
    small.write_text(json.dumps(tiny_config(hidden_size=48).to_dict()))
    odd = tmp_path / "odd-width.pt"
    checkpoint = torch.load(save_original(random_model(), odd), weights_only=True)
    del checkpoint["config"]
    torch.save(checkpoint, odd)
    return [
        ("pickle", evil, [], "evil.pt: not a readable PyTorch checkpoint"),
        ("no weights", no_weights, [], "no weights found"),
        ("empty folder", empty, [], "no config.json"),
        ("invalid config", odd, ["--config", bad_config], "num_hidden_layers = 1000000000"),
        ("wrong shapes", odd, ["--config", small], "checkpoint [96] vs model [48]"),
        ("cannot infer", odd, [], "head count of a 96-wide encoder"),
        ("unknown preset", odd, ["--preset", "vitx"], "unknown preset 'vitx'"),
    ]


def test_every_convert_error_is_typed_with_one_clear_message(tmp_path):
    for name, src, options, message in broken_sources(tmp_path):
        out = tmp_path / f"out-{name}"
        kwargs = {o.lstrip("-"): v for o, v in zip(options[::2], options[1::2], strict=True)}
        with pytest.raises(VJEPA2Error) as err:
            convert(src, out, **kwargs)
        assert message in str(err.value), name
        assert "Traceback" not in str(err.value) and not out.exists(), name
        result = runner.invoke(app, ["convert", str(src), str(out), *map(str, options)])
        assert result.exit_code != 0, name
        assert message in result.output + str(result.exception), name


def test_labels_that_do_not_fit(tmp_path):
    model = random_model(classifier=True)
    vjepa2.save(model, tmp_path / "classifier")
    (tmp_path / "two.txt").write_text("a\nb\n")
    with pytest.raises(UsageError, match="2 names for a model with 3 labels"):
        convert(tmp_path / "classifier", tmp_path / "out", labels=tmp_path / "two.txt")
    (tmp_path / "blank.txt").write_text("\n\n")
    with pytest.raises(UsageError, match="no class names"):
        convert(tmp_path / "classifier", tmp_path / "out", labels=tmp_path / "blank.txt")
    with pytest.raises(UsageError, match="cannot read the labels file"):
        convert(tmp_path / "classifier", tmp_path / "out", labels=tmp_path / "none.txt")
    (tmp_path / "three.txt").write_text("x\ny\nz\n")
    convert(tmp_path / "classifier", tmp_path / "out", labels=tmp_path / "three.txt")
    renamed = vjepa2.load(tmp_path / "out")
    assert renamed.id2label == {0: "x", 1: "y", 2: "z"}
