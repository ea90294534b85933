"""``vjepa2 visualize``: PCA feature videos and probe attention maps from tiny random models;
``vjepa2 classify --explain`` with the demo model."""

import json

import pytest
import torch
from typer.testing import CliRunner

import vjepa2
from tests.weights.test_loading import random_model
from vjepa2.cli import app
from vjepa2.data.clip_pipeline import ClipSpec, read_clips
from vjepa2.errors import UsageError
from vjepa2.inference.attention import (
    HEAT,
    attention_pictures,
    attention_video,
    explain_names,
    heat_colours,
    probe_attention,
)
from vjepa2.inference.pca import pca_colours, pca_video, unnormalise
from vjepa2.video import read_image, read_video
from vjepa2.video.synthetic import signature_frames
from vjepa2.video.transforms import EvalTransform
from vjepa2.video.writer import encode_video

runner = CliRunner()
SIZE = 64
SPEC = ClipSpec(frames=4, crop_size=SIZE)


@pytest.fixture(scope="module")
def videos(tmp_path_factory):
    root = tmp_path_factory.mktemp("pca")
    noise = torch.randint(0, 256, (10, SIZE, SIZE, 3), generator=torch.Generator().manual_seed(3))
    return {
        "signature": encode_video(root / "a.mp4", signature_frames(10, SIZE, SIZE), fps=4),
        "noise": encode_video(root / "b.mp4", noise.to(torch.uint8), fps=4),
    }


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return random_model()


def test_pca_colours_scaled_per_component():
    tokens = torch.randn(50, 8) * torch.tensor([5.0, 3, 2, 1, 0.1, 0.1, 0.1, 0.1])
    colours = pca_colours(tokens)
    assert colours.shape == (50, 3)
    assert torch.allclose(colours.amin(0), torch.zeros(3), atol=1e-6)
    assert torch.allclose(colours.amax(0), torch.ones(3), atol=1e-6)
    # Each colour is a principal component (up to its sign): the SVD's left singular vectors.
    left, _, _ = torch.linalg.svd(tokens - tokens.mean(0), full_matrices=False)
    for k in range(3):
        correlation = torch.corrcoef(torch.stack([colours[:, k], left[:, k]]))[0, 1]
        assert abs(correlation) > 1 - 1e-5


def test_pca_colours_of_too_few_dims_pad_with_zeros():
    colours = pca_colours(torch.randn(6, 2))
    assert colours.shape == (6, 3) and torch.all(colours[:, 2] == 0)


def test_pca_video_beside_the_input(videos, model):
    frames = pca_video(videos["signature"], model, SPEC)
    assert frames.shape == (12, SIZE, 2 * SIZE, 3)  # 10 frames -> 3 clips of 4 (the last padded)
    decoded, _ = read_video(videos["signature"])
    seen = unnormalise(EvalTransform(SIZE)(decoded))  # the frames as the model saw them
    left = torch.from_numpy(frames[:10, :, :SIZE]).int()
    assert (left - seen.int()).abs().max() <= 1
    right = torch.from_numpy(frames[..., SIZE:, :]).float()
    assert all(right[..., c].std() > 5 for c in range(3))  # three live colour channels
    assert not torch.equal(right[..., 0], right[..., 1])


def test_pictures_follow_the_tokens(videos, model):
    a = pca_video(videos["signature"], model, SPEC)[..., SIZE:, :]
    b = pca_video(videos["noise"], model, SPEC)[..., SIZE:, :]
    assert abs(a.astype(float) - b.astype(float)).mean() > 10
    tokens_same = pca_video(videos["signature"], model, SPEC)[..., SIZE:, :]
    assert (tokens_same == a).all()


def test_max_clips_limits_the_frames(videos, model):
    assert len(pca_video(videos["signature"], model, SPEC, max_clips=1)) == 4


def test_cli_writes_video_and_png(videos, model, tmp_path):
    model_dir = tmp_path / "model"
    vjepa2.save(model, model_dir)
    out, png = tmp_path / "pca.mp4", tmp_path / "pca.png"
    result = runner.invoke(app, ["visualize", "pca", str(videos["signature"]), "-m",
                                 str(model_dir), "-o", str(out), "--png", str(png),
                                 "--device", "cpu"])  # fmt: skip
    assert result.exit_code == 0, result.output
    frames, _ = read_video(out)
    assert frames.shape == (12, SIZE, 2 * SIZE, 3)
    assert read_image(png)[0].shape == (1, SIZE, 2 * SIZE, 3)


def test_cli_missing_video_is_exit_2(tmp_path):
    result = runner.invoke(app, ["visualize", "pca", str(tmp_path / "no.mp4"), "-m", "demo",
                                 "-o", str(tmp_path / "x.mp4")])  # fmt: skip
    assert result.exit_code == 2 and result.output.startswith("Error: ")


def test_cli_help_has_examples():
    result = runner.invoke(app, ["visualize", "pca", "--help"])
    assert result.exit_code == 0 and "Examples" in result.output


@pytest.fixture(scope="module")
def classifier():
    torch.manual_seed(0)
    return random_model(classifier=True)


def test_probe_attention_is_the_weights_the_pooler_applies(classifier):
    head = classifier.head
    tokens = torch.randn(2, 32, classifier.config.hidden_size)
    weights = probe_attention(head, tokens)  # [B, heads, Q, N]
    assert torch.allclose(weights.sum(-1), torch.ones(weights.shape[:-1]), atol=1e-6)
    # Attending to the values with these weights gives the pooler's cross-attention output.
    x = tokens
    for block in head.pooler.blocks:
        x = block(x)
    cross = head.pooler.cross_attention_block
    b, n, d = x.shape
    values = cross.xattn.kv(cross.norm1(x))[..., d:].view(b, n, weights.size(1), -1)
    mixed = (weights @ values.transpose(1, 2)).transpose(1, 2).reshape(b, -1, d)
    queries = head.pooler.query_tokens.expand(b, -1, -1)
    with torch.no_grad():
        expected = cross.xattn(queries, cross.norm1(x))
    assert torch.allclose(mixed, expected, atol=1e-5)


def test_heat_colours_ramp():
    colours = heat_colours(torch.tensor([[0.0, 0.5, 1.0]]))
    assert torch.allclose(colours[0], HEAT, atol=1e-6)


def test_attention_video_needs_a_classifier(videos, model):
    with pytest.raises(UsageError, match="classifier"):
        attention_video(videos["signature"], model, SPEC)


def test_cli_attention_writes_video_and_labels(videos, classifier, tmp_path):
    model_dir = tmp_path / "classifier"
    vjepa2.save(classifier, model_dir)
    out = tmp_path / "attn.mp4"
    result = runner.invoke(app, ["visualize", "attention", str(videos["noise"]), "-m",
                                 str(model_dir), "-o", str(out), "--device", "cpu"])  # fmt: skip
    assert result.exit_code == 0, result.output
    labels = result.output.splitlines()[0].removeprefix("predicted per clip: ").split(", ")
    assert len(labels) == 3 and set(labels) <= {"left", "right", "up"}
    frames, _ = read_video(out)
    assert frames.shape == (12, SIZE, 2 * SIZE, 3)
    assert runner.invoke(app, ["visualize", "attention", "--help"]).output.count("Examples") == 1


def test_explain_names_are_unique():
    names = explain_names(["a/clip.mp4", "b/clip.mp4", "c/other.mkv", "d/clip.webm"])
    assert names == ["clip", "clip-2", "other", "clip-3"]


@pytest.fixture(scope="module")
def demo():
    return vjepa2.load("demo").eval()


def test_classify_explain_with_the_demo_model(videos, demo, tmp_path):
    twin = tmp_path / "twin" / "a.mp4"
    twin.parent.mkdir()
    twin.write_bytes(videos["signature"].read_bytes())
    out = tmp_path / "explained"
    result = runner.invoke(app, ["classify", str(videos["signature"]), str(twin), "-m", "demo",
                                 "--explain", str(out), "--json", "--segments", "2",
                                 "--device", "cpu", "--workers", "0"])  # fmt: skip
    assert result.exit_code == 0, result.output
    records = [json.loads(line) for line in result.stdout.splitlines()]  # stdout stays JSON
    assert len(records) == 2 and all(r["error"] is None for r in records)
    assert sorted(p.name for p in out.iterdir()) == ["a-2.mp4", "a-2.png", "a.mp4", "a.png"]
    # The pictures are those of the clips classify classified: its 2 segments of 16 frames.
    spec = ClipSpec.for_model(demo.config, segments=2)
    pixels = read_clips(videos["signature"], spec).pixels[:, 0]
    expected, labels, peak = attention_pictures(demo, pixels)
    assert labels[0] in demo.id2label.values()
    written, _ = read_video(out / "a.mp4")
    assert written.shape == expected.shape == (32, SIZE, 2 * SIZE, 3)
    assert (written.int() - torch.from_numpy(expected).int()).abs().float().mean() < 3
    heat = torch.from_numpy(expected[..., SIZE:, :]).float()
    assert heat.std() > 5  # a live heat map, not a flat one
    image = read_image(out / "a.png")[0][0]
    assert (image.int() - torch.from_numpy(expected[peak]).int()).abs().float().mean() < 3
    with torch.no_grad():  # the picture's brightest heat is at the most attended tubelet
        weights = probe_attention(demo.head, demo.encoder(pixels)).mean(dim=(1, 2))
    clip, token = divmod(int(weights.argmax()), weights.size(1))
    assert peak == clip * 16 + token // 16 * 2  # 16 frames, 16 tokens per tubelet of 2 frames
    row, col = divmod(token % 16, 4)
    tile = expected[peak, row * 16 : row * 16 + 16, SIZE + col * 16 : SIZE + col * 16 + 16]
    assert tile[..., 0].mean() > heat[..., 0].mean()  # red-yellow where the probe looks
