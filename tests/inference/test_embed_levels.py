"""Multi-level features through the jobs: ``vjepa2 embed --layers`` (V-JEPA 2 blocks and V-JEPA
2.1 hierarchical levels), ``vjepa2.embed(layers=)``, and ``classify`` with a 4-level classifier."""

import json

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import load_file
from typer.testing import CliRunner

import vjepa2
from tests.models.test_vjepa2_1 import random_model as random_v21
from tests.weights.test_loading import random_model
from vjepa2.cli import app
from vjepa2.data.clip_pipeline import ClipSpec, read_clips
from vjepa2.inference.attention import attention_video
from vjepa2.inference.classify import classify_videos
from vjepa2.video.synthetic import signature_frames
from vjepa2.video.writer import encode_video

TOL = 1e-5


@pytest.fixture(scope="module")
def video(tmp_path_factory):
    root = tmp_path_factory.mktemp("videos")
    return encode_video(root / "v.mp4", signature_frames(8, 64, 64), fps=8)


def cli(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


def clip_pixels(video, model) -> torch.Tensor:
    """The clip the jobs read: ``[1, T, 3, crop, crop]``."""
    return read_clips(video, ClipSpec.for_model(model.config)).pixels.flatten(0, 1)


@torch.no_grad()
def test_embed_layers_writes_each_level(tmp_path, video):
    model = random_model(num_hidden_layers=4)
    vjepa2.save(model, tmp_path / "model")
    out = tmp_path / "emb"
    result = cli("embed", video, "-m", tmp_path / "model", "-o", out, "--layers", "1,3",
                 "--pool", "both", "--workers", 0, "-q")  # fmt: skip
    assert result.exit_code == 0, result.output
    (written,) = out.glob("*.safetensors")
    tensors = load_file(written)
    assert tensors["tokens"].shape == (1, 1, 2, 2, 4, 4, 96)  # [S, V, L, T', H', W', D]
    assert tensors["pooled"].shape == (1, 1, 2, 96)
    expected = model.encoder(clip_pixels(video, model), out_layers=[1, 3])
    for level, tokens in enumerate(expected):
        assert (tensors["tokens"][0, 0, level].reshape(-1, 96) - tokens[0]).abs().max() <= TOL
        assert (tensors["pooled"][0, 0, level] - tokens[0].mean(0)).abs().max() <= TOL
    with safe_open(written, "pt") as f:
        assert json.loads(f.metadata()["layers"]) == [1, 3]
    assert json.loads((out / "run.json").read_text())["layers"] == [1, 3]
    again = cli("embed", video, "-m", tmp_path / "model", "-o", out, "--layers", "4",
                "--workers", 0, "-q")  # fmt: skip
    assert again.exit_code == 2 and "layers" in again.output  # another setting: refused


def test_embed_a_count_of_levels_through_the_python_api(video):
    model = random_model(num_hidden_layers=4)
    embedding = vjepa2.embed(video, model, layers=4)
    assert embedding.tokens.shape == (4, 2, 4, 4, 96)
    assert embedding.pooled.shape == (4, 96)
    plain = vjepa2.embed(video, model)
    assert (embedding.tokens[-1] - plain.tokens).abs().max() <= TOL


def test_embed_rejects_impossible_layers(tmp_path, video):
    vjepa2.save(random_model(), tmp_path / "model")
    result = cli("embed", video, "-m", tmp_path / "model", "-o", tmp_path / "e", "--layers", "5",
                 "--workers", 0, "-q")  # fmt: skip
    assert result.exit_code == 2
    assert "2 blocks" in result.output


@torch.no_grad()
def test_embed_layers_of_a_v21_model_are_its_hierarchical_levels(tmp_path, video):
    model = random_v21()
    vjepa2.save(model, tmp_path / "v21")
    out = tmp_path / "emb"
    result = cli("embed", video, "-m", tmp_path / "v21", "-o", out, "--layers", "4",
                 "--pool", "none", "--workers", 0, "-q")  # fmt: skip
    assert result.exit_code == 0, result.output
    (written,) = out.glob("*.safetensors")
    tokens = load_file(written)["tokens"][0, 0]  # [L, T', H', W', D]
    levels = len(model.config.hierarchical_layers)
    assert tokens.shape[0] == levels == 4
    hier = model(clip_pixels(video, model), hierarchical=True).hierarchical_hidden_state[0]
    as_levels = tokens.movedim(-5, -2).flatten(-2).reshape(hier.shape)  # docs/inference.md
    assert (as_levels - hier).abs().max() <= TOL
    bad = cli("embed", video, "-m", tmp_path / "v21", "-o", tmp_path / "e2", "--layers", "0,1",
              "--workers", 0, "-q")  # fmt: skip
    assert bad.exit_code == 2 and "hierarchical" in bad.output


@pytest.fixture(scope="module")
def four_level_classifier(tmp_path_factory):
    model = random_model(classifier=True, num_hidden_layers=6)
    model.config.out_layers = [2, 3, 4, 5]
    path = tmp_path_factory.mktemp("classifier")
    with pytest.warns(UserWarning, match="transformers feeds it the last block"):
        vjepa2.save(model, path)
    return path


@torch.no_grad()
def test_classify_runs_a_four_level_classifier_on_its_levels(four_level_classifier, video):
    model = vjepa2.load(four_level_classifier)
    assert model.config.out_layers == [2, 3, 4, 5]
    pixels = clip_pixels(video, model)
    levels = model.encoder(pixels, out_layers=[2, 3, 4, 5])
    probs = model.head(torch.cat(levels, dim=1)).softmax(-1)[0]
    (prediction,) = classify_videos(model, [video], ClipSpec.for_model(model.config), k=3,
                                    workers=0)  # fmt: skip
    got = dict(prediction.top)
    for i, label in model.id2label.items():
        assert abs(got[label] - probs[i].item()) <= TOL
    seen = model(pixels).last_hidden_state  # what the head read: the 4 levels, 4x the tokens
    assert seen.shape[1] == 4 * levels[0].shape[1]
    assert (seen - torch.cat(levels, dim=1)).abs().max() == 0


@torch.no_grad()
def test_embed_with_a_four_level_classifier_pools_what_its_probe_reads(
    tmp_path, four_level_classifier, video
):
    model = vjepa2.load(four_level_classifier)
    embedding = vjepa2.embed(video, model)
    assert embedding.tokens.shape[0] == 4  # its levels by default
    pixels = clip_pixels(video, model)
    pooled = model.head.pool(torch.cat(model.encoder(pixels, out_layers=[2, 3, 4, 5]), dim=1))
    assert (embedding.pooled - pooled[0]).abs().max() <= TOL
    result = cli("embed", video, "-m", four_level_classifier, "-o", tmp_path / "e",
                 "--layers", "1", "--workers", 0, "-q")  # fmt: skip
    assert result.exit_code == 2
    assert "probe reads encoder blocks [2, 3, 4, 5]" in result.output


@torch.no_grad()
def test_attention_maps_of_a_four_level_classifier_cover_its_levels(four_level_classifier, video):
    model = vjepa2.load(four_level_classifier)
    spec = ClipSpec.for_model(model.config)
    seen = []
    model.head.pooler.register_forward_pre_hook(lambda m, args: seen.append(args[0].shape[1]))
    picture, labels = attention_video(video, model, spec)
    assert seen == [4 * 32]  # the probe read the 4 levels of 32 tokens
    windows = spec.with_(stride=spec.frames * spec.frame_step, segments=1, views=1)
    pixels = read_clips(video, windows).pixels[:, 0]  # the clips attention_video reads
    expected = model(pixels).logits.argmax(-1).tolist()
    assert len(labels) == 2 and labels == [model.id2label[i] for i in expected]
    assert picture.shape[-2] == 2 * model.config.crop_size  # input | heat map


def test_dense_layout_names_the_level_axis(tmp_path, video):
    vjepa2.save(random_model(num_hidden_layers=3), tmp_path / "model")
    out = tmp_path / "emb"
    result = cli("embed", video, "-m", tmp_path / "model", "-o", out, "--layers", "0,2",
                 "--dense", "--workers", 0, "-q")  # fmt: skip
    assert result.exit_code == 0, result.output
    (record,) = [json.loads(line) for line in (out / "records.jsonl").read_text().splitlines()]
    assert record["dense"]["tokens"][:3] == ["clip", "view", "level"]
    (written,) = out.glob("*.safetensors")
    assert load_file(written)["tokens"].shape == (1, 1, 2, 2, 4, 4, 96)
