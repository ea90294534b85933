"""`vjepa2 embed` and `vjepa2.embed` with a V-JEPA 2.1 model: videos through the video path,
images through the image path (tubelet-1 patch embedding, image modality), the dense token grid
(`--dense`), on other shapes too (non-square files, head dim 64, the 1-level layouts); and what a
V-JEPA 2 model does with an image (a static clip)."""

import json

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import load_file
from typer.testing import CliRunner

import vjepa2
from tests.models.test_vjepa2_1 import random_model
from tests.weights.test_loading import random_model as random_v2_model
from vjepa2.cli import app
from vjepa2.data.clip_pipeline import ClipSpec, clips_from_frames
from vjepa2.video import read_video
from vjepa2.video.synthetic import signature_frames
from vjepa2.video.writer import encode_image, encode_video


def embed_cli(*args: str):
    result = CliRunner().invoke(app, ["embed", *args, "--workers", "0", "-q"])
    assert result.exit_code == 0, result.output
    return result


def records_by_name(out) -> dict:
    lines = (out / "records.jsonl").read_text().splitlines()
    return {json.loads(line)["path"].rsplit("/", 1)[-1]: json.loads(line) for line in lines}


def image_pixels(path, crop: int) -> torch.Tensor:
    """The image as the job sees it: one frame through the eval transform, ``[1, 1, 3, H, W]``."""
    frames, _ = read_video(path)
    return clips_from_frames(frames[:1], ClipSpec(frames=1, crop_size=crop)).pixels[0]


def test_embed_a_video_with_a_v21_model(tmp_path):
    model = random_model()
    vjepa2.save(model, tmp_path / "v21")
    video = encode_video(tmp_path / "v.mp4", signature_frames(8, 64, 64), fps=8)
    embed_cli(str(video), "-m", str(tmp_path / "v21"), "-o", str(tmp_path / "emb"),
              "--pool", "both")  # fmt: skip
    (written,) = (tmp_path / "emb").glob("*.safetensors")
    tensors = load_file(written)
    c = model.config
    grid = (c.frames_per_clip // c.tubelet_size, c.crop_size // 16, c.crop_size // 16)
    assert tensors["tokens"].shape == (1, 1, *grid, c.hidden_size)
    direct = vjepa2.embed(video, model)  # the same through the Python API
    assert torch.allclose(tensors["pooled"][0, 0], direct.pooled, atol=1e-5)


def test_a_folder_of_images_and_videos_uses_the_image_path_for_images(tmp_path):
    model = random_model()
    vjepa2.save(model, tmp_path / "v21")
    photos = tmp_path / "photos"
    photos.mkdir()
    image = encode_image(photos / "a.png", signature_frames(1, 80, 64, start=3)[0])
    encode_video(photos / "v.mp4", signature_frames(8, 64, 64), fps=8)
    out = tmp_path / "emb"
    embed_cli(str(photos), "-m", str(tmp_path / "v21"), "-o", str(out), "--pool", "both",
              "--dense")  # fmt: skip
    records = records_by_name(out)
    assert {r["status"] for r in records.values()} == {"ok"}
    assert records["a.png"]["modality"] == "image" and records["v.mp4"]["modality"] == "video"
    assert records["a.png"]["frames"] == [0] and records["a.png"]["clips"] == 1
    img = load_file(out / records["a.png"]["output"])
    assert img["tokens"].shape == (1, 1, 1, 4, 4, 64) and img["token_frames"].tolist() == [[[0]]]
    pixels = image_pixels(image, 64)
    with torch.no_grad():
        expected = model.encoder(pixels)  # [1, 1, 3, H, W]: the image path
        static = model.encoder(pixels.expand(1, 4, -1, -1, -1))  # what a static clip would give
    assert torch.allclose(img["tokens"].flatten(0, 4), expected[0], atol=1e-5)
    assert torch.allclose(img["pooled"][0, 0], expected[0].mean(0), atol=1e-5)
    assert not torch.allclose(expected, static[:, :16], atol=1e-3)
    direct = vjepa2.embed(image, model)  # the Python API takes the image path too
    assert direct.modality == "image" and direct.tokens.shape == (1, 4, 4, 64)
    assert torch.allclose(direct.tokens.flatten(0, 2), expected[0], atol=1e-5)
    vid = load_file(out / records["v.mp4"]["output"])
    assert vid["tokens"].shape == (1, 1, 2, 4, 4, 64)
    assert vid["token_frames"].tolist() == [[[0, 1], [2, 3]]]
    layout = records["v.mp4"]["dense"]
    assert layout["grid"] == [2, 4, 4] and layout["frames_per_step"] == 2
    assert layout["tokens"] == ["clip", "view", "time", "height", "width", "channel"]
    assert records["a.png"]["dense"]["frames_per_step"] == 1
    with safe_open(out / records["a.png"]["output"], "pt") as f:
        assert f.metadata()["modality"] == "image" and "dense" in f.metadata()
    embed_cli(str(photos), "-m", str(tmp_path / "v21"), "-o", str(out), "--pool", "both",
              "--dense")  # fmt: skip
    assert len((out / "records.jsonl").read_text().splitlines()) == 2  # both done: resumed


@pytest.mark.parametrize(
    "changes",
    [
        {},
        {"hidden_size": 128, "num_attention_heads": 2},  # head dim 64
        {"pred_num_levels": 1, "pred_teacher_dim": 96},  # the distilled B/L layout
        {"hierarchical_layers": [11], "pred_num_levels": 1},  # a 1-level encoder
    ],
    ids=["base", "head-dim-64", "distilled", "one-level"],
)
def test_python_embed_of_non_square_images_and_videos(tmp_path, changes):
    model = random_model(**changes)
    d = model.config.hidden_size
    image = encode_image(tmp_path / "wide.jpg", signature_frames(1, 48, 96)[0])
    video = encode_video(tmp_path / "tall.mp4", signature_frames(6, 96, 48), fps=6)
    got = vjepa2.embed(image, model)
    assert got.modality == "image" and got.tokens.shape == (1, 4, 4, d)
    with torch.no_grad():
        expected = model(image_pixels(image, 64)).last_hidden_state[0]
    assert torch.allclose(got.tokens.flatten(0, 2), expected, atol=1e-5)
    assert torch.isfinite(got.pooled).all() and got.pooled.shape == (d,)
    clip = vjepa2.embed(video, model)
    assert clip.modality == "video" and clip.tokens.shape == (2, 4, 4, d)
    frames = torch.from_numpy(signature_frames(1, 48, 80).numpy())  # one raw frame: an image
    assert vjepa2.embed(frames, model).tokens.shape == (1, 4, 4, d)


def test_a_v2_model_embeds_an_image_as_a_static_clip_and_writes_dense_grids(tmp_path):
    model = random_v2_model()
    vjepa2.save(model, tmp_path / "v2")
    photos = tmp_path / "photos"
    photos.mkdir()
    encode_image(photos / "a.png", signature_frames(1, 64, 64)[0])
    encode_video(photos / "v.mp4", signature_frames(8, 64, 64), fps=8)
    out = tmp_path / "emb"
    embed_cli(str(photos), "-m", str(tmp_path / "v2"), "-o", str(out), "--dense",
              "--frames", "4")  # fmt: skip
    records = records_by_name(out)
    assert records["a.png"]["modality"] == "video" and records["a.png"]["frames"] == [0] * 4
    c = model.config
    grid = (2, c.crop_size // 16, c.crop_size // 16)
    for name in ("a.png", "v.mp4"):
        tensors = load_file(out / records[name]["output"])
        assert tensors["tokens"].shape == (1, 1, *grid, c.hidden_size)  # with --pool mean
        assert tensors["pooled"].shape == (1, 1, c.hidden_size)
        assert records[name]["dense"]["grid"] == list(grid)
    assert load_file(out / records["v.mp4"]["output"])["token_frames"].tolist() == [
        [[0, 1], [2, 3]]
    ]
    assert json.loads((out / "run.json").read_text())["dense"] is True
