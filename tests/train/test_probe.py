"""``vjepa2 train-probe`` on a generated toy dataset (shapes translating in 4 directions)."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time

import pytest
import torch
from typer.testing import CliRunner

import vjepa2
from vjepa2.cli import app
from vjepa2.data.motion import TRANSLATION_CLASSES, MotionSettings, make_motion_dataset
from vjepa2.presets import architecture

runner = CliRunner()


def cli(*args):
    result = runner.invoke(app, [str(a) for a in args])
    assert result.exit_code == 0, result.output
    return result.output


# Shapes translating fast over flat backgrounds: an untrained encoder's features can tell the
# directions apart (over a textured background they cannot; see docs/probe.md).
TOY = MotionSettings(distractors=(0, 0), noise=(0, 0), background_contrast=(0, 0), grain=(0, 0),
                     speed=(3.0, 4.0))  # fmt: skip


def _toy_set(tmp_path_factory, name, train, val, test):
    root = tmp_path_factory.mktemp(name)
    counts = {"train": train, "val": val, "test": test}
    make_motion_dataset(root, seed=1, classes=TRANSLATION_CLASSES, counts=counts, settings=TOY)
    return root


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    """A small toy set (4 directions, 64 px, 16 frames) for the mechanics of a run."""
    return _toy_set(tmp_path_factory, "toy", 32, 8, 16)


@pytest.fixture(scope="module")
def toy_large(tmp_path_factory):
    """Enough toy clips for a probe on random-init features to generalise."""
    return _toy_set(tmp_path_factory, "toy_large", 320, 40, 80)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """A random-init 2-layer encoder (+ predictor) in the HF format."""
    torch.manual_seed(0)
    config = architecture("vit-tiny", hidden_size=96, num_hidden_layers=2, crop_size=64,
                          frames_per_clip=16, pred_hidden_size=48, pred_num_attention_heads=3,
                          pred_num_hidden_layers=1)  # fmt: skip
    model = vjepa2.build_model(config)
    model.reset_parameters()
    path = tmp_path_factory.mktemp("tiny")
    vjepa2.save(model, path)
    return path


def args(toy, tiny, out, *extra):
    return ("train-probe", "--train", toy / "train.csv", "--val", toy / "val.csv", "--test",
            toy / "test.csv", "-m", tiny, "-o", out, "--workers", 0, "-q", *extra)  # fmt: skip


def metrics(out):
    return json.loads((out / "metrics.json").read_text())


@pytest.mark.slow
def test_toy_probe_learns_and_exports(toy_large, tiny, tmp_path):
    out = tmp_path / "run"
    text = cli(*args(toy_large, tiny, out, "--lr", "1e-3", "--epochs", 25, "--batch-size", 16,
                     "--accumulation", 1))  # fmt: skip
    assert "test top-1" in text
    m = metrics(out)
    assert len(m["history"]) == 25 and m["num_examples"] == {"train": 320, "val": 40, "test": 80}
    assert m["test"]["top1"] >= 0.6  # chance is 0.25
    assert sum(map(sum, m["test"]["confusion_matrix"])) == 80
    for name in ("confusion_matrix.png", "training_curves.png", "settings.json"):
        assert (out / name).stat().st_size > 0
    assert list((out / "tb").glob("events.out.tfevents.*"))
    model = vjepa2.load(out / "model")
    assert model.id2label == dict(enumerate(sorted(TRANSLATION_CLASSES)))
    # vjepa2 classify runs the exported model; transformers gives the same logits.
    assert "translate" in cli("classify", toy_large / "test" / "000000.mp4", "-m", out / "model",
                              "--workers", 0)  # fmt: skip
    transformers = pytest.importorskip("transformers")
    theirs = transformers.VJEPA2ForVideoClassification.from_pretrained(out / "model").eval()
    x = torch.randn(2, 16, 3, 64, 64)
    with torch.no_grad():
        assert (model(x).logits - theirs(pixel_values_videos=x).logits).abs().max() <= 1e-5


@pytest.mark.slow
def test_sigkill_then_resume_equals_an_uninterrupted_run(toy, tiny, tmp_path):
    extra = ("--lr", "1e-3", "--epochs", 2, "--batch-size", 1, "--accumulation", 2,
             "--checkpoint-every", 3, "--cache-dtype", "fp32")  # fmt: skip
    # Every part runs with one intra-op thread: float sums come out bit-equal only when the
    # threads split the work the same way.
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        whole = tmp_path / "whole"
        cli(*args(toy, tiny, whole, *extra))
        cut = tmp_path / "cut"
        cmd = [sys.executable, "-m", "vjepa2", *map(str, args(toy, tiny, cut, *extra))]
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
        _kill_after_first_checkpoint(proc, cut)
        cli(*args(toy, tiny, cut, *extra, "--resume"))
    finally:
        torch.set_num_threads(threads)
    a, b = metrics(whole), metrics(cut)
    assert a["history"] == b["history"]
    assert a["test"] == b["test"]


def _kill_after_first_checkpoint(proc, cut):
    checkpoint = cut / "checkpoints" / "latest.pt"
    deadline = time.time() + 300
    while not checkpoint.exists() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert checkpoint.exists() and not (cut / "metrics.json").exists(), "killed mid-training"


@pytest.mark.slow
def test_cached_and_uncached_train_the_same_probe(toy, tiny, tmp_path):
    extra = ("--lr", "1e-3", "--epochs", 2, "--batch-size", 4, "--accumulation", 1,
             "--cache-dtype", "fp32")  # fmt: skip
    cli(*args(toy, tiny, tmp_path / "cached", *extra))
    cli(*args(toy, tiny, tmp_path / "online", *extra, "--no-cache", "--no-augment"))
    a, b = metrics(tmp_path / "cached"), metrics(tmp_path / "online")
    assert a["test"]["top1"] == b["test"]["top1"]
    for x, y in zip(a["history"], b["history"], strict=True):
        assert x["train_loss"] == pytest.approx(y["train_loss"], abs=1e-4)
        assert x["best_val_top1"] == y["best_val_top1"]
    assert "cache_train_seconds" in a["timing"] and "cache_train_seconds" not in b["timing"]


@pytest.mark.slow
def test_broken_videos_are_reported_and_skipped(toy, tiny, tmp_path):
    data = tmp_path / "data"
    shutil.copytree(toy, data)
    (data / "train" / "000003.mp4").write_text("not a video")
    os.truncate(data / "test" / "000001.mp4", 100)
    out = tmp_path / "run"
    text = cli(*args(data, tiny, out, "--epochs", 1))
    assert "2 video(s) could not be decoded" in text
    m = metrics(out)
    assert m["num_examples"] == {"train": 31, "val": 8, "test": 15}
    assert m["failures"]["train"][0]["path"].endswith("000003.mp4")


@pytest.mark.slow
def test_paper_recipe_sweeps_and_picks_on_validation(toy, tiny, tmp_path):
    out = tmp_path / "paper"
    # The paper's probe keeps the original LayerNorm eps; saving it says transformers differs.
    with pytest.warns(UserWarning, match="LayerNorm eps 1e-05"):
        cli(*args(toy, tiny, out, "--recipe", "paper", "--epochs", 1, "--lr", "1e-3,1e-4",
                  "--weight-decay", "0.01,0.4", "--probe-heads", 3))  # fmt: skip
    m = metrics(out)
    assert len(m["history"][0]["val"]) == 4
    best = m["best_probe"]
    assert best["top1"] == max(v["top1"] for v in m["history"][0]["val"])
    assert m["settings"]["segments"] == 2 and m["settings"]["views"] == 3
    cache = json.loads((out / "features" / "val" / "meta.json").read_text())
    assert cache["shape"][1:3] == [3, 2 * 128]  # 3 views, 2 segments of 128 tokens


@pytest.mark.slow
def test_unfreezing_the_last_block(toy, tiny, tmp_path):
    out = tmp_path / "ft"
    # --unfreeze without --no-cache implies it and says so (the cache holds frozen features).
    text = cli(*args(toy, tiny, out, "--unfreeze", 1, "--epochs", 1, "--lr", "1e-3",
                     "--batch-size", 4, "--flip", 0))  # fmt: skip
    assert "no-cache" in text
    settings = json.loads((out / "settings.json").read_text())
    assert settings["flip"] == 0.0 and settings["cache"] is False
    before, after = vjepa2.load(tiny), vjepa2.load(out / "model")
    changed = {
        name
        for name, p in after.backbone.encoder.state_dict().items()
        if not torch.equal(p, before.encoder.state_dict()[name])
    }
    assert changed and all(n.startswith(("blocks.1.", "norm.")) for n in changed)


def test_bad_arguments(toy, tiny, tmp_path):
    train = str(toy / "train.csv")
    both = runner.invoke(
        app,
        ["train-probe", "--data", train, "--train", train, "-m", str(tiny), "-o", str(tmp_path)],
    )
    assert both.exit_code == 2
    bad_flip = runner.invoke(app, [*map(str, args(toy, tiny, tmp_path, "--flip", 2))])
    assert bad_flip.exit_code == 2 and "probability" in bad_flip.output


@pytest.mark.slow
def test_a_run_folder_is_never_overwritten_silently(toy, tiny, tmp_path, monkeypatch):
    """Without tensorboard the run trains and says so; a second run into its folder is refused
    (naming --resume and --overwrite); --resume with other settings or data is refused naming
    them; --overwrite starts again."""
    out = tmp_path / "run"
    monkeypatch.setitem(sys.modules, "tensorboard", None)
    text = cli(*args(toy, tiny, out, "--epochs", 1, "--batch-size", 4, "--accumulation", 1))
    assert "tensorboard is not installed" in text and not (out / "tb").exists()
    before = (out / "metrics.json").read_text()
    again = runner.invoke(app, [*map(str, args(toy, tiny, out, "--epochs", 1))])
    assert again.exit_code == 2 and "--resume" in again.output and "--overwrite" in again.output
    assert (out / "metrics.json").read_text() == before
    other_lr = runner.invoke(app, [*map(str, args(toy, tiny, out, "--epochs", 1, "--batch-size",
                                                  4, "--accumulation", 1, "--lr", "1e-3",
                                                  "--resume"))])  # fmt: skip
    assert other_lr.exit_code == 2 and "lrs: [1e-05] -> [0.001]" in other_lr.output
    swapped = [*map(str, args(toy, tiny, out, "--epochs", 1, "--batch-size", 4,
                              "--accumulation", 1, "--resume"))]  # fmt: skip
    swapped[swapped.index(str(toy / "train.csv"))] = str(toy / "test.csv")
    other_data = runner.invoke(app, swapped)
    assert other_data.exit_code == 2 and "data:" in other_data.output
    assert (out / "metrics.json").read_text() == before
    cli(*args(toy, tiny, out, "--epochs", 2, "--batch-size", 4, "--accumulation", 1,
              "--overwrite"))  # fmt: skip
    assert len(metrics(out)["history"]) == 2


def test_a_single_class_trains_with_a_warning(toy, tiny, tmp_path):
    lines = (toy / "train.csv").read_text().splitlines()
    header, rows = lines[0], [r for r in lines[1:] if r.endswith("translate_left")]
    one = tmp_path / "one.csv"
    one.write_text("\n".join([header, *(f"{toy / r.split(',')[0]},{r.split(',')[1]}"
                                        for r in rows[:6])]) + "\n")  # fmt: skip
    text = cli("train-probe", "--data", one, "--split", "0.5", "0.25", "0.25", "-m", tiny,
               "-o", tmp_path / "run", "--workers", 0, "-q", "--epochs", 1)  # fmt: skip
    assert "single class" in text
