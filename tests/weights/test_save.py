"""Saving never loses the old model: the new folder is written beside it and swapped in."""

import errno

import pytest
import torch

import vjepa2
from tests.weights.test_loading import random_model, same_outputs
from vjepa2.weights import hf


def test_replacing_a_model_keeps_other_files_and_drops_stale_shards(tmp_path):
    folder = tmp_path / "model"
    vjepa2.save(random_model(), folder, max_shard_size="200KB")
    assert len(list(folder.glob("model-*.safetensors"))) > 1
    (folder / "README.md").write_text("my notes")
    new = random_model(classifier=True)
    vjepa2.save(new, folder)
    assert not list(folder.glob("model-*.safetensors"))  # the old shards went with the old model
    assert not (folder / "model.safetensors.index.json").exists()
    assert (folder / "README.md").read_text() == "my notes"
    assert same_outputs(new, vjepa2.load(folder))
    assert [p.name for p in tmp_path.iterdir()] == ["model"]  # no temporary folder left


def test_a_failure_mid_write_leaves_the_old_model_intact(tmp_path, monkeypatch):
    folder = tmp_path / "model"
    old = random_model()
    vjepa2.save(old, folder)
    before = {p.name: p.read_bytes() for p in folder.iterdir()}

    def disk_full(state_dict, directory, **kwargs):
        (directory / "model.safetensors").write_bytes(b"half a file")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(hf, "save_torch_state_dict", disk_full)
    with pytest.raises(OSError, match="No space left"):
        vjepa2.save(random_model(classifier=True), folder)
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before
    assert [p.name for p in tmp_path.iterdir()] == ["model"]
    assert same_outputs(old, vjepa2.load(folder))


def test_a_kill_before_the_swap_leaves_the_old_model_intact(tmp_path, monkeypatch):
    """A kill between writing and swapping: the old folder is untouched, the new one beside."""
    folder = tmp_path / "model"
    old = random_model()
    vjepa2.save(old, folder)

    def killed(new, directory):
        raise KeyboardInterrupt

    monkeypatch.setattr(hf, "_swap_in", killed)
    with pytest.raises(KeyboardInterrupt):
        vjepa2.save(random_model(), folder)
    assert same_outputs(old, vjepa2.load(folder))


def test_saving_over_a_file_is_refused(tmp_path):
    (tmp_path / "model").write_text("not a folder")
    with pytest.raises(vjepa2.CheckpointError, match="exists and is not a folder"):
        vjepa2.save(random_model(), tmp_path / "model")
    assert (tmp_path / "model").read_text() == "not a folder"


def test_save_picks_the_format_from_the_path(tmp_path):
    model = random_model()
    vjepa2.save(model, tmp_path / "model.pt")
    assert set(torch.load(tmp_path / "model.pt", weights_only=True)) >= {"encoder", "config"}
    assert same_outputs(model, vjepa2.load(tmp_path / "model.pt"))
