"""``vjepa2 export``: both formats of the demo classifier and a tiny ViT encoder, parity with
PyTorch at batch sizes and clip lengths other than the traced ones, the preprocessing file, and
the errors (parity beyond tolerance, a missing extra, impossible options)."""

import functools
import json
import re
import sys

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from typer.testing import CliRunner

import vjepa2
from tests.weights.test_loading import random_model
from vjepa2.cli import app
from vjepa2.errors import UsageError
from vjepa2.export import ExportOptions, export_model, formats
from vjepa2.export.graphs import clip_input
from vjepa2.video.transforms import preprocess

pytest.importorskip("onnxruntime")
runner = CliRunner()
TOLERANCE = 1e-4


@pytest.fixture(scope="module")
def tiny_vit():
    return random_model()


@pytest.fixture(scope="module")
def tiny_export(tiny_vit, tmp_path_factory):
    out = tmp_path_factory.mktemp("tiny")
    return out, export_model(tiny_vit, out, ExportOptions(), model_name="tiny")


@pytest.fixture(scope="module")
def demo_export(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo")
    result = runner.invoke(app, ["export", "demo", str(out)])
    return out, result


def eager(model, pixels, part):
    with torch.no_grad():
        if part == "classifier":
            return model(pixels).logits
        return model.encoder(pixels)


@functools.cache
def load_pt2(path):
    return torch.export.load(path).module()


def run(path, pixels):
    """A written file run on ``pixels`` (a .pt2 program loaded once per test session)."""
    if path.suffix == ".onnx":
        return formats.run_onnx(path, pixels)
    with torch.no_grad():
        return load_pt2(path)(pixels)


def test_tiny_vit_exports_the_encoder_in_both_formats_within_tolerance(tiny_export):
    out, files = tiny_export
    assert [(f.part, f.format) for f in files] == [("encoder", "pt2"), ("encoder", "onnx")]
    for f in files:
        assert f.path == out / f"encoder.{f.format}" and f.path.stat().st_size > 0
        assert f.max_abs_error <= TOLERANCE, f
        assert f.check_shape[:2] == (1, 6)  # traced on [2, 4, ...]: batch and frames differ


@pytest.mark.parametrize("fmt", ["pt2", "onnx"])
@pytest.mark.parametrize("shape", [(3, 4), (3, 8), (1, 12)])
def test_tiny_vit_batch_and_frames_are_dynamic(tiny_vit, tiny_export, fmt, shape):
    out, _ = tiny_export
    pixels = clip_input(tiny_vit.config, *shape, seed=2)
    expected = eager(tiny_vit, pixels, "encoder")
    actual = run(out / f"encoder.{fmt}", pixels)
    assert actual.shape == expected.shape == (shape[0], shape[1] // 2 * 16, 96)
    assert (actual - expected).abs().max() <= TOLERANCE


def test_onnx_dims_are_named(tiny_export):
    import onnx

    out, _ = tiny_export
    graph = onnx.load(out / "encoder.onnx").graph

    def dims(value):
        return [d.dim_param or d.dim_value for d in value.type.tensor_type.shape.dim]

    assert dims(graph.input[0]) == ["batch", "2*tubelets", 3, 64, 64]
    assert dims(graph.output[0]) == ["batch", "16*tubelets", 96]
    assert graph.input[0].name == "pixel_values_videos"
    assert graph.output[0].name == "last_hidden_state"


def test_preprocessing_file_says_what_preprocess_does(tiny_export):
    """Resize, crop and normalise frames following preprocessing.json alone: the same pixels
    as `vjepa2.preprocess`."""
    out, _ = tiny_export
    record = json.loads((out / "preprocessing.json").read_text())
    assert record["input"]["shape"] == ["batch", "frames", 3, 64, 64]
    assert record["batch"] == {"dynamic": True, "min": 1, "max": None}
    assert record["frames"] == {"per_clip": 4, "multiple_of": 2, "dynamic": True, "min": 4,
                                "max": None}  # fmt: skip
    assert record["sampling"] == {"start": "first frame", "frame_step": 1, "fps": None}
    assert record["outputs"]["encoder"]["shape"] == ["batch", "16*tubelets", 96]
    frames = torch.from_numpy(np.random.default_rng(0).integers(0, 256, (4, 90, 120, 3)))
    frames = frames.to(torch.uint8)
    resize, crop, norm = record["resize"], record["crop"], record["normalize"]
    h, w = frames.shape[1:3]
    short = resize["short_side"]
    size = (short, int(short * w / h))  # the long side's formula, height the short side
    options = {k: resize[k] for k in ("antialias", "align_corners")}
    x = F.interpolate(frames.permute(0, 3, 1, 2), size, mode=resize["interpolation"], **options)
    c = crop["size"]
    top, left = int((x.shape[-2] - c) / 2), int((x.shape[-1] - c) / 2)
    x = x[..., top : top + c, left : left + c].float()
    mean, std = torch.tensor(norm["mean"])[:, None, None], torch.tensor(norm["std"])[:, None, None]
    expected = preprocess(frames, record["crop"]["size"])
    torch.testing.assert_close((x - mean) / std, expected, rtol=0, atol=1e-5)


def test_demo_exports_its_classifier_within_tolerance(demo_export):
    out, result = demo_export
    assert result.exit_code == 0, result.output
    errors = re.findall(
        r"(classifier\.(?:pt2|onnx)): .* PyTorch ([0-9.e+-]+) on a \[1x18x", result.output
    )
    assert [name for name, _ in errors] == ["classifier.pt2", "classifier.onnx"], result.output
    assert all(float(err) <= TOLERANCE for _, err in errors)
    record = json.loads((out / "preprocessing.json").read_text())
    assert record["model"] == "demo" and len(record["id2label"]) == 6
    assert record["outputs"]["classifier"] == {
        "files": ["classifier.pt2", "classifier.onnx"],
        "name": "logits",
        "shape": ["batch", 6],
    }


@pytest.mark.parametrize("fmt", ["pt2", "onnx"])
def test_demo_batch_is_dynamic(demo_export, fmt):
    out, result = demo_export
    assert result.exit_code == 0, result.output
    model = vjepa2.load("demo")
    pixels = clip_input(model.config, 3, 16, seed=3)
    expected = eager(model, pixels, "classifier")
    assert (run(out / f"classifier.{fmt}", pixels) - expected).abs().max() <= TOLERANCE


def test_parity_failure_is_a_clear_error(tmp_path, monkeypatch):
    path = tmp_path / "model"
    vjepa2.save(random_model(num_hidden_layers=1), path)
    real = formats.run_pt2
    monkeypatch.setattr(formats, "run_pt2", lambda *args: real(*args) + 1e-3)
    result = runner.invoke(app, ["export", str(path), str(tmp_path / "out"), "--format", "pt2"])
    assert result.exit_code == 1
    assert "Error: parity check failed: encoder.pt2 1.00e-03 > 0.0001" in result.output
    assert (tmp_path / "out" / "encoder.pt2").exists()  # kept for inspection


def test_missing_extra_is_named(tiny_vit, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    with pytest.raises(UsageError, match=r"onnxruntime.*pip install 'vjepa2\[export\]'"):
        export_model(tiny_vit, tmp_path, ExportOptions(formats=("onnx",)))
    assert not list(tmp_path.iterdir())  # refused before anything was traced or written


def test_other_model_families_are_refused(tmp_path):
    with pytest.raises(UsageError, match="a V-JEPA 2 encoder or classifier, not a Linear"):
        export_model(torch.nn.Linear(2, 2), tmp_path)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (ExportOptions(frames=2), "at least 4 .dynamic frames"),
        (ExportOptions(frames=5, dynamic_frames=False), "multiple of the tubelet size 2"),
        (ExportOptions(parts=("classifier",)), "no classifier head"),
        (ExportOptions(formats=("tflite",)), "--format 'tflite'"),
        (ExportOptions(batch_size=1), "example batch must be 2 or more"),
    ],
)
def test_impossible_options_are_usage_errors(tiny_vit, tmp_path, options, message):
    with pytest.raises(UsageError, match=message):
        export_model(tiny_vit, tmp_path, options)
