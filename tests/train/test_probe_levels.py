"""``vjepa2 train-probe --layers``: a multi-level probe (the paper's Diving48 kind) trains on the
levels concatenated along the tokens, and the exported classifier reads the same levels."""

import json

import pytest
import torch
from typer.testing import CliRunner

import vjepa2
from tests.train.test_probe import TOY
from vjepa2.cli import app
from vjepa2.data.clip_pipeline import ClipSpec, read_clips
from vjepa2.data.motion import TRANSLATION_CLASSES, make_motion_dataset
from vjepa2.presets import architecture


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    root = tmp_path_factory.mktemp("toy")
    counts = {"train": 8, "val": 4, "test": 4}
    make_motion_dataset(root, seed=1, classes=TRANSLATION_CLASSES, counts=counts, settings=TOY)
    return root


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    torch.manual_seed(0)
    config = architecture("vit-tiny", hidden_size=96, num_hidden_layers=3, crop_size=64,
                          frames_per_clip=16, pred_hidden_size=48, pred_num_attention_heads=3,
                          pred_num_hidden_layers=1)  # fmt: skip
    model = vjepa2.build_model(config, with_predictor=False)
    model.reset_parameters()
    path = tmp_path_factory.mktemp("tiny")
    vjepa2.save(model, path)
    return path


def train(toy, tiny, out, *extra):
    result = CliRunner().invoke(app, [str(a) for a in (
        "train-probe", "--train", toy / "train.csv", "--val", toy / "val.csv", "--test",
        toy / "test.csv", "-m", tiny, "-o", out, "--workers", 0, "-q", "--epochs", 1,
        "--batch-size", 4, "--accumulation", 1, "--lr", "1e-3", "--cache-dtype", "fp32", *extra,
    )])  # fmt: skip
    return result


def test_a_multi_level_probe_trains_and_exports_its_levels(toy, tiny, tmp_path):
    out = tmp_path / "run"
    with pytest.warns(UserWarning, match=r"encoder blocks \[0, 2\] as its input"):
        result = train(toy, tiny, out, "--layers", "0,2")  # the export says transformers differs
    assert result.exit_code == 0, result.output
    cache = json.loads((out / "features" / "test" / "meta.json").read_text())
    assert cache["levels"] == [0, 2] and cache["shape"][2] == 2 * 128  # 2 levels of 128 tokens
    assert json.loads((out / "settings.json").read_text())["layers"] == [0, 2]
    model = vjepa2.load(out / "model")
    assert model.config.out_layers == [0, 2]
    # The exported classifier on a test video equals the probe on the cached levels.
    spec = ClipSpec.for_model(model.config)
    test_video = sorted((toy / "test").glob("*.mp4"))[0]
    pixels = read_clips(test_video, spec).pixels.flatten(0, 1)
    with torch.no_grad():
        levels = torch.cat(model.encoder(pixels, out_layers=[0, 2]), dim=1)
        out = model(pixels)
    assert (out.logits - model.head(levels)).abs().max() <= 1e-5
    assert out.last_hidden_state.shape[1] == 2 * 128


def test_layers_must_fit_the_encoder(toy, tiny, tmp_path):
    result = train(toy, tiny, tmp_path / "bad", "--layers", "5")
    assert result.exit_code == 2
    assert "3 blocks" in result.output


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:.*encoder blocks \\[1, 2\\] as its input")
def test_cached_and_uncached_multi_level_probes_agree(toy, tiny, tmp_path):
    a = train(toy, tiny, tmp_path / "cached", "--layers", "2")  # 2 levels: blocks 1 and 2
    b = train(toy, tiny, tmp_path / "online", "--layers", "2", "--no-cache", "--no-augment")
    assert a.exit_code == 0 and b.exit_code == 0, a.output + b.output
    ma, mb = (json.loads((tmp_path / n / "metrics.json").read_text()) for n in ("cached", "online"))
    assert ma["history"][0]["train_loss"] == pytest.approx(mb["history"][0]["train_loss"], abs=1e-4)
