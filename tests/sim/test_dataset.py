"""make_robot_dataset and `vjepa2 make-robot-data`: readable files, determinism, resume, refusal."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from vjepa2.cli import app
from vjepa2.data.robot_data import (
    SETTINGS_FILE,
    episode_rng,
    make_robot_dataset,
    run_episode,
    validation_count,
)
from vjepa2.data.trajectories import list_episodes, read_episode
from vjepa2.errors import UsageError
from vjepa2.sim import RobotWorld
from vjepa2.video import read_video

runner = CliRunner()
TINY = ["--episodes", "2", "--steps", "8", "--size", "32", "--seed", "3", "-q"]


def test_cli_writes_a_readable_tiny_set(tmp_path):
    out = tmp_path / "robot"
    result = runner.invoke(app, ["make-robot-data", str(out), "--task", "push", *TINY])
    assert result.exit_code == 0, result.output
    assert "1 train, 1 val episodes of the push task" in result.output
    [train], [val] = list_episodes(out, "train"), list_episodes(out, "val")
    assert (train.name, val.name) == ("episode_000000.npz", "episode_000001.npz")
    episode = read_episode(val)
    assert episode.states.shape == (9, 7) and episode.actions.shape == (8, 7)
    assert episode.fps == 4.0 and not episode.actions_derived
    expected = run_episode(RobotWorld("push", size=32), episode_rng(3, 1), 8)
    np.testing.assert_array_equal(episode.states, expected["states"])
    np.testing.assert_array_equal(episode.actions, expected["actions"])
    frames, _ = read_video(episode.frames_path)
    assert tuple(frames.shape) == (9, 32, 32, 3)
    error = np.abs(frames.numpy().astype(int) - expected["frames"].astype(int)).mean()
    assert error < 4  # H.264 at crf 16
    with np.load(val) as npz:
        np.testing.assert_array_equal(npz["object_positions"], expected["object_positions"])
    settings = json.loads((out / SETTINGS_FILE).read_text())
    assert settings["task"] == "push" and settings["seed"] == 3


def test_same_seed_same_files(tmp_path):
    a = make_robot_dataset(tmp_path / "a", "reach", episodes=2, steps=6, size=32, seed=5)
    b = make_robot_dataset(tmp_path / "b", "reach", episodes=2, steps=6, size=32, seed=5)
    for split, names in a.episodes.items():
        for name in names:
            for suffix in (".mp4", ".npz"):
                first = (a.root / split / f"{name}{suffix}").read_bytes()
                assert first == (b.root / split / f"{name}{suffix}").read_bytes()


def test_rerun_resumes_and_other_settings_are_refused(tmp_path):
    out = tmp_path / "robot"
    make_robot_dataset(out, "push", episodes=3, steps=5, size=32, val_fraction=0.3)
    lost = out / "train" / "episode_000001.npz"
    kept = lost.read_bytes()
    lost.unlink()
    again = make_robot_dataset(out, "push", episodes=3, steps=5, size=32, val_fraction=0.3)
    assert again.written == 1 and lost.read_bytes() == kept
    with pytest.raises(UsageError, match=r"other settings.*steps"):
        make_robot_dataset(out, "push", episodes=3, steps=6, size=32, val_fraction=0.3)
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "notes.txt").write_text("mine")
    with pytest.raises(UsageError, match="not empty"):
        make_robot_dataset(tmp_path / "busy", episodes=1, steps=2, size=32)
    assert sorted(p.name for p in (tmp_path / "busy").iterdir()) == ["notes.txt"]


def test_bad_options_are_usage_errors(tmp_path):
    with pytest.raises(UsageError, match="even"):
        make_robot_dataset(tmp_path / "x", size=33)
    with pytest.raises(UsageError, match="val_fraction"):
        make_robot_dataset(tmp_path / "x", val_fraction=1.0)
    with pytest.raises(UsageError, match="unknown task"):
        make_robot_dataset(tmp_path / "x", task="fly", episodes=1, steps=1)


def test_validation_split_size():
    assert [validation_count(n, 0.1) for n in (1, 2, 10, 100)] == [0, 1, 1, 10]
    assert validation_count(10, 0.0) == 0
