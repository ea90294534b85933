"""``vjepa2 surprise``: per-window surprise on generated videos with tiny random models."""

import csv
import math
import sys

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

import vjepa2
from tests.conftest import tiny_config
from tests.weights.test_loading import random_model
from vjepa2.cli import app
from vjepa2.data.clip_pipeline import ClipSpec, count_clips
from vjepa2.errors import UsageError
from vjepa2.inference import surprise as surprise_module
from vjepa2.inference.surprise import surprise_windows, window_scores
from vjepa2.video.writer import encode_video

runner = CliRunner()
FRAMES, SIZE = 24, 64
SPEC = ClipSpec(frames=4, crop_size=SIZE, stride=2)  # context 2 frames + future 2 frames


def lossless(path, frames):
    """Frames written without loss (FFV1 in RGB), so equal frames decode equal."""
    return encode_video(path, frames, fps=4, codec="ffv1", pix_fmt="bgr0")


def pattern(seed: int, n: int = FRAMES) -> torch.Tensor:
    """``n`` copies of one random image, uint8 [n, SIZE, SIZE, 3]."""
    image = torch.randint(0, 256, (SIZE, SIZE, 3), generator=torch.Generator().manual_seed(seed))
    return image.to(torch.uint8).expand(n, -1, -1, -1).contiguous()


@pytest.fixture(scope="module")
def videos(tmp_path_factory):
    root = tmp_path_factory.mktemp("surprise")
    constant = lossless(root / "constant.mkv", pattern(1))
    changed = torch.cat([pattern(1, FRAMES // 2), pattern(2, FRAMES // 2)])
    return {"constant": constant, "changed": lossless(root / "changed.mkv", changed)}


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return random_model()


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory, model):
    path = tmp_path_factory.mktemp("model")
    vjepa2.save(model, path)
    return path


def scores(video, model, **kwargs):
    return list(surprise_windows(video, model, SPEC, context_frames=2, **kwargs))


def test_score_is_the_pretraining_loss_with_the_future_masked(model):
    clips = torch.randn(2, 4, 3, SIZE, SIZE)
    context = torch.arange(16).expand(2, -1)
    target = torch.arange(16, 32).expand(2, -1)
    with torch.no_grad():
        out = model(clips, context_idx=context, target_idx=target, mask_index=0)
        tokens = model.encoder(clips)
    targets = torch.nn.functional.layer_norm(tokens, tokens.shape[-1:], eps=1e-5)[:, 16:]
    expected = (out.predictor_output - targets).abs().mean(dim=(1, 2))
    got = window_scores(model.encoder, model.predictor, clips, context_frames=2)
    assert torch.allclose(got, expected, atol=1e-6)
    assert got.shape == (2,)


def test_one_row_per_window_in_time_order(videos, model):
    rows = scores(videos["changed"], model)
    assert len(rows) == count_clips(videos["changed"], SPEC) == (FRAMES - 4) // 2 + 1
    starts = [r.start_s for r in rows]
    assert starts == sorted(starts) and len(set(starts)) == len(starts)
    assert all(r.end_s > r.start_s and math.isfinite(r.score) for r in rows)


def test_constant_video_scores_all_equal(videos, model):
    values = np.array([r.score for r in scores(videos["constant"], model)])
    assert values.max() - values.min() < 1e-5
    assert values[0] > 0


def test_windows_after_the_change_differ(videos, model):
    before = np.array([r.score for r in scores(videos["constant"], model)])
    rows = scores(videos["changed"], model)
    change_s = FRAMES // 2 / 4  # the change at frame 12, 4 fps
    untouched = [r.score for r in rows if r.end_s <= change_s]
    touched = [r.score for r in rows if r.end_s > change_s]
    assert untouched and touched
    assert np.allclose(untouched, before[0], atol=1e-5)
    assert all(abs(s - before[0]) > 1e-3 for s in touched)


def test_windows_are_read_lazily_a_batch_at_a_time(videos, model, monkeypatch):
    reads = []
    real = surprise_module.read_clips

    def counting(path, spec, **kwargs):
        clips = real(path, spec, **kwargs)
        reads.append(clips.pixels.shape[0])
        return clips

    monkeypatch.setattr(surprise_module, "read_clips", counting)
    windows = surprise_windows(videos["changed"], model, SPEC, 2, batch_size=3)
    next(windows)
    assert reads == [3]
    rest = list(windows)
    assert len(rest) == count_clips(videos["changed"], SPEC) - 1
    assert max(reads) <= 3 and len(reads) == math.ceil((len(rest) + 1) / 3)


def test_model_without_predictor_is_a_usage_error(videos):
    encoder_only = vjepa2.build_model(tiny_config(), with_predictor=False)
    with pytest.raises(UsageError, match="predictor"):
        scores(videos["constant"], encoder_only)


def test_classifier_uses_its_backbone_predictor(videos):
    torch.manual_seed(0)
    classifier = random_model(classifier=True)
    assert len(scores(videos["constant"], classifier)) > 0


def cli(*args):
    return runner.invoke(app, [str(a) for a in args])


def test_cli_writes_csv_and_png(videos, model_dir, tmp_path):
    pytest.importorskip("matplotlib")
    out, png = tmp_path / "s.csv", tmp_path / "s.png"
    result = cli("surprise", videos["changed"], "-m", model_dir, "-o", out, "--png", png,
                 "--context-frames", 2, "--future-frames", 2, "--device", "cpu")  # fmt: skip
    assert result.exit_code == 0, result.output
    with open(out) as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0]) == ["start_s", "end_s", "score"]
    assert len(rows) == count_clips(videos["changed"], SPEC)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "peak" in result.output


@pytest.mark.parametrize(
    "option", [("--context-frames", 3), ("--future-frames", 0), ("--frame-step", 0)]
)
def test_cli_bad_split_is_one_line_exit_2(videos, model_dir, option):
    result = cli("surprise", videos["constant"], "-m", model_dir, *option, "--device", "cpu")
    assert result.exit_code == 2, result.output
    assert result.output.startswith("Error: ") and result.output.count("\n") == 1


def test_cli_png_without_matplotlib_names_the_extra(videos, model_dir, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    result = cli("surprise", videos["constant"], "-m", model_dir, "--png", tmp_path / "c.png")
    assert result.exit_code == 2
    assert "vjepa2[train]" in result.output


def test_cli_help_has_examples():
    result = cli("surprise", "--help")
    assert result.exit_code == 0 and "Examples" in result.output
