"""Bad checkpoints: one error type (CheckpointError), every problem listed, the file named."""

import os

import pytest
import torch

import vjepa2
from tests.weights.test_loading import random_model
from vjepa2.errors import UsageError, VJEPA2Error
from vjepa2.weights import CheckpointError, save_original


def saved(tmp_path, **kwargs):
    model = random_model(**kwargs)
    vjepa2.save(model, tmp_path / "model")
    return model, tmp_path / "model"


@pytest.mark.parametrize("keep", [0, 100, -100])
def test_truncated_or_corrupt_safetensors(tmp_path, keep):
    _, folder = saved(tmp_path)
    weights = folder / "model.safetensors"
    data = weights.read_bytes()
    weights.write_bytes(data[:keep] if keep >= 0 else data[:keep] + b"\xff" * 7)
    with pytest.raises(CheckpointError, match="not a readable safetensors file") as err:
        vjepa2.load(folder)
    assert str(weights) in str(err.value)
    assert isinstance(err.value, VJEPA2Error) and isinstance(err.value, UsageError)


def test_pickle_payload_in_pt_and_bin(tmp_path):
    evil = {"encoder": {"x": torch.ones(1)}, "payload": os.getcwd}
    torch.save(evil, tmp_path / "evil.pt")
    with pytest.raises(CheckpointError, match="not a readable PyTorch checkpoint") as err:
        vjepa2.load(tmp_path / "evil.pt")
    assert "evil.pt" in str(err.value)
    _, folder = saved(tmp_path)
    os.remove(folder / "model.safetensors")
    torch.save(evil, folder / "pytorch_model.bin")
    with pytest.raises(CheckpointError, match=r"pytorch_model\.bin: not a readable PyTorch"):
        vjepa2.load(folder)


def test_every_problem_of_an_original_file_at_once(tmp_path):
    model = random_model()
    path = save_original(model, tmp_path / "ckpt.pt")
    checkpoint = torch.load(path, weights_only=True)
    encoder = checkpoint["encoder"]
    del encoder["module.backbone.norm.bias"]
    encoder["module.backbone.blocks.0.norm1.weight"] = torch.ones(5)
    encoder["module.backbone.surprise"] = torch.ones(1)
    torch.save(checkpoint, path)
    with pytest.raises(CheckpointError) as err:
        vjepa2.load(path)
    message = str(err.value)
    assert "unexpected (1)" in message and "encoder[module.backbone.surprise]" in message
    assert "missing (1)" in message and "encoder[norm.bias] (model: encoder.norm.bias)" in message
    assert "wrong shape (1)" in message
    shown = "encoder[module.backbone.blocks.0.norm1.weight] (model: encoder.blocks.0.norm1.weight)"
    assert shown in message
    assert "checkpoint [5] vs model [96]" in message


def test_broken_parts_of_an_original_file(tmp_path):
    torch.save({"encoder": {"module.backbone.patch_embed.proj.weight": "text"}}, tmp_path / "a.pt")
    with pytest.raises(CheckpointError, match="not a state dict"):
        vjepa2.load(tmp_path / "a.pt")
    torch.save([1, 2], tmp_path / "b.pt")
    with pytest.raises(CheckpointError, match="expected a dict checkpoint, got list"):
        vjepa2.load(tmp_path / "b.pt")
    path = save_original(random_model(classifier=True), tmp_path / "c.pt")
    with pytest.raises(CheckpointError, match=r"classifier index 3 out of range \(1 heads\)"):
        vjepa2.load(path, config=random_model().config, classifier=path, classifier_index=3)
    with pytest.raises(CheckpointError, match="not a probe checkpoint"):
        vjepa2.load(path, classifier=tmp_path / "a.pt")


def test_missing_files_are_checkpoint_errors_and_file_not_found(tmp_path):
    _, folder = saved(tmp_path)
    os.remove(folder / "model.safetensors")
    with pytest.raises(CheckpointError, match="no weights found") as err:
        vjepa2.load(folder)
    assert isinstance(err.value, FileNotFoundError)
    (tmp_path / "empty").mkdir()
    with pytest.raises(CheckpointError, match=r"no config\.json"):
        vjepa2.load(tmp_path / "empty")
    with pytest.raises(CheckpointError, match="not a preset"):
        vjepa2.load(tmp_path / "nothing-here.pt")


def test_config_json_that_does_not_match_the_weights(tmp_path):
    model, folder = saved(tmp_path)
    model.config.replace(num_hidden_layers=3, hidden_size=48).save(folder)
    with pytest.raises(CheckpointError) as err:
        vjepa2.load(folder)
    message = str(err.value)
    assert "missing (" in message and "encoder.layer.2.norm1.weight" in message
    assert "wrong shape (" in message and "checkpoint [96] vs model [48]" in message
