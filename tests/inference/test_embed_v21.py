"""`vjepa2 embed` with a V-JEPA 2.1 model on a video: the job runs the 2.1 encoder (the image
path of the jobs is not wired yet; docs/vjepa2_1.md)."""

import torch
from safetensors.torch import load_file
from typer.testing import CliRunner

import vjepa2
from tests.models.test_vjepa2_1 import random_model
from vjepa2.cli import app
from vjepa2.video.synthetic import signature_frames
from vjepa2.video.writer import encode_video


def test_embed_a_video_with_a_v21_model(tmp_path):
    model = random_model()
    vjepa2.save(model, tmp_path / "v21")
    video = encode_video(tmp_path / "v.mp4", signature_frames(8, 64, 64), fps=8)
    result = CliRunner().invoke(
        app, ["embed", str(video), "-m", str(tmp_path / "v21"), "-o", str(tmp_path / "emb"),
              "--workers", "0", "--pool", "both", "-q"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    (written,) = (tmp_path / "emb").glob("*.safetensors")
    tensors = load_file(written)
    c = model.config
    grid = (c.frames_per_clip // c.tubelet_size, c.crop_size // 16, c.crop_size // 16)
    assert tensors["tokens"].shape == (1, 1, *grid, c.hidden_size)
    direct = vjepa2.embed(video, model)  # the same through the Python API
    assert torch.allclose(tensors["pooled"][0, 0], direct.pooled, atol=1e-5)
