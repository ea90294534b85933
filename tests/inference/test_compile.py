"""``--compile``: torch.compile of the model in place, its compile time reported; the same
embeddings as without it."""

import re

import pytest
import torch
from safetensors.torch import load_file
from typer.testing import CliRunner

import vjepa2
from tests.weights.test_loading import random_model
from vjepa2.cli import app
from vjepa2.runtime import maybe_compile
from vjepa2.train.pretrain_options import PretrainOptions
from vjepa2.video.synthetic import signature_frames
from vjepa2.video.writer import encode_video

runner = CliRunner()


@pytest.fixture
def eager_backend(monkeypatch):
    """torch.compile with the eager backend: dynamo traces the model (seconds), no C++ build."""
    real = torch.compile
    monkeypatch.setattr(torch, "compile", lambda fn, **kw: real(fn, backend="eager", **kw))


def test_maybe_compile_in_place_with_the_compile_time_reported(eager_backend):
    model = random_model(num_hidden_layers=1)
    encoder, keys = model.encoder, list(model.state_dict())
    x = torch.randn(3, 4, 3, 64, 64)
    with torch.no_grad():
        expected = encoder(x)
        assert maybe_compile(encoder, False) is encoder and "forward" not in vars(encoder)
        messages: list[str] = []
        assert maybe_compile(encoder, True, "encoder", messages.append) is encoder
        assert list(model.state_dict()) == keys  # checkpoints and fingerprints unchanged
        outputs = [encoder(x), encoder(x[:2]), encoder(x)]  # another batch size, then again
    for out, want in zip(outputs, (expected, expected[:2], expected), strict=True):
        assert (out - want).abs().max() <= 1e-5
    assert len(messages) == 1, messages  # the first call's time, then silence
    assert re.fullmatch(r"torch.compile: compiled the encoder in \d+\.\d s \(its first call\)",
                        messages[0])  # fmt: skip


@pytest.mark.parametrize("command", ["embed", "classify", "train-probe", "pretrain"])
def test_compile_is_an_option_off_by_default(command):
    result = runner.invoke(app, [command, "--help"], terminal_width=200)
    assert result.exit_code == 0
    text = " ".join(result.output.replace("│", " ").split())  # rich's box, wrapped
    assert "--compile" in text and "gains little" in text
    assert PretrainOptions.__dataclass_fields__["compile"].default is False


@pytest.mark.slow
def test_embed_with_compile_equals_embed_without(tmp_path):
    """End to end with inductor on the CPU (minutes on two shared cores: the C++ build)."""
    model_dir = tmp_path / "model"
    vjepa2.save(random_model(num_hidden_layers=1), model_dir)
    (tmp_path / "videos").mkdir()
    for i in range(2):
        encode_video(tmp_path / "videos" / f"v{i}.mp4", signature_frames(4 + i, 64, 96), fps=10)
    outputs = {}
    for flag in ("", "--compile"):
        out = tmp_path / f"emb{flag}"
        args = ["embed", tmp_path / "videos", "-m", model_dir, "-o", out, "--pool", "both",
                "--batch-size", 1, "--workers", 0, "-q", *([flag] if flag else [])]  # fmt: skip
        result = runner.invoke(app, [str(a) for a in args])
        assert result.exit_code == 0, result.output
        outputs[flag] = {p.name: load_file(p) for p in sorted(out.glob("*.safetensors"))}
    assert re.search(r"torch.compile: compiled the encoder in \d+\.\d s", result.output)
    assert len(outputs[""]) == 2 and outputs[""].keys() == outputs["--compile"].keys()
    for name, tensors in outputs[""].items():
        for key in ("tokens", "pooled"):
            assert (outputs["--compile"][name][key] - tensors[key]).abs().max() <= 1e-4
